"""Lie-algebra generation from a field family, by jet brackets of random combinations (DESIGN.md §2, oracle 1).

Level k of Lie(F) is the span of the left-normed brackets [A_1, [A_2, …, A_k]] of elements A_i ∈ F. This map
is multilinear, so the trace at θ* of random samples (A_i = X_w at random moment tuples w) spans the level's
trace: a sample fails to raise the rank while the level still has something new with probability at most
k/p (Schwartz–Zippel). Two failed samples close a level.

Stopping is sound only in two ways:
(a) certificate: the rank reaches D − s, where s independent laws are verified, so Lie rank and law count
    bound each other and meet;
(b) involutive closure: a level k + 1 adds nothing to the trace Δ_k(θ) of levels ≤ k at a generic point.
    Then [X, Y](θ) ∈ Δ_k(θ) for X ∈ F and Y of level ≤ k, so ad_X preserves the sections of Δ_k, hence
    (Jacobi) so does ad_Z for every Z ∈ Lie(F), and every bracket of generators is a section of Δ_k:
    Lie(F)(θ) = Δ_k(θ) near generic θ (Frobenius–Hermann). The generic-point claim is checked again at a
    second independent random point.
Otherwise the depth or sample cap is reached and the result is inconclusive, never a count. A lower rank
at level 1 is not an extra law: ranks can catch up at depth 3, so stopping by the rank alone is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.algebra import modular
from harness.algebra.spectral import GAP_THRESHOLD, Gap, SpectralGap
from harness.laws.budget import UNLIMITED, Budget
from harness.laws.fields import FieldFamily
from harness.laws.results import StopReason


class Generator:
    """The field X_w for a batch of moment tuples w (S, W): one field per row."""

    def __init__(self, family: FieldFamily, w: np.ndarray):
        self.family = family
        self.w = w

    def __call__(self, point: np.ndarray) -> np.ndarray:
        return self.family.evaluate(self.w, point)


class Bracket:
    """[X, Y](θ̃) = coeff_ε Y(θ̃ + εX(θ̃)) − coeff_ε X(θ̃ + εY(θ̃)) = DY·X − DX·Y, for batched fields."""

    def __init__(self, left, right, arithmetic):
        self.left = left
        self.right = right
        self.arithmetic = arithmetic

    def __call__(self, point: np.ndarray) -> np.ndarray:
        ar = self.arithmetic
        x_value = self.left(point)
        right_moved = self.right(ar.with_new_nilpotent(point, x_value))
        y_value = ar.without_newest(right_moved)
        left_moved = self.left(ar.with_new_nilpotent(point, y_value))
        return ar.subtract(ar.coefficient_of_newest(right_moved), ar.coefficient_of_newest(left_moved))


def left_normed(family: FieldFamily, tuples: list[np.ndarray]):
    """The batched field [X_{w_1}, [X_{w_2}, …, X_{w_k}]] for w_i = tuples[i] (each (S, W))."""
    fieldobj = Generator(family, tuples[-1])
    for w in reversed(tuples[:-1]):
        fieldobj = Bracket(Generator(family, w), fieldobj, family.arithmetic)
    return fieldobj


def values_at(fieldobj, theta: np.ndarray, arithmetic) -> np.ndarray:
    """A batched field's values at a plain point θ (D,) → (S, D)."""
    point = np.asarray(theta, dtype=arithmetic.dtype)[None, None, :]
    return fieldobj(point)[0]


def tuples_values_at(family: FieldFamily, tuples: list[np.ndarray], theta: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Values at θ of the left-normed brackets of a batch of tuples, in chunks (bounded temporaries)."""
    count = tuples[0].shape[0]
    parts = [
        values_at(left_normed(family, [t[i : i + chunk] for t in tuples]), theta, family.arithmetic)
        for i in range(0, count, chunk)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, family.n_params), dtype=family.arithmetic.dtype)


@dataclass(frozen=True)
class LieGeneration:
    """Evidence of one generation: trace rank at θ* after each level, why it stopped, and float gaps."""

    n_params: int
    rank: int
    rank_by_level: tuple[int, ...]
    stop_reason: StopReason
    exact: bool
    samples: int
    target_rank: int | None = None
    second_point_rank: int | None = None
    singular_values: tuple[float, ...] = ()
    gap: Gap | None = None  # the gap that set a float rank (None in exact arithmetic)
    notes: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "stop_reason", StopReason(self.stop_reason))

    @property
    def conclusive(self) -> bool:
        return self.stop_reason in ("certificate", "involutive")


def generate_lie_algebra(
    family: FieldFamily,
    *,
    target_rank: int | None = None,
    max_depth: int = 8,
    max_samples: int = 20000,
    seed: int = 0,
    budget: Budget = UNLIMITED,
    phase: str = "Lie rank",
) -> LieGeneration:
    """Trace ranks of Lie(F) level by level at a random point, stopping only soundly (module docstring).

    ``budget`` bounds the time (past it: ``StopReason.TIMEOUT`` with the ranks reached) and receives the
    progress, (``phase``, level, rank, D) after every sample batch.
    """
    if family.exact:
        return _generate_exact(family, target_rank, max_depth, max_samples, seed, budget, phase)
    return _generate_float(family, target_rank, max_depth, max_samples, seed, budget, phase)


def _random_tuples(family: FieldFamily, rng, depth: int, count: int) -> list[np.ndarray]:
    return [family.random_combinations(rng, count) for _ in range(depth)]


def _generate_exact(family, target_rank, max_depth, max_samples, seed, budget, phase) -> LieGeneration:
    rng = np.random.default_rng([seed, 7])
    D = family.n_params
    arithmetic = family.arithmetic
    theta = family.random_point(rng)
    trace = modular.EchelonBasis(D)
    ranks: list[int] = []
    kept: list[list[list[np.ndarray]]] = []
    samples = 0

    def finish(reason, **extra):
        return LieGeneration(D, trace.rank, tuple(ranks), reason, True, samples, target_rank, **extra)

    # Level 1: the generators themselves (a basis of F).
    if family.n_fields:
        values = family.evaluate_at(family.basis, theta)
        new = trace.add(values)
        kept.append([[family.basis[i]] for i in np.flatnonzero(new)])
        samples += family.n_fields
    else:
        kept.append([])
    ranks.append(trace.rank)
    budget.report(phase, 1, trace.rank, D)
    if target_rank is not None and trace.rank >= target_rank:
        return finish("certificate")
    if trace.rank == 0:
        return _confirm_closure(family, kept, trace.rank, theta, rng, finish, depth=1)
    for depth in range(2, max_depth + 1):
        level_kept = []
        failures, batch = 0, 4
        before = trace.rank
        while failures < 2:
            if budget.expired():
                ranks.append(trace.rank)
                return finish("timeout", notes=(f"time budget spent at depth {depth} (rank {trace.rank} of {D})",))
            if samples >= max_samples:
                ranks.append(trace.rank)
                return finish("sample-cap", notes=(f"stopped after {samples} samples at depth {depth}",))
            batch = max(1, min(batch, D - trace.rank + 2))
            tuples = _random_tuples(family, rng, depth, batch)
            values = values_at(left_normed(family, tuples), theta, arithmetic)
            samples += batch
            new = trace.add(values)
            for i in np.flatnonzero(new):
                level_kept.append([t[i] for t in tuples])
            failures += int((~new).sum())
            batch = min(64, 2 * batch) if new.all() else 4
            budget.report(phase, depth, trace.rank, D)
            if target_rank is not None and trace.rank >= target_rank:
                kept.append(level_kept)
                ranks.append(trace.rank)
                return finish("certificate")
        kept.append(level_kept)
        ranks.append(trace.rank)
        if trace.rank == before:
            return _confirm_closure(family, kept[:-1], trace.rank, theta, rng, finish, depth=depth)
    return finish("depth-cap", notes=(f"no closure or certificate within depth {max_depth}",))


def _confirm_closure(family, kept, rank, theta, rng, finish, *, depth):
    """Re-check at an independent random point: the kept fields have the same rank there and a fresh
    sample of the closing level adds nothing (the stall is a property of generic points, not of θ*)."""
    arithmetic = family.arithmetic
    second = family.random_point(rng)
    check = modular.EchelonBasis(family.n_params)
    for level, samples in enumerate(kept, start=1):
        if not samples:
            continue
        tuples = [np.stack([s[i] for s in samples]) for i in range(level)]
        check.add(tuples_values_at(family, tuples, second))
    if depth >= 2 or family.n_fields:
        tuples = _random_tuples(family, rng, max(depth, 1), 2)
        check.add(values_at(left_normed(family, tuples), second, arithmetic))
    if check.rank != rank:
        return finish(
            "points-disagree",
            second_point_rank=check.rank,
            notes=(f"rank {rank} at θ* but {check.rank} at a second random point",),
        )
    return finish(
        "involutive",
        second_point_rank=check.rank,
        notes=(f"level {depth} added nothing to the trace at two random points",),
    )


def _level_one_scaled(family: FieldFamily, theta: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Level-1 values at a float θ divided by their reference size, that size |X| and the growth |X|/|θ|.

    Rows are not normalised one by one: a bracket that vanishes identically comes out as rounding noise,
    and normalising it would turn noise into a spurious direction. Level k is divided by one reference
    size instead, |X|·(|X|/|θ|)^{k−1} (a bracket of polynomial fields scales like |DY||X| ~ |X||Y|/|θ|),
    with |X| the median size of a level-1 field, so that identically vanishing brackets stay near
    rounding level and real ones near 1.
    """
    if not family.n_fields:
        return np.zeros((0, family.n_params)), 1.0, 1.0 / max(float(np.linalg.norm(theta)), 1e-300)
    level_one = family.evaluate_at(family.basis, theta)
    reference = float(np.median(np.linalg.norm(level_one, axis=1))) or 1.0
    return level_one / reference, reference, reference / max(float(np.linalg.norm(theta)), 1e-300)


def trace_matrix_at(
    family: FieldFamily, theta: np.ndarray, *, depth: int, seed: int = 0, samples_per_level: int | None = None
) -> np.ndarray:
    """Rows whose span is Δ_depth(θ), the trace at a float point θ of the brackets of F of levels ≤ depth.

    Level 1 is the basis of F; each level k ≥ 2 is ``samples_per_level`` (default D + 4) left-normed brackets
    of random elements of F, which span the level's trace at θ almost surely (the map is multilinear; see the
    module docstring), scaled per level as in the float generation. ``family`` must be a float family
    (``FieldFamily.as_float()`` turns an exact one into one with the same fields). With ``depth`` at least the
    level where the exact count's rank stopped growing, the span is Lie(F)(θ) at generic θ; its dimension
    must be read with ``SpectralGap.of`` and compared with that count, never assumed.
    """
    if family.exact:
        raise ValueError("trace_matrix_at needs a float family: use family.as_float()")
    if depth < 1:
        raise ValueError(f"depth={depth!r} must be at least 1")
    theta = np.asarray(theta, dtype=float)
    rng = np.random.default_rng([seed, 19])
    count = samples_per_level or family.n_params + 4
    level_one, reference, growth = _level_one_scaled(family, theta)
    rows = [level_one]
    for level in range(2, depth + 1):
        if not family.n_fields:
            break
        tuples = _random_tuples(family, rng, level, count)
        rows.append(tuples_values_at(family, tuples, theta) / (reference * growth ** (level - 1)))
    return np.concatenate(rows)


def _generate_float(family, target_rank, max_depth, max_samples, seed, budget, phase) -> LieGeneration:
    rng = np.random.default_rng([seed, 7])
    D = family.n_params
    theta = family.random_point(rng)
    rows: list[np.ndarray] = []
    ranks: list[int] = []
    samples = 0
    singular = np.zeros(0)
    gap = SpectralGap.of(singular)

    def current_rank() -> tuple[int, np.ndarray, SpectralGap]:
        matrix = np.concatenate(rows) if rows else np.zeros((0, D))
        if matrix.shape[0] == 0 or not np.any(matrix):
            return 0, np.zeros(0), SpectralGap.of(())
        s = np.linalg.svd(matrix, compute_uv=False)
        g = SpectralGap.of(s)
        return g.rank, s, g

    def finish(reason, **extra):
        shown = tuple(float(v) for v in singular[: min(len(singular), (ranks[-1] if ranks else 0) + 3)])
        return LieGeneration(
            D,
            ranks[-1] if ranks else 0,
            tuple(ranks),
            reason,
            False,
            samples,
            target_rank,
            singular_values=shown,
            gap=gap.as_gap(),
            **extra,
        )

    level_one, reference, growth = _level_one_scaled(family, theta)
    if family.n_fields:
        rows.append(level_one)
        samples += family.n_fields
    rank, singular, gap = current_rank()
    ranks.append(rank)
    if not gap.clear:
        return finish("no-clear-gap", notes=(f"largest singular-value gap {gap.ratio:.3g} < {GAP_THRESHOLD:g}",))
    if target_rank is not None and rank >= target_rank:
        return finish("certificate")
    budget.report(phase, 1, rank, D)
    for depth in range(2, max_depth + 1):
        if budget.expired():
            return finish("timeout", notes=(f"time budget spent before depth {depth} (rank {rank} of {D})",))
        count = D - rank + 4
        if samples + count > max_samples:
            return finish("sample-cap")
        tuples = _random_tuples(family, rng, depth, count)
        rows.append(tuples_values_at(family, tuples, theta) / (reference * growth ** (depth - 1)))
        samples += count
        previous = rank
        rank, singular, gap = current_rank()
        ranks.append(rank)
        budget.report(phase, depth, rank, D)
        if not gap.clear:
            return finish("no-clear-gap", notes=(f"largest singular-value gap {gap.ratio:.3g} < {GAP_THRESHOLD:g}",))
        if target_rank is not None and rank >= target_rank:
            return finish("certificate")
        if rank == previous:
            return finish("involutive", notes=(f"level {depth} added nothing to the trace (float SVD)",))
    return finish("depth-cap")
