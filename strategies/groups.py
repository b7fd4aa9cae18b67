"""Hypothesis strategy for finite symmetry groups (ρ_in, ρ_out) that act on a given network, as spec strings.

``groups(network)`` draws a group spec from the catalogue of ``harness.model.groups`` that is valid for that
network by construction: each kind is offered only when the network's feature dimension n (n_in, or d for
attention) admits it, and the output action ``same`` only when m = n. Products are built from patterns
that are consistent actions for the output actions they allow (see the comment above ``_product_patterns``),
so no draw is thrown away.

Kinds are ordered from simple to rich and output actions from ``trivial``; shrinking goes toward
``flip/trivial``. The group order |G| stays within ``max_order``: augmentation multiplies the data by |G|.
"""

from __future__ import annotations

import math
from dataclasses import replace

from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from harness.errors import InvalidInput
from harness.model.families.attention import AttentionNetwork
from harness.model.family import Network
from harness.model.groups import OUTPUT_ACTIONS, parse_group, signed_permutation_order
from harness.model.specs import parse_network
from strategies.networks import NetworkShape, check_choices, check_integer_argument, draw_labelled

FEATURE_KINDS = ("flip", "cyclic", "swap", "dihedral", "sym", "signperm", "rot", "spm")
TOKEN_KINDS = ("tokens-cyclic", "tokens-sym")
# Simple to rich: the order shrinking follows. The token kinds sit next to their feature counterparts,
# which also keeps them from the tail of the list, where Hypothesis draws least often (they exist for
# attention only, so they are already rarer).
GROUP_KINDS = ("flip", "cyclic", "tokens-cyclic", "swap", "dihedral", "sym", "tokens-sym", "signperm", "rot", "spm",
               "product")
PERMUTATION_KINDS = ("cyclic", "swap", "dihedral", "sym")  # plain permutations: no sign flips, −I ∉ G
ROTATION_ORDERS = (3, 4, 5, 6)  # rot:2 would be −I, i.e. flip as a float action
DEFAULT_MAX_ORDER = 48
SYM_MAX_DIM = 4  # S_4 has 24 elements
SIGNPERM_MAX_DIM = 3  # B_3 has 48 elements


def group_kind(spec) -> str:
    """Catalogue kind of a group spec (``swap``, ``rot``, …); ``product`` for several factors, ``none`` for None."""
    if spec is None:
        return "none"
    factors = parse_group(spec).factors
    return "product" if len(factors) > 1 else factors[0].name


def output_actions(spec) -> tuple[str, ...]:
    """The output actions used by a group spec's factors, in catalogue order (empty for None)."""
    if spec is None:
        return ()
    used = {factor.output for factor in parse_group(spec).factors}
    return tuple(action for action in OUTPUT_ACTIONS if action in used)


def _largest(condition, upper: int) -> int:
    """The largest n in 0..upper with condition(n) (condition is monotone decreasing)."""
    return max([n for n in range(upper + 1) if condition(n)], default=0)


def shape_for(kind: str, output: str, max_order: int = DEFAULT_MAX_ORDER) -> NetworkShape | None:
    """What a network needs so that ``kind/output`` acts on it with |G| <= max_order (None: impossible).

    Agrees with ``kind_acts_on``: every network of this shape admits the kind and output action.
    """
    match = output == "same" and kind not in TOKEN_KINDS
    shape = NetworkShape(outputs_match_features=match)
    if max_order < 2:
        return None
    if kind in ("flip", "swap", "spm"):
        shape = replace(shape, min_feature_dim=1 if kind == "flip" else 2)
    elif kind == "cyclic":
        shape = replace(shape, min_feature_dim=2, max_feature_dim=max_order)
    elif kind == "dihedral":
        shape = replace(shape, min_feature_dim=3, max_feature_dim=max_order // 2)
    elif kind == "sym":
        top = _largest(lambda n: math.factorial(n) <= max_order, SYM_MAX_DIM)
        shape = replace(shape, min_feature_dim=2, max_feature_dim=top)
    elif kind == "signperm":
        top = _largest(lambda n: 2**n * math.factorial(n) <= max_order, SIGNPERM_MAX_DIM)
        shape = replace(shape, min_feature_dim=2, max_feature_dim=top)
    elif kind == "rot":
        if max_order < ROTATION_ORDERS[0]:
            return None
        shape = replace(shape, min_feature_dim=2, even_feature_dim=True)
    elif kind == "tokens-cyclic":
        shape = replace(shape, min_tokens=2, max_tokens=max_order, unmasked=True)
    elif kind == "tokens-sym":
        top = _largest(lambda n: math.factorial(n) <= max_order, SYM_MAX_DIM)
        shape = replace(shape, min_tokens=2, max_tokens=top, unmasked=True)
    elif kind == "product":
        # flip × swap (order 4) is always available from two features on.
        if max_order < 4:
            return None
        shape = replace(shape, min_feature_dim=2)
    if shape.max_feature_dim is not None and shape.max_feature_dim < shape.min_feature_dim:
        return None
    if shape.max_tokens is not None and shape.max_tokens < shape.min_tokens:
        return None
    return shape


def _single_order(kind: str, network: Network) -> int | None:
    """|G| of a single catalogue kind on ``network`` when it does not depend on arguments."""
    n = network.feature_dim
    tokens = network.n_tokens
    return {
        "flip": 2,
        "cyclic": n,
        "swap": 2,
        "dihedral": 2 * n,
        "sym": math.factorial(n),
        "signperm": 2**n * math.factorial(n),
        "tokens-cyclic": tokens,
        "tokens-sym": math.factorial(tokens),
    }.get(kind)


def _factor_acts_on(kind: str, output: str, network: Network, max_order: int) -> bool:
    """Whether the single catalogue kind ``kind/output`` acts on ``network`` with |G| <= max_order."""
    n = network.feature_dim
    is_attention = isinstance(network, AttentionNetwork)
    if output == "same" and kind not in TOKEN_KINDS and network.n_outputs != n:
        return False
    if kind in TOKEN_KINDS:
        if not (is_attention and network.mask == "none" and network.n_tokens >= 2):
            return False
        if kind == "tokens-sym" and network.n_tokens > SYM_MAX_DIM:
            return False
    requirements = {
        "flip": n >= 1,
        "cyclic": n >= 2,
        "swap": n >= 2,
        "dihedral": n >= 3,
        "sym": 2 <= n <= SYM_MAX_DIM,
        "signperm": 2 <= n <= SIGNPERM_MAX_DIM,
        "rot": n >= 2 and n % 2 == 0 and max_order >= ROTATION_ORDERS[0],
        "spm": n >= 2,
        "tokens-cyclic": True,
        "tokens-sym": True,
    }
    if not requirements[kind]:
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
def _product_patterns(output: str, network: Network, max_order: int,
                      outputs: tuple[str, ...] = OUTPUT_ACTIONS) -> list[str]:
    n = network.feature_dim
    patterns = []
    if _factor_acts_on("flip", output, network, max_order) and any(
        _factor_acts_on(kind, output, network, max_order // 2) for kind in PERMUTATION_KINDS
    ):
        patterns.append("flip×permutation")
    small_enough = 3 <= n <= SYM_MAX_DIM and math.factorial(n) <= max_order  # |G| <= |S_n|
    if small_enough and _factor_acts_on("cyclic", output, network, max_order):
        patterns.append("permutation×permutation")
    # A token factor has order >= 2, so the feature factor gets at least max_order // (max_order // 2) >= 2.
    if any(_factor_acts_on(kind, output, network, max_order // 2) for kind in TOKEN_KINDS) and any(
        _factor_acts_on("flip", o, network, 2) for o in outputs
    ):
        patterns.append("tokens×feature")
    return patterns


def kind_acts_on(kind: str, output: str, network: Network, max_order: int = DEFAULT_MAX_ORDER,
                 outputs: tuple[str, ...] = OUTPUT_ACTIONS) -> bool:
    """Whether ``groups`` can draw ``kind`` with output action ``output`` for ``network`` (``outputs``: the
    actions a product's second factor may use)."""
    if kind == "product":
        return bool(_product_patterns(output, network, max_order, outputs))
    return _factor_acts_on(kind, output, network, max_order)


def _outputs_for(kind: str, first: str, network: Network, max_order: int, allowed: tuple[str, ...]) -> list[str]:
    """Output actions for a product's second factor: the first factor's action first (shrinks to uniform)."""
    others = [o for o in allowed if o != first and _factor_acts_on(kind, o, network, max_order)]
    return [first] + others


def _draw_factor(draw, kind: str, output: str, network: Network, max_order: int) -> tuple[str, int]:
    """One catalogue factor ``kind/output`` on ``network`` as (spec, |G|)."""
    n = network.feature_dim
    if kind == "swap":
        i = draw_labelled(draw, st.integers(0, n - 2), "swap I")
        j = draw_labelled(draw, st.integers(i + 1, n - 1), "swap J")
        return f"swap:{i},{j}/{output}", 2
    if kind == "rot":
        orders = [N for N in ROTATION_ORDERS if N <= max_order]
        N = draw_labelled(draw, st.sampled_from(orders), "rotation order N")
        return f"rot:{N}/{output}", N
    if kind == "spm":
        images = draw_labelled(draw, st.permutations(range(n)), "spm permutation")
        negative = draw_labelled(draw, st.lists(st.booleans(), min_size=n, max_size=n), "spm sign flips")
        if list(images) == list(range(n)) and not any(negative):
            negative[-1] = True  # the identity is not a group worth drawing; e_n ↦ −e_n is the simplest one
        order = signed_permutation_order(images, [-1 if flip else 1 for flip in negative])
        if order > max_order:
            # Deterministic fallback to an element of order 2 (rare: needs long cycles on many features).
            images, negative = list(range(n)), [False] * (n - 1) + [True]
            order = 2
        line = ",".join(str(-(image + 1) if flip else image + 1) for image, flip in zip(images, negative))
        return f"spm:{line}/{output}", order
    return f"{kind}/{output}", _single_order(kind, network)


def _draw_product(draw, output: str, network: Network, max_order: int, outputs: tuple[str, ...]) -> str:
    patterns = _product_patterns(output, network, max_order, outputs)
    pattern = draw_labelled(draw, st.sampled_from(patterns), "product pattern")
    if pattern == "flip×permutation":
        kinds = [k for k in PERMUTATION_KINDS if _factor_acts_on(k, output, network, max_order // 2)]
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
    token_kinds = [k for k in TOKEN_KINDS if _factor_acts_on(k, output, network, max_order // 2)]
    token_kind = draw_labelled(draw, st.sampled_from(token_kinds), "token factor kind")
    tokens, token_order = _draw_factor(draw, token_kind, output, network, max_order // 2)
    budget = max_order // token_order
    pairs = [(k, o) for k in FEATURE_KINDS for o in _outputs_for(k, output, network, budget, outputs)
             if _factor_acts_on(k, o, network, budget)]
    kinds = list(dict.fromkeys(k for k, _ in pairs))  # flip always qualifies: |T| <= max_order // 2
    kind = draw_labelled(draw, st.sampled_from(kinds), "feature factor kind")
    actions = [o for k, o in pairs if k == kind]
    feature_output = draw_labelled(draw, st.sampled_from(actions), "feature factor output action")
    feature, _ = _draw_factor(draw, kind, feature_output, network, budget)
    return f"{tokens}*{feature}"


def draw_group(draw, network: Network, kind: str, output: str, max_order: int,
               outputs: tuple[str, ...] = OUTPUT_ACTIONS) -> str:
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
def _groups(draw, network: Network, choices: tuple[tuple[str, tuple[str, ...]], ...], max_order: int,
            outputs: tuple[str, ...]) -> str:
    kind = draw_labelled(draw, st.sampled_from([kind for kind, _ in choices]), "group kind")
    actions = dict(choices)[kind]
    output = draw_labelled(draw, st.sampled_from(actions), "output action")
    return draw_group(draw, network, kind, output, max_order, outputs)


def check_network_argument(function: str, network) -> Network:
    try:
        return parse_network(network)
    except InvalidInput as error:
        raise InvalidArgument(f"{function}(network={network!r}): {error}") from None


def groups(network, kinds=GROUP_KINDS, outputs=OUTPUT_ACTIONS, *, max_order: int = DEFAULT_MAX_ORDER
           ) -> st.SearchStrategy[str]:
    """Group specs (ρ_in, ρ_out) acting on ``network`` with |G| <= ``max_order``, e.g. ``cyclic/trivial``.

    ``kinds`` from ``GROUP_KINDS``: flip, cyclic, swap:I,J, dihedral (n >= 3), sym (n <= 4), signperm
    (n <= 3), rot:N (n even), spm (one-line signed permutation), tokens-cyclic and tokens-sym (unmasked
    attention), product (flip × permutation, permutation × permutation, tokens × feature). ``outputs``
    from ``trivial``, ``same`` (only when m = n, or for token permutations) and ``sign``. Kinds or
    actions that cannot act on this network are left out; none left is an ``InvalidArgument``.
    Shrinks toward ``flip/trivial``.
    """
    function = "groups"
    network = check_network_argument(function, network)
    kinds = check_choices(function, "kinds", kinds, GROUP_KINDS)
    outputs = check_choices(function, "outputs", outputs, OUTPUT_ACTIONS)
    max_order = check_integer_argument(function, "max_order", max_order, 2)
    ordered_outputs = tuple(o for o in OUTPUT_ACTIONS if o in outputs)  # trivial first, whatever the caller's order
    choices = []
    for kind in GROUP_KINDS:
        if kind in kinds:
            actions = tuple(o for o in ordered_outputs if kind_acts_on(kind, o, network, max_order, ordered_outputs))
            if actions:
                choices.append((kind, actions))
    if not choices:
        raise InvalidArgument(
            f"groups(network={str(network)!r}, kinds={kinds!r}, outputs={outputs!r}, max_order={max_order!r}): none of "
            f"these groups acts on a network with feature dimension {network.feature_dim} and {network.n_outputs} "
            "outputs per row (swap, cyclic, spm need n >= 2; dihedral n >= 3; sym n <= 4; signperm n <= 3; rot an even "
            "n; same needs m = n; tokens-* need unmasked attention)"
        )
    return _groups(network, tuple(choices), max_order, ordered_outputs)


__all__ = [
    "FEATURE_KINDS", "GROUP_KINDS", "PERMUTATION_KINDS", "TOKEN_KINDS", "group_kind", "groups",
    "kind_acts_on", "output_actions", "shape_for",
]
