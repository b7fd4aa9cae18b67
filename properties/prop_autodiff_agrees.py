"""The autodiff count agrees with the exact engine on every tensorizable family (issue 11, acceptance 1).

Statement: for a tensorizable network, a data class (free, or G-augmented with any group kind of the
catalogue) and a loss (MSE, or an analytic non-polynomial loss), the number of independent conservation laws
D − dim Lie(F)(θ) computed by the autodiff engine (``harness.laws.autodiff``: fields ∇L_S of random data sets
of the class, brackets by Hessian–vector products, float SVD with a gap) equals the number computed by the
exact engine (``harness.laws.counting``: the polynomial moment family, ranks modulo p, or the pointwise-span
comparison for non-polynomial losses), or one of them is inconclusive and says why.

The two engines share nothing but the network's ``torch_forward`` (checked against the flow's gradient in
``tests/test_torch_model.py``) and the published laws: the autodiff engine never sees the moment family, the
exact one never sees a data set. A disagreement is a bug in one of them (or a data class the sampled data
sets did not stand for), never a finding about the network.

Planted claim (``Plant.count``): the exact side replaced by a wrong count, which the check must refute.
"""

from __future__ import annotations

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from harness.laws.autodiff import count_laws_autodiff
from harness.laws.counting import count_laws
from harness.model.scenario import Scenario
from harness.verdicts.property import NO_PLANT, Plant, Property, enforce
from harness.verdicts.verdict import Verdict
from strategies import scenarios

LOSS_KINDS = ("quadratic", "analytic")  # MSE (Theorem 2's moments) and the non-polynomial losses (Theorem 1)


def check(scenario: Scenario, *, plant: Plant = NO_PLANT) -> Verdict:
    """Count ``scenario``'s class with both engines and compare (the plant's ``count`` stands for the exact one)."""
    data = scenario.data if scenario.group else "free"
    exact = count_laws(scenario.network, data, scenario.loss, scenario.group, seed=scenario.seed, find_explicit=False)
    autodiff = count_laws_autodiff(scenario.network, data, scenario.loss, scenario.group, seed=scenario.seed)
    exact_laws = exact.laws if plant.count is None else plant.count
    evidence = dict(
        D=exact.D,
        exact=exact_laws,
        autodiff=autodiff.laws,
        exact_method=exact.method,
        exact_stop=exact.stop_reason,
        autodiff_stop=autodiff.stop_reason,
        autodiff_lie_rank_by_level=list(autodiff.lie_rank_by_level),
        autodiff_gap=None if autodiff.gap is None else autodiff.gap.ratio,
        exact_seconds=exact.seconds,
        autodiff_seconds=autodiff.seconds,
        planted=plant.count is not None,
    )
    if exact_laws is None:
        return Verdict.inconclusive(
            f"exact engine inconclusive ({exact.stop_reason}): {'; '.join(exact.notes)}", **evidence
        )
    if autodiff.laws is None:
        why = "; ".join(autodiff.notes) or autodiff.stop_reason.message
        return Verdict.inconclusive(f"autodiff engine inconclusive ({autodiff.stop_reason}): {why}", **evidence)
    if autodiff.laws == exact_laws:
        return Verdict.holds(f"both engines count {exact_laws} laws (D = {exact.D})", **evidence)
    return Verdict.violated(
        f"the autodiff engine counts {autodiff.laws} laws, the exact engine {exact_laws} (D = {exact.D})", **evidence
    )


PROPERTY = Property(
    id="autodiff-agrees-exact",
    title="The autodiff count equals the exact count",
    statement="On tensorizable networks, D − dim Lie(F) by automatic differentiation (SVD with a gap) equals the "
    "exact engine's count, for free and augmented data, MSE and non-polynomial losses.",
    reference="Marcotte, Gribonval, Peyré (NeurIPS 2023) Thm 3.3; issue 11 acceptance 1",
    check=check,
    plants=frozenset({"count"}),
)


def agreement_scenarios(
    loss_kinds=LOSS_KINDS, data=("free", "augmented"), *, max_params: int = 12
) -> st.SearchStrategy[Scenario]:
    """Tensorizable set-ups (D ≤ max_params) with any group kind, the given loss classes and data classes."""
    return scenarios(loss_kinds=loss_kinds, data=data, max_params=max_params, max_order=24)


@pytest.mark.property
@pytest.mark.parametrize("loss_kind", LOSS_KINDS)
@pytest.mark.parametrize("data", ["free", "augmented"])
@given(draw=st.data())
def test_autodiff_count_agrees_with_exact(loss_kind, data, draw):
    scenario = draw.draw(agreement_scenarios((loss_kind,), (data,)), label="scenario")
    event(f"loss class: {loss_kind}, data: {data}")
    enforce(PROPERTY, scenario)
