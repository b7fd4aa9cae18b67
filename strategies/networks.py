"""Hypothesis strategy for tensorizable networks f(θ, x) = Φ(θ)Ψ(x) of every family, within a budget.

``networks()`` draws a network of one of the four families (linear, deep-linear, poly, attention) whose
parameter count D stays within ``max_params`` and whose feature count K stays within ``max_features``.
Sizes are built by construction rather than filtered: each size is drawn from the values that still leave
room for the smallest completion of the network, so every draw is valid. Every size is drawn from small
to large and the families in the order given, so shrinking goes toward ``linear:1,1,1``.

A ``NetworkShape`` states what a network must satisfy so that a chosen group acts on it (a feature
dimension range, an even dimension for rotations, m = feature dimension for the output action ``same``,
token counts and no mask for token permutations); ``scenarios()`` draws the group kind first and asks for
a network of that shape, which is how groups stay valid without filtering.

The module also holds the two helpers every strategy module shares: labelled draws and argument checks
that raise Hypothesis's ``InvalidArgument`` when a strategy is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from harness.model.networks import (
    ATTENTION_MASKS,
    FAMILIES,
    AttentionNetwork,
    DeepLinearNetwork,
    LinearNetwork,
    Network,
    PolynomialNetwork,
)

DECAYS = (1.0, 0.5)  # λ of the causal decay mask; 1.0 first so shrinking removes the decay


# --- helpers shared by the strategy modules ------------------------------------------------------------
def draw_labelled(draw, strategy: st.SearchStrategy, label: str):
    """Draw from ``strategy`` and note ``label: value`` (shown with the minimal failing example).

    ``st.composite``'s draw takes no descriptive label (only ``st.data().draw`` does), so the label goes
    through ``note``, which costs nothing unless Hypothesis is reporting.
    """
    value = draw(strategy)
    note(f"{label}: {value!r}")
    return value


def check_integer_argument(function: str, name: str, value, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int, or ``InvalidArgument`` naming the argument, the value and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{function}({name}={value!r}): {name} must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise InvalidArgument(f"{function}({name}={value!r}): {name} must be an integer {allowed}")
    return value


def check_choices(function: str, name: str, values, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """``values`` (one name or an iterable of names) as a non-empty tuple of names from ``allowed``."""
    given = values
    if isinstance(values, str):
        values = (values,)
    try:
        values = tuple(values)
    except TypeError:
        raise InvalidArgument(
            f"{function}({name}={given!r}): {name} must be a name or a tuple of names from {allowed}"
        ) from None
    if not values:
        raise InvalidArgument(f"{function}({name}={given!r}): {name} must name at least one of {allowed}")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise InvalidArgument(f"{function}({name}={given!r}): {unknown[0]!r} is not one of {allowed}")
    return tuple(dict.fromkeys(values))  # drop repeats, keep the caller's order


# --- what a network must satisfy, and the budget ---------------------------------------------------------
@dataclass(frozen=True)
class NetworkShape:
    """Requirements on a drawn network so that a chosen group acts on it.

    The feature dimension is n_in (linear, deep-linear, poly) or d (attention); ``outputs_match_features``
    asks for m = feature dimension (the output action ``same`` of a feature group); ``min_tokens >= 2``
    means attention only, with ``unmasked`` asking for mask=none (token permutations commute with Ψ
    only without a causal mask).
    """

    min_feature_dim: int = 1
    max_feature_dim: int | None = None
    even_feature_dim: bool = False
    outputs_match_features: bool = False
    min_tokens: int = 1
    max_tokens: int | None = None
    unmasked: bool = False

    def feature_dims(self, upper: int) -> list[int]:
        """Allowed feature dimensions up to ``upper``, smallest first."""
        top = upper if self.max_feature_dim is None else min(upper, self.max_feature_dim)
        return [n for n in range(self.min_feature_dim, top + 1) if not (self.even_feature_dim and n % 2)]


ANY_SHAPE = NetworkShape()


@dataclass(frozen=True)
class NetworkBudget:
    """Size limits: D <= max_params, K <= max_features, poly degree k <= max_degree, deep-linear with at
    most ``max_layers`` weight matrices, attention on at most ``max_tokens`` tokens with masks from ``masks``."""

    max_params: int = 16
    max_features: int = 27
    max_degree: int = 3
    max_layers: int = 3
    max_tokens: int = 3
    masks: tuple[str, ...] = ATTENTION_MASKS

    @classmethod
    def checked(cls, function: str, *, max_params, max_features, max_degree, max_layers, max_tokens, masks):
        return cls(
            max_params=check_integer_argument(function, "max_params", max_params, 2),
            max_features=check_integer_argument(function, "max_features", max_features, 1),
            max_degree=check_integer_argument(function, "max_degree", max_degree, 2),
            max_layers=check_integer_argument(function, "max_layers", max_layers, 2),
            max_tokens=check_integer_argument(function, "max_tokens", max_tokens, 1),
            masks=check_choices(function, "masks", masks, ATTENTION_MASKS),
        )


def _token_counts(budget: NetworkBudget, shape: NetworkShape) -> list[int]:
    top = budget.max_tokens if shape.max_tokens is None else min(budget.max_tokens, shape.max_tokens)
    return list(range(shape.min_tokens, top + 1))


def _attention_masks(budget: NetworkBudget, shape: NetworkShape) -> tuple[str, ...]:
    return tuple(m for m in budget.masks if m == "none" or not shape.unmasked)


# Each family lists its feasible feature dimensions: those whose smallest completion (every other size
# at its minimum) fits the budget. Parameter counts grow with every size, so this is exactly the set of
# feature dimensions that some valid network has.
def _smallest_outputs(n: int, shape: NetworkShape) -> int:
    return n if shape.outputs_match_features else 1


def _feature_dims(family: str, budget: NetworkBudget, shape: NetworkShape, hidden_layers: int = 1) -> list[int]:
    P, F = budget.max_params, budget.max_features
    if family != "attention" and shape.min_tokens > 1:
        return []  # token permutations need attention
    candidates = shape.feature_dims(P)
    if family == "linear":
        return [n for n in candidates if n + _smallest_outputs(n, shape) <= P and n <= F]
    if family == "deep-linear":
        return [n for n in candidates if n + (hidden_layers - 1) + _smallest_outputs(n, shape) <= P and n <= F]
    if family == "poly":
        return [n for n in candidates if n + _smallest_outputs(n, shape) <= P and math.comb(n + 1, 2) <= F]
    if not _token_counts(budget, shape) or not _attention_masks(budget, shape):
        return []
    return [d for d in candidates if d * (2 + _smallest_outputs(d, shape)) <= P and d**3 <= F]


def family_is_feasible(family: str, budget: NetworkBudget, shape: NetworkShape = ANY_SHAPE) -> bool:
    """Whether some ``family`` network within ``budget`` has ``shape``."""
    return bool(_feature_dims(family, budget, shape))


# --- the draws, one per family ------------------------------------------------------------------------
def _draw_outputs(draw, n: int, upper: int, shape: NetworkShape) -> int:
    # Drawn even when the shape fixes m = n: Hypothesis shrinks toward shorter choice sequences first, so
    # a branch that skipped this draw would look simpler than m = 1 and shrinking would head for "same".
    m = draw_labelled(draw, st.integers(1, max(upper, 1)), "outputs m")
    return n if shape.outputs_match_features else m


def _draw_linear(draw, budget: NetworkBudget, shape: NetworkShape) -> LinearNetwork:
    P = budget.max_params
    n = draw_labelled(draw, st.sampled_from(_feature_dims("linear", budget, shape)), "inputs")
    m = _draw_outputs(draw, n, P - n, shape)
    hidden = draw_labelled(draw, st.integers(1, P // (n + m)), "hidden width r")  # D = r(n + m)
    return LinearNetwork(n, hidden, m)


def _draw_poly(draw, budget: NetworkBudget, shape: NetworkShape) -> PolynomialNetwork:
    P, F = budget.max_params, budget.max_features
    n = draw_labelled(draw, st.sampled_from(_feature_dims("poly", budget, shape)), "inputs")
    degrees = [k for k in range(2, budget.max_degree + 1) if math.comb(n + k - 1, k) <= F]
    k = draw_labelled(draw, st.sampled_from(degrees), "activation degree k")
    m = _draw_outputs(draw, n, P - n, shape)
    hidden = draw_labelled(draw, st.integers(1, P // (n + m)), "hidden width r")
    return PolynomialNetwork(n, hidden, m, k)


def _deep_linear_params(widths: list[int]) -> int:
    return sum(a * b for a, b in zip(widths, widths[1:]))


def _draw_deep_linear(draw, budget: NetworkBudget, shape: NetworkShape) -> DeepLinearNetwork:
    P = budget.max_params
    depths = [L for L in range(2, budget.max_layers + 1) if _feature_dims("deep-linear", budget, shape, L - 1)]
    layers = draw_labelled(draw, st.sampled_from(depths), "weight matrices L")
    n = draw_labelled(draw, st.sampled_from(_feature_dims("deep-linear", budget, shape, layers - 1)), "inputs")
    m = _draw_outputs(draw, n, P - n - (layers - 2), shape)
    widths = [n] + [1] * (layers - 1) + [m]
    for i in range(1, layers):
        # Widest hidden layer i that still fits with the later hidden widths at 1 (D grows with every width).
        largest = 1
        while _deep_linear_params(widths[:i] + [largest + 1] + widths[i + 1 :]) <= P:
            largest += 1
        widths[i] = draw_labelled(draw, st.integers(1, largest), f"hidden width {i}")
    return DeepLinearNetwork(tuple(widths))


def _draw_attention(draw, budget: NetworkBudget, shape: NetworkShape) -> AttentionNetwork:
    P = budget.max_params
    d = draw_labelled(draw, st.sampled_from(_feature_dims("attention", budget, shape)), "token dimension d")
    tokens = draw_labelled(draw, st.sampled_from(_token_counts(budget, shape)), "tokens n")
    dv = _draw_outputs(draw, d, P // d - 2, shape)  # D = d(2 dk + dv)
    dk = draw_labelled(draw, st.integers(1, (P // d - dv) // 2), "key width dk")
    mask = draw_labelled(draw, st.sampled_from(_attention_masks(budget, shape)), "mask")
    decay = draw_labelled(draw, st.sampled_from(DECAYS), "decay λ") if mask == "causal" else 1.0
    return AttentionNetwork(tokens, d, dk, dv, mask=mask, decay=decay)


_DRAW_FAMILY = {
    "linear": _draw_linear,
    "deep-linear": _draw_deep_linear,
    "poly": _draw_poly,
    "attention": _draw_attention,
}


def draw_network(draw, family: str, budget: NetworkBudget, shape: NetworkShape = ANY_SHAPE) -> Network:
    """One network of ``family`` within ``budget`` with ``shape`` (the caller checked feasibility)."""
    network = _DRAW_FAMILY[family](draw, budget, shape)
    event(f"family: {family}")
    note(f"network: {network}")
    return network


@st.composite
def _networks(draw, families: tuple[str, ...], budget: NetworkBudget, shape: NetworkShape) -> Network:
    family = draw_labelled(draw, st.sampled_from(families), "family")
    return draw_network(draw, family, budget, shape)


def networks(
    families=FAMILIES,
    *,
    max_params: int = 16,
    max_features: int = 27,
    max_degree: int = 3,
    max_layers: int = 3,
    max_tokens: int = 3,
    masks=ATTENTION_MASKS,
) -> st.SearchStrategy[Network]:
    """Networks f(θ, x) = Φ(θ)Ψ(x) of the given families with D <= ``max_params`` and K <= ``max_features``.

    Families: ``linear`` (Φ = UVᵀ), ``deep-linear`` (Φ = W_L⋯W_1, 2..``max_layers`` matrices), ``poly``
    (activation t^k, 2 <= k <= ``max_degree``) and ``attention`` (n <= ``max_tokens`` tokens, masks from
    ``masks``, a causal mask with decay λ ∈ {1, 0.5}). Shrinks toward the first family and the fewest
    parameters (``linear:1,1,1``).
    """
    function = "networks"
    families = check_choices(function, "families", families, FAMILIES)
    budget = NetworkBudget.checked(function, max_params=max_params, max_features=max_features, max_degree=max_degree,
                                   max_layers=max_layers, max_tokens=max_tokens, masks=masks)
    feasible = tuple(f for f in families if family_is_feasible(f, budget))
    if not feasible:
        raise InvalidArgument(
            f"networks(families={families!r}, max_params={max_params!r}, max_features={max_features!r}): no network "
            "of these families fits the budget (attention needs at least 3 parameters: d = dk = dv = 1)"
        )
    return _networks(feasible, budget, ANY_SHAPE)


__all__ = [
    "DECAYS", "NetworkBudget", "NetworkShape", "draw_labelled", "draw_network", "family_is_feasible", "networks",
]
