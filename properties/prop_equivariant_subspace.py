"""Property 7: the equivariant subspace is invariant under augmented gradient flow (Flinth & Ohlsson).

Let G act orthogonally on parameters by R(g) so that the network is equivariant,
f(R(g)θ, x) = ρ_out(g) f(θ, ρ_in(g)⁻¹x), and let ℓ be invariant, ℓ(ρ_out(g)f, ρ_out(g)y) = ℓ(f, y). On a
G-augmented data set the loss is then invariant, L(R(g)θ) = L(θ), so its gradient is equivariant and the
fixed-point subspace E = {θ : R(g)θ = θ for all g} (the equivariant parameters) is invariant under the flow:
started on E, augmented gradient flow never leaves E. On plain (non-augmented) data it generically does.

The parameter actions R(g), the subspace E and its projector P_E are ``harness.laws.equivariance``; the check
that a flow started on E stays there (Gauss–Legendre runs, Benettin probes against unstable E, the tangency
test where the flow cannot decide) is ``harness.dynamics.invariant_subspace``. This module states the claim:
every natural action's E is invariant under the augmented flow, for each one the network has.

Scope: scenarios with a loss invariant under ρ_out and a natural action whose E is neither {0} nor everything
and on which the flow moves from P_E θ₀ (``has_something_to_test``); the strategy draws only those, the check
answers others inconclusive.

The class, and which data sets stand for it. The claim is universal over G-augmented data sets (and losses
invariant under ρ_out, checked): for every one, E is invariant. Each drawn data set (N Gaussian samples with
random or teacher targets, augmented here if drawn free) is a member, so a departure from E on one refutes
the claim; sampling a sub-class can only weaken a "holds". The main run and the probes must finish (status
``ok``): a failed run is inconclusive (the judged window ends where a probe failed), never a yardstick.

Reference: A. Flinth & F. Ohlsson, "Optimization dynamics of equivariant and augmented neural networks"
(2023); DESIGN.md §1 ("Also worth testing").
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st

from harness.dynamics.flow import GradientFlow
from harness.dynamics.invariant_subspace import distance_from_subspace_verdict
from harness.laws.equivariance import HIDDEN_ACTIONS, equivariant_subspace, loss_invariance_defect
from harness.model.data import augment
from harness.model.scenario import Scenario
from harness.verdicts.combinators import for_each, for_some
from harness.verdicts.property import NO_PLANT, Plant, Property, enforce
from harness.verdicts.verdict import Status, Verdict


def equivariant_subspace_check(scenario: Scenario, *, plant: Plant = NO_PLANT) -> Verdict:
    """Property 7 on one scenario, for every natural hidden action: no E is left, and some E is seen to stay.

    The claim is about G-augmented data: a free scenario's data set is augmented here. Plants:
    ``plain_data`` (the data left plain: the premise is gone and E is left) and ``skip_premise`` (the loss's
    invariance under ρ_out not checked).
    """
    built = scenario.built
    network, group, loss = built.network, built.group, built.loss
    if group is None:
        return Verdict.inconclusive("no group: the property needs a symmetry group")
    data = built.data
    if not plant.plain_data and scenario.data != "augmented":
        data = augment(data, group)
    if not plant.skip_premise:
        defect = loss_invariance_defect(loss, network, group)
        if defect > 1e-12:
            return Verdict.inconclusive(
                f"premise fails: {loss} is not invariant under the output action (relative defect {defect:.2g})",
                loss_invariance_defect=defect,
            )
    verdicts, projectors = {}, []
    for hidden in HIDDEN_ACTIONS:
        subspace = equivariant_subspace(network, group, hidden)
        if subspace is None or any(np.allclose(subspace.projector, p) for p in projectors):
            continue  # no such action, or the same E as an action already checked
        projectors.append(subspace.projector)
        verdicts[hidden] = distance_from_subspace_verdict(network, loss, data, subspace, built.theta0)
    if not verdicts:
        return Verdict.inconclusive(f"no natural parameter action makes {network} equivariant under {group}")
    evidence = {hidden: {"status": v.status.value, "reason": v.reason, **v.evidence} for hidden, v in verdicts.items()}
    left = for_each(verdicts, verdicts.__getitem__)
    if left.is_violation:
        return Verdict.violated(left.reason, **evidence)
    reasons = "; ".join(f"{h}: {v.reason}" for h, v in verdicts.items())
    if for_some(verdicts, verdicts.__getitem__).status is Status.HOLDS:
        return Verdict.holds(reasons, **evidence)
    return Verdict.inconclusive(reasons, **evidence)


PROPERTY = Property(
    id="equivariant-subspace",
    title="The equivariant subspace is invariant under augmented gradient flow",
    statement=(
        "For a parameter action R(g) making f equivariant and a loss invariant under ρ_out, gradient flow on "
        "G-augmented data started in E = {θ : R(g)θ = θ ∀g} stays in E."
    ),
    reference="Flinth & Ohlsson (2023), Optimization dynamics of equivariant and augmented neural networks",
    check=equivariant_subspace_check,
    plants=frozenset({"plain_data", "skip_premise"}),
)


STEERED_KINDS = ("cyclic", "swap", "dihedral", "sym", "spm", "tokens-cyclic", "tokens-sym")


def has_something_to_test(scenario: Scenario) -> bool:
    """The property's scope: a loss invariant under ρ_out and a natural parameter action whose E is neither {0}
    nor the whole space, with P_E θ₀ not a stationary point. Outside it the claim is vacuous (a stationary point
    stays put; e.g. poly with a sign cycle: v = 0 on E, so f ≡ 0 there) or has no E to speak of (token
    permutations with trivial outputs: attention is permutation-equivariant, so no parameter action exists);
    such draws are not examples of the property, not inconclusive ones. The check still answers them
    inconclusive when called on them."""
    built = scenario.built
    if built.group is None or loss_invariance_defect(built.loss, built.network, built.group) > 1e-12:
        return False
    data = built.data if scenario.data == "augmented" else augment(built.data, built.group)
    flow = GradientFlow(built.network, built.loss, data)
    for hidden in HIDDEN_ACTIONS:
        subspace = equivariant_subspace(built.network, built.group, hidden)
        if subspace is None or not 0 < subspace.dimension < built.network.n_params:
            continue
        start = subspace.projector @ built.theta0
        speed = float(np.linalg.norm(flow.gradient(start)))
        if np.isfinite(speed) and speed > 1e-12 * max(float(np.linalg.norm(start)), 1e-300):
            return True  # E is nontrivial and the flow moves on it (a stationary start tests nothing)
    return False


def _scenarios_of(family: str):
    from strategies.scenarios import scenarios

    # Steered to actions with fixed vectors (permutations; trivial or permuted outputs): with flips, rotations or
    # sign outputs E is mostly {0} or P_E θ₀ is stationary, and the property would have nothing to test; what is
    # left outside the scope is filtered out (has_something_to_test).
    return scenarios(
        families=(family,),
        group_kinds=STEERED_KINDS,
        outputs=("trivial", "same"),
        data=("augmented",),
        max_params=12,
        max_samples=4,
    ).filter(has_something_to_test)


@pytest.mark.parametrize("family", ["linear", "deep-linear", "poly", "attention"])
@given(data=st.data())
def test_equivariant_subspace_is_invariant_under_augmented_flow(family, data):
    scenario = data.draw(_scenarios_of(family), label="scenario")
    verdict = enforce(PROPERTY, scenario)
    event(f"equivariant subspace: {verdict.status.value}")
    note(f"verdict: {verdict}")
