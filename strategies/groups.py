"""Hypothesis strategy for finite symmetry groups (ρ_in, ρ_out) that act on a given network, as spec strings.

``groups(network)`` draws a group spec from the catalogue of ``harness.model.groups`` that is valid for that
network by construction: each kind is offered only when its catalogue record admits the network's feature
dimension n (n_in, or d for attention) or its token positions, and the output action ``same`` only when m = n;
a kind's arguments are drawn as its record says (``GroupKind.draw_arguments``), so a registered kind is drawn
with no edit here. Products are built from patterns
that are consistent actions for the output actions they allow (see the comment above ``_product_patterns``),
so no draw is thrown away.

Kinds are ordered from simple to rich and output actions from ``trivial``; shrinking goes toward
``flip/trivial``. The group order |G| stays within ``max_order``: augmentation multiplies the data by |G|.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from harness.errors import InvalidInput
from harness.model.family import Network
from harness.model.groups import CATALOGUE, OUTPUT_ACTIONS, ActsOn, GroupFactor, GroupKind, get_group_kind, parse_group
from harness.model.groups.catalogue import SYM_MAX_DRAWN_DIM
from harness.model.specs import parse_network
from strategies.networks import NetworkShape, check_choices, check_integer_argument, draw_labelled

DEFAULT_MAX_ORDER = 48
ALL_KINDS = "all"  # a ``kinds`` argument naming every kind in the catalogue when the strategy is built


def _drawn_kinds() -> list[GroupKind]:
    """The catalogue's kinds from simple to rich (``draw_rank``): the order shrinking follows.

    The token kinds sit next to their feature counterparts, which also keeps them from the tail of the list,
    where Hypothesis draws least often (they exist for networks with token positions only, so already rarer).
    """
    return sorted(CATALOGUE.values(), key=lambda kind: kind.draw_rank)


def group_kind_names() -> tuple[str, ...]:
    """Every kind ``groups`` can draw, simple to rich, then ``product`` (several factors)."""
    return tuple(kind.name for kind in _drawn_kinds()) + ("product",)


def feature_kind_names() -> tuple[str, ...]:
    """The kinds acting on one token's feature coordinates (all inputs outside attention), simple to rich."""
    return tuple(kind.name for kind in _drawn_kinds() if kind.acts_on is ActsOn.FEATURES)


def token_kind_names() -> tuple[str, ...]:
    """The kinds permuting token positions, simple to rich."""
    return tuple(kind.name for kind in _drawn_kinds() if kind.acts_on is ActsOn.TOKENS)


def permutation_kind_names() -> tuple[str, ...]:
    """Feature kinds whose elements are all plain permutations (no sign flips, so −I ∉ G), simple to rich."""
    return tuple(kind.name for kind in _drawn_kinds() if kind.acts_on is ActsOn.FEATURES and kind.plain_permutation)


def group_kind(spec) -> str:
    """Catalogue kind of a group spec (``swap``, ``rot``, …); ``product`` for several factors, ``none`` for None."""
    if spec is None:
        return "none"
    first, *others = parse_group(spec).factors
    return "product" if others else first.name


def output_actions(spec) -> tuple[str, ...]:
    """The output actions used by a group spec's factors, in catalogue order (empty for None)."""
    if spec is None:
        return ()
    used = {factor.output for factor in parse_group(spec).factors}
    return tuple(action for action in OUTPUT_ACTIONS if action in used)


def _largest_dimension(kind: GroupKind, max_order: int) -> int | None:
    """The largest dimension a drawn ``kind`` may have: its ``max_drawn_dim``, lowered (for a kind whose order
    grows with the dimension) to the largest n with |G| <= max_order, found by doubling and bisection."""
    if not kind.order_grows_with_dim:
        return kind.max_drawn_dim
    upper = kind.max_drawn_dim if kind.max_drawn_dim is not None else max_order

    def fits(n: int) -> bool:
        return kind.order(GroupFactor(kind.name), n) <= max_order

    low, high = 0, 1
    while high <= upper and fits(high):
        low, high = high, 2 * high
    high = min(high, upper + 1)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def shape_for(kind: str, output: str, max_order: int = DEFAULT_MAX_ORDER) -> NetworkShape | None:
    """What a network needs so that ``kind/output`` acts on it with |G| <= max_order (None: impossible).

    Agrees with ``kind_acts_on``: every network of this shape admits the kind and output action.
    """
    if max_order < 2:
        return None
    if kind == "product":
        # flip × swap (order 4) is always available from two features on.
        return NetworkShape(outputs_match_features=output == "same", min_feature_dim=2) if max_order >= 4 else None
    record = get_group_kind(kind)
    if max_order < record.least_order:
        return None
    top = _largest_dimension(record, max_order)
    if record.acts_on is ActsOn.TOKENS:
        shape = NetworkShape(min_tokens=record.min_dim, max_tokens=top, unmasked=True)
    else:
        shape = NetworkShape(
            outputs_match_features=output == "same",
            min_feature_dim=record.min_dim,
            max_feature_dim=top,
            even_feature_dim=record.even_dim,
        )
    if shape.max_feature_dim is not None and shape.max_feature_dim < shape.min_feature_dim:
        return None
    if shape.max_tokens is not None and shape.max_tokens < shape.min_tokens:
        return None
    return shape


def _dimension(kind: GroupKind, network: Network) -> int | None:
    """The n a factor of ``kind`` acts on in ``network`` (None: a token kind on a network without tokens)."""
    return network.token_positions if kind.acts_on is ActsOn.TOKENS else network.feature_dim


def _single_order(kind: str, network: Network) -> int | None:
    """|G| of a single catalogue kind on ``network`` when it does not depend on arguments."""
    record = get_group_kind(kind)
    n = _dimension(record, network)
    if record.order_from_arguments or n is None:
        return None
    return record.order(GroupFactor(kind), n)


def _tokens_permute_freely(network: Network) -> bool:
    """Whether token permutations are symmetries of Ψ: only without a causal mask (attention's ``mask``)."""
    return getattr(network, "mask", "none") == "none"


def _factor_acts_on(kind: str, output: str, network: Network, max_order: int) -> bool:
    """Whether the single catalogue kind ``kind/output`` acts on ``network`` with |G| <= max_order."""
    record = get_group_kind(kind)
    tokens = record.acts_on is ActsOn.TOKENS
    if output == "same" and not tokens and network.n_outputs != network.feature_dim:
        return False
    if tokens and not _tokens_permute_freely(network):
        return False
    n = _dimension(record, network)
    if n is None or n < record.min_dim or (record.max_drawn_dim is not None and n > record.max_drawn_dim):
        return False
    if (record.even_dim and n % 2) or max_order < record.least_order:
        return False
    order = _single_order(kind, network)
    return order is None or order <= max_order


# --- products -------------------------------------------------------------------------------------------
# Three patterns, each a consistent action (a word that is the identity on inputs is the identity on
# outputs) for the output actions allowed:
#   flip × B, B a permutation kind: −I ∉ B and −I is central, so G = {±1} × B; ρ_out of flip is ±I
#     (scalar), which commutes with any ρ_out of B: every combination of output actions is consistent.
#   tokens × B, B a feature kind (attention): token and feature actions are kron(P, I) and kron(I, M), a
#     direct product whose output actions kron(P, I), kron(I, M) and ±I commute: any combination works.
#   A × B, both permutation kinds on n = 3 or 4 features with one shared output action: trivial and same
#     are functions of ρ_in, and sign is det on permutation matrices, a character.
def _product_patterns(
    output: str, network: Network, max_order: int, outputs: tuple[str, ...] = OUTPUT_ACTIONS
) -> list[str]:
    n = network.feature_dim
    patterns = []
    if _factor_acts_on("flip", output, network, max_order) and any(
        _factor_acts_on(kind, output, network, max_order // 2) for kind in permutation_kind_names()
    ):
        patterns.append("flip×permutation")
    small_enough = 3 <= n <= SYM_MAX_DRAWN_DIM and math.factorial(n) <= max_order  # |G| <= |S_n|
    if small_enough and _factor_acts_on("cyclic", output, network, max_order):
        patterns.append("permutation×permutation")
    # A token factor has order >= 2, so the feature factor gets at least max_order // (max_order // 2) >= 2.
    if any(_factor_acts_on(kind, output, network, max_order // 2) for kind in token_kind_names()) and any(
        _factor_acts_on("flip", o, network, 2) for o in outputs
    ):
        patterns.append("tokens×feature")
    return patterns


def kind_acts_on(
    kind: str,
    output: str,
    network: Network,
    max_order: int = DEFAULT_MAX_ORDER,
    outputs: tuple[str, ...] = OUTPUT_ACTIONS,
) -> bool:
    """Whether ``groups`` can draw ``kind`` with output action ``output`` for ``network`` (``outputs``: the
    actions a product's second factor may use)."""
    if kind == "product":
        return bool(_product_patterns(output, network, max_order, outputs))
    return _factor_acts_on(kind, output, network, max_order)


def _outputs_for(kind: str, first: str, network: Network, max_order: int, allowed: tuple[str, ...]) -> list[str]:
    """Output actions for a product's second factor: the first factor's action first (shrinks to uniform)."""
    others = [o for o in allowed if o != first and _factor_acts_on(kind, o, network, max_order)]
    return [first] + others


class _LabelledChoices:
    """A kind's argument choices (``ArgumentChooser``) as labelled Hypothesis draws."""

    def __init__(self, draw):
        self._draw = draw

    def integer(self, low: int, high: int, label: str) -> int:
        return draw_labelled(self._draw, st.integers(low, high), label)

    def sampled(self, options, label: str) -> int:
        return draw_labelled(self._draw, st.sampled_from(options), label)

    def permutation(self, n: int, label: str) -> list[int]:
        return draw_labelled(self._draw, st.permutations(range(n)), label)

    def flags(self, n: int, label: str) -> list[bool]:
        return draw_labelled(self._draw, st.lists(st.booleans(), min_size=n, max_size=n), label)


def _draw_factor(draw, kind: str, output: str, network: Network, max_order: int) -> tuple[str, int]:
    """One catalogue factor ``kind/output`` on ``network`` as (spec, |G|); arguments as the kind's record draws them."""
    record = get_group_kind(kind)
    n = _dimension(record, network)
    if record.draw_arguments is None or n is None:
        order = _single_order(kind, network)
        assert order is not None, f"{kind} has no arguments to draw, so its order is known"
        return f"{kind}/{output}", order
    args, order = record.draw_arguments(_LabelledChoices(draw), n, max_order)
    return str(GroupFactor(kind, args, output)), order


def _draw_product(draw, output: str, network: Network, max_order: int, outputs: tuple[str, ...]) -> str:
    patterns = _product_patterns(output, network, max_order, outputs)
    pattern = draw_labelled(draw, st.sampled_from(patterns), "product pattern")
    if pattern == "flip×permutation":
        kinds = [k for k in permutation_kind_names() if _factor_acts_on(k, output, network, max_order // 2)]
        kind = draw_labelled(draw, st.sampled_from(kinds), "second factor kind")
        actions = _outputs_for(kind, output, network, max_order // 2, outputs)
        second_output = draw_labelled(draw, st.sampled_from(actions), "second factor output action")
        second, _ = _draw_factor(draw, kind, second_output, network, max_order // 2)
        return f"flip/{output}*{second}"
    if pattern == "permutation×permutation":
        first_kind = draw_labelled(draw, st.sampled_from(("cyclic", "dihedral")), "first factor kind")
        first, _ = _draw_factor(draw, first_kind, output, network, max_order)
        second, _ = _draw_factor(draw, "swap", output, network, max_order)
        return f"{first}*{second}"
    tokens_kinds = [k for k in token_kind_names() if _factor_acts_on(k, output, network, max_order // 2)]
    token_kind = draw_labelled(draw, st.sampled_from(tokens_kinds), "token factor kind")
    tokens, token_order = _draw_factor(draw, token_kind, output, network, max_order // 2)
    budget = max_order // token_order
    pairs = [
        (k, o)
        for k in feature_kind_names()
        for o in _outputs_for(k, output, network, budget, outputs)
        if _factor_acts_on(k, o, network, budget)
    ]
    kinds = list(dict.fromkeys(k for k, _ in pairs))  # flip always qualifies: |T| <= max_order // 2
    kind = draw_labelled(draw, st.sampled_from(kinds), "feature factor kind")
    actions = [o for k, o in pairs if k == kind]
    feature_output = draw_labelled(draw, st.sampled_from(actions), "feature factor output action")
    feature, _ = _draw_factor(draw, kind, feature_output, network, budget)
    return f"{tokens}*{feature}"


def draw_group(
    draw, network: Network, kind: str, output: str, max_order: int, outputs: tuple[str, ...] = OUTPUT_ACTIONS
) -> str:
    """A group spec of ``kind`` whose (first) output action is ``output`` (the caller checked ``kind_acts_on``)."""
    if kind == "product":
        spec = _draw_product(draw, output, network, max_order, outputs)
    else:
        spec, _ = _draw_factor(draw, kind, output, network, max_order)
    event(f"group kind: {kind}")
    for action in output_actions(spec):
        event(f"output action: {action}")
    note(f"group: {spec}")
    return spec


@st.composite
def _groups(
    draw, network: Network, choices: tuple[tuple[str, tuple[str, ...]], ...], max_order: int, outputs: tuple[str, ...]
) -> str:
    kind = draw_labelled(draw, st.sampled_from([kind for kind, _ in choices]), "group kind")
    actions = dict(choices)[kind]
    output = draw_labelled(draw, st.sampled_from(actions), "output action")
    return draw_group(draw, network, kind, output, max_order, outputs)


def check_network_argument(function: str, network) -> Network:
    try:
        return parse_network(network)
    except InvalidInput as error:
        raise InvalidArgument(f"{function}(network={network!r}): {error}") from None


def kind_requirements(kinds) -> str:
    """What networks the ``kinds`` need, read from their catalogue records (for error texts)."""
    parts = []
    for name in kinds:
        if name == "product":
            parts.append("product n >= 2")
            continue
        kind = get_group_kind(name)
        n = "tokens" if kind.acts_on is ActsOn.TOKENS else "n"
        bound = f"{kind.min_dim} <= {n} <= {kind.max_drawn_dim}" if kind.max_drawn_dim else f"{n} >= {kind.min_dim}"
        parts.append(
            f"{name} {bound}"
            + (" even" if kind.even_dim else "")
            + (" unmasked" if kind.acts_on is ActsOn.TOKENS else "")
        )
    return "; ".join(parts)


def groups(
    network, kinds: str | Iterable[str] = ALL_KINDS, outputs=OUTPUT_ACTIONS, *, max_order: int = DEFAULT_MAX_ORDER
) -> st.SearchStrategy[str]:
    """Group specs (ρ_in, ρ_out) acting on ``network`` with |G| <= ``max_order``, e.g. ``cyclic/trivial``.

    ``kinds`` from ``group_kind_names()`` (``"all"``: every one), the catalogue's kinds — built in: flip, cyclic,
    swap:I,J, dihedral (n >= 3), sym (n <= 4), signperm (n <= 3), rot:N (n even), spm (one-line signed
    permutation), tokens-cyclic and tokens-sym (unmasked attention) — and product (flip × permutation,
    permutation × permutation, tokens × feature). ``outputs``
    from ``trivial``, ``same`` (only when m = n, or for token permutations) and ``sign``. Kinds or
    actions that cannot act on this network are left out; none left is an ``InvalidArgument``.
    Shrinks toward ``flip/trivial``.
    """
    function = "groups"
    network = check_network_argument(function, network)
    all_kinds = group_kind_names()
    kinds = check_choices(function, "kinds", all_kinds if kinds == ALL_KINDS else kinds, all_kinds)
    outputs = check_choices(function, "outputs", outputs, OUTPUT_ACTIONS)
    max_order = check_integer_argument(function, "max_order", max_order, 2)
    ordered_outputs = tuple(o for o in OUTPUT_ACTIONS if o in outputs)  # trivial first, whatever the caller's order
    choices = []
    for kind in all_kinds:
        if kind in kinds:
            actions = tuple(o for o in ordered_outputs if kind_acts_on(kind, o, network, max_order, ordered_outputs))
            if actions:
                choices.append((kind, actions))
    if not choices:
        raise InvalidArgument(
            f"groups(network={str(network)!r}, kinds={kinds!r}, outputs={outputs!r}, max_order={max_order!r}): none of "
            f"these groups acts on a network with feature dimension {network.feature_dim} and {network.n_outputs} "
            f"outputs per row ({kind_requirements(kinds)}; same needs m = n)"
        )
    return _groups(network, tuple(choices), max_order, ordered_outputs)


__all__ = [
    "ALL_KINDS",
    "DEFAULT_MAX_ORDER",
    "draw_group",
    "feature_kind_names",
    "group_kind",
    "group_kind_names",
    "groups",
    "kind_acts_on",
    "kind_requirements",
    "output_actions",
    "permutation_kind_names",
    "shape_for",
    "token_kind_names",
]
