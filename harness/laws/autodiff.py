"""The autodiff Lie-algebra count: D − dim Lie(F)(θ) for any torch model (DESIGN.md §3, issue 11 item 2).

The number of independent conservation laws of a data class is D − dim Lie(F)(θ) at generic θ (Marcotte,
Gribonval, Peyré 2023, Thm 3.3), F = {X_S = ∇_θ L_S : S in the class}. For a model that is not a polynomial
map F has no finite moment basis, so the count works from samples:

* **Generators.** A pool of P random data sets of the class (``class_datasets``: free, or closed under the
  group G), their fields X_{S_i} by automatic differentiation, and random combinations of them (a random
  element of the pool's span is the gradient of a randomly weighted loss, ``harness.laws.autodiff_fields``).
* **Levels.** Level 1 is the pool's fields at a random θ*; level k ≥ 2 is D − ρ + 4 left-normed brackets of
  k random combinations (the bracket map is multilinear, so random samples span the level's trace: the
  argument of ``harness.laws.lie``), each bracket by nested Jacobian–vector products (``torch.func.jvp`` of
  ``grad``), batched by ``vmap``. Level k is multiplied by |θ*|^{k−1} (level-1 rows have norm 1), so that a
  bracket that vanishes identically stays at rounding level (``harness.laws.lie``'s scaling).
* **Rank.** The SVD of all rows so far with the one gap rule (``SpectralGap``, ``GAP_THRESHOLD``); no clear
  gap at any level ends the count inconclusive (stop ``no-clear-gap``), never a guess.
* **Sound stop, as in the exact engine.** (a) Certificate: the model's published laws h, their gradients by
  autograd, checked orthogonal to every pool field at θ* and at a second random point (relative to
  |∇h||X|) and independent (gap rank) — s of them; ρ + s = D certifies (ρ is a lower bound of dim Lie(F):
  the pool is a subfamily). (b) Involutive closure: a level adds nothing to the trace at θ*, and at a second
  random point θ₂, with FRESH data sets added to the pool, the levels up to the same depth have the same
  rank. Without fresh data the closure would only be the pool's, not the class's. A rank below D − s at
  level 1 or 2 is not a stop by itself (the depth-3 trap: ranks catch up through brackets).
* **Non-smooth models (ReLU).** Genericity assumption: at θ* (and θ₂) no pre-activation of the pool's data
  is at a kink, the activation pattern is the same at θ ± a small step along every field used
  (``activation_flips``), and every unit switches on the pool's data (``frozen_units``: a unit linear or dead
  on all data marks an open region of θ with more laws, as deep ReLU networks have). Then f is, near θ,
  the smooth piece autograd differentiates. If it fails, the data and θ are resampled
  (``GENERICITY_ATTEMPTS``); after that the count is inconclusive — never counted across a kink.
* **Data that stand for the class.** Polynomial losses: Gaussian inputs (of a size log-uniform in
  ``INPUT_SPREAD``: a ReLU unit with a large bias must see inputs on both sides of its kink, or the pool
  explores a sub-class with more laws) and Gaussian targets. A non-polynomial ℓ is
  MSE-like for small residuals (``harness.dynamics.class_data``), so each data set's inputs are scaled so that
  its predictions at θ*, and its targets, have a size log-uniform in ``REGIME`` (ℓ's bends are at 1).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from harness.algebra.spectral import GAP_THRESHOLD, ROUNDING_FLOOR, SpectralGap
from harness.errors import InvalidInput
from harness.laws.autodiff_fields import FieldPool, activation_flips, frozen_units, gradient_field
from harness.laws.budget import UNLIMITED, Budget
from harness.laws.lie import LieGeneration
from harness.laws.results import CountMethod, LawCount, StopReason, certify
from harness.model.data import DataSet, augment, check_data_class, check_seed, random_dataset
from harness.model.groups import Group, build_group
from harness.model.losses import Loss, get_loss

__all__ = ["AUTODIFF_MEMORY_BYTES", "class_datasets", "count_laws_autodiff", "gradient_field"]

SAMPLES_PER_SET = 2  # base samples per data set (an orbit of them when augmented): small sets, distinct fields
FRESH_SETS = 8  # data sets added at the second point: the closure must hold for the class, not only the pool
GENERICITY_ATTEMPTS = 5  # resamplings of θ and data when a pre-activation sits at a kink or a unit never switches
LAW_TOLERANCE = 1e-8  # |∇h·X| ≤ this × |∇h||X| for a published law to count as verified
# Input sizes (polynomial losses, and every other set otherwise). A non-smooth model gets a wide spread, so
# that every unit's kink and every activation region is reached (0.5..4 missed a region of mlp:1,3,2 at seed 1:
# 4 laws counted, 3 true); a smooth one keeps 0.5..4, where high-degree fields stay far from overflow.
INPUT_SPREAD = (math.log(0.5), math.log(4.0))
NON_SMOOTH_INPUT_SPREAD = (math.log(0.25), math.log(16.0))
REGIME = (1.0, 8.0)  # prediction and target sizes of a non-polynomial loss's data sets (ℓ bends at 1)
AUTODIFF_MEMORY_BYTES = 4 << 30  # the trace rows, the pool's data and the brackets' temporaries


@dataclass(frozen=True)
class _Run:
    """One generation on one data class: the Lie evidence, the verified laws and what was checked."""

    generation: LieGeneration
    verified: int
    notes: tuple[str, ...]


def class_datasets(
    model,
    data_class: str,
    loss,
    group: Group | None,
    *,
    n_sets: int,
    rng: np.random.Generator,
    theta: np.ndarray | None = None,
    samples: int = SAMPLES_PER_SET,
) -> list[DataSet]:
    """``n_sets`` random data sets that stand for the class (module docstring): free, or G-augmented orbits.

    For a non-polynomial loss, inputs of every other set are scaled so that predictions at ``theta`` (default:
    a random θ) have an RMS size log-uniform in ``REGIME``, and real targets get a size drawn the same way.
    The other sets keep inputs of unit size (targets still in ``REGIME``): scaling the inputs up can saturate a
    model inside (softmax scores, tanh), where its θ-derivatives fall to rounding and a pool of such sets alone
    spans less than the class (a false closure, ``softmax-attention:n=2,d=1,dk=4,dv=1,rope=1``). Every set is a
    data set of the class, so mixing them can only bring the sampled Lie algebra closer to the class's.
    """
    from harness.model.zoo import parse_model

    model, loss = parse_model(model), get_loss(loss)
    check_data_class(data_class)
    if data_class == "augmented" and group is None:
        raise InvalidInput("data class 'augmented' needs a group (e.g. --group cyclic/trivial)")
    if isinstance(n_sets, bool) or not isinstance(n_sets, (int, np.integer)) or n_sets < 1:
        raise InvalidInput(f"n_sets={n_sets!r} must be a positive integer")
    theta = model.random_theta(rng) if theta is None else np.asarray(theta, dtype=float)
    probe = rng.standard_normal((16, model.input_dim))
    sets = []
    for index in range(int(n_sets)):
        spread = INPUT_SPREAD if model.smooth else NON_SMOOTH_INPUT_SPREAD
        input_scale, target_scale = float(np.exp(rng.uniform(*spread))), 1.0
        if not loss.is_polynomial:
            low, high = (math.log(v) for v in REGIME)
            size = float(np.exp(rng.uniform(low, high)))
            if index % 2 == 0:
                input_scale = _input_scale(model, theta, probe, size)
            target_scale = float(np.exp(rng.uniform(low, high)))
        base = random_dataset(
            model,  # type: ignore[arg-type]  (a TorchModel has the shapes random_dataset reads)
            samples,
            rng,
            loss=loss,
            input_scale=input_scale,
            target_scale=target_scale,
        )
        sets.append(augment(base, group) if data_class == "augmented" and group is not None else base)
    return sets


def _input_scale(model, theta: np.ndarray, probe: np.ndarray, size: float) -> float:
    """s (a power of √2) with RMS f(θ, s·x) closest to ``size`` in log scale, for Gaussian x (any model)."""
    scales = 2.0 ** (np.arange(-20, 21) / 2.0)
    outputs = model.predict(theta, np.concatenate([s * probe for s in scales]))
    rms = np.sqrt(np.mean(outputs.reshape(len(scales), -1) ** 2, axis=1))
    with np.errstate(divide="ignore"):
        distance = np.abs(np.log(np.maximum(rms, 1e-300)) - math.log(size))
    return float(scales[int(np.argmin(distance))])


def _resolve(model, data_class, loss, group):
    from harness.model.zoo import parse_model

    model, loss = parse_model(model), get_loss(loss)
    check_data_class(data_class)
    if group is not None and not isinstance(group, Group):
        group = build_group(str(group), model)  # type: ignore[arg-type]  (groups read a model's shapes)
    if group is not None:
        group.check_network(model)  # type: ignore[arg-type]
    if data_class == "augmented" and group is None:
        raise InvalidInput("data class 'augmented' needs a group (e.g. --group cyclic/trivial)")
    if loss.targets == "pm1" and model.n_outputs != 1:
        raise InvalidInput(
            f"{loss.name} loss needs a scalar output per row (m = 1), but {model} has m = {model.n_outputs}"
        )
    if loss.targets == "prob" and model.n_outputs < 2:
        raise InvalidInput(f"cross-entropy needs at least 2 outputs (classes); {model} has {model.n_outputs}")
    return model, data_class, loss, group


def check_autodiff_memory(model, group: Group | None, n_sets: int, max_depth: int, max_samples: int) -> None:
    """Refuse, before any work, a count whose rows and data would not fit in ``AUTODIFF_MEMORY_BYTES``.

    The trace keeps P + Σ_k (D − ρ + 4) ≤ P + min(max_samples, (max_depth − 1)(D + 4)) rows of D floats (and
    the SVD a copy); the pool holds P·n samples of (input, output); a vmap chunk of brackets holds about
    3^(depth) gradient-sized temporaries per row of the pool.
    """
    D = model.n_params
    order = group.order if group is not None else 1
    rows = n_sets + FRESH_SETS + min(max_samples, (max_depth - 1) * (D + 4))
    per_row = SAMPLES_PER_SET * order * (model.input_dim + model.output_dim)
    needed = 8 * (2 * rows * D + (n_sets + FRESH_SETS) * per_row * 4)
    if needed > AUTODIFF_MEMORY_BYTES:
        raise InvalidInput(
            f"the autodiff count of {model} needs about {needed / 2**30:.1f} GiB (D = {D:,}, up to {rows:,} trace "
            f"rows, {n_sets:,} data sets of {SAMPLES_PER_SET * order} samples); at most "
            f"{AUTODIFF_MEMORY_BYTES / 2**30:.0f} GiB is allowed: use a smaller model or max_depth"
        )


def count_laws_autodiff(
    model,
    data_class: str = "free",
    loss: str | Loss = "mse",
    group=None,
    *,
    seed: int = 0,
    max_depth: int = 8,
    n_sets: int | None = None,
    max_samples: int = 20000,
    budget: Budget = UNLIMITED,
) -> LawCount:
    """The number of independent conservation laws of a torch model (or any model spec) for ``data_class``.

    ``n_sets``: data sets in the pool (default D + 8); the same engine on free data gives ``free_laws``.
    """
    from harness.laws.counting import MAX_DEPTH_LIMIT, MAX_SAMPLES_LIMIT, integer_option

    start = time.perf_counter()
    seed = check_seed(seed)
    max_depth = integer_option("max_depth", max_depth, 1, MAX_DEPTH_LIMIT)
    max_samples = integer_option("max_samples", max_samples, 1, MAX_SAMPLES_LIMIT)
    model, data_class, loss, group = _resolve(model, data_class, loss, group)
    D = model.n_params
    pool_size = D + 8 if n_sets is None else n_sets
    if isinstance(pool_size, bool) or not isinstance(pool_size, (int, np.integer)) or pool_size < 1:
        raise InvalidInput(f"n_sets={n_sets!r} must be a positive integer")
    acting = group if data_class == "augmented" else None
    check_autodiff_memory(model, acting, int(pool_size), int(max_depth), int(max_samples))
    options = dict(
        seed=seed, max_depth=int(max_depth), pool_size=int(pool_size), max_samples=int(max_samples), budget=budget
    )
    free = _run(model, "free", loss, None, **options)
    run = free if data_class == "free" else _run(model, data_class, loss, acting, **options)
    counted, free_counted = certify(run.generation, D, run.verified), certify(free.generation, D, free.verified)
    notes = list(run.notes)
    if data_class != "free":
        notes += [f"free data: {n}" for n in free.notes]
    stop_reason = run.generation.stop_reason
    if counted.inconsistency:
        stop_reason = StopReason.INCONSISTENT
        notes.append(f"inconclusive: {counted.inconsistency}")
    elif counted.laws is None:
        notes.append(f"inconclusive: {stop_reason.message}")
    generation = run.generation
    return LawCount(
        arch=str(model),
        group=group.spec if group is not None else None,
        data=data_class,
        loss=loss.name,
        D=D,
        laws=counted.laws,
        free_laws=free_counted.laws,
        lie_rank_by_level=generation.rank_by_level,
        free_lie_rank_by_level=free.generation.rank_by_level,
        certified=counted.certificate is not None,
        certificate=counted.certificate,
        method=CountMethod.AUTODIFF,
        stop_reason=stop_reason,
        verified_laws=run.verified,
        explicit_laws=tuple(model.law_names) if run.verified else (),
        singular_values=generation.singular_values,
        gap=generation.gap,
        n_generators=int(pool_size),
        notes=tuple(notes + list(generation.notes)),
        seed=seed,
        seconds=round(time.perf_counter() - start, 4),
    )


def _run(model, data_class, loss, group, *, seed, max_depth, pool_size, max_samples, budget) -> _Run:
    """The generation on one class, resampled while the genericity assumption fails at the sampled θ, data."""
    failures = []
    for attempt in range(GENERICITY_ATTEMPTS):
        rng = np.random.default_rng([seed, 23, attempt, int(data_class == "augmented")])
        generation = _Generation(model, data_class, loss, group, rng, pool_size)
        kink = generation.kink_reason()
        if not kink:
            result = generation.run(max_depth, max_samples, budget, "Lie rank" if group else "free-data Lie rank")
            kink = generation.kink_reason(final=True)
            if not kink:
                notes = tuple(failures) + generation.unchecked + generation.notes
                return _Run(result, generation.verified, notes)
        failures.append(f"attempt {attempt + 1}: {kink}; θ and data resampled")
    D = model.n_params
    reason = f"genericity assumption failed in {GENERICITY_ATTEMPTS} attempts (never counted across a kink)"
    return _Run(LieGeneration(D, 0, (), StopReason.NOT_GENERIC, False, 0, notes=(reason,)), 0, tuple(failures))


class _Generation:
    """The level-by-level generation at θ* from one pool of data sets (module docstring)."""

    def __init__(self, model, data_class, loss, group, rng, pool_size):
        self.model, self.rng, self.P = model, rng, pool_size
        self.D = model.n_params
        self.theta = model.random_theta(rng)
        self.second = model.random_theta(rng)
        sets = class_datasets(model, data_class, loss, group, n_sets=pool_size + FRESH_SETS, rng=rng, theta=self.theta)
        self.pool = FieldPool(model, loss, sets)
        self.x_all = np.concatenate([d.x for d in sets])
        self.level_one_all = self.pool.level_one(self.theta)
        self.norms = _field_norms(self.level_one_all)
        self.rows: list[np.ndarray] = []
        self.notes: tuple[str, ...] = ()
        self.unchecked: tuple[str, ...] = ()
        self.verified = 0

    def kink_reason(self, *, final: bool = False) -> str:
        """'' if the genericity assumption holds at θ* (and, when ``final``, along every row and at θ₂)."""
        import torch

        if self.model.smooth:
            return ""
        if self.model.kink_values(torch.as_tensor(self.theta), torch.as_tensor(self.x_all[:1])) is None:
            self.unchecked = ("the model is not smooth but gives no kink_values: genericity NOT checked",)
            return ""
        directions = np.concatenate(self.rows) if final and self.rows else self.level_one_all
        reason = activation_flips(self.model, self.theta, self.x_all, directions)
        if not reason and not final:
            for label, point in (("θ*", self.theta), ("θ₂", self.second)):
                frozen = frozen_units(self.model, point, self.x_all)
                if frozen:
                    return f"at {label}: {frozen}"
        if not reason and final:
            second_fields = self.pool.level_one(self.second)
            reason = activation_flips(self.model, self.second, self.x_all, second_fields)
            reason = f"at the second point: {reason}" if reason else ""
        return reason

    def weights(self, count: int, *, fresh: bool = False) -> np.ndarray:
        """Random combinations of the pool's fields, each field weighted by 1/|X_i(θ*)| (fields of equal say)."""
        used = self.P + (FRESH_SETS if fresh else 0)
        scale = np.zeros(self.P + FRESH_SETS)
        nonzero = self.norms[:used] > 0
        scale[:used][nonzero] = 1.0 / (self.norms[:used][nonzero] * math.sqrt(used))
        return self.rng.standard_normal((count, self.P + FRESH_SETS)) * scale

    def verify_laws(self) -> tuple[int, list[str]]:
        """s: published laws orthogonal to every pool field at θ* and θ₂ (fresh sets too), independent at θ*."""
        import torch
        from torch.func import jacrev

        names = self.model.law_names
        if not names:
            return 0, []
        notes = []
        ok = np.ones(len(names), dtype=bool)
        gradients_at = {}
        for label, point, fields in (
            ("θ*", self.theta, self.level_one_all),
            ("θ₂", self.second, self.pool.level_one(self.second)),
        ):
            gradients = jacrev(self.model.law_function)(torch.as_tensor(point)).detach().numpy()
            gradients_at[label] = gradients
            products = np.abs(gradients @ fields.T)
            bound = LAW_TOLERANCE * np.outer(np.linalg.norm(gradients, axis=1), np.linalg.norm(fields, axis=1))
            failing = (products > bound).any(axis=1)
            for i in np.flatnonzero(failing & ok):
                worst = float((products[i] / np.maximum(bound[i] / LAW_TOLERANCE, 1e-300)).max())
                notes.append(f"published law {names[i]} is not conserved at {label}: |∇h·X|/(|∇h||X|) = {worst:.2g}")
            ok &= ~failing
        chosen = gradients_at["θ*"][ok]
        norms = np.linalg.norm(chosen, axis=1)
        chosen = chosen[norms > 0] / norms[norms > 0, None]
        if not chosen.size:
            return 0, notes
        spectral = SpectralGap.of(np.linalg.svd(chosen, compute_uv=False))
        if not spectral.clear:
            notes.append(f"the verified laws' gradients have no clear rank ({spectral.reason}): none counted")
            return 0, notes
        return spectral.rank, notes

    def run(
        self, max_depth: int, max_samples: int, budget: Budget = UNLIMITED, phase: str = "Lie rank"
    ) -> LieGeneration:
        D, theta_size = self.D, max(float(np.linalg.norm(self.theta)), 1e-300)
        self.verified, notes = self.verify_laws()
        target = D - self.verified
        level_one = self.level_one_all[: self.P]
        nonzero = self.norms[: self.P] > 0
        self.rows = [level_one[nonzero] / self.norms[: self.P][nonzero, None]]
        ranks, samples = [], self.P

        def finish(reason, spectral, singular, extra=()) -> LieGeneration:
            self.notes = tuple(notes) + tuple(extra)
            shown = tuple(float(v) for v in singular[: min(len(singular), spectral.rank + 3)])
            return LieGeneration(
                D, spectral.rank, tuple(ranks), reason, False, samples, target,
                singular_values=shown, gap=spectral.as_gap(),
            )  # fmt: skip

        spectral, singular = _spectrum(self.rows, D)
        ranks.append(spectral.rank)
        budget.report(phase, 1, spectral.rank, D)
        for depth in range(2, max_depth + 2):
            if budget.expired():
                return finish(StopReason.TIMEOUT, spectral, singular, (f"time budget spent before level {depth}",))
            if not spectral.clear:
                return finish(StopReason.NO_CLEAR_GAP, spectral, singular, (f"level {depth - 1}: {spectral.reason}",))
            if spectral.rank >= target:
                return finish(StopReason.CERTIFICATE, spectral, singular)
            if depth > 2 and ranks[-1] == ranks[-2]:
                second = self.rank_at_second_point(depth - 1, ranks[-1])
                if second == ranks[-1]:
                    closure = f"level {depth - 1} added nothing at θ* and at a second point with fresh data sets"
                    return finish(StopReason.INVOLUTIVE, spectral, singular, (closure,))
                disagree = f"rank {ranks[-1]} at θ* but {second} at a second point with fresh data sets"
                return finish(StopReason.POINTS_DISAGREE, spectral, singular, (disagree,))
            if depth > max_depth:
                break
            count = D - spectral.rank + 4
            if samples + count > max_samples:
                return finish(StopReason.SAMPLE_CAP, spectral, singular, (f"{samples} samples used",))
            tuples = [self.weights(count) for _ in range(depth)]
            self.rows.append(self.pool.brackets(self.theta, tuples) * theta_size ** (depth - 1))
            samples += count
            spectral, singular = _spectrum(self.rows, D)
            ranks.append(spectral.rank)
            budget.report(phase, depth, spectral.rank, D)
        return finish(
            StopReason.DEPTH_CAP, spectral, singular, (f"no closure or certificate within depth {max_depth}",)
        )

    def rank_at_second_point(self, depth: int, rank: int) -> int | None:
        """The trace rank at θ₂ from levels ≤ depth, the pool and the fresh data sets mixed (None: no clear gap)."""
        point, size = self.second, max(float(np.linalg.norm(self.second)), 1e-300)
        fields = self.pool.level_one(point)
        norms = _field_norms(fields)
        rows = [fields[norms > 0] / norms[norms > 0, None]]
        for level in range(2, depth + 1):
            count = self.D - rank + 4
            tuples = [self.weights(count, fresh=True) for _ in range(level)]
            rows.append(self.pool.brackets(point, tuples) * size ** (level - 1))
        spectral, _ = _spectrum(rows, self.D)
        return spectral.rank if spectral.clear else None


ZERO_FIELD = 1e-13  # a level-1 field this small relative to the largest is rounding noise: dropped, not normalised


def _field_norms(fields: np.ndarray) -> np.ndarray:
    """|X_i(θ)| per row, with 0 for the rows that are rounding noise: normalising those would invent directions."""
    norms = np.linalg.norm(fields, axis=1)
    norms[norms <= ZERO_FIELD * (norms.max() if norms.size else 0.0)] = 0.0
    return norms


def _spectrum(rows: list[np.ndarray], D: int) -> tuple[SpectralGap, np.ndarray]:
    matrix = np.concatenate(rows) if rows else np.zeros((0, D))
    if matrix.shape[0] == 0 or not np.any(matrix):
        return SpectralGap.of(()), np.zeros(0)
    if not np.isfinite(matrix).all():  # an overflowing field: no rank can be read (inconclusive, never a crash)
        return SpectralGap(0, 0.0, GAP_THRESHOLD, ROUNDING_FLOOR), np.zeros(0)
    singular = np.linalg.svd(matrix, compute_uv=False)
    return SpectralGap.of(singular, threshold=GAP_THRESHOLD), singular
