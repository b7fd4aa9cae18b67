"""Oracle 3 (DESIGN.md §2): the leaf's equations, seen by the integrators without any formula.

The flows of all data sets of a class 𝒟 move θ₀ on one leaf, the orbit of θ₀ under the fields
F = {−∇L_data : data ∈ 𝒟}; its tangent space is Lie(F)(θ₀) and its codimension is the number of
conservation laws (Marcotte, Gribonval & Peyré 2023). This module samples that leaf and reads the laws off
the points, never off a formula:

1. **Walk** (``collect_leaf_points``). From θ₀, integrate the flow of a fresh data set of the class for a
   short time, forward or backward (θ' = ∓∇L), from a point already reached; repeat. Every saved state is a
   point of the leaf. A leg that blows up, fails or leaves a ball around θ₀ is discarded: a blown-up flow
   is inconclusive, not data.
2. **Vanishing polynomials** (``vanishing_polynomials``). The polynomials of degree ≤ p that vanish on all
   points form the null space of the evaluation matrix A (points × monomials, constant included) taken in
   centred and scaled coordinates (an affine change of θ, so the space of vanishing polynomials is the
   same). Its dimension, the nullity, is read from the SVD at the *largest* spectral gap
   σ_k / σ_{k+1} (values below a noise floor count as the floor); a largest gap below the stated ratio is
   inconclusive ("no spectral gap"), never a guess.
3. **Laws seen.** The gradients at θ₀ of the vanishing polynomials span the conormal space of the leaf
   there (the part of it cut out by equations of degree ≤ p), so the number of laws the integrator sees is
   their rank, read with the same largest-gap rule. Products such as ℓ·θ_i of a vanishing ℓ vanish too, but
   their gradients at θ₀ are θ_i·∇ℓ, so they never inflate the rank.

A rational law such as (v₂ − v₃)/(v₁ − v₃) = c shows up as the linear equation (v₂ − v₃) − c(v₁ − v₃) = 0
with c fixed by θ₀, which is why degree 2 sees the worked example's two laws.

**Which data sets stand for the class.** The count the leaf is compared with is about *every* data set of the
class (free, or G-augmented), so the walk must not explore a sub-class with more laws. Polynomial losses
(MSE, quartic) are walked with Gaussian data: their fields are polynomial in the moments of the data, and
generic Gaussian data sets span every moment the class has. A non-polynomial ℓ must be walked where ℓ' is
far from *affine over the residuals of one orbit*: with small residuals an analytic ℓ (and huber exactly)
is MSE, whose augmented class can have extra laws; with predictions that do not vary across an orbit and
large targets, ℓ' is (nearly) constant on every orbit (huber's linear regime exactly), so the fields are
again those of orbit-invariant moments. Either way the walk would see laws the class does not have (the
false counterexample ``poly:2,1,1,k=2 | rot:3/trivial | augmented | huber | N=1 | seed=0``: θ₀ was small, so
all predictions were ≈ 0 and every orbit's residuals were equal). So every data set of a non-polynomial
walk has inputs scaled so that the predictions at θ₀, and the targets, have a size drawn log-uniformly
around ``LeafWalk.regime`` (4: huber's δ and the bends of logcosh, cauchy and pseudo-huber are at 1):
residuals of one orbit then differ by several δ and straddle the bends.

That the walked data sets do stand for the class is also *checked*, formula-free (``walk_span``): the
gradients at θ₀ of the walk's data sets must span as much as those of a broad reference sample of the
class (inputs and targets from 1/4 to 8 times their unit size, random and teacher targets). Equal
pointwise spans at θ₀ are equal near θ₀ (the walk's span is at most the class's, and rank is lower
semicontinuous), hence the same distribution, the same Lie algebra and the same leaf. A walk that spans
less explored a sub-class, and its extra equations are not evidence against the count.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from harness.errors import InvalidInput
from harness.model import numpy_reference
from harness.model.data import DataSet, augment, random_dataset
from harness.model.family import Network
from harness.model.groups import Group
from harness.model.losses import Loss, get_loss

DATA_CLASSES = ("free", "augmented")
DEGREES = (1, 2, 3)
# Fates of a leg: kept, left the ball around θ₀ (or blew up, which it must do first), or failed to integrate.
LEG_STATUSES = ("ok", "left_ball", "max_steps", "step_underflow", "nonfinite", "stalled")


# --- the walk ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LeafWalk:
    """Settings of the random walk on the leaf.

    ``step`` is the length of one leg relative to ‖θ₀‖ (its duration is step·‖θ₀‖ / ‖∇L‖ at its start);
    ``radius`` bounds the walk to the ball ‖θ − θ₀‖ ≤ radius·‖θ₀‖; ``regime`` is the residual size wanted for
    non-polynomial losses; ``rtol``/``atol`` (atol relative to ‖θ₀‖) are the integrator's tolerances.
    """

    points_per_leg: int = 4
    step: float = 0.15
    radius: float = 0.6
    samples: int = 3
    regime: float = 4.0
    method: str = "dp5"
    rtol: float = 1e-11
    atol: float = 1e-13
    max_steps: int = 1_000  # a smooth leg takes tens of steps; a stiff one is given up (explicit steps crawl there)
    extensions: int = 3  # a leg that moved less than half its length goes on (up to this many times)
    max_work: float = 2e8  # budget of one walk: evaluations of ∇L times their cost in multiply-adds
    fixed_steps: int = 40  # steps per leg for the fixed-step methods (rk4, gauss)
    points_per_monomial: float = 3.0  # points wanted per monomial of the highest degree analysed
    max_legs: int = 400

    def __post_init__(self):
        for name in ("step", "radius", "regime", "rtol", "atol", "points_per_monomial", "max_work"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InvalidInput(f"LeafWalk.{name}={value!r} must be a positive finite number")
        for name in ("points_per_leg", "samples", "max_steps", "max_legs", "fixed_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInput(f"LeafWalk.{name}={value!r} must be a positive integer")
        if self.method not in ("dp5", "rk4", "gauss"):
            raise InvalidInput(f"LeafWalk.method={self.method!r} is not one of ('dp5', 'rk4', 'gauss')")


@dataclass(frozen=True)
class LegResult:
    """What one leg of the walk returned: its saved states (excluding the start) and a status name."""

    states: np.ndarray
    status: str
    n_rhs: int = 0


# (network, loss, data, start, length, direction, n_save, walk, bound) -> LegResult: integrate from ``start`` for
# the duration length / ‖∇L(start)‖ (so that a leg moves about ``length`` whatever the speed), save n_save
# states, and stop with status "blow_up" as soon as ‖θ‖∞ > bound.
LegIntegrator = Callable[[Network, Loss, DataSet, np.ndarray, float, int, int, LeafWalk, float], LegResult]


@dataclass(frozen=True, eq=False)
class LeafPoints:
    """Points of the leaf through θ₀ reached by the walk (θ₀ first), with the fate of every leg."""

    theta0: np.ndarray
    points: np.ndarray
    leg_statuses: dict
    n_rhs: int
    data_gradients: np.ndarray | None = None  # ∇L_data(θ₀) of every data set the walk drew (rows), for walk_span

    @property
    def n_points(self) -> int:
        return int(self.points.shape[0])

    @property
    def spread(self) -> float:
        """RMS distance of the points from their centroid, relative to ‖θ₀‖."""
        centred = self.points - self.points.mean(axis=0)
        return float(np.sqrt((centred * centred).sum(axis=1).mean()) / max(np.linalg.norm(self.theta0), 1e-300))


def class_dataset(network: Network, loss: Loss, data_class: str, group: Group | None, rng: np.random.Generator,
                  walk: LeafWalk, theta0: np.ndarray) -> DataSet:
    """A random data set of the class: Gaussian samples (free), or their orbit under G (augmented).

    For non-polynomial losses the predictions f(θ₀, x) (inputs scaled) and the real targets get a size drawn
    log-uniformly in [regime/2, 2·regime], so that the residuals of one orbit differ by several times the
    loss's bend (module docstring: scaling the targets alone leaves ℓ' constant on orbits when θ₀ is small).
    """
    return representative_dataset(network, loss, data_class, group, rng, theta0, samples=walk.samples,
                                  regime=walk.regime)


def representative_dataset(network: Network, loss: Loss, data_class: str, group: Group | None,
                           rng: np.random.Generator, theta0: np.ndarray, *, samples: int,
                           regime: float = 4.0) -> DataSet:
    """A data set of the class that stands for it at θ₀ (module docstring): Gaussian for polynomial losses;
    for a non-polynomial ℓ, predictions f(θ₀, x) and real targets of a size log-uniform in
    [regime/2, 2·regime], so that ℓ' is neither affine nor constant over the residuals of one orbit."""
    input_scale, target_scale = 1.0, 1.0
    if not loss.is_polynomial:
        size = regime * float(np.exp(rng.uniform(-math.log(2.0), math.log(2.0))))
        input_scale = _input_scale_for_predictions(network, theta0, size, rng)
        if loss.targets == "real":
            target_scale = size
    base = random_dataset(network, samples, rng, loss=loss, input_scale=input_scale, target_scale=target_scale)
    return augment(base, group) if data_class == "augmented" else base


REFERENCE_SCALES = (0.25, 8.0)  # the reference sample's input and target sizes, relative to their unit size


def reference_dataset(network: Network, loss: Loss, data_class: str, group: Group | None, rng: np.random.Generator,
                      samples: int, theta0: np.ndarray) -> DataSet:
    """A data set of the class drawn broadly: prediction and target sizes log-uniform in REFERENCE_SCALES
    (independently), random or teacher targets. It is the yardstick of ``walk_span``, not a walk's data."""
    low, high = (math.log(v) for v in REFERENCE_SCALES)
    input_scale = _input_scale_for_predictions(network, theta0, float(np.exp(rng.uniform(low, high))), rng)
    target_scale = float(np.exp(rng.uniform(low, high)))
    targets = "teacher" if rng.random() < 0.25 else "random"
    base = random_dataset(network, samples, rng, loss=loss, targets=targets, input_scale=input_scale,
                          target_scale=target_scale)
    return augment(base, group) if data_class == "augmented" else base


def _input_scale_for_predictions(network: Network, theta0: np.ndarray, size: float, rng: np.random.Generator) -> float:
    """s with RMS f(θ₀, s·x) ≈ size for Gaussian x: Ψ is homogeneous in x, of a degree measured here."""
    probe = np.random.default_rng(int(rng.integers(2**32))).standard_normal((16, network.input_dim))
    base = np.sqrt(np.mean(network.predict(theta0, probe) ** 2))
    doubled = np.sqrt(np.mean(network.predict(theta0, 2 * probe) ** 2))
    if not (base > 0 and np.isfinite(base) and doubled > 0):
        return 1.0
    degree = max(1, int(round(math.log2(doubled / base))))
    return float((size / base) ** (1.0 / degree))


def flow_leg(network: Network, loss: Loss, data: DataSet, start: np.ndarray, length: float, direction: int,
             n_save: int, walk: LeafWalk, bound: float) -> LegResult:
    """One leg with flowlaws' Numba integrators (``harness.dynamics.flow``): duration length / ‖∇L(start)‖."""
    from harness.dynamics.flow import GradientFlow, integrate

    flow = GradientFlow(network, loss, data)
    speed = float(np.linalg.norm(flow.gradient(start)))
    if not (np.isfinite(speed) and speed > 0):
        return LegResult(np.empty((0, start.size)), "stalled")
    scale = max(float(np.linalg.norm(start)), 1e-300)
    trajectory = integrate(flow, start, length / speed, method=walk.method, rtol=walk.rtol, atol=walk.atol * scale,
                           steps=walk.fixed_steps, n_save=n_save, direction=direction, max_steps=walk.max_steps,
                           blow_up=bound)
    return LegResult(trajectory.states[1:], trajectory.status, trajectory.n_rhs)


def scipy_leg(network: Network, loss: Loss, data: DataSet, start: np.ndarray, length: float, direction: int,
              n_save: int, walk: LeafWalk, bound: float) -> LegResult:
    """One leg with SciPy's DOP853: a slow reference independent of the Numba integrators."""
    from scipy.integrate import solve_ivp

    gradient = loss_gradient(network, loss, data)
    speed = float(np.linalg.norm(gradient(start)))
    if not (np.isfinite(speed) and speed > 0):
        return LegResult(np.empty((0, start.size)), "stalled")
    duration = length / speed
    scale = max(float(np.linalg.norm(start)), 1e-300)
    times = np.linspace(0.0, duration, n_save + 1)[1:]
    def escaped(_t, theta):
        return bound - np.abs(theta).max()

    escaped.terminal = True
    solution = solve_ivp(lambda _t, theta: -direction * gradient(theta), (0.0, duration), start, method="DOP853",
                         rtol=walk.rtol, atol=walk.atol * scale, t_eval=times, events=escaped)
    if solution.status == 1:
        return LegResult(np.empty((0, start.size)), "blow_up", int(solution.nfev))
    if solution.status != 0 or solution.y.shape[1] != n_save:
        return LegResult(np.empty((0, start.size)), "step_underflow", int(solution.nfev))
    return LegResult(solution.y.T.copy(), "ok", int(solution.nfev))


def loss_gradient(network: Network, loss: Loss, data: DataSet) -> Callable[[np.ndarray], np.ndarray]:
    """θ ↦ ∇L(θ) = J(θ)ᵀ vec(G), G = mean_r ∇_f ℓ(Φ(θ)Ψ_r, y_r) Ψ_rᵀ, in NumPy (used to size the legs)."""
    psi = network.features(data.x)
    targets = network.target_rows(data.y)
    return lambda theta: numpy_reference.loss_gradient(network, loss, psi, targets, theta)


def gradient_cost(network: Network, loss: Loss, data: DataSet) -> int:
    """Multiply-adds of one ∇L: Φ's monomials and the vector–Jacobian product, plus G from the moments
    (MSE: m·K²) or from every feature row (rows·m·K)."""
    terms = network.polynomial.n_monomials * (network.polynomial.degree + 1)
    if loss.kernel_id == 0:
        return terms + network.n_outputs * network.n_features ** 2
    return terms + data.n_samples * network.rows_per_sample * network.n_outputs * network.n_features


def collect_leaf_points(network: Network, loss: Loss | str, data_class: str, group: Group | None,
                        theta0: np.ndarray, *, n_points: int, seed: int = 0, walk: LeafWalk = LeafWalk(),
                        leg_integrator: LegIntegrator | None = None) -> LeafPoints:
    """At least ``n_points`` points reached from θ₀ by flows of data sets of the class (fewer if legs fail).

    Each leg starts from a random point already reached (all of them lie on the leaf), draws a new data set
    of the class, a direction ±1 (forward or backward in time) and integrates for step·‖θ₀‖/‖∇L(start)‖.
    A leg that fails (blows up, leaves the ball, stalls) is discarded and retried from the same start at a
    quarter of the length (twice at most); a leg that moved less than half its length goes on from its end.
    """
    loss = get_loss(loss)
    theta0 = np.asarray(theta0, dtype=float)
    if theta0.shape != (network.n_params,) or not np.all(np.isfinite(theta0)):
        raise InvalidInput(f"theta0 must be {network.n_params} finite numbers for {network}")
    if data_class not in DATA_CLASSES:
        raise InvalidInput(f"data class {data_class!r} is not one of {DATA_CLASSES}")
    if data_class == "augmented" and group is None:
        raise InvalidInput("data class 'augmented' needs a group")
    if not isinstance(n_points, int) or n_points < 2:
        raise InvalidInput(f"n_points={n_points!r} must be an integer >= 2")
    integrate_leg = leg_integrator or flow_leg
    rng = np.random.default_rng(seed)
    size = float(np.linalg.norm(theta0))
    if size == 0.0:
        raise InvalidInput("theta0 = 0 is a fixed point of every flow; the leaf is a single point")
    # ‖θ‖∞ > (1 + radius)‖θ₀‖ implies ‖θ − θ₀‖ > radius·‖θ₀‖: a flow is stopped as soon as it must have left
    # the ball (where it would be discarded anyway), long before a blow-up wastes steps.
    bound = (1.0 + walk.radius) * size
    points = [theta0.copy()]
    data_gradients = []
    statuses = {name: 0 for name in LEG_STATUSES}
    n_rhs = 0
    work = 0.0
    for _ in range(walk.max_legs):
        if len(points) >= n_points or work >= walk.max_work:
            break
        # The later of two random points: all lie on the leaf, later ones tend to be farther out, which spreads
        # the walk without leaving it.
        start = points[max(int(rng.integers(len(points))), int(rng.integers(len(points))))]
        data = class_dataset(network, loss, data_class, group, rng, walk, theta0)
        data_gradients.append(loss_gradient(network, loss, data)(theta0))
        direction = int(rng.choice((-1, 1)))
        cost = gradient_cost(network, loss, data)
        leg_start = start
        length = walk.step * size
        extensions = 0
        while extensions <= walk.extensions and work < walk.max_work:
            leg = integrate_leg(network, loss, data, start, length, direction, walk.points_per_leg, walk, bound)
            n_rhs += leg.n_rhs
            work += leg.n_rhs * cost
            status = "left_ball" if leg.status == "blow_up" else leg.status
            if status == "ok" and (not np.all(np.isfinite(leg.states))
                                   or np.linalg.norm(leg.states - theta0, axis=1).max() > walk.radius * size):
                status = "left_ball"
            if status != "ok":
                statuses[status if status in statuses else "nonfinite"] += 1
                # A flow that accelerates (backward flows blow up in finite time) is discarded whole and tried
                # again shorter, as a new flow: no state of a failed run is ever used.
                length /= 4.0
                if length < walk.step * size / 20.0:
                    break
                continue
            statuses["ok"] += 1
            points.extend(leg.states)
            start = leg.states[-1]
            # A flow that slowed down at once (a stiff direction settling) moved less than planned: go on from
            # where it is; the next leg is longer because it is timed by the speed there.
            if np.linalg.norm(start - leg_start) >= 0.5 * walk.step * size:
                break
            extensions += 1
    return LeafPoints(theta0, np.array(points), statuses, n_rhs,
                      np.array(data_gradients) if data_gradients else np.empty((0, network.n_params)))


# --- do the walked data sets stand for the class? ----------------------------------------------------------

@dataclass(frozen=True)
class WalkSpan:
    """Pointwise span at θ₀ of the walk's fields against a broad reference sample of the class.

    ``walk_rank`` is the dimension of span{∇L_data(θ₀)} over the walk's data sets, ``class_rank`` that over
    the walk's and the reference sample's together (a lower bound of the class's span at θ₀), both read at
    the largest spectral gap. ``represents`` is True when both gaps are clear and the ranks are equal (the
    walk's fields span the class's distribution near θ₀, so the walked leaf is the class's leaf), False
    when the walk clearly spans less (it explored a sub-class), None when a gap is not clear.
    """

    walk_rank: int
    class_rank: int
    walk_gap: SpectralGap
    class_gap: SpectralGap
    n_walk_sets: int
    n_reference_sets: int
    walk_singular_values: tuple[float, ...] = ()
    class_singular_values: tuple[float, ...] = ()

    @property
    def represents(self) -> bool | None:
        if not (self.walk_gap.clear and self.class_gap.clear):
            return None
        return self.walk_rank >= self.class_rank

    @property
    def reason(self) -> str:
        if self.represents is None:
            which = "walk" if not self.walk_gap.clear else "class reference"
            gap = self.walk_gap if not self.walk_gap.clear else self.class_gap
            return f"pointwise span of the {which} data sets at θ₀: {gap.reason}"
        if self.represents:
            return f"the walk's {self.n_walk_sets} data sets span the class's {self.class_rank} directions at θ₀"
        return (f"the walk's {self.n_walk_sets} data sets span {self.walk_rank} directions at θ₀, the class at least "
                f"{self.class_rank}: the walk explored a sub-class")

    @property
    def evidence(self) -> dict:
        return {"walk_rank": self.walk_rank, "class_rank": self.class_rank, "represents": self.represents,
                "walk_gap": self.walk_gap.ratio, "class_gap": self.class_gap.ratio,
                "n_walk_sets": self.n_walk_sets, "n_reference_sets": self.n_reference_sets,
                "walk_singular_values": list(self.walk_singular_values),
                "class_singular_values": list(self.class_singular_values)}


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1)
    keep = np.isfinite(norms) & (norms > 0)
    return rows[keep] / norms[keep, None]


def walk_span(leaf: LeafPoints, network: Network, loss: Loss | str, data_class: str, group: Group | None, *,
              seed: int = 0, reference_sets: int | None = None, samples: int = 3, gap_threshold: float = 1e3,
              floor: float = 1e-10) -> WalkSpan:
    """Whether the walk's data sets stand for the class at θ₀ (``WalkSpan``), formula-free.

    The reference sample has ``reference_sets`` (default 2D + 10) data sets of ``reference_dataset``; gradients
    are normalised to unit length before the SVD, and ``floor`` (relative) is the level below which a singular
    value counts as zero (the gradients are exact up to round-off).
    """
    loss = get_loss(loss)
    theta0 = leaf.theta0
    rng = np.random.default_rng([seed, 29])
    count = 2 * network.n_params + 10 if reference_sets is None else reference_sets
    reference = np.array([loss_gradient(network, loss, reference_dataset(network, loss, data_class, group, rng,
                                                                       samples, theta0))(theta0)
                          for _ in range(count)])
    walked = _unit_rows(leaf.data_gradients if leaf.data_gradients is not None else np.empty((0, theta0.size)))
    union = np.concatenate([walked, _unit_rows(reference)])

    def spectrum(rows):
        if rows.shape[0] == 0:
            return np.zeros(0)
        values = np.linalg.svd(rows, compute_uv=False)
        return values / values[0]

    walk_values, class_values = spectrum(walked), spectrum(union)
    walk_gap = SpectralGap.of(walk_values, threshold=gap_threshold, floor=floor)
    class_gap = SpectralGap.of(class_values, threshold=gap_threshold, floor=floor)
    return WalkSpan(walk_gap.rank, class_gap.rank, walk_gap, class_gap, int(walked.shape[0]), count,
                    tuple(float(v) for v in walk_values[: network.n_params]),
                    tuple(float(v) for v in class_values[: network.n_params]))


# --- vanishing polynomials -------------------------------------------------------------------------------

def monomial_exponents(n_vars: int, degree: int) -> list[tuple[int, ...]]:
    """Variable multisets of all monomials of degree ≤ ``degree`` in n_vars variables, the constant first."""
    return [combo for d in range(degree + 1) for combo in itertools.combinations_with_replacement(range(n_vars), d)]


def monomial_matrix(points: np.ndarray, exponents: list[tuple[int, ...]]) -> np.ndarray:
    """A[i, j] = z_i^{α_j}: one row per point, one column per monomial."""
    columns = [np.prod(points[:, list(combo)], axis=1) if combo else np.ones(points.shape[0]) for combo in exponents]
    return np.stack(columns, axis=1)


def monomial_gradients(point: np.ndarray, exponents: list[tuple[int, ...]]) -> np.ndarray:
    """∂z^{α_j}/∂z at one point: an (n_monomials, n_vars) array."""
    gradients = np.zeros((len(exponents), point.size))
    for j, combo in enumerate(exponents):
        for s, variable in enumerate(combo):
            others = combo[:s] + combo[s + 1:]
            gradients[j, variable] += np.prod(point[list(others)]) if others else 1.0
    return gradients


@dataclass(frozen=True)
class SpectralGap:
    """The largest ratio σ_k / σ_{k+1} of a decreasing spectrum clipped below at ``floor`` (relative to σ_1).

    ``rank`` is k (the number of values above the gap); a virtual σ = floor is appended so that "no small
    value at all" (rank = all) is a candidate too: ``floor`` is the noise level of the data, below which a
    value counts as zero. The gap is ``clear`` when its ratio reaches ``threshold`` and no other ratio does
    (two gaps mean the noise level is not where the floor says, e.g. an inaccurate integration: ambiguous).
    """

    rank: int
    ratio: float
    threshold: float
    floor: float
    runner_up: float = 1.0  # the second largest ratio

    @property
    def clear(self) -> bool:
        return self.ratio >= self.threshold and self.runner_up < self.threshold

    @property
    def reason(self) -> str:
        """Why the gap is not clear ('' if it is)."""
        if self.ratio < self.threshold:
            return f"no spectral gap: largest σ_k/σ_(k+1) = {self.ratio:.3g} < {self.threshold:g} at k = {self.rank}"
        if self.runner_up >= self.threshold:
            return (f"two spectral gaps: {self.ratio:.3g} at k = {self.rank} and {self.runner_up:.3g}, both above "
                    f"{self.threshold:g}; the noise is not at the floor {self.floor:g}")
        return ""

    @classmethod
    def of(cls, values, *, threshold: float, floor: float) -> "SpectralGap":
        values = np.sort(np.abs(np.asarray(values, dtype=float)))[::-1]
        if values.size == 0 or values[0] == 0.0:
            return cls(0, math.inf, threshold, floor)
        clipped = np.append(np.maximum(values / values[0], floor), floor)
        ratios = clipped[:-1] / clipped[1:]
        order = np.argsort(ratios)[::-1]
        runner_up = float(ratios[order[1]]) if ratios.size > 1 else 1.0
        return cls(int(order[0]) + 1, float(ratios[order[0]]), threshold, floor, runner_up)


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
            return None if gap is None else {"index": gap.rank, "ratio": gap.ratio, "threshold": gap.threshold,
                                             "floor": gap.floor, "runner_up": gap.runner_up}

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


def vanishing_polynomials(leaf: LeafPoints, *, degree: int = 2, gap_threshold: float = 1e3,
                          noise_floor: float = 1e-13, gradient_floor: float = 1e-7,
                          min_spread: float = 1e-3, points_per_monomial: float = 2.0) -> LeafEquations:
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
    exponents = monomial_exponents(n_vars, degree)
    common = dict(degree=degree, n_points=leaf.n_points, n_monomials=len(exponents), spread=leaf.spread,
                  leg_statuses=dict(leaf.leg_statuses), n_rhs=leaf.n_rhs)
    if leaf.spread < min_spread:
        return LeafEquations("inconclusive", f"too little motion: spread {leaf.spread:.3g} of ‖θ₀‖ < {min_spread:g}",
                             **common)
    if leaf.n_points < points_per_monomial * len(exponents):
        return LeafEquations(
            "inconclusive",
            f"too few points: {leaf.n_points} for {len(exponents)} monomials "
            f"(need {points_per_monomial:g} per monomial; "
            f"legs: {_leg_summary(leaf.leg_statuses)})",
            **common)
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
    gap = SpectralGap.of(relative, threshold=gap_threshold, floor=noise_floor)
    n_vanishing = len(exponents) - gap.rank
    common.update(singular_values=tuple(float(s) for s in relative), gap=gap, n_vanishing=n_vanishing)
    if not gap.clear:
        return LeafEquations("inconclusive", gap.reason, **common)
    if n_vanishing == 0:
        return LeafEquations("ok", f"no polynomial of degree ≤ {degree} vanishes on the leaf", laws_seen=0, **common)
    null_space = right[gap.rank:].T  # coefficient vectors (unit norm) of the vanishing polynomials
    gradients = monomial_gradients(scaled[0], exponents).T @ null_space  # (D, n_vanishing), z-gradients at θ₀
    gradient_singular = np.linalg.svd(gradients, compute_uv=False)
    gradient_gap = SpectralGap.of(gradient_singular, threshold=gap_threshold, floor=gradient_floor)
    relative_gradient = gradient_singular / max(gradient_singular[0], 1e-300)
    common.update(gradient_singular_values=tuple(float(s) for s in relative_gradient),
                  gradient_gap=gradient_gap)
    if not gradient_gap.clear:
        return LeafEquations("inconclusive", f"gradients at θ₀: {gradient_gap.reason}", **common)
    return LeafEquations(
        "ok",
        f"{n_vanishing} polynomials of degree ≤ {degree} vanish; their gradients at θ₀ have rank {gradient_gap.rank}",
        laws_seen=gradient_gap.rank, **common)


def _leg_summary(statuses: dict) -> str:
    return ", ".join(f"{name} {count}" for name, count in statuses.items() if count) or "none"


def points_needed(n_params: int, degree: int, walk: LeafWalk) -> int:
    """How many points the walk collects to analyse up to ``degree`` (``walk.points_per_monomial`` per monomial)."""
    return int(math.ceil(walk.points_per_monomial * math.comb(n_params + degree, degree))) + 1


def leaf_equations(network: Network, loss: Loss | str, data_class: str, group: Group | None, theta0: np.ndarray,
                   *, seed: int = 0, degree: int = 2, walk: LeafWalk = LeafWalk(), gap_threshold: float = 1e3,
                   noise_floor: float = 1e-13, leg_integrator: LegIntegrator | None = None) -> LeafEquations:
    """Walk the leaf through θ₀ of the class (free or G-augmented data, ``loss``) and read its equations.

    The number of laws the integrators see is ``result.laws_seen``: the rank at θ₀ of the gradients of the
    polynomials of degree ≤ ``degree`` vanishing on the points reached; ``result.walk_span`` says whether the
    walk's data sets stand for the class (more laws seen than the class has mean nothing otherwise).
    """
    if degree not in DEGREES:
        raise InvalidInput(f"degree={degree!r} is not one of {DEGREES}")
    leaf = collect_leaf_points(network, loss, data_class, group, theta0,
                               n_points=points_needed(network.n_params, degree, walk), seed=seed, walk=walk,
                               leg_integrator=leg_integrator)
    equations = vanishing_polynomials(leaf, degree=degree, gap_threshold=gap_threshold, noise_floor=noise_floor)
    span = walk_span(leaf, network, loss, data_class, group, seed=seed, samples=walk.samples)
    return replace(equations, walk_span=span)


__all__ = [
    "DATA_CLASSES", "LeafEquations", "LeafPoints", "LeafWalk", "LegResult", "SpectralGap", "WalkSpan", "class_dataset",
    "collect_leaf_points", "flow_leg", "leaf_equations", "loss_gradient", "monomial_exponents", "monomial_gradients",
    "monomial_matrix", "points_needed", "reference_dataset", "representative_dataset", "scipy_leg", "vanishing_polynomials", "walk_span",
]
