"""Property 5 (Theorem 2): under MSE, augmentation can only add laws, and the added laws are real.

Statement (Galley, Shahverdi, Flinth 2026, Theorem 2 and its worked example): with MSE the loss depends on the
data only through G-invariant moments; the augmented count is never below the free count (F_aug ⊆ F_free), and
where it is above, the explicit extra laws stay constant along integrated augmented MSE flows (several data
sets) and drift along plain ones, drift judged against the integrator's own error.

The class, and which data sets stand for it. The counts are over the classes themselves (all G-augmented,
all free data sets with MSE), from the exact field families of ``harness.laws.fields``: no data are sampled. The
flows check two quantifiers on sampled data sets, in the directions where sampling is sound or guarded:
- "conserved along augmented flows" is universal: every augmented data set drawn (the scenario's seed and the
  next, N Gaussian samples with the scenario's target kind, then augmented) is a member, and a drift on one
  refutes the claim;
- "broken by plain data" is existential: SOME plain data set moves the law. Here any generic plain data set
  stands for the free class, whatever N: at fixed θ, ∇h·X_{M,C}(θ) is linear in the moments (M, C), which
  are sums over samples, so a law left alone by every single-sample data set would be a law of the whole
  free class; an extra law is not (free count < augmented count), hence almost every data set moves it
  (the exceptions lie on the zero set of a nonzero polynomial in the samples). The plain data sets are the
  scenario's own N samples (seed and seed + 1) before augmentation; a law is called conserved only if its
  drift shrinks with the tolerance on both.

Without a formula. Where the extra laws have no explicit form in the ansatz (coefficients in Q(√5) for
C5/D5, irrational exponents, transcendental integrals of a single field), both halves are decided at a point
against L = Lie(F_MSE-aug)(θ) (``harness.laws.extra.leaf_tangency``: r = D − laws from the exact count, a
basis from the generated fields at θ accepted only with a singular-value gap at r): h is a law of the class
near generic θ iff ∇h ⊥ L (Frobenius). So the augmented MSE gradients of the scenario's data sets must lie in
L (ρ at round-off; a clear residual is a violation: a field of the class moving its own laws), and plain
gradients must leave it (ρ far above round-off): free laws are conserved by every MSE field, so what moves is
an extra law. All n extra directions moved: holds. Fewer, even all that a single gradient can reach at θ (the
rest move by brackets only, invisible to a pointwise test): inconclusive. Plain fields tangent at
TANGENCY_POINTS random θ refute.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.dynamics.conservation import DriftJudgement, ExplicitLaw, compile_law, judge_drift
from harness.dynamics.flow import GradientFlow
from harness.laws.counting import LawCount, count_laws
from harness.laws.extra import explicit_extra_laws, leaf_tangency
from harness.model.family import FAMILIES
from harness.model.losses import get_loss
from harness.model.scenario import Scenario
from harness.verdicts.combinators import all_of, and_then, for_each
from harness.verdicts.flows import LeafMotion, expect, leaf_motion, tangency_at_points
from harness.verdicts.property import NO_PLANT, Plant, Property, enforce
from harness.verdicts.verdict import Status, Verdict
from strategies import scenarios

AUGMENTED_DATA_SETS = 2  # augmented flows on which each extra law must be judged conserved
AUGMENTED_TRIES = 4  # augmented data sets tried in all to get those judgements
PLAIN_DATA_SETS = 2
MSE = get_loss("mse")  # the loss every flow of Theorem 2 follows
TANGENCY_POINTS = 2  # random θ at which every plain gradient must be tangent to the MSE leaf to refute


def check(scenario: Scenario, *, plant: Plant = NO_PLANT) -> Verdict:
    """Theorem 2 on ``scenario`` (augmented, MSE): augmentation never removes a law, and every extra law is
    conserved along every augmented flow and broken by some plain data set. Plant: ``laws`` (the extra laws
    replaced)."""
    built = scenario.build()
    assert built.group is not None  # Theorem 2 is about augmented data, and augmented data has a group
    count = count_laws(
        built.network,
        "augmented",
        "mse",
        built.group,
        seed=scenario.seed,
        find_explicit=None if built.group.exact else False,
    )
    evidence = dict(
        D=count.D,
        augmented_laws=count.laws,
        free_laws=count.free_laws,
        extra_laws=count.extra_laws,
        certified=count.certified,
        certificate=count.certificate,
        method=count.method,
        lie_rank_by_level=list(count.lie_rank_by_level),
        stop_reason=count.stop_reason,
        explicit_laws=list(count.explicit_laws),
    )
    return and_then(
        lambda: _never_fewer_laws(count, evidence),
        lambda: _extra_laws_are_real(scenario, built, count, evidence, plant),
    )


def _never_fewer_laws(count: LawCount, evidence: dict) -> Verdict:
    """F_aug ⊆ F_free, so the augmented class has at least the free class's laws."""
    if not count.conclusive:
        return Verdict.inconclusive(f"augmented MSE count inconclusive ({count.stop_reason})", **evidence)
    assert count.laws is not None  # conclusive
    if count.free_laws is None:  # the free count can stay open while the augmented one is certified
        return Verdict.inconclusive(f"free MSE count inconclusive ({count.stop_reason})", **evidence)
    if count.laws < count.free_laws:
        return Verdict.violated(f"augmentation removed laws: {count.laws} < {count.free_laws} (free)", **evidence)
    return Verdict.holds(f"{count.laws} laws augmented ≥ {count.free_laws} free", **evidence)


def _extra_laws_are_real(scenario: Scenario, built, count: LawCount, evidence: dict, plant: Plant) -> Verdict:
    """∀ extra law h: h is conserved along every augmented flow, and some plain flow moves it."""
    if not count.extra_laws and plant.laws is None:
        return Verdict.holds(f"{count.laws} laws augmented = free", **evidence)
    if plant.laws is None:
        candidates, found = explicit_extra_laws(built.network, built.group, count, seed=scenario.seed)
        evidence["extra_laws_found_by"] = found
    else:
        candidates = list(plant.laws)
    evidence["checked_extra_laws"] = candidates
    if not candidates:
        return _formula_free_drift(scenario, built, count, evidence)
    laws = [compile_law(built.network, law) for law in candidates]
    augmented, decided = _augmented_judgements(scenario, built, laws, evidence)
    plain = _plain_judgements(scenario, built, laws)
    evidence["drift"] = [{"data": "augmented", **j.to_dict()} for j in augmented] + [
        {"data": "plain", **j.to_dict()} for j in plain
    ]
    # An augmented flow that could not judge a law is no evidence either way once enough others did.
    augmented = [j for j in augmented if j.outcome != "inconclusive" or decided[j.law] < AUGMENTED_DATA_SETS]
    verdict = all_of(
        for_each(augmented, lambda j: expect(j, "conserved")), for_each(plain, lambda j: expect(j, "drifts"))
    )
    if verdict.status is Status.HOLDS:
        return Verdict.holds(
            f"{count.laws} laws augmented vs {count.free_laws} free; {len(laws)} extra law(s) "
            f"conserved on {AUGMENTED_DATA_SETS} augmented flows and broken by plain data",
            **evidence,
        )
    half, judgement = verdict.deciding, verdict.cases[0][1].deciding
    if verdict.status is Status.VIOLATED:
        what = "drifts along an augmented" if half == 0 else "is conserved along a plain"
        return Verdict.violated(f"extra law {judgement.law} {what} MSE flow ({judgement.reason})", **evidence)
    return Verdict.inconclusive(f"drift of {judgement.law} undecided: {judgement.reason}", **evidence)


def _augmented_judgements(
    scenario: Scenario, built, laws: list[ExplicitLaw], evidence: dict
) -> tuple[list[DriftJudgement], dict[str, int]]:
    """Each law judged along AUGMENTED_DATA_SETS augmented MSE flows that could judge it, and how many did.

    A flow that cannot judge a law (a ratio law's denominator passing near its pole, a failed run) is replaced
    by a fresh data set, up to AUGMENTED_TRIES in all."""
    judged: list[DriftJudgement] = []
    decided = {law.text: 0 for law in laws}
    for offset in range(AUGMENTED_TRIES):
        if all(n >= AUGMENTED_DATA_SETS for n in decided.values()):
            break
        augmented = replace(scenario, seed=scenario.seed + offset, arrays=None).build()
        judgements, flow_evidence = judge_drift(
            GradientFlow(built.network, MSE, augmented.data), augmented.theta0, laws, with_series=offset == 0
        )
        if offset == 0:
            evidence.update(flow_evidence)
        for j in judgements:
            decided[j.law] += j.outcome != "inconclusive"
        judged += judgements
    return judged, decided


def _plain_judgements(scenario: Scenario, built, laws: list[ExplicitLaw]) -> list[DriftJudgement]:
    """ "Plain data breaks it" means SOME plain data set moves it: a second one is tried before calling it conserved."""
    judged: list[DriftJudgement] = []
    for offset in range(PLAIN_DATA_SETS):
        plain = replace(scenario, data="free", seed=scenario.seed + offset, arrays=None).build()
        pending = [law for law in laws if not any(j.law == law.text and j.outcome == "drifts" for j in judged)]
        if not pending:
            break
        judgements, _ = judge_drift(GradientFlow(built.network, MSE, plain.data), plain.theta0, pending)
        judged = [j for j in judged if j.outcome == "drifts"] + judgements
    return judged


PLAIN_REASONS = {
    LeafMotion.TANGENT: "plain MSE gradients of {fields} data sets at {points} random θ all lie in Lie(F_MSE-aug)(θ): "
    "the {extra} extra law(s) are not broken by plain data ({reason})",
    LeafMotion.ALL_MOVED: "{laws} laws augmented vs {free} free; no explicit form, but augmented MSE gradients lie in "
    "Lie(F_MSE-aug)(θ₀) and plain ones move all {extra} extra law direction(s) ({reason})",
    # As in Theorem 1: directions moved by brackets only are invisible to a pointwise test.
    LeafMotion.BRACKETS_ONLY: "plain MSE gradients move {moved} of {extra} extra law directions, all a single "
    "gradient can reach at θ; the others move by brackets only, which this pointwise test "
    "cannot see ({reason})",
    LeafMotion.FEWER: "{extra} extra law(s), none explicit; plain half of the formula-free test undecided: {reason}",
    LeafMotion.UNDECIDED: "{extra} extra law(s), none explicit; plain half of the formula-free test undecided: "
    "{reason}",
}


def _formula_free_drift(scenario: Scenario, built, count: LawCount, evidence: dict) -> Verdict:
    """Both flow halves without a formula, at θ₀ against L = Lie(F_MSE-aug)(θ₀): augmented MSE gradients lie in
    L (the extra laws are conserved), plain ones leave it (they drift)."""
    network, group = built.network, built.group
    extra = count.extra_laws
    assert extra is not None  # reached only after _never_fewer_laws held, so both counts are known
    augmented = [
        -GradientFlow(network, MSE, replace(scenario, seed=scenario.seed + offset, arrays=None).build().data).gradient(
            built.theta0
        )
        for offset in range(AUGMENTED_DATA_SETS)
    ]
    on_leaf = leaf_tangency(network, group, count, augmented, built.theta0, seed=scenario.seed)

    def plain_tangency_at(point: int):
        start = (
            built.theta0 if point == 0 else replace(scenario, seed=scenario.seed + point, arrays=None).build().theta0
        )
        plain = [
            -GradientFlow(
                network,
                MSE,
                replace(scenario, data="free", seed=scenario.seed + offset + point * 100, arrays=None).build().data,
            ).gradient(start)
            for offset in range(PLAIN_DATA_SETS + extra)
        ]
        return leaf_tangency(network, group, count, plain, start, seed=scenario.seed)

    tried = tangency_at_points(TANGENCY_POINTS, plain_tangency_at)
    off_leaf = tried[-1]
    evidence.update(off_leaf.to_evidence())
    evidence["leaf_tangency"] = {
        "augmented": on_leaf.to_evidence()["leaf_tangency"],
        "plain": [t.to_evidence()["leaf_tangency"] for t in tried],
    }
    evidence["extra_laws_found_by"] = {"source": "formula-free: fields against Lie(F_MSE-aug)(θ)"}
    if on_leaf.outcome == "outside":
        conserved = Verdict.violated(
            f"an augmented MSE gradient leaves Lie(F_MSE-aug)(θ₀), so it moves a law its own "
            f"class was counted to have ({on_leaf.reason})",
            **evidence,
        )
    elif on_leaf.outcome == "tangent":
        conserved = Verdict.holds(on_leaf.reason, **evidence)
    else:
        conserved = Verdict.inconclusive(
            f"augmented half of the formula-free test undecided: {on_leaf.reason}", **evidence
        )
    motion = leaf_motion(tried, extra, TANGENCY_POINTS)
    broken = Verdict(
        motion.status,
        PLAIN_REASONS[motion].format(
            fields=len(off_leaf.residuals),
            points=len(tried),
            extra=extra,
            laws=count.laws,
            free=count.free_laws,
            moved=off_leaf.moved,
            reason=off_leaf.reason,
        ),
        dict(evidence),
    )
    return all_of(conserved, broken)


PROPERTY = Property(
    id="theorem2-mse-extra-laws",
    title="Theorem 2: MSE augmentation adds real laws, never removes",
    statement="Under MSE the augmented count is at least the free count; extra explicit laws are constant along "
    "augmented flows and drift along plain ones.",
    reference="Galley, Shahverdi, Flinth, arXiv 2606.10913, Theorem 2 and the worked example; DESIGN.md §1",
    check=check,
    plants=frozenset({"laws"}),
)


@pytest.mark.property
@pytest.mark.parametrize("family", FAMILIES)
@given(data=st.data())
def test_theorem2(family, data):
    scenario = data.draw(
        scenarios(
            families=(family,),
            loss_kinds=("quadratic",),
            data=("augmented",),
            max_params=6,
            max_features=8,
            max_order=24,
        ),
        label="scenario",
    )
    enforce(PROPERTY, scenario)
