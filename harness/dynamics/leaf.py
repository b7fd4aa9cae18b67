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

The walk's data sets must stand for the class, and it is checked that they do: see
``harness.dynamics.class_data``. The points' equations are read in ``harness.dynamics.vanishing``; this module
walks and ties the two together (``leaf_equations``).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from harness.dynamics.class_data import loss_gradient, representative_dataset, walk_span
from harness.dynamics.vanishing import DEGREES, LeafEquations, vanishing_polynomials
from harness.errors import InvalidInput
from harness.kernels.methods import METHODS
from harness.model.data import DataSet, check_data_class
from harness.model.family import Network
from harness.model.groups import Group
from harness.model.losses import Loss, get_loss


class LegStatus(str, enum.Enum):
    """The fate of one leg of the walk (the values are the keys of ``LeafPoints.leg_statuses``, as before)."""

    OK = "ok"
    LEFT_BALL = "left_ball"
    MAX_STEPS = "max_steps"
    STEP_UNDERFLOW = "step_underflow"
    NONFINITE = "nonfinite"
    STALLED = "stalled"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def meaning(self) -> str:
        return _LEG_MEANINGS[self]

    @classmethod
    def of_leg(cls, status: str) -> LegStatus:
        """How a leg integrator's status is counted: a blow-up left the ball first (the bound is the ball's),
        and a status the walk does not know is counted as non-finite."""
        if status == "blow_up":
            return cls.LEFT_BALL
        try:
            return cls(status)
        except ValueError:
            return cls.NONFINITE


_LEG_MEANINGS = {
    LegStatus.OK: "kept: its saved states are points of the leaf",
    LegStatus.LEFT_BALL: "discarded: it left the ball around θ₀ (or blew up, which it must do first)",
    LegStatus.MAX_STEPS: "discarded: the integrator ran out of steps (a stiff leg)",
    LegStatus.STEP_UNDERFLOW: "discarded: the step size fell below round-off",
    LegStatus.NONFINITE: "discarded: the gradient or a state became NaN or infinite",
    LegStatus.STALLED: "not integrated: ∇L vanishes at its start, so the flow does not move",
}
# Fates of a leg, in the order of ``LeafPoints.leg_statuses``.
LEG_STATUSES = tuple(status.value for status in LegStatus)


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
    fixed_steps: int = 40  # steps per leg for the registered fixed-step methods (rk4, gauss)
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
        if self.method not in METHODS:
            raise InvalidInput(f"LeafWalk.method={self.method!r} is not one of {tuple(METHODS)}")


@dataclass(frozen=True)
class LegResult:
    """What one leg of the walk returned: its saved states (excluding the start) and a status name: an
    ``IntegrationStatus`` value or "stalled" (counted by ``LegStatus.of_leg``)."""

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


def class_dataset(
    network: Network,
    loss: Loss,
    data_class: str,
    group: Group | None,
    rng: np.random.Generator,
    walk: LeafWalk,
    theta0: np.ndarray,
) -> DataSet:
    """A random data set of the class: Gaussian samples (free), or their orbit under G (augmented).

    For non-polynomial losses the predictions f(θ₀, x) (inputs scaled) and the real targets get a size drawn
    log-uniformly in [regime/2, 2·regime], so that the residuals of one orbit differ by several times the
    loss's bend (module docstring: scaling the targets alone leaves ℓ' constant on orbits when θ₀ is small).
    """
    return representative_dataset(
        network, loss, data_class, group, rng, theta0, samples=walk.samples, regime=walk.regime
    )


def flow_leg(
    network: Network,
    loss: Loss,
    data: DataSet,
    start: np.ndarray,
    length: float,
    direction: int,
    n_save: int,
    walk: LeafWalk,
    bound: float,
) -> LegResult:
    """One leg with flowlaws' Numba integrators (``harness.dynamics.flow``): duration length / ‖∇L(start)‖."""
    from harness.dynamics.flow import integrate

    flow = _leg_flow(network, loss, data)
    speed = float(np.linalg.norm(flow.gradient(start)))
    if not (np.isfinite(speed) and speed > 0):
        return LegResult(np.empty((0, start.size)), "stalled")
    scale = max(float(np.linalg.norm(start)), 1e-300)
    trajectory = integrate(
        flow,
        start,
        length / speed,
        method=walk.method,
        rtol=walk.rtol,
        atol=walk.atol * scale,
        steps=walk.fixed_steps,
        n_save=n_save,
        direction=direction,
        max_steps=walk.max_steps,
        blow_up=bound,
    )
    return LegResult(trajectory.states[1:], trajectory.status, trajectory.n_rhs)


_LAST_FLOW: list = []  # [(network, loss, data, flow)]: the flow of the data set the walk is on


def _leg_flow(network: Network, loss: Loss, data: DataSet):
    """The GradientFlow of a leg, reused while the walk stays on one data set (its retries and extensions).

    The cache holds the very objects it was built from and compares them by identity, so a new data set (even
    an equal one) builds a new flow; the problem tuple of a reused flow is the same, so are the numbers.
    """
    from harness.dynamics.flow import GradientFlow

    if _LAST_FLOW:
        last_network, last_loss, last_data, flow = _LAST_FLOW[0]
        if last_network is network and last_loss is loss and last_data is data:
            return flow
    flow = GradientFlow(network, loss, data)
    _LAST_FLOW[:] = [(network, loss, data, flow)]
    return flow


def scipy_leg(
    network: Network,
    loss: Loss,
    data: DataSet,
    start: np.ndarray,
    length: float,
    direction: int,
    n_save: int,
    walk: LeafWalk,
    bound: float,
) -> LegResult:
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
    solution = solve_ivp(
        lambda _t, theta: -direction * gradient(theta),
        (0.0, duration),
        start,
        method="DOP853",
        rtol=walk.rtol,
        atol=walk.atol * scale,
        t_eval=times,
        events=escaped,
    )
    if solution.status == 1:
        return LegResult(np.empty((0, start.size)), "blow_up", int(solution.nfev))
    if solution.status != 0 or solution.y.shape[1] != n_save:
        return LegResult(np.empty((0, start.size)), "step_underflow", int(solution.nfev))
    return LegResult(solution.y.T.copy(), "ok", int(solution.nfev))


def gradient_cost(network: Network, loss: Loss, data: DataSet) -> int:
    """Multiply-adds of one ∇L: Φ's monomials and the vector–Jacobian product, plus G from the moments
    (MSE: m·K²) or from every feature row (rows·m·K)."""
    terms = network.polynomial.n_monomials * (network.polynomial.degree + 1)
    if loss.kernel_id == 0:
        return terms + network.n_outputs * network.n_features**2
    return terms + data.n_samples * network.rows_per_sample * network.n_outputs * network.n_features


def collect_leaf_points(
    network: Network,
    loss: Loss | str,
    data_class: str,
    group: Group | None,
    theta0: np.ndarray,
    *,
    n_points: int,
    seed: int = 0,
    walk: LeafWalk = LeafWalk(),
    leg_integrator: LegIntegrator | None = None,
) -> LeafPoints:
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
    check_data_class(data_class)
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
    statuses = {name: 0 for name in LEG_STATUSES}  # plain string keys: the evidence's JSON is unchanged
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
            status = LegStatus.of_leg(leg.status)
            if status is LegStatus.OK and (
                not np.all(np.isfinite(leg.states))
                or np.linalg.norm(leg.states - theta0, axis=1).max() > walk.radius * size
            ):
                status = LegStatus.LEFT_BALL
            if status is not LegStatus.OK:
                statuses[status.value] += 1
                # A flow that accelerates (backward flows blow up in finite time) is discarded whole and tried
                # again shorter, as a new flow: no state of a failed run is ever used.
                length /= 4.0
                if length < walk.step * size / 20.0:
                    break
                continue
            statuses[LegStatus.OK.value] += 1
            points.extend(leg.states)
            start = leg.states[-1]
            # A flow that slowed down at once (a stiff direction settling) moved less than planned: go on from
            # where it is; the next leg is longer because it is timed by the speed there.
            if np.linalg.norm(start - leg_start) >= 0.5 * walk.step * size:
                break
            extensions += 1
    return LeafPoints(
        theta0,
        np.array(points),
        statuses,
        n_rhs,
        np.array(data_gradients) if data_gradients else np.empty((0, network.n_params)),
    )


def points_needed(n_params: int, degree: int, walk: LeafWalk) -> int:
    """How many points the walk collects to analyse up to ``degree`` (``walk.points_per_monomial`` per monomial)."""
    return int(math.ceil(walk.points_per_monomial * math.comb(n_params + degree, degree))) + 1


def leaf_equations(
    network: Network,
    loss: Loss | str,
    data_class: str,
    group: Group | None,
    theta0: np.ndarray,
    *,
    seed: int = 0,
    degree: int = 2,
    walk: LeafWalk = LeafWalk(),
    gap_threshold: float = 1e3,
    noise_floor: float = 1e-13,
    leg_integrator: LegIntegrator | None = None,
) -> LeafEquations:
    """Walk the leaf through θ₀ of the class (free or G-augmented data, ``loss``) and read its equations.

    The number of laws the integrators see is ``result.laws_seen``: the rank at θ₀ of the gradients of the
    polynomials of degree ≤ ``degree`` vanishing on the points reached; ``result.walk_span`` says whether the
    walk's data sets stand for the class (more laws seen than the class has mean nothing otherwise).
    """
    if degree not in DEGREES:
        raise InvalidInput(f"degree={degree!r} is not one of {DEGREES}")
    leaf = collect_leaf_points(
        network,
        loss,
        data_class,
        group,
        theta0,
        n_points=points_needed(network.n_params, degree, walk),
        seed=seed,
        walk=walk,
        leg_integrator=leg_integrator,
    )
    equations = vanishing_polynomials(leaf, degree=degree, gap_threshold=gap_threshold, noise_floor=noise_floor)
    span = walk_span(leaf, network, loss, data_class, group, seed=seed, samples=walk.samples)
    return replace(equations, walk_span=span)
