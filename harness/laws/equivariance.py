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

from harness.model.groups import Group
from harness.model.losses import Loss
from harness.model.networks import AttentionNetwork, DeepLinearNetwork, LinearNetwork, Network, PolynomialNetwork

EQUIVARIANCE_TOLERANCE = 1e-9
HIDDEN_ACTIONS = ("trivial", "input", "output")


def _attention_feature_parts(network: AttentionNetwork, rho_in: np.ndarray, rho_out: np.ndarray):
    """(P, A, B) with ρ_in = P ⊗ A and ρ_out = P ⊗ B (P a token permutation), or None if not of that form."""
    n, d, dv = network.n, network.d, network.dv
    rho_in = np.asarray(rho_in, dtype=float)
    rho_out = np.asarray(rho_out, dtype=float)
    blocks_in = rho_in.reshape(n, d, n, d).transpose(0, 2, 1, 3)
    blocks_out = rho_out.reshape(n, dv, n, dv).transpose(0, 2, 1, 3)
    permutation = np.zeros((n, n))
    feature, output = None, None
    for i in range(n):
        nonzero = [j for j in range(n) if np.abs(blocks_in[i, j]).max() > 0]
        if len(nonzero) != 1:
            return None
        j = nonzero[0]
        permutation[i, j] = 1.0
        if feature is None:
            feature, output = blocks_in[i, j], blocks_out[i, j]
        if np.abs(blocks_in[i, j] - feature).max() > 1e-12 or np.abs(blocks_out[i, j] - output).max() > 1e-12:
            return None
    if np.abs(np.kron(permutation, output) - rho_out).max() > 1e-12:
        return None
    return permutation, feature, output


def _hidden_matrix(width: int, carrier: np.ndarray | None, splits: tuple[int, ...]) -> np.ndarray:
    """H = carrier[:b, :b] ⊕ I on a hidden layer of ``width`` units, b the largest split point ≤ width.

    A split point b is one where every element of the carrier is block diagonal (a subrepresentation on the
    first b coordinates, e.g. one plane of ``rot:N``), so that g ↦ H(g) is again a representation.
    """
    matrix = np.eye(width)
    fitting = [b for b in splits if b <= width]
    if carrier is not None and fitting:
        b = max(fitting)
        matrix[:b, :b] = carrier[:b, :b]
    return matrix


def split_points(carriers: list[np.ndarray]) -> tuple[int, ...]:
    """Sizes b ≥ 1 at which every matrix of ``carriers`` is block diagonal (b = full size always is)."""
    size = carriers[0].shape[0]
    return tuple(b for b in range(1, size + 1)
                 if all(np.abs(c[:b, b:]).max(initial=0.0) == 0 and np.abs(c[b:, :b]).max(initial=0.0) == 0
                        for c in carriers))


def parameter_action(network: Network, rho_in: np.ndarray, rho_out: np.ndarray, hidden: str = "trivial",
                     splits: tuple[int, ...] | None = None) -> np.ndarray | None:
    """R(g) ∈ R^{D×D} with f(R(g)θ, x) = ρ_out(g) f(θ, ρ_in(g)⁻¹x), for one group element; None if none.

    ``hidden`` says how hidden units move: ``trivial`` (not at all), ``input`` or ``output`` (the first units
    of each hidden layer carry the feature action on inputs, resp. outputs, restricted to the subrepresentation
    on the first b coordinates for the largest of ``splits`` that fits; the rest stay put). ``splits`` must be
    common to all group elements (``split_points``); by default only the full size.
    Polynomial networks only allow signed permutations of hidden units (σ^k on u_j for a sign σ on v_j).
    """
    rho_in = np.asarray(rho_in, dtype=float)
    rho_out = np.asarray(rho_out, dtype=float)
    feature, output = rho_in, rho_out
    if isinstance(network, AttentionNetwork):
        parts = _attention_feature_parts(network, rho_in, rho_out)
        if parts is None:
            return None
        _, feature, output = parts
    carrier = {"trivial": None, "input": feature, "output": output}[hidden]
    splits = (carrier.shape[0],) if splits is None and carrier is not None else (splits or ())
    if isinstance(network, PolynomialNetwork) and carrier is not None:
        if not np.all(np.isin(carrier, (-1.0, 0.0, 1.0))):
            return None  # (v_jᵀx)^k is only permuted (and signed) by signed permutations of the hidden units

    if isinstance(network, LinearNetwork):
        h = _hidden_matrix(network.hidden, carrier, splits)

        def act(blocks):
            return {"U": rho_out @ blocks["U"] @ h.T, "V": rho_in @ blocks["V"] @ h.T}
    elif isinstance(network, PolynomialNetwork):
        h = _hidden_matrix(network.hidden, carrier, splits)
        h_power = np.abs(h) * np.sign(h) ** network.k  # u_j picks up σ^k when v_j picks up σ

        def act(blocks):
            return {"U": rho_out @ blocks["U"] @ h_power.T, "V": rho_in @ blocks["V"] @ h.T}
    elif isinstance(network, DeepLinearNetwork):
        widths = network.widths
        layers = len(widths) - 1
        actions = [rho_in] + [_hidden_matrix(w, carrier, splits) for w in widths[1:-1]] + [rho_out]

        def act(blocks):
            return {f"W{i}": actions[i] @ blocks[f"W{i}"] @ actions[i - 1].T for i in range(1, layers + 1)}
    elif isinstance(network, AttentionNetwork):
        h = _hidden_matrix(network.dk, carrier, splits)  # W_Q W_Kᵀ is unchanged by W_Q, W_K ↦ W_Q Hᵀ, W_K Hᵀ

        def act(blocks):
            return {"WQ": feature @ blocks["WQ"] @ h.T, "WK": feature @ blocks["WK"] @ h.T,
                    "WV": feature @ blocks["WV"] @ output.T}
    else:
        return None
    basis = np.eye(network.n_params)
    return np.stack([network.flatten(act(network.unflatten(column))) for column in basis], axis=1)


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
        feature, output = np.asarray(rho_in, dtype=float), np.asarray(rho_out, dtype=float)
        if isinstance(network, AttentionNetwork):
            parts = _attention_feature_parts(network, feature, output)
            if parts is None:
                return None
            _, feature, output = parts
        carriers.append(feature if hidden == "input" else output)
    return carriers


def equivariant_subspace(network: Network, group: Group, hidden: str = "trivial") -> EquivariantSubspace | None:
    """The fixed-point subspace of the natural parameter action, or None when there is no such action."""
    carriers = _carriers(network, group, hidden)
    if hidden != "trivial" and carriers is None:
        return None
    splits = split_points(carriers) if carriers else None
    found = [parameter_action(network, rho_in, rho_out, hidden, splits)
             for rho_in, rho_out in zip(group.inputs, group.outputs)]
    actions = [action for action in found if action is not None]
    if len(actions) < len(found):
        return None
    defect = action_is_equivariant(network, group, actions)
    if defect > EQUIVARIANCE_TOLERANCE:
        return None
    projector = sum(actions, np.zeros_like(actions[0])) / len(actions)
    dimension = int(round(np.trace(projector)))  # P_E is an orthogonal projector: its trace is dim E
    return EquivariantSubspace(hidden, projector, dimension, defect)

