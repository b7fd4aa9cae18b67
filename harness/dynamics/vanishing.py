"""The polynomial equations satisfied by points of a leaf, and the laws they show (oracle 3, DESIGN.md §2).

The polynomials of degree ≤ p that vanish on all points form the null space of the evaluation matrix A
(points × monomials, constant included) taken in centred and scaled coordinates (an affine change of θ, so the
space of vanishing polynomials is the same). Its dimension, the nullity, is read from the SVD at the *largest*
spectral gap σ_k / σ_{k+1} (values below a noise floor count as the floor); a largest gap below the stated
ratio is inconclusive ("no spectral gap"), never a guess. The gradients at θ₀ of the vanishing polynomials span
the conormal space of the leaf there, so the number of laws seen is their rank, read with the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.algebra.monomials import index_tuples_up_to
from harness.algebra.spectral import SpectralGap
from harness.errors import InvalidInput

if TYPE_CHECKING:
    from harness.dynamics.class_data import WalkSpan
    from harness.dynamics.leaf import LeafPoints

DEGREES = (1, 2, 3)


def monomial_matrix(points: np.ndarray, exponents: list[tuple[int, ...]]) -> np.ndarray:
    """A[i, j] = z_i^{α_j}: one row per point, one column per monomial."""
    columns = [np.prod(points[:, list(combo)], axis=1) if combo else np.ones(points.shape[0]) for combo in exponents]
    return np.stack(columns, axis=1)


def monomial_gradients(point: np.ndarray, exponents: list[tuple[int, ...]]) -> np.ndarray:
    """∂z^{α_j}/∂z at one point: an (n_monomials, n_vars) array."""
    gradients = np.zeros((len(exponents), point.size))
    for j, combo in enumerate(exponents):
        for s, variable in enumerate(combo):
            others = combo[:s] + combo[s + 1 :]
            gradients[j, variable] += np.prod(point[list(others)]) if others else 1.0
    return gradients


@dataclass(frozen=True)
class LeafEquations:
    """The polynomial equations of degree ≤ p satisfied by the walked points, and the laws they show.

    ``laws_seen`` is the rank at θ₀ of the gradients of the vanishing polynomials (None when inconclusive);
    ``status`` is "ok" or "inconclusive" with ``reason``. Singular values are relative to the largest.
    """

    status: str
    reason: str
    degree: int
    n_points: int
    n_monomials: int
    spread: float
    singular_values: tuple[float, ...] = ()
    gap: SpectralGap | None = None
    n_vanishing: int | None = None
    gradient_singular_values: tuple[float, ...] = ()
    gradient_gap: SpectralGap | None = None
    laws_seen: int | None = None
    leg_statuses: dict = field(default_factory=dict)
    n_rhs: int = 0
    walk_span: WalkSpan | None = None  # whether the walk's data sets stand for the class (``walk_span``)

    @property
    def conclusive(self) -> bool:
        return self.status == "ok"

    @property
    def evidence(self) -> dict:
        """The numbers that decided, for verdicts and plots."""

        def gap_record(gap):
            return (
                None
                if gap is None
                else {
                    "index": gap.rank,
                    "ratio": gap.ratio,
                    "threshold": gap.threshold,
                    "floor": gap.floor,
                    "runner_up": gap.runner_up,
                }
            )

        return {
            "leaf_status": self.status,
            "leaf_reason": self.reason,
            "degree": self.degree,
            "n_points": self.n_points,
            "n_monomials": self.n_monomials,
            "spread": self.spread,
            "singular_values": list(self.singular_values),
            "gap": gap_record(self.gap),
            "n_vanishing": self.n_vanishing,
            "gradient_singular_values": list(self.gradient_singular_values),
            "gradient_gap": gap_record(self.gradient_gap),
            "laws_seen": self.laws_seen,
            "leg_statuses": dict(self.leg_statuses),
            "n_rhs": self.n_rhs,
            "walk_span": None if self.walk_span is None else self.walk_span.evidence,
        }


def vanishing_polynomials(
    leaf: LeafPoints,
    *,
    degree: int = 2,
    gap_threshold: float = 1e3,
    noise_floor: float = 1e-13,
    gradient_floor: float = 1e-7,
    min_spread: float = 1e-3,
    points_per_monomial: float = 2.0,
) -> LeafEquations:
    """The polynomials of degree ≤ p vanishing on ``leaf.points`` and the rank of their gradients at θ₀.

    Inconclusive when the points barely spread (``min_spread``, relative to ‖θ₀‖), when there are fewer than
    ``points_per_monomial`` points per monomial, or when a gap is not clear (largest ratio below
    ``gap_threshold``, or a second ratio above it). ``noise_floor`` is the relative size below which a
    singular value is integration error: with rtol 1e-11 the null values of the walked points sit at
    1e-16–1e-13 (measured over 240 drawn scenarios), while the smallest non-null values of thin leaves go
    down to ~1e-9; a floor at 1e-11 made those gaps look small. If the points are noisier than the floor,
    the noise makes a second clear gap and the answer is inconclusive, not wrong.
    """
    if degree not in DEGREES:
        raise InvalidInput(f"degree={degree!r} is not one of {DEGREES}")
    points = leaf.points
    n_vars = points.shape[1]
    exponents = index_tuples_up_to(n_vars, degree)
    common: dict[str, Any] = dict(
        degree=degree,
        n_points=leaf.n_points,
        n_monomials=len(exponents),
        spread=leaf.spread,
        leg_statuses=dict(leaf.leg_statuses),
        n_rhs=leaf.n_rhs,
    )
    if leaf.spread < min_spread:
        return LeafEquations(
            "inconclusive", f"too little motion: spread {leaf.spread:.3g} of ‖θ₀‖ < {min_spread:g}", **common
        )
    if leaf.n_points < points_per_monomial * len(exponents):
        return LeafEquations(
            "inconclusive",
            f"too few points: {leaf.n_points} for {len(exponents)} monomials "
            f"(need {points_per_monomial:g} per monomial; "
            f"legs: {_leg_summary(leaf.leg_statuses)})",
            **common,
        )
    # Centring and per-coordinate scaling is an affine change of variables (the vanishing space is the same)
    # that keeps the monomials O(1). A coordinate that hardly moves is a linear law itself: its scale is
    # floored so that its integration noise is not blown up to O(1).
    centre = points.mean(axis=0)
    spread = points.std(axis=0)
    spread = np.maximum(spread, 1e-3 * spread.max())
    scaled = (points - centre) / spread
    evaluation = monomial_matrix(scaled, exponents)
    _, singular, right = np.linalg.svd(evaluation, full_matrices=False)  # n_points >= n_monomials: right is square
    relative = singular / singular[0]
    gap = SpectralGap.of(relative, threshold=gap_threshold, floor=noise_floor, unique=True)
    n_vanishing = len(exponents) - gap.rank
    common.update(singular_values=tuple(float(s) for s in relative), gap=gap, n_vanishing=n_vanishing)
    if not gap.clear:
        return LeafEquations("inconclusive", gap.reason, **common)
    if n_vanishing == 0:
        return LeafEquations("ok", f"no polynomial of degree ≤ {degree} vanishes on the leaf", laws_seen=0, **common)
    null_space = right[gap.rank :].T  # coefficient vectors (unit norm) of the vanishing polynomials
    gradients = monomial_gradients(scaled[0], exponents).T @ null_space  # (D, n_vanishing), z-gradients at θ₀
    gradient_singular = np.linalg.svd(gradients, compute_uv=False)
    gradient_gap = SpectralGap.of(gradient_singular, threshold=gap_threshold, floor=gradient_floor, unique=True)
    relative_gradient = gradient_singular / max(gradient_singular[0], 1e-300)
    common.update(gradient_singular_values=tuple(float(s) for s in relative_gradient), gradient_gap=gradient_gap)
    if not gradient_gap.clear:
        return LeafEquations("inconclusive", f"gradients at θ₀: {gradient_gap.reason}", **common)
    return LeafEquations(
        "ok",
        f"{n_vanishing} polynomials of degree ≤ {degree} vanish; their gradients at θ₀ have rank {gradient_gap.rank}",
        laws_seen=gradient_gap.rank,
        **common,
    )


def _leg_summary(statuses: dict) -> str:
    return ", ".join(f"{name} {count}" for name, count in statuses.items() if count) or "none"
