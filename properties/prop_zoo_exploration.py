"""Property 12 (exploration): does data symmetry add conservation laws to models beyond tensorizable networks?

The paper behind flowlaws (arXiv 2606.10913) proves two theorems for tensorizable networks f = ⟨Φ(θ), Ψ(x)⟩ and
leaves open whether they carry over to other models. This property asks both questions of the model zoo (MLPs
with smooth or ReLU-type activations, SwiGLU, convolutions, residual blocks, softmax attention, mixtures of
experts) and records the answer as a findings table for the report:

(a) Theorem 1's analogue: under an analytic, non-polynomial loss (log-cosh, Cauchy, pseudo-Huber, logistic), does
    a G-augmented (G-symmetric) data set add a law over free data? For tensorizable networks it generically does
    not;
(b) Theorem 2's analogue: under MSE, does augmentation add laws? For tensorizable networks it can (the lifted
    group of the feature map acts on the second moments).

Every set-up is a finding row (model, group, loss, free count, augmented count, extra laws) with its replayable
case; a row with ``extra_laws > 0`` is a set-up where symmetry adds a law. The one hard claim is monotonicity,
true for every loss: an augmented data set is a data set, so F_aug ⊆ F_free, Lie(F_aug) ⊆ Lie(F_free), and the
augmented count is never below the free count; a count below is a violation (an engine error).

The class, and which data sets stand for it. Both counts come from the autodiff engine
(``harness.laws.autodiff.count_laws_autodiff``), which stands for the class (all free data sets, all G-augmented
ones) with random data sets of it (``class_datasets``); an engine that cannot decide makes the row inconclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import InvalidInput
from harness.model.losses import LossClass, get_loss
from harness.model.scenario import Scenario
from harness.testing.profiles import is_explorer
from harness.verdicts.property import NO_PLANT, Plant, Property, enforce
from harness.verdicts.verdict import Verdict

CASE_FORMAT = "flowlaws-zoo-case/1"  # a stored ZooCase (scenario.json of a report's case folder)
ANALYTIC_LOSSES = ("logcosh", "cauchy", "pseudo-huber")  # real targets: they fit every zoo model's outputs
QUESTIONS = {
    LossClass.ANALYTIC: "theorem-1 analogue (analytic loss)",
    LossClass.QUADRATIC: "theorem-2 analogue (MSE)",
}


@dataclass(frozen=True)
class ZooCase:
    """A zoo model, a group acting on its data, a loss and a seed: one augmented set-up, replayable by ``check``.

    It records like a ``Scenario`` (``to_dict``, ``with_arrays``, one line) because a zoo spec is not a
    ``Scenario`` network; the counts draw their data sets from the seed, so these four fields replay it.
    """

    model: str
    group: str
    loss: str
    seed: int = 0

    def __post_init__(self):
        from harness.model.groups import build_group
        from harness.model.zoo import parse_model

        loss = get_loss(self.loss)
        if loss.loss_class not in QUESTIONS:
            allowed = ", ".join(str(kind) for kind in QUESTIONS)
            raise InvalidInput(f"loss {self.loss!r} is {loss.loss_class}; the exploration asks of {allowed} losses")
        # the group must act on the model's data (build_group takes a model too: its annotation names Network)
        build_group(self.group, parse_model(self.model))  # pyright: ignore[reportArgumentType]

    @property
    def question(self) -> str:
        return QUESTIONS[get_loss(self.loss).loss_class]

    def to_dict(self) -> dict:
        return {
            "format": CASE_FORMAT,
            "network": self.model,
            "group": self.group,
            "data": "augmented",
            "loss": self.loss,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, record: dict) -> ZooCase:
        """The case a report's ``scenario.json`` stored (``to_dict``)."""
        if not isinstance(record, dict) or record.get("format") != CASE_FORMAT:
            raise InvalidInput(f"not a zoo-exploration case (expected format {CASE_FORMAT!r})")
        return cls(
            str(record.get("network")), str(record.get("group")), str(record.get("loss")), int(record.get("seed", 0))
        )

    def with_arrays(self) -> ZooCase:
        return self

    def __str__(self) -> str:
        return f"{self.model} | {self.group} | augmented | {self.loss} | seed={self.seed}"


def zoo_counts(case: ZooCase):
    """The free and the augmented ``LawCount`` of the case (autodiff engine, the case's seed)."""
    from harness.laws.autodiff import count_laws_autodiff
    from harness.model.zoo import parse_model

    model = parse_model(case.model)
    augmented = count_laws_autodiff(model, "augmented", case.loss, case.group, seed=case.seed)
    free = count_laws_autodiff(model, "free", case.loss, seed=case.seed)
    return free, augmented


def check_case(case: ZooCase, *, plant: Plant = NO_PLANT) -> Verdict:
    """Count free and augmented laws; the plant ``swap_counts`` claims them exchanged (monotonicity must refute it)."""
    free_count, augmented_count = zoo_counts(case)
    free, augmented = free_count.laws, augmented_count.laws
    if plant.swap_counts:
        free, augmented = augmented, free
    finding = {
        "question": case.question,
        "scenario": str(case),
        "model": case.model,
        "group": case.group,
        "loss": case.loss,
        "D": augmented_count.D,
        "free_laws": free,
        "augmented_laws": augmented,
        "extra_laws": None if augmented is None or free is None else augmented - free,
        "free_stop": str(free_count.stop_reason),
        "augmented_stop": str(augmented_count.stop_reason),
        "replay": f"check_case(ZooCase({case.model!r}, {case.group!r}, {case.loss!r}, seed={case.seed}))",
    }
    evidence = dict(
        findings=[finding],
        free_lie_rank_by_level=list(free_count.lie_rank_by_level),
        augmented_lie_rank_by_level=list(augmented_count.lie_rank_by_level),
        method=str(augmented_count.method),
    )
    if augmented is None or free is None:
        why = f"free: {free_count.stop_reason}; augmented: {augmented_count.stop_reason}"
        return Verdict.inconclusive(f"count inconclusive ({why})", **evidence)
    if augmented < free:
        return Verdict.violated(f"augmented count {augmented} below free count {free}: monotonicity broken", **evidence)
    verb = f"adds {augmented - free}" if augmented > free else "adds no"
    return Verdict.holds(
        f"{case.question}: augmentation by {case.group} {verb} law(s) ({free} → {augmented})", **evidence
    )


def check(scenario: Scenario, *, plant: Plant = NO_PLANT) -> Verdict:
    """The property's check on one case (a ``ZooCase``: a zoo spec is no ``Scenario`` network)."""
    return check_case(cast(ZooCase, scenario), plant=plant)


PROPERTY = Property(
    id="zoo-exploration",
    title="Exploration: does augmentation add laws to zoo models?",
    statement="Records free and G-augmented counts of zoo models under analytic non-polynomial losses (Theorem 1's "
    "analogue) and MSE (Theorem 2's analogue); checks the augmented count is never below the free count.",
    reference="Open question of arXiv 2606.10913 (beyond tensorizable networks); issue 11, build item 6",
    check=check,
    exploration=True,
    plants=frozenset({"swap_counts"}),
    case_from_dict=ZooCase.from_dict,
)

# The gate's explicit set-ups (deterministic, a few seconds): one of each question, a linear MLP (tensorizable in
# disguise: Theorem 2 says MSE augmentation by a group with trivial output action can add laws) and smooth and
# ReLU models where the answer is what the exploration is for.
EXAMPLES = (
    ZooCase("mlp:2,2,1,act=linear,bias=0", "signperm/trivial", "mse"),
    ZooCase("mlp:2,2,1,act=tanh,bias=1", "flip/trivial", "logcosh"),
    ZooCase("mlp:2,2,1,act=relu,bias=1", "cyclic/trivial", "mse"),
    ZooCase("mlp:2,2,1,act=gelu,bias=0", "signperm/trivial", "cauchy"),
)


def run_case(case: ZooCase) -> Verdict:
    return enforce(PROPERTY, cast(Scenario, case))


@st.composite
def zoo_cases(draw, max_params: int = 60) -> ZooCase:
    """A zoo model (H2's ``strategies.models``), a group that fits it, a loss of either question, a seed."""
    from strategies.models import model_groups, models

    model = draw(models(max_params=max_params), label="model")
    group = draw(model_groups(model), label="group")
    loss = draw(st.sampled_from(("mse",) + ANALYTIC_LOSSES), label="loss")
    return ZooCase(str(model), str(group), loss, draw(st.integers(0, 2**16), label="seed"))


@pytest.mark.property
@pytest.mark.parametrize("case", EXAMPLES, ids=str)
def test_zoo_exploration_examples(case):
    run_case(case)


@pytest.mark.property
@given(data=st.data())
def test_zoo_exploration(data):
    if not is_explorer():
        pytest.skip("drawn set-ups run in the explorer profiles (flowlaws run); the gate runs EXAMPLES")
    run_case(data.draw(zoo_cases(), label="case"))
