"""The group catalogue: one frozen ``GroupKind`` record per kind of factor a group spec can name.

Everything flowlaws knows about a kind lives in its record, and every reader asks the record: the parser (name,
arguments and their rule, the help and error texts), the builder (dimension rule, order formula, generators
with their sign character), the strategies (which networks a kind acts on, how its order grows, how its
arguments are drawn, where it sits in the shrink order), the losses (whether its matrices are plain
permutations, which keep probability vectors) and the extra laws (an exact surrogate of a float action).
Adding a kind is one ``register_group_kind(GroupKind(...))``; ``flowlaws list`` shows it from then on.

The records below are the built-in kinds, in the order ``flowlaws list`` prints them.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from harness.errors import InvalidInput
from harness.model.groups.permutations import permutation_matrix, permutation_with_character, signed_permutation_order

if TYPE_CHECKING:
    from harness.model.groups.spec import GroupFactor

Generators = list[tuple[np.ndarray, int]]  # matrices on R^n, each with its sign character value χ = ±1


class ActsOn(str, enum.Enum):
    """What a kind's matrices permute: one token's feature coordinates (all inputs outside attention), or the
    token positions of a network that has them (``network.token_positions``)."""

    FEATURES = "features"
    TOKENS = "tokens"

    def __str__(self) -> str:
        return self.value


class ArgumentChooser(Protocol):
    """How a kind's arguments are drawn, one labelled choice at a time (``strategies.groups`` implements it with
    Hypothesis, so the engine never imports the strategies)."""

    def integer(self, low: int, high: int, label: str) -> int: ...

    def sampled(self, options: Sequence[int], label: str) -> int: ...

    def permutation(self, n: int, label: str) -> list[int]: ...

    def flags(self, n: int, label: str) -> list[bool]: ...


@dataclass(frozen=True)
class GroupKind:
    """One kind of catalogue factor, e.g. ``swap``: the group, its spec grammar and how it is drawn.

    ``generators(factor, n)`` are the matrices on R^n with their sign character values (what ``/sign`` multiplies
    the targets by); ``order(factor, n)`` is |G| from a formula, known before anything is built; ``fits(factor,
    n)`` is the dimension rule: why the factor cannot act on R^n, or None. ``n_arguments`` integer arguments
    follow ``name:`` (None: one or more), shown as ``argument_usage`` and checked by ``argument_rule`` (an error
    text or None). ``exact``: integer (signed-permutation) matrices, closed exactly. ``plain_permutation``: every
    element is a permutation matrix without signs (so −I ∉ G and ``/same`` keeps probability vectors);
    ``plain_permutation_of(args)`` decides it from the arguments instead. ``surrogate(factor, n)``: an exact
    factor spec whose invariant moments often agree with a float action's (checked where used, never assumed).

    For the strategies: a drawn network has at least ``min_dim`` coordinates (features, or token positions), at
    most ``max_drawn_dim``, an even number if ``even_dim``; ``order_grows_with_dim`` bounds the dimension by the
    order budget; ``order_from_arguments``: |G| depends on the arguments (rot:N, spm), known once they are
    drawn; ``least_order`` is the smallest order a drawn factor has; ``draw_arguments(choose, n, max_order)``
    returns (arguments, |G|); kinds are offered and shrunk in ``draw_rank`` order.
    """

    name: str
    help: str
    generators: Callable[[GroupFactor, int], Generators]
    order: Callable[[GroupFactor, int], int]
    fits: Callable[[GroupFactor, int], str | None] | None = None
    acts_on: ActsOn = ActsOn.FEATURES
    n_arguments: int | None = 0
    argument_usage: str = ""
    argument_what: str = ""
    example: str = ""
    argument_rule: Callable[[tuple[int, ...]], str | None] | None = None
    exact: bool = True
    plain_permutation: bool = False
    plain_permutation_of: Callable[[tuple[int, ...]], bool] | None = None
    surrogate: Callable[[GroupFactor, int], str | None] | None = None
    min_dim: int = 1
    max_drawn_dim: int | None = None
    even_dim: bool = False
    order_grows_with_dim: bool = False
    order_from_arguments: bool = False
    least_order: int = 2
    draw_arguments: Callable[[ArgumentChooser, int, int], tuple[tuple[int, ...], int]] | None = None
    draw_rank: int = 50  # after the built-in kinds (1 to 10); below 100 (see above CATALOGUE)

    @property
    def example_head(self) -> str:
        """A spec head of this kind, valid on enough coordinates: ``example``, or the bare name of a kind without
        arguments."""
        return self.example or self.name

    @property
    def usage(self) -> str:
        """The spec head as ``flowlaws list`` shows it, e.g. ``swap:I,J``."""
        return self.name + (":" + self.argument_usage if self.argument_usage else "")

    def is_plain_permutation(self, args: tuple[int, ...]) -> bool:
        """Whether every element of this factor with ``args`` is a permutation matrix without signs."""
        return self.plain_permutation or (self.plain_permutation_of is not None and self.plain_permutation_of(args))


# Hypothesis draws integers near the integer literals (|v| >= 100) of the project's modules, so a new literal of
# that size anywhere changes the examples the gate draws: the records' ranks and defaults stay below 100.
CATALOGUE: dict[str, GroupKind] = {}


def register_group_kind(kind: GroupKind) -> GroupKind:
    """Add ``kind`` to the catalogue (parser, builder, strategies, ``flowlaws list``); its name must be new."""
    if not isinstance(kind, GroupKind):
        raise InvalidInput(f"register_group_kind needs a GroupKind record, got {type(kind).__name__}")
    if kind.name in CATALOGUE:
        raise InvalidInput(f"group kind {kind.name!r} is already in the catalogue")
    CATALOGUE[kind.name] = kind
    return kind


def unregister_group_kind(name: str) -> GroupKind:
    """Remove the kind called ``name`` from the catalogue (for tests that register a kind of their own)."""
    if name not in CATALOGUE:
        raise InvalidInput(f"group kind {name!r} is not in the catalogue")
    return CATALOGUE.pop(name)


def get_group_kind(name: str) -> GroupKind:
    """The catalogue record of ``name``, or one ``InvalidInput`` listing the catalogue."""
    if name not in CATALOGUE:
        raise InvalidInput(f"unknown catalogue group {name!r}; catalogue: " + ", ".join(CATALOGUE))
    return CATALOGUE[name]


# --- the built-in kinds ---------------------------------------------------------------------------------
def _shift(n: int) -> tuple[np.ndarray, int]:
    return permutation_with_character([(i + 1) % n for i in range(n)])


def _reversal(n: int) -> tuple[np.ndarray, int]:
    return permutation_with_character([n - 1 - i for i in range(n)])


def _transposition(n: int, i: int, j: int) -> np.ndarray:
    images = list(range(n))
    images[i], images[j] = j, i
    return permutation_matrix(images)


def _symmetric_generators(n: int) -> Generators:
    """A shift and a transposition generate S_n."""
    gens = [_shift(n)]
    if n >= 2:
        gens.append((_transposition(n, 0, 1), -1))
    return gens


def _dihedral_order(n: int) -> int:
    return 2 * n if n >= 3 else (2 if n == 2 else 1)


def _swap_fits(factor: GroupFactor, n: int) -> str | None:
    i, j = factor.args
    if 0 <= i < n and 0 <= j < n and i != j:
        return None
    return f"swap:{i},{j} needs two distinct coordinates in 0..{n - 1}"


def _rotation_plane(order: int) -> np.ndarray:
    angle = 2 * math.pi / order
    return np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])


def _quarter_turns(n: int) -> str:
    """One-line signed permutation rotating every coordinate plane (x_{2i}, x_{2i+1}) by 90°."""
    images = []
    for plane in range(n // 2):
        first, second = 2 * plane + 1, 2 * plane + 2
        images += [second, -first]  # e_first ↦ e_second, e_second ↦ −e_first
    return "spm:" + ",".join(map(str, images))


ROTATION_DRAW_ORDERS = (3, 4, 5, 6)  # rot:2 would be −I, i.e. flip as a float action


def _draw_rotation(choose: ArgumentChooser, n: int, max_order: int) -> tuple[tuple[int, ...], int]:
    order = choose.sampled([N for N in ROTATION_DRAW_ORDERS if N <= max_order], "rotation order N")
    return (order,), order


def _draw_swap(choose: ArgumentChooser, n: int, max_order: int) -> tuple[tuple[int, ...], int]:
    i = choose.integer(0, n - 2, "swap I")
    j = choose.integer(i + 1, n - 1, "swap J")
    return (i, j), 2


def _spm_images_and_signs(factor: GroupFactor, n: int) -> tuple[list[int], list[int]]:
    args = factor.args
    if len(args) != n or sorted(abs(a) for a in args) != list(range(1, n + 1)):
        shown = args if len(args) <= 12 else f"{len(args)} entries"
        raise InvalidInput(
            f"group {factor}: spm needs a signed permutation of 1..{n} (one entry per coordinate), got {shown}"
        )
    return [abs(a) - 1 for a in args], [1 if a > 0 else -1 for a in args]


def _draw_signed_permutation(choose: ArgumentChooser, n: int, max_order: int) -> tuple[tuple[int, ...], int]:
    images = choose.permutation(n, "spm permutation")
    negative = choose.flags(n, "spm sign flips")
    if list(images) == list(range(n)) and not any(negative):
        negative[-1] = True  # the identity is not a group worth drawing; e_n ↦ −e_n is the simplest one
    order = signed_permutation_order(images, [-1 if flip else 1 for flip in negative])
    if order > max_order:
        # Deterministic fallback to an element of order 2 (rare: needs long cycles on many features).
        images, negative = list(range(n)), [False] * (n - 1) + [True]
        order = 2
    return tuple(-(image + 1) if flip else image + 1 for image, flip in zip(images, negative)), order


SYM_MAX_DRAWN_DIM = 4  # S_4 has 24 elements
SIGNPERM_MAX_DRAWN_DIM = 3  # B_3 has 48 elements

for _kind in (
    GroupKind(
        "flip",
        "x ↦ −x (order 2); sign character −1",
        generators=lambda factor, n: [(-np.eye(n, dtype=np.int64), -1)],
        order=lambda factor, n: 2 if n else 1,
        draw_rank=1,
    ),
    GroupKind(
        "cyclic",
        "cyclic shift of the n coordinates (order n)",
        generators=lambda factor, n: [_shift(n)],
        order=lambda factor, n: n,
        plain_permutation=True,
        min_dim=2,
        order_grows_with_dim=True,
        draw_rank=2,
    ),
    GroupKind(
        "dihedral",
        "shifts and the reversal of the n coordinates (order 2n for n ≥ 3)",
        generators=lambda factor, n: [_shift(n), _reversal(n)],
        order=lambda factor, n: _dihedral_order(n),
        plain_permutation=True,
        min_dim=3,
        order_grows_with_dim=True,
        draw_rank=5,
    ),
    GroupKind(
        "swap",
        "transposition of coordinates I and J (order 2)",
        generators=lambda factor, n: [(_transposition(n, *factor.args), -1)],
        order=lambda factor, n: 2,
        fits=_swap_fits,
        n_arguments=2,
        argument_usage="I,J",
        example="swap:0,1",
        plain_permutation=True,
        min_dim=2,
        draw_arguments=_draw_swap,
        draw_rank=4,
    ),
    GroupKind(
        "sym",
        "all permutations of the coordinates (order n!)",
        generators=lambda factor, n: _symmetric_generators(n),
        order=lambda factor, n: math.factorial(n),
        plain_permutation=True,
        min_dim=2,
        max_drawn_dim=SYM_MAX_DRAWN_DIM,
        order_grows_with_dim=True,
        draw_rank=6,
    ),
    GroupKind(
        "signperm",
        "all signed permutations (order 2^n n!)",
        generators=lambda factor, n: _symmetric_generators(n) + [(np.diag([-1] + [1] * (n - 1)).astype(np.int64), -1)],
        order=lambda factor, n: 2**n * math.factorial(n),
        min_dim=2,
        max_drawn_dim=SIGNPERM_MAX_DRAWN_DIM,
        order_grows_with_dim=True,
        draw_rank=8,
    ),
    GroupKind(
        "rot",
        "rotation by 2π/N of each coordinate plane (x_0,x_1), (x_2,x_3), … (order N; float action)",
        generators=lambda factor, n: [(np.kron(np.eye(n // 2), _rotation_plane(factor.args[0])), 1)],
        order=lambda factor, n: factor.args[0],
        fits=lambda factor, n: (
            None if n % 2 == 0 else f"rot:N acts on coordinate planes and needs an even dimension, got {n}"
        ),
        n_arguments=1,
        argument_usage="N",
        example="rot:4",
        argument_rule=lambda args: (
            None if args[0] >= 1 else f"rot:N needs N >= 1 (the rotation by 2π/N), got {args[0]}"
        ),
        exact=False,
        surrogate=lambda factor, n: _quarter_turns(n) if factor.args[0] >= 3 else None,
        min_dim=2,
        even_dim=True,
        order_from_arguments=True,
        least_order=ROTATION_DRAW_ORDERS[0],
        draw_arguments=_draw_rotation,
        draw_rank=9,
    ),
    GroupKind(
        "spm",
        "the signed permutation e_i ↦ sign(S_i) e_|S_i| (1-based one-line notation)",
        generators=lambda factor, n: [permutation_with_character(*_spm_images_and_signs(factor, n))],
        order=lambda factor, n: signed_permutation_order(*_spm_images_and_signs(factor, n)),
        n_arguments=None,
        argument_usage="S1,...,Sn",
        argument_what="a one-line signed permutation",
        example="spm:2,-1",
        plain_permutation_of=lambda args: all(a > 0 for a in args),
        min_dim=2,
        order_from_arguments=True,
        draw_arguments=_draw_signed_permutation,
        draw_rank=10,
    ),
    GroupKind(
        "tokens-cyclic",
        "attention only: cyclic shift of the token positions",
        generators=lambda factor, n: [_shift(n)],
        order=lambda factor, n: n,
        acts_on=ActsOn.TOKENS,
        plain_permutation=True,
        min_dim=2,
        order_grows_with_dim=True,
        draw_rank=3,
    ),
    GroupKind(
        "tokens-sym",
        "attention only: all permutations of the token positions",
        generators=lambda factor, n: _symmetric_generators(n),
        order=lambda factor, n: math.factorial(n),
        acts_on=ActsOn.TOKENS,
        plain_permutation=True,
        min_dim=2,
        max_drawn_dim=SYM_MAX_DRAWN_DIM,
        order_grows_with_dim=True,
        draw_rank=7,
    ),
):
    register_group_kind(_kind)
del _kind


__all__ = [
    "CATALOGUE",
    "ActsOn",
    "ArgumentChooser",
    "GroupKind",
    "ROTATION_DRAW_ORDERS",
    "get_group_kind",
    "register_group_kind",
    "unregister_group_kind",
]
