"""What a law count returns: ``LawCount``, its vocabularies, and the rule that turns ranks into a count.

A count is conclusive (``laws`` is an integer, ``certificate`` says why) or inconclusive (``laws`` is None,
``stop_reason`` and ``notes`` say why); never a guess. The vocabularies are str enums whose values are the
strings the JSON has always carried, so ``result.stop_reason == "involutive"`` and old reports keep working.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from harness.algebra.spectral import Gap
from harness.jsonable import plain

if TYPE_CHECKING:
    from harness.laws.lie import LieGeneration


class StopReason(str, enum.Enum):
    """Why a Lie generation (or a pointwise-span comparison) stopped."""

    def __str__(self) -> str:  # the value, as the plain strings this vocabulary replaced printed
        return self.value

    CERTIFICATE = "certificate"
    INVOLUTIVE = "involutive"
    DEPTH_CAP = "depth-cap"
    SAMPLE_CAP = "sample-cap"
    NO_CLEAR_GAP = "no-clear-gap"
    POINTS_DISAGREE = "points-disagree"
    POINTWISE_SPAN_EQUAL = "pointwise-span-equal"
    POINTWISE_SPAN_DIFFERS = "pointwise-span-differs"
    INCONSISTENT = "inconsistent"
    TIMEOUT = "timeout"
    NOT_GENERIC = "not-generic"

    @property
    def message(self) -> str:
        return {
            "certificate": "the Lie rank met D minus the verified independent laws",
            "involutive": "a bracket level added nothing to the trace at two random points (closure)",
            "depth-cap": "no closure or certificate within the bracket depth allowed",
            "sample-cap": "the sample budget ran out before a closure or certificate",
            "no-clear-gap": "a float rank had no clear singular-value gap",
            "points-disagree": "the closure seen at one random point failed at a second one",
            "pointwise-span-equal": "the pointwise span of the class equals the free span",
            "pointwise-span-differs": "the pointwise span of the class is smaller than the free span",
            "inconsistent": "the Lie rank plus the verified laws exceeded D: a verified law or a rank is wrong",
            "timeout": "the time budget (--timeout) ran out before a closure or certificate",
            "not-generic": "a pre-activation sat at a kink of the activation at every θ and data sampled",
        }[self.value]


class Certificate(str, enum.Enum):
    """Why a conclusive count is certain."""

    def __str__(self) -> str:  # the value, as the plain strings this vocabulary replaced printed
        return self.value

    LAWS = "laws"  # Lie rank ρ and s verified independent laws meet: ρ + s = D
    INVOLUTIVE = "involutive"  # involutive closure at two random points (Frobenius)

    @property
    def message(self) -> str:
        return {
            "laws": "Lie rank plus verified independent laws equals D",
            "involutive": "the trace is involutive at two random points",
        }[self.value]


class CountMethod(str, enum.Enum):
    """The arithmetic a count used."""

    def __str__(self) -> str:  # the value, as the plain strings this vocabulary replaced printed
        return self.value

    EXACT_MODULAR = "exact-modular"
    FLOAT_SVD = "float-svd"
    POINTWISE_SPAN = "pointwise-span"
    AUTODIFF = "autodiff"

    @property
    def message(self) -> str:
        return {
            "exact-modular": "exact ranks modulo a prime",
            "float-svd": "float SVD ranks with a spectral gap",
            "pointwise-span": "pointwise span of ∇L over data sets against the free span",
            "autodiff": "float SVD ranks with a spectral gap of ∇L_S and brackets by automatic differentiation",
        }[self.value]


@dataclass(frozen=True)
class LawCount:
    """The number of independent conservation laws and the evidence behind it.

    ``laws`` is None when inconclusive (``stop_reason``, ``notes``). ``certificate`` says why a conclusive count
    is certain; ``certified`` is True for either certificate. ``gap`` is the spectral gap that set a float rank
    (None for exact ranks): properties read it from here, never recompute it.
    """

    arch: str
    group: str | None
    data: str
    loss: str
    D: int
    laws: int | None
    free_laws: int | None
    extra_laws: int | None = field(init=False)  # laws − free_laws, derived (None unless both are known)
    lie_rank_by_level: tuple[int, ...]
    free_lie_rank_by_level: tuple[int, ...]
    certified: bool
    certificate: Certificate | None
    method: CountMethod
    stop_reason: StopReason
    verified_laws: int
    explicit_laws: tuple[str, ...] = ()
    explicit_laws_latex: tuple[str, ...] = ()
    singular_values: tuple[float, ...] = ()
    gap: Gap | None = None
    n_generators: int = 0
    notes: tuple[str, ...] = ()
    seed: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        extra = None if self.laws is None or self.free_laws is None else self.laws - self.free_laws
        object.__setattr__(self, "extra_laws", extra)  # frozen: set once, here

    @property
    def conclusive(self) -> bool:
        return self.laws is not None

    def to_dict(self) -> dict:
        """JSON-ready (``harness.jsonable.plain``), fields in declaration order; ``gap`` is the gap's ratio."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["gap"] = None if self.gap is None else self.gap.ratio
        return plain(data)


@dataclass(frozen=True)
class Certification:
    """The count that Lie rank and verified laws allow: ``laws`` and ``certificate``, or None and why not."""

    laws: int | None
    certificate: Certificate | None
    inconsistency: str | None = None  # set when ρ + s > D: the count is inconclusive, never a guess


def certify(generation: LieGeneration, D: int, verified: int) -> Certification:
    """ρ + s = D certifies by laws; an involutive stop certifies D − ρ; ρ + s > D is an inconsistency.

    A rank read where the spectrum had no clear gap (``NO_CLEAR_GAP``) is no lower bound of dim Lie, so it
    certifies nothing (``softmax-attention:n=2,d=1,dk=4,dv=1,rope=1`` once counted 3 "by laws" from such a rank).
    """
    if generation.stop_reason == StopReason.NO_CLEAR_GAP:
        return Certification(None, None)
    if generation.rank + verified > D:
        return Certification(
            None,
            None,
            f"Lie rank {generation.rank} plus {verified} verified independent laws "
            f"exceeds D = {D}: a verified law or a rank is wrong",
        )
    if generation.rank + verified == D:
        return Certification(D - generation.rank, Certificate.LAWS)
    if generation.stop_reason == StopReason.INVOLUTIVE:
        return Certification(D - generation.rank, Certificate.INVOLUTIVE)
    return Certification(None, None)
