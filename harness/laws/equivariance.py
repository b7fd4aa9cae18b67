"""Equivariance of a network under a group, as a linear action on its parameters (Flinth & Ohlsson).

Let G act orthogonally on parameters by R(g) so that the network is equivariant,
f(R(g)θ, x) = ρ_out(g) f(θ, ρ_in(g)⁻¹x). The fixed-point subspace E = {θ : R(g)θ = θ for all g} (the
equivariant parameters) is the range of the Reynolds projector P_E = (1/|G|) Σ_g R(g). With an invariant loss,
ℓ(ρ_out(g)f, ρ_out(g)y) = ℓ(f, y), on G-augmented data L(R(g)θ) = L(θ), so E is invariant under gradient flow
(``harness.dynamics.invariant_subspace`` judges that along a flow; ``properties/prop_equivariant_subspace.py``
states the theorem).

The natural parameter actions (hidden units fixed, or the first units of a wide-enough hidden layer H carrying
the feature action on inputs or on outputs, H = ρ ⊕ I):
linear U Vᵀ: (U, V) ↦ (ρ_out U Hᵀ, ρ_in V Hᵀ); deep linear W_L⋯W_1: W_1 ↦ H_1 W_1 ρ_inᵀ,
W_i ↦ H_i W_i H_{i−1}ᵀ, W_L ↦ ρ_out W_L H_{L−1}ᵀ; polynomial Σ_j u_j (v_jᵀx)^k: (U, V) ↦ (ρ_out U, ρ_in V);
attention, for an element acting on every token's features by A and on outputs by B (and possibly permuting
the tokens the same way on both sides, when there is no mask): (W_Q, W_K, W_V) ↦ (A W_Q, A W_K, A W_V Bᵀ).
Every action is checked numerically against the equivariance identity before it is used (``None`` where
none exists, e.g. token permutations with a causal mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.model.family import Network
from harness.model.groups import Group
from harness.model.losses import Loss

EQUIVARIANCE_TOLERANCE = 1e-9
HIDDEN_ACTIONS = ("trivial", "input", "output")


def split_points(carriers: list[np.ndarray]) -> tuple[int, ...]:
    """Sizes b ≥ 1 at which every matrix of ``carriers`` is block diagonal (b = full size always is)."""
    size = carriers[0].shape[0]
    return tuple(
        b
        for b in range(1, size + 1)
        if all(np.abs(c[:b, b:]).max(initial=0.0) == 0 and np.abs(c[b:, :b]).max(initial=0.0) == 0 for c in carriers)
    )


def action_is_equivariant(network: Network, group: Group, actions: list[np.ndarray], seed: int = 0) -> float:
    """max over g of |f(R(g)θ, x) − ρ_out(g) f(θ, ρ_in(g)⁻¹x)| relative to |f|, on random θ and x."""
    rng = np.random.default_rng(seed)
    theta = network.random_theta(rng)
    x = rng.standard_normal((3, network.input_dim))
    reference = np.abs(network.predict(theta, x)).max() + 1e-300
    worst = 0.0
    for action, rho_in, rho_out in zip(actions, group.inputs, group.outputs):
        moved_inputs = x @ np.asarray(rho_in, dtype=float)  # rows ρ_in⁻¹x = ρ_inᵀx
        expected = network.predict(theta, moved_inputs) @ np.asarray(rho_out, dtype=float).T
        worst = max(worst, float(np.abs(network.predict(action @ theta, x) - expected).max() / reference))
    return worst


def loss_invariance_defect(loss: Loss, network: Network, group: Group, seed: int = 0) -> float:
    """max over g of |L(ρ_out F, ρ_out Y) − L(F, Y)| on random predictions F and valid targets Y."""
    from harness.model.data import random_targets

    rng = np.random.default_rng(seed)
    predictions = rng.standard_normal((4, network.output_dim))
    targets = random_targets(network, loss, rng.standard_normal((4, network.output_dim)), rng)
    base = loss.value(network.target_rows(predictions), network.target_rows(targets))
    worst = 0.0
    for rho_out in group.outputs:
        rho = np.asarray(rho_out, dtype=float)
        moved = loss.value(network.target_rows(predictions @ rho.T), network.target_rows(targets @ rho.T))
        worst = max(worst, abs(moved - base) / max(abs(base), 1e-300))
    return worst


@dataclass(frozen=True)
class EquivariantSubspace:
    """E = range of the Reynolds projector P_E = (1/|G|) Σ_g R(g) for one choice of hidden action."""

    hidden: str
    projector: np.ndarray
    dimension: int
    equivariance_defect: float


def _carriers(network: Network, group: Group, hidden: str) -> list[np.ndarray] | None:
    """The matrices the hidden units would carry for every element (feature parts for attention)."""
    if hidden == "trivial":
        return None
    carriers = []
    for rho_in, rho_out in zip(group.inputs, group.outputs):
        parts = network.feature_parts(rho_in, rho_out)
        if parts is None:
            return None
        feature, output = parts
        carriers.append(feature if hidden == "input" else output)
    return carriers


def equivariant_subspace(network: Network, group: Group, hidden: str = "trivial") -> EquivariantSubspace | None:
    """The fixed-point subspace of the natural parameter action, or None when there is no such action."""
    carriers = _carriers(network, group, hidden)
    if hidden != "trivial" and carriers is None:
        return None
    splits = split_points(carriers) if carriers else None
    found = [
        network.parameter_action(rho_in, rho_out, hidden, splits)
        for rho_in, rho_out in zip(group.inputs, group.outputs)
    ]
    actions = [action for action in found if action is not None]
    if len(actions) < len(found):
        return None
    defect = action_is_equivariant(network, group, actions)
    if defect > EQUIVARIANCE_TOLERANCE:
        return None
    projector = sum(actions, np.zeros_like(actions[0])) / len(actions)
    dimension = int(round(np.trace(projector)))  # P_E is an orthogonal projector: its trace is dim E
    return EquivariantSubspace(hidden, projector, dimension, defect)
