"""Hypothesis strategy for tensorizable networks f(θ, x) = Φ(θ)Ψ(x) of every family, within a budget.

``networks()`` draws a network of one of the registered families (``harness.model.family.FAMILIES``: linear,
deep-linear, poly, attention, and any family registered since) whose parameter count D stays within
``max_params`` and whose feature count K stays within ``max_features``. Sizes are built by construction
rather than filtered: each family's size rules (``Network.feature_dims``, ``Network.size_draws``) draw each
size from the values that still leave room for the smallest completion of the network, so every draw is
valid. Every size is drawn from small to large and the families in the order given, so shrinking goes toward
``linear:1,1,1``.

A ``NetworkShape`` states what a network must satisfy so that a chosen group acts on it (a feature
dimension range, an even dimension for rotations, m = feature dimension for the output action ``same``,
token counts and no mask for token permutations); ``scenarios()`` draws the group kind first and asks for
a network of that shape, which is how groups stay valid without filtering.

The module also holds the two helpers every strategy module shares: labelled draws and argument checks
that raise Hypothesis's ``InvalidArgument`` when a strategy is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from harness.model.families.attention import ATTENTION_MASKS
from harness.model.family import FAMILIES, Network
from harness.model.size_rules import SizeChoice


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


def check_choices(function: str, name: str, values, allowed: Iterable[str]) -> tuple[str, ...]:
    """``values`` (one name or an iterable of names) as a non-empty tuple of names from ``allowed``."""
    given, allowed = values, tuple(allowed)
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


def family_is_feasible(family: str, budget: NetworkBudget, shape: NetworkShape = ANY_SHAPE) -> bool:
    """Whether some ``family`` network within ``budget`` has ``shape`` (the family's size rules decide)."""
    cls = FAMILIES[family]
    if shape.min_tokens > 1 and not cls.has_tokens:
        return False  # token permutations need token positions
    return bool(cls.feature_dims(budget, shape))


# --- the draw: the family's size rules say what to draw, in order ------------------------------------------
def _draw_size(draw, choice: SizeChoice):
    strategy = st.sampled_from(choice.values) if choice.values is not None else st.integers(choice.low, choice.high)
    return draw_labelled(draw, strategy, choice.label)


def draw_network(draw, family: str, budget: NetworkBudget, shape: NetworkShape = ANY_SHAPE) -> Network:
    """One network of ``family`` within ``budget`` with ``shape`` (the caller checked feasibility).

    The family's ``size_draws`` yields each size to draw (``SizeChoice``) and receives the drawn value; the
    network it returns is the draw.
    """
    sizes = FAMILIES[family].size_draws(budget, shape)
    try:
        choice = next(sizes)
        while True:
            choice = sizes.send(_draw_size(draw, choice))
    except StopIteration as finished:
        network = finished.value
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
    budget = NetworkBudget.checked(
        function,
        max_params=max_params,
        max_features=max_features,
        max_degree=max_degree,
        max_layers=max_layers,
        max_tokens=max_tokens,
        masks=masks,
    )
    feasible = tuple(f for f in families if family_is_feasible(f, budget))
    if not feasible:
        raise InvalidArgument(
            f"networks(families={families!r}, max_params={max_params!r}, max_features={max_features!r}): no network "
            "of these families fits the budget (attention needs at least 3 parameters: d = dk = dv = 1)"
        )
    return _networks(feasible, budget, ANY_SHAPE)


__all__ = [
    "NetworkBudget",
    "NetworkShape",
    "draw_labelled",
    "draw_network",
    "family_is_feasible",
    "networks",
]
