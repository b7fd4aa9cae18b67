"""The planted false conjecture of ``flowlaws selfcheck``, the Hypothesis search that refutes it, and its figures.

The planted conjecture: "data augmentation never adds conservation laws under MSE", i.e. for every network
and signed-permutation group G the law count of the G-augmented class equals the count of the free class.
It is false (Galley–Shahverdi–Flinth, Theorem 2; DESIGN.md §1 worked example: ``linear:3,1,1`` under
``cyclic/trivial`` has 2 laws on augmented data, 1 on free data, D = 4). ``refute`` searches small
scenarios (D ≤ 6, ``small_scenarios``) with ``derandomize=True`` and no example database, so every run
draws, fails and shrinks the same way; the counts come from ``harness.laws.counting.count_laws`` (exact
modular ranks, certified). ``figure_evidence`` adds what the report of the shrunk counterexample draws: the
explicit laws along the augmented and the plain flow (``harness.dynamics.drift_series``) and the singular
values of the Lie trace in float arithmetic with the gap that set the rank.

The search strategy lives here rather than in ``strategies/`` because the engine never imports
``strategies/``, and the self-check must run from an installed harness alone.
"""

from __future__ import annotations

import functools

from harness.algebra.spectral import Gap
from harness.errors import InvalidInput
from harness.model.scenario import Scenario
from harness.verdicts.evidence import Spectrum
from harness.verdicts.property import Property, PropertyViolation
from harness.verdicts.verdict import Verdict

MAX_COUNTEREXAMPLE_PARAMS = 5  # the acceptance bound on the shrunk counterexample
MAX_SEARCH_PARAMS = 6  # scenarios drawn have D ≤ this
MAX_EXAMPLES = 100
# The catalogue kinds the planted search draws, in its shrink order (cyclic first), each as its catalogue example
# (swap:0,1); all exact (signed permutations), so every count is an exact modular rank.
SIGNED_PERMUTATION_KINDS = ("cyclic", "flip", "swap", "sym", "dihedral", "signperm")
OUTPUT_ACTIONS = ("trivial", "sign", "same")
NODE = "flowlaws selfcheck"


@functools.lru_cache(maxsize=None)
def _count(network: str, group: str, method: str = "auto", find_explicit: bool | None = False):
    # Shrinking revisits the same (network, group) many times; counts are deterministic (seed 0).
    from harness.laws.counting import count_laws

    return count_laws(network, "augmented", "mse", group, seed=0, method=method, find_explicit=find_explicit)


def augmentation_adds_no_laws(scenario: Scenario) -> Verdict:
    """Compare the law count of the G-augmented MSE class with the free class's (both certified or inconclusive)."""
    if scenario.data != "augmented" or scenario.loss != "mse" or not scenario.group:
        raise InvalidInput(f"the planted conjecture is about augmented data under MSE with a group, got [{scenario}]")
    count = _count(scenario.network, scenario.group)
    evidence = {
        "D": count.D,
        "augmented_laws": count.laws,
        "free_laws": count.free_laws,
        "lie_rank_by_level": list(count.lie_rank_by_level),
        "free_lie_rank_by_level": list(count.free_lie_rank_by_level),
        "certificate": count.certificate,
        "method": count.method,
        "stop_reason": count.stop_reason,
    }
    if not count.certified or count.free_laws is None or count.laws is None:
        return Verdict.inconclusive(f"the count is not certified ({count.stop_reason})", **evidence)
    if count.laws > count.free_laws:
        return Verdict.violated(
            f"augmented data gives {count.laws} laws, free data {count.free_laws} (D = {count.D})", **evidence
        )
    return Verdict.holds(f"{count.laws} laws on augmented and free data", **evidence)


PLANTED = Property(
    id="planted-augmentation-adds-no-laws",
    title="(planted, false) Data augmentation never adds conservation laws under MSE",
    statement="For every network and signed-permutation group G, the MSE gradient flow on G-augmented data has "
    "as many independent conservation laws as on free data.",
    reference="False by Galley, Shahverdi, Flinth (arXiv 2606.10913), Theorem 2 and its worked example "
    "(linear:3,1,1 under cyclic/trivial: 2 laws vs 1); planted by `flowlaws selfcheck`.",
    check=augmentation_adds_no_laws,
)


def small_scenarios():
    """Augmented MSE scenarios of linear, deep-linear and poly networks with D ≤ 6 and signed-permutation groups.

    Every choice list starts with its simplest entry, so shrinking goes to small networks and ``cyclic``.
    """
    from hypothesis import assume
    from hypothesis import strategies as st

    from harness.model.groups import build_group, get_group_kind
    from harness.model.specs import parse_network

    kinds = [get_group_kind(name) for name in SIGNED_PERMUTATION_KINDS]
    if not all(kind.exact for kind in kinds):
        raise InvalidInput(
            f"selfcheck draws exact group kinds only; not exact: {[k.name for k in kinds if not k.exact]}"
        )
    heads = tuple(kind.example_head for kind in kinds)

    @st.composite
    def draw(draw):
        family = draw(st.sampled_from(("linear", "deep-linear", "poly")))
        n_in = draw(st.integers(1, 5))
        hidden = draw(st.integers(1, 2))
        n_out = draw(st.integers(1, 2))
        spec = {
            "linear": f"linear:{n_in},{hidden},{n_out}",
            "deep-linear": f"deep-linear:{n_in},{hidden},{hidden},{n_out}",
            "poly": f"poly:{n_in},{hidden},{n_out},k=2",
        }[family]
        network = parse_network(spec)
        assume(network.n_params <= MAX_SEARCH_PARAMS)
        group = f"{draw(st.sampled_from(heads))}/{draw(st.sampled_from(OUTPUT_ACTIONS))}"
        try:
            build_group(group, network)
        except InvalidInput:
            assume(False)
        return Scenario(network=spec, loss="mse", group=group, data="augmented", n_samples=2, seed=0)

    return draw()


def refute(max_examples: int = MAX_EXAMPLES) -> tuple[Scenario | None, PropertyViolation | None, list[dict], int]:
    """Search for a counterexample with Hypothesis (derandomized, no database).

    Returns the shrunk scenario (or None), the exception Hypothesis raised (its notes carry the failing
    example and the reproduce line), the verdict records, and the number of examples tried. Hypothesis's
    mixing-in of the literals of local modules is switched off, as in the gate, so the search depends on the
    strategy alone, not on the source text of whatever modules are imported.
    """
    from hypothesis import HealthCheck, Phase, given, settings

    from harness.testing.seeding import pin_local_constants
    from harness.verdicts.property import RECORDER, enforce

    pin_local_constants()

    tried = []

    @settings(
        derandomize=True,
        database=None,
        max_examples=max_examples,
        deadline=None,
        print_blob=True,
        phases=[Phase.generate, Phase.shrink],
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),  # pyright: ignore[reportArgumentType] (untyped HealthCheckMeta.__iter__)
    )
    @given(small_scenarios())
    def planted_conjecture(scenario):
        tried.append(scenario)
        enforce(PLANTED, scenario)

    RECORDER.take()
    RECORDER.current_test = NODE
    try:
        planted_conjecture()
    except PropertyViolation as error:
        return error.scenario, error, RECORDER.take(), len(tried)
    finally:
        RECORDER.current_test = None
    return None, None, RECORDER.take(), len(tried)


def figure_evidence(scenario: Scenario) -> dict:
    """Evidence for both figures: explicit laws with their drift series, and the float Lie trace spectrum."""
    from harness.dynamics.drift_series import drift_series

    evidence = {}
    explicit = _count(scenario.network, scenario.group, "auto", True)
    evidence["explicit_laws"] = list(explicit.explicit_laws)
    series = drift_series(scenario, explicit.explicit_laws) if explicit.explicit_laws else None
    if series is not None:
        evidence.update(series.as_evidence())
    floating = _count(scenario.network, scenario.group, "float", False)
    if floating.singular_values:
        # The gap the count used; the figure marks it at the count's final Lie rank.
        gap = floating.gap
        if gap is not None and floating.lie_rank_by_level:
            gap = Gap(floating.lie_rank_by_level[-1], gap.ratio, gap.threshold)
        evidence.update(Spectrum(floating.singular_values, gap).as_evidence())
    return evidence
