"""Size rules: how the networks strategy asks a family for its sizes, without the engine importing Hypothesis.

A family's ``Network.size_draws(budget, shape)`` is a generator: it yields one ``SizeChoice`` per size (drawn
from ``values`` in order, or an integer in low..high), receives the drawn value and finally returns the network.
``strategies.networks`` drives it with Hypothesis draws, so every family draws the same way and a new family's
rules live in its own module. ``SizeBudget`` and ``ShapeRequirements`` say what the rules may read of the
strategies' ``NetworkBudget`` and ``NetworkShape``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from harness.model.family import Network


@dataclass(frozen=True)
class SizeChoice:
    """One size the networks strategy draws: from ``values`` in order when given, else an integer low..high."""

    label: str
    values: tuple | None = None
    low: int = 1
    high: int = 1


SizeDraws = Generator[SizeChoice, Any, "Network"]


class SizeBudget(Protocol):
    """What the size rules read of the strategies' budget (``strategies.networks.NetworkBudget``)."""

    @property
    def max_params(self) -> int: ...
    @property
    def max_features(self) -> int: ...
    @property
    def max_degree(self) -> int: ...
    @property
    def max_layers(self) -> int: ...
    @property
    def max_tokens(self) -> int: ...
    @property
    def masks(self) -> tuple[str, ...]: ...


class ShapeRequirements(Protocol):
    """What the size rules read of a group's requirements (``strategies.networks.NetworkShape``)."""

    @property
    def outputs_match_features(self) -> bool: ...
    @property
    def min_tokens(self) -> int: ...
    @property
    def max_tokens(self) -> int | None: ...
    @property
    def unmasked(self) -> bool: ...
    def feature_dims(self, upper: int) -> list[int]: ...


def smallest_outputs(n: int, shape: ShapeRequirements) -> int:
    """The fewest outputs a network of feature dimension n may have under ``shape``."""
    return n if shape.outputs_match_features else 1


def outputs_draw(n: int, upper: int, shape: ShapeRequirements) -> Generator[SizeChoice, Any, int]:
    """Draw the output count m (1..upper), or m = n when the shape asks for it.

    Drawn even when the shape fixes m = n: Hypothesis shrinks toward shorter choice sequences first, so a branch
    that skipped this draw would look simpler than m = 1 and shrinking would head for the output action "same".
    """
    m = yield SizeChoice("outputs m", low=1, high=max(upper, 1))
    return n if shape.outputs_match_features else m
