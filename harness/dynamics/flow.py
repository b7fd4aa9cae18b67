"""Gradient flows as problems and their integrated trajectories (DESIGN.md §1 and §2, oracle 3).

``GradientFlow(network, loss, data)`` is the validated problem θ' = −∇L(θ) with
L(θ) = mean_r ℓ(Φ(θ)Ψ_r, y_r); ``integrate`` runs a registered method (``harness.kernels.methods``) through the
one Numba time loop of ``harness.kernels.integrators`` and returns a ``Trajectory`` (requested times, states,
status, work counts) that never hides a failure; ``law_drift`` measures how far each known conservation law h
moved along it: max_t |h(θ(t)) − h(θ(0))| relative to the law's scale (the size of the terms it balances).

A failed run is never judged: when ``Trajectory.status`` is anything but ``ok`` the states stop at the last save
time reached, and a drift over them would read as perfect conservation (nothing moved yet). ``law_drift`` then
returns a ``LawDrift`` that is not available (``largest`` None, drifts NaN, the status kept) and ``loss_values``
returns NaN at every time: a failed flow is "not available", never a number that passes for a result.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from harness.errors import InvalidInput
from harness.kernels import integrators
from harness.kernels import problem as kernel_problem
from harness.kernels.methods import METHODS, Method
from harness.kernels.status import IntegrationStatus
from harness.model import numpy_reference
from harness.model.data import DataSet, check_data_size, moments
from harness.model.family import Network
from harness.model.losses import Loss, get_loss
from harness.model.specs import parse_network

DEFAULT_RTOL = 1e-8
DEFAULT_ATOL = 1e-10
DEFAULT_STEPS = 200
DEFAULT_MAX_STEPS = 200_000
DEFAULT_BLOW_UP = 1e6
# Resource guards, checked before any work (a refused run costs nothing; a granted one is bounded):
MAX_STEPS_LIMIT = 10_000_000  # attempted steps per run: about a minute of the smallest flow, hours of a large one
MAX_SAVED_VALUES = 10_000_000  # (n_save + 1) · D saved numbers: 80 MB of float64 (the states are copied once)


def parameter_vector(theta, n_params: int, owner, name: str = "theta") -> np.ndarray:
    """θ as a fresh C-contiguous float64 vector of length ``n_params``, or InvalidInput naming what is wrong
    (the one check of every flow's θ: tensorizable and torch flows alike)."""
    try:
        theta = np.array(theta, dtype=np.float64, order="C", copy=True)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a vector of {n_params} numbers") from None
    if theta.shape != (n_params,):
        raise InvalidInput(f"{name} has shape {theta.shape}; {owner} needs ({n_params},)")
    if not np.isfinite(theta).all():
        raise InvalidInput(f"{name} contains NaN or inf (first at index {int(np.argmin(np.isfinite(theta)))})")
    return theta


@dataclass(frozen=True, eq=False)
class GradientFlow:
    """The gradient flow of L(θ) = mean_r ℓ(Φ(θ)Ψ_r, y_r) for one network, loss and data set.

    Validated on construction (shapes, finite data, targets the loss accepts). For MSE the kernels use the
    moments M = mean ΨΨᵀ and C = mean yΨᵀ; otherwise the feature rows Ψ_r and targets y_r.
    """

    network: Network
    loss: Loss
    data: DataSet
    sparse_only: bool = False  # force the generic monomial kernel even where a dense one exists (for comparisons)

    def __post_init__(self):
        network = parse_network(self.network)
        loss = get_loss(self.loss)
        data: Any = self.data  # a DataSet, or an (x, y) pair turned into one here
        if not isinstance(data, DataSet):
            try:
                x, y = data
            except (TypeError, ValueError):
                raise InvalidInput(f"data must be a DataSet or an (x, y) pair, got {type(data).__name__}") from None
            data = DataSet(x, y)
        data.check_network(network, loss)
        check_data_size(network, data.n_samples)  # the feature rows Ψ_r are built from it
        object.__setattr__(self, "network", network)
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "data", data)

    @cached_property
    def features(self) -> np.ndarray:
        """Ψ_r for every feature row, (rows, K)."""
        return self.network.features(self.data.x)

    @cached_property
    def targets(self) -> np.ndarray:
        """y_r for every feature row, (rows, m)."""
        return self.network.target_rows(self.data.y)

    @property
    def uses_moments(self) -> bool:
        return self.loss.kernel_id == kernel_problem.MSE_KERNEL_ID

    @cached_property
    def problem(self) -> tuple:
        """The kernels' problem tuple (fresh writable C arrays: the same Numba types for every flow)."""
        polynomial = self.network.polynomial
        m, k = self.network.n_outputs, self.network.n_features
        if self.uses_moments:
            moment_m, moment_c = moments(self.network, self.data)
            rows, row_targets = np.zeros((0, k)), np.zeros((0, m))
        else:
            moment_m, moment_c = np.zeros((k, k)), np.zeros((m, k))
            rows, row_targets = self.features, self.targets
        return kernel_problem.make_problem(
            polynomial.out,
            polynomial.coef,
            polynomial.variables,
            rows,
            row_targets,
            moment_m,
            moment_c,
            m,
            k,
            self.loss.kernel_id,
            self.uses_moments,
            None if self.sparse_only else self.network.dense_gradient,
        )

    @cached_property
    def n_params(self) -> int:
        """D, the length of θ (cached: the network computes it from its blocks)."""
        return self.network.n_params

    def check_theta(self, theta, name: str = "theta") -> np.ndarray:
        """θ as a fresh float64 vector, or InvalidInput naming what is wrong."""
        return parameter_vector(theta, self.n_params, self.network, name)

    def loss_value(self, theta) -> float:
        """L(θ) = mean_r ℓ(Φ(θ)Ψ_r, y_r), computed from the rows (exact also for MSE)."""
        theta = self.check_theta(theta)
        predictions = self.features @ self.network.phi(theta).T
        return float(self.loss.value(predictions, self.targets))

    def gradient(self, theta) -> np.ndarray:
        """∇L(θ) = J(θ)ᵀ vec(G), from the same compiled kernel the integrators call."""
        return kernel_problem.gradient_kernel(self.check_theta(theta), self.problem)

    def reference_gradient(self, theta) -> np.ndarray:
        """∇L(θ) = J(θ)ᵀ vec(G) in plain NumPy, independent of the kernels (``harness.model.numpy_reference``)."""
        return numpy_reference.loss_gradient(
            self.network, self.loss, self.features, self.targets, self.check_theta(theta)
        )


@dataclass(frozen=True, eq=False)
class Trajectory:
    """An integrated flow: states θ(t) at the requested times reached, and how the run ended.

    ``times`` are flow times (negative when integrating backward, direction −1); if the run stopped early
    (status other than ``ok``) they stop at the last save time reached and ``final_time``/``final_state``
    say where the integrator was. ``n_rhs`` counts evaluations of ∇L.
    """

    times: np.ndarray
    states: np.ndarray
    status: IntegrationStatus
    n_rhs: int
    n_steps: int
    n_rejected: int
    method: str
    direction: int
    t_final: float
    final_time: float
    final_state: np.ndarray
    rtol: float | None = None
    atol: float | None = None
    step: float | None = None
    seconds: float = field(default=0.0, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == IntegrationStatus.OK

    @property
    def failure(self) -> str | None:
        """None for a finished run; otherwise the status, what it means and the time reached."""
        if self.ok:
            return None
        return (
            f"{self.status}: {IntegrationStatus(self.status).meaning}; stopped at t = {self.final_time:g} of "
            f"{self.direction * self.t_final:g}"
        )

    @property
    def initial_state(self) -> np.ndarray:
        return self.states[0]

    def summary(self) -> dict:
        return {
            "method": self.method,
            "status": self.status,
            "direction": self.direction,
            "t_final": self.t_final,
            "final_time": self.final_time,
            "n_rhs": self.n_rhs,
            "n_steps": self.n_steps,
            "n_rejected": self.n_rejected,
            "rtol": self.rtol,
            "atol": self.atol,
            "step": self.step,
            "ok": self.ok,
        }


def _positive_number(name: str, value, *, allow_inf: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name}={value!r} must be a positive number") from None
    if not (number > 0) or (math.isinf(number) and not allow_inf) or math.isnan(number):
        raise InvalidInput(f"{name}={value!r} must be a positive finite number")
    return number


def _positive_integer(name: str, value, *, limit: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidInput(f"{name}={value!r} must be a positive integer")
    if limit is not None and value > limit:
        raise InvalidInput(f"{name}={value!r} is above the limit of {limit:,}; allowed: 1 to {limit:,}")
    return int(value)


def method_record(method: str) -> Method:
    """The registered integration method called ``method``, or InvalidInput listing the registered ones."""
    try:
        return METHODS[method]
    except (KeyError, TypeError):
        raise InvalidInput(f"unknown integration method {method!r}; allowed: {', '.join(METHODS)}") from None


class RunRequest(NamedTuple):
    """A validated run: method, save times, the loop's settings (a named tuple: cheap to build per call)."""

    record: Method
    save_times: np.ndarray
    settings: np.ndarray
    max_steps: int
    direction: int
    t_final: float
    rtol: float
    atol: float
    step: float


def run_request(flow, method, t_final, rtol, atol, steps, n_save, direction, max_steps, blow_up, starts, flows=1):
    """Check every option of a run (``integrate``'s rules) against the flow and the initial state(s)."""
    record = method_record(method)
    t_final = _positive_number("t_final", t_final)
    rtol = _positive_number("rtol", rtol)
    atol = _positive_number("atol", atol)
    if rtol < 1e-14:
        raise InvalidInput(f"rtol={rtol!r} is below what float64 can deliver; use rtol >= 1e-14")
    steps = _positive_integer("steps", steps)
    n_save = _positive_integer("n_save", n_save)
    max_steps = _positive_integer("max_steps", max_steps, limit=MAX_STEPS_LIMIT)
    if not record.adaptive and steps > max_steps:
        raise InvalidInput(
            f"steps={steps!r} fixed steps cannot finish within max_steps={max_steps:,}; allowed: "
            f"steps <= max_steps (max_steps at most {MAX_STEPS_LIMIT:,})"
        )
    per_state = flows * flow.n_params
    saved_values = (n_save + 1) * per_state
    if saved_values > MAX_SAVED_VALUES:
        many = f"{flows:,} flows × " if flows > 1 else ""
        raise InvalidInput(
            f"n_save={n_save!r} would save {many}{n_save + 1:,} states of D = {flow.n_params} numbers "
            f"({saved_values:,} numbers), above the limit of {MAX_SAVED_VALUES:,} "
            f"({MAX_SAVED_VALUES * 8 // 10**6} MB); allowed: n_save <= "
            f"{max(MAX_SAVED_VALUES // per_state - 1, 0):,} for this flow"
        )
    if n_save > max_steps and not record.tableau.dense_output:
        raise InvalidInput(
            f"n_save={n_save!r} save times need at least as many steps, more than "
            f"max_steps={max_steps:,}; allowed: n_save <= max_steps"
        )
    blow_up = _positive_number("blow_up", blow_up, allow_inf=True)
    if direction not in (1, -1) or isinstance(direction, bool):
        raise InvalidInput(f"direction={direction!r} must be +1 (forward in time) or -1 (backward)")
    peak = float(np.abs(starts).max())
    if peak > blow_up:
        raise InvalidInput(
            f"theta0 already exceeds the blow-up bound: max |theta0| = {peak:.3g} > blow_up={blow_up:.3g}"
        )
    step = t_final / steps
    save_times, settings = _loop_arrays(t_final, n_save, rtol, atol, step, blow_up)
    return RunRequest(record, save_times, settings, max_steps, direction, t_final, rtol, atol, step)


@functools.lru_cache(maxsize=256)
def _loop_arrays(t_final: float, n_save: int, rtol: float, atol: float, step: float, blow_up: float):
    """The save times (n_save + 1 equally spaced, the last exactly t_final) and the loop's settings, cached:
    campaigns repeat options, two small arrays cost as much as a short flow; nothing ever writes into them."""
    save_times = np.arange(n_save + 1, dtype=np.float64) * (t_final / n_save)
    save_times[-1] = t_final
    return save_times, integrators.kernel_settings(rtol, atol, step, blow_up)


def trajectory_of(run: RunRequest, states, saved, status, n_rhs, n_steps, n_rejected, t_reached, final_state, seconds):
    """The ``Trajectory`` of one flow from the arrays the loop returned (the caller copies them if they are shared)."""
    adaptive = run.record.adaptive
    return Trajectory(
        times=run.direction * run.save_times[:saved],
        states=states[:saved] if saved == states.shape[0] else states[:saved].copy(),
        status=IntegrationStatus.of(status),
        n_rhs=int(n_rhs),
        n_steps=int(n_steps),
        n_rejected=int(n_rejected),
        method=run.record.name,
        direction=run.direction,
        t_final=run.t_final,
        final_time=run.direction * float(t_reached),
        final_state=final_state,
        rtol=run.rtol if adaptive else None,
        atol=run.atol if adaptive else None,
        step=None if adaptive else run.step,
        seconds=seconds,
    )


def integrate(
    flow: GradientFlow,
    theta0,
    t_final: float,
    method: str = "dop853",
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    steps: int = DEFAULT_STEPS,
    n_save: int = 1,
    direction: int = 1,
    max_steps: int = DEFAULT_MAX_STEPS,
    blow_up: float = DEFAULT_BLOW_UP,
) -> Trajectory:
    """Integrate θ' = −s·∇L(θ) (s = ``direction``) from θ₀ over flow time ``t_final``.

    ``method`` names a registered method (``harness.kernels.methods.METHODS``): an adaptive one (``dop853``,
    Hairer's 8(5,3), the default: 30–60 % fewer evaluations than ``dp5`` at rtol ≤ 1e-8, and its dense output
    saves states inside steps; ``dp5``, Dormand–Prince 5(4), SciPy's RK45) steps by
    ``rtol``/``atol``; a fixed-step one (``rk4``: classical RK4, ``gauss``: 2-stage Gauss–Legendre) takes
    ``steps`` steps of size t_final/steps (an implicit method halves a step whose stage equations do not
    converge). States are saved at n_save + 1 equally spaced times including 0 and t_final. ``max_steps`` caps
    attempted steps; the run stops with status ``blow_up`` once ‖θ‖∞ > ``blow_up``.

    Refused before any work (``InvalidInput``): a run that cannot finish by construction (a fixed-step method
    with ``steps`` > ``max_steps``, or, without a dense output, more save times than ``max_steps``),
    ``max_steps`` above ``MAX_STEPS_LIMIT`` and more than ``MAX_SAVED_VALUES`` saved numbers ((n_save + 1) · D).
    A run that fails on the way is not an error: it returns with a status other than ``ok``.
    """
    if not isinstance(flow, GradientFlow):
        raise InvalidInput(f"flow must be a GradientFlow, got {type(flow).__name__}")
    theta0 = flow.check_theta(theta0, "theta0")
    run = run_request(flow, method, t_final, rtol, atol, steps, n_save, direction, max_steps, blow_up, theta0)
    start = time.perf_counter()
    result = integrators.integrate_kernel(
        theta0, flow.problem, float(direction), run.save_times, run.record.tableau.kernel, run.settings, max_steps
    )
    return trajectory_of(run, *result, time.perf_counter() - start)


def loss_values(flow: GradientFlow, trajectory: Trajectory) -> np.ndarray:
    """L(θ(t)) at every saved time of the trajectory; NaN at every time if the run failed (not available)."""
    if not trajectory.ok:
        return np.full(len(trajectory.states), np.nan)
    return np.array([flow.loss_value(state) for state in trajectory.states])


@dataclass(frozen=True)
class LawDrift:
    """Per known law h_i: max_t |h_i(θ(t)) − h_i(θ(0))| / scale_i, with scale_i the largest scale of h_i seen.

    Not available (``available`` False) when the trajectory failed: ``status`` keeps why, the arrays are NaN,
    ``largest`` is None and ``as_dict`` maps every law to None, so that no caller can read it as conserved.
    """

    names: tuple[str, ...]
    drifts: np.ndarray
    scales: np.ndarray
    initial_values: np.ndarray
    history: np.ndarray = field(repr=False)  # (times, laws) relative drift |h(t) − h(0)| / scale at each time
    status: str = "ok"  # the trajectory's status: anything but ok means not available

    @property
    def available(self) -> bool:
        return self.status == "ok"

    @property
    def largest(self) -> float | None:
        if not self.available:
            return None
        return float(self.drifts.max()) if self.drifts.size else 0.0

    def as_dict(self) -> dict[str, float | None]:
        if not self.available:
            return {name: None for name in self.names}
        return {name: float(value) for name, value in zip(self.names, self.drifts)}


def law_drift(network: Network, trajectory: Trajectory, laws=None) -> LawDrift:
    """How far each law moved along the trajectory, relative to its scale.

    ``laws`` defaults to ``network.known_laws``; any function θ ↦ (values, scales) of the same shape works
    (tests plant non-laws through it). A scale never counts as smaller than 1e-300 (a law whose terms all vanish
    is judged absolutely).
    """
    network = parse_network(network)
    law_function = network.known_laws if laws is None else laws
    if not trajectory.ok:
        return _unavailable_drift(network, trajectory, law_function, laws is None)
    values, scales = [], []
    for state in trajectory.states:
        value, scale = law_function(state)
        values.append(np.asarray(value, dtype=float))
        scales.append(np.asarray(scale, dtype=float))
    values = np.array(values)
    scales = np.array(scales)
    if values.ndim != 2 or values.shape[1] == 0:
        names = tuple(network.known_law_names()) if laws is None else ()
        return LawDrift(names, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros((len(trajectory.states), 0)))
    scale = np.maximum(np.abs(scales).max(axis=0), 1e-300)
    history = np.abs(values - values[0]) / scale
    if laws is None:
        names = tuple(network.known_law_names())
    else:
        names = tuple(f"h{i}" for i in range(values.shape[1]))
    return LawDrift(names, history.max(axis=0), scale, values[0], history)


def _unavailable_drift(network: Network, trajectory: Trajectory, law_function, known: bool) -> LawDrift:
    """The drift of a failed run: the laws' names and the status, every number NaN (not available)."""
    if known:
        names = tuple(network.known_law_names())
    else:
        value, _ = law_function(trajectory.initial_state)
        names = tuple(f"h{i}" for i in range(np.asarray(value, dtype=float).size))
    n_laws = len(names)
    nan = np.full(n_laws, np.nan)
    return LawDrift(
        names, nan, nan.copy(), nan.copy(), np.full((len(trajectory.states), n_laws), np.nan), status=trajectory.status
    )
