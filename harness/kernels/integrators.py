"""Numba integrators of the gradient flow θ' = −s·∇L(θ) for every network, loss and data set (DESIGN.md §1, §2.3).

The right-hand side goes through the exact sparse polynomial Φ of the network (``harness.kernels.polynomial``):

    f_r = Φ(θ) Ψ_r,   G = mean_r ∇_f ℓ(f_r, y_r) Ψ_rᵀ,   ∇L(θ) = J(θ)ᵀ vec(G),

fused in one kernel (Φ, then G, then the vector–Jacobian product) that writes into preallocated buffers. For
MSE, G = Φ M − C with the moments M = mean ΨΨᵀ and C = mean yΨᵀ, so the cost does not grow with N. For the
two-layer linear family the same kernel can take a dense branch (Φ = UVᵀ, ∇_U = GV, ∇_V = GᵀU), chosen at run
time by a flag in the problem, 2–3× faster at D = 200 (benchmarks/README.md).

Every kernel is typed by C-contiguous, writable float64/int64 arrays and scalars only: a *problem* is the
tuple ``(out, coef, variables, features, targets, moment_M, moment_C, sizes)`` whose types never depend on the
family, the loss or the data, so there is exactly one compilation in all (``cache=True``; see
``harness.kernels.warmup``). Read-only arrays would be a different Numba type, which is why the Python layer
(``harness.dynamics.flow``) always hands over fresh copies.

Methods. Explicit Runge–Kutta methods are Butcher tableaux (data) on one generic loop
(``explicit_rk_kernel``, as in SciPy's ``rk.py``): Dormand–Prince 5(4) with SciPy's error control and
initial step, and classical RK4 with a fixed step. The 2-stage Gauss–Legendre collocation method (order 4,
``gauss_kernel``) conserves every quadratic invariant exactly (Cooper's condition b_i a_ij + b_j a_ji = b_i b_j),
provided its stage equations are solved to round-off: they are iterated to a fixed point until the increment
stops shrinking at the level of machine precision, and the update is summed with compensation.

Statuses (a run never hangs and never returns NaN silently): ok, max_steps (attempted steps exhausted),
blow_up (‖θ‖∞ above the bound), step_underflow (the step needed fell below round-off of t, or a Gauss step
could not be solved even when halved many times), nonfinite (the right-hand side returned NaN/inf).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from harness.kernels.losses import MSE, loss_row

STATUS_OK = 0
STATUS_MAX_STEPS = 1
STATUS_BLOW_UP = 2
STATUS_STEP_UNDERFLOW = 3
STATUS_NONFINITE = 4
STATUS_NAMES = ("ok", "max_steps", "blow_up", "step_underflow", "nonfinite")

# Loss kernel id of MSE (harness.kernels.losses): its G is computed from the moments.
MSE_KERNEL_ID = MSE

# Indices into the ``sizes`` array of a problem.
SIZE_OUTPUTS, SIZE_FEATURES, SIZE_LOSS, SIZE_USE_MOMENTS, SIZE_STRUCTURE, SIZE_HIDDEN = 0, 1, 2, 3, 4, 5

# How Φ and its vector–Jacobian product are computed: from the sparse monomials (any network), or, for the
# two-layer linear family, as the dense products Φ = U Vᵀ, ∇_U = G V, ∇_V = Gᵀ U, whose inner loops run along
# contiguous memory (the monomial loops gather and scatter). Same numbers up to round-off; a runtime switch,
# so still one compilation.
STRUCTURE_SPARSE = 0
STRUCTURE_TWO_LAYER_LINEAR = 1


# --- Butcher tableaux (data) --------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ExplicitTableau:
    """A Butcher tableau (A, B, C) and error weights E = B − B̂ (one entry per stage, plus one for the slope at
    the new state, which the loop evaluates anyway and reuses as the next step's first stage).

    ``error_order`` is the order of the embedded estimate (the controller's exponent is −1/(error_order + 1));
    0 means a fixed-step method. C is not read by the loop (the gradient flow is autonomous) but kept so the
    tableau is complete and checkable (row sums of A equal C).
    """

    name: str
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    e: np.ndarray
    order: int
    error_order: int

    def __post_init__(self):
        for field_name in ("a", "b", "c", "e"):
            object.__setattr__(self, field_name, np.array(getattr(self, field_name), dtype=np.float64, order="C"))

    @property
    def adaptive(self) -> bool:
        return self.error_order > 0


# Dormand & Prince (1980), the coefficients of SciPy's RK45 (scipy/integrate/_ivp/rk.py).
DORMAND_PRINCE = ExplicitTableau(
    name="dp5",
    a=[
        [0, 0, 0, 0, 0, 0],
        [1 / 5, 0, 0, 0, 0, 0],
        [3 / 40, 9 / 40, 0, 0, 0, 0],
        [44 / 45, -56 / 15, 32 / 9, 0, 0, 0],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0, 0],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0],
    ],
    b=[35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
    c=[0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1],
    e=[-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40],
    order=5,
    error_order=4,
)

CLASSICAL_RK4 = ExplicitTableau(
    name="rk4",
    a=[[0, 0, 0, 0], [0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 1, 0]],
    b=[1 / 6, 1 / 3, 1 / 3, 1 / 6],
    c=[0, 0.5, 0.5, 1],
    e=[0, 0, 0, 0, 0],
    order=4,
    error_order=0,
)

EXPLICIT_TABLEAUX = {tableau.name: tableau for tableau in (DORMAND_PRINCE, CLASSICAL_RK4)}

_SQRT3 = math.sqrt(3.0)
# 2-stage Gauss–Legendre collocation (order 4): nodes 1/2 ∓ √3/6. Numba freezes these globals into the kernel.
GAUSS_A = np.array([[0.25, 0.25 - _SQRT3 / 6], [0.25 + _SQRT3 / 6, 0.25]])
GAUSS_B = np.array([0.5, 0.5])
GAUSS_C = np.array([0.5 - _SQRT3 / 6, 0.5 + _SQRT3 / 6])

# SciPy's step-size controller constants (rk.py).
_SAFETY = 0.9
_MIN_FACTOR = 0.2
_MAX_FACTOR = 10.0
_GAUSS_MAX_ITERATIONS = 100
_GAUSS_HALVINGS = 40


# --- the right-hand side ------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _gradient_into(theta, problem, phi, cotangent, prediction, row_gradient, scratch, gradient):
    """∇L(θ) = J(θ)ᵀ vec(G) written into ``gradient``; returns L(θ) (NaN in the moment path, which never needs it).

    Buffers: phi and cotangent (m·K), prediction and row_gradient (m), scratch (D). Nothing is allocated.
    """
    out, coef, variables, features, targets, moment_m, moment_c, sizes = problem
    n_outputs = sizes[SIZE_OUTPUTS]
    n_features = sizes[SIZE_FEATURES]
    loss_id = sizes[SIZE_LOSS]
    degree = variables.shape[1]
    n_terms = out.shape[0]
    dense_linear = sizes[SIZE_STRUCTURE] == STRUCTURE_TWO_LAYER_LINEAR
    hidden = sizes[SIZE_HIDDEN]
    v_offset = n_outputs * hidden  # θ = (U row-major (m × r), V row-major (K × r))
    for p in range(phi.shape[0]):
        phi[p] = 0.0
    if dense_linear:
        # Φ = U Vᵀ with Vᵀ copied to ``scratch`` first, so that the innermost loop is contiguous (SIMD)
        for k in range(n_features):
            for j in range(hidden):
                scratch[j * n_features + k] = theta[v_offset + k * hidden + j]
        for a in range(n_outputs):
            for j in range(hidden):
                weight = theta[a * hidden + j]
                for k in range(n_features):
                    phi[a * n_features + k] += weight * scratch[j * n_features + k]
    else:
        # Φ(θ) from its monomials
        for t in range(n_terms):
            term = coef[t]
            for s in range(degree):
                term *= theta[variables[t, s]]
            phi[out[t]] += term
    # G: from the moments (MSE), or as the mean over rows of ∇ℓ(f_r, y_r) Ψ_rᵀ.
    value = np.nan
    if sizes[SIZE_USE_MOMENTS] == 1:
        # G = ΦM − C, ordered so that the innermost loop runs along contiguous rows (vectorizes)
        for a in range(n_outputs):
            row = a * n_features
            for k in range(n_features):
                cotangent[row + k] = -moment_c[a, k]
            for q in range(n_features):
                weight = phi[row + q]
                if weight != 0.0:
                    for k in range(n_features):
                        cotangent[row + k] += weight * moment_m[q, k]
    else:
        for p in range(cotangent.shape[0]):
            cotangent[p] = 0.0
        n_rows = features.shape[0]
        value = 0.0
        for r in range(n_rows):
            for a in range(n_outputs):
                total = 0.0
                for k in range(n_features):
                    total += phi[a * n_features + k] * features[r, k]
                prediction[a] = total
            value += loss_row(loss_id, prediction, targets[r], row_gradient)
            for a in range(n_outputs):
                weight = row_gradient[a] / n_rows
                if weight != 0.0:
                    for k in range(n_features):
                        cotangent[a * n_features + k] += weight * features[r, k]
        value /= n_rows
    for i in range(gradient.shape[0]):
        gradient[i] = 0.0
    if dense_linear:
        # ∇_U = G V and ∇_V = Gᵀ U, innermost loops along the rows of U and V (contiguous)
        for a in range(n_outputs):
            for k in range(n_features):
                weight = cotangent[a * n_features + k]
                for j in range(hidden):
                    gradient[a * hidden + j] += weight * theta[v_offset + k * hidden + j]
        for a in range(n_outputs):
            for k in range(n_features):
                weight = cotangent[a * n_features + k]
                for j in range(hidden):
                    gradient[v_offset + k * hidden + j] += weight * theta[a * hidden + j]
        return value
    # J(θ)ᵀ vec(G): each monomial sends G[out] · coef · (the other factors) to each of its factors.
    for t in range(n_terms):
        weight = coef[t] * cotangent[out[t]]
        if weight == 0.0:
            continue
        if degree == 2:  # two-factor monomials (linear and one-hidden-layer deep-linear networks), unrolled
            first = variables[t, 0]
            second = variables[t, 1]
            gradient[first] += weight * theta[second]
            gradient[second] += weight * theta[first]
            continue
        for s in range(degree):
            partial = weight
            for q in range(degree):
                if q != s:
                    partial *= theta[variables[t, q]]
            gradient[variables[t, s]] += partial
    return value


@njit(cache=True)
def _buffers(problem, n_params):
    """Work arrays of one integration: phi, cotangent (m·K), prediction, row_gradient (m), scratch, gradient (D)."""
    sizes = problem[7]
    entries = sizes[SIZE_OUTPUTS] * sizes[SIZE_FEATURES]
    return (np.empty(entries), np.empty(entries), np.empty(sizes[SIZE_OUTPUTS]), np.empty(sizes[SIZE_OUTPUTS]),
            np.empty(n_params), np.empty(n_params))


@njit(cache=True)
def gradient_kernel(theta, problem):
    """∇L(θ) for one θ (allocates its own buffers; the integrators reuse theirs)."""
    phi, cotangent, prediction, row_gradient, scratch, gradient = _buffers(problem, theta.shape[0])
    _gradient_into(theta, problem, phi, cotangent, prediction, row_gradient, scratch, gradient)
    return gradient


@njit(cache=True, inline="always")
def _flow_field(theta, problem, sign, buffers, velocity):
    """θ' = −s·∇L(θ) into ``velocity``; returns False if it is not finite."""
    phi, cotangent, prediction, row_gradient, scratch, _ = buffers
    _gradient_into(theta, problem, phi, cotangent, prediction, row_gradient, scratch, velocity)
    finite = True
    for i in range(velocity.shape[0]):
        velocity[i] = -sign * velocity[i]
        if not math.isfinite(velocity[i]):
            finite = False
    return finite


@njit(cache=True)
def rhs_loop_kernel(theta, problem, sign, n_evaluations):
    """``n_evaluations`` evaluations of the flow field at θ: the yardstick for the integrators' overhead."""
    buffers = _buffers(problem, theta.shape[0])
    velocity = np.empty(theta.shape[0])
    probe = theta.copy()
    checksum = 0.0
    for i in range(n_evaluations):
        probe[i % probe.shape[0]] += 1e-300  # defeats hoisting the evaluation out of the loop
        _flow_field(probe, problem, sign, buffers, velocity)
        checksum += velocity[0]
    return checksum


# --- helpers ------------------------------------------------------------------------------------------

@njit(cache=True)
def _max_abs(vector):
    top = 0.0
    for i in range(vector.shape[0]):
        value = abs(vector[i])
        if not value <= top:  # also catches NaN
            top = value
    return top


@njit(cache=True)
def _min_step(t, t_final):
    """Below this a step no longer changes t meaningfully (SciPy's 10 ulp rule, with a floor relative to T)."""
    return max(10.0 * abs(np.nextafter(t, np.inf) - t), 1e-14 * t_final)


@njit(cache=True)
def _initial_step(theta, velocity, problem, sign, buffers, rtol, atol, t_final, error_order, trial, trial_velocity):
    """SciPy's ``select_initial_step`` (Hairer, Nørsett & Wanner, II.4) for the order of the error estimate."""
    n = theta.shape[0]
    scaled_state = 0.0
    scaled_velocity = 0.0
    for i in range(n):
        scale = atol + abs(theta[i]) * rtol
        scaled_state += (theta[i] / scale) ** 2
        scaled_velocity += (velocity[i] / scale) ** 2
    d0 = math.sqrt(scaled_state / n)
    d1 = math.sqrt(scaled_velocity / n)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h0 = min(h0, t_final)
    for i in range(n):
        trial[i] = theta[i] + h0 * velocity[i]
    _flow_field(trial, problem, sign, buffers, trial_velocity)
    change = 0.0
    for i in range(n):
        scale = atol + abs(theta[i]) * rtol
        change += ((trial_velocity[i] - velocity[i]) / scale) ** 2
    d2 = math.sqrt(change / n) / h0
    if not math.isfinite(d2):
        return h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (error_order + 1))
    return min(100 * h0, h1, t_final)


# --- one generic explicit Runge–Kutta loop ------------------------------------------------------------

@njit(cache=True)
def explicit_rk_kernel(theta0, problem, sign, save_times, tableau_a, tableau_b, tableau_c, tableau_e, error_order,
                       rtol, atol, fixed_step, max_steps, blow_up):
    """Integrate θ' = −s∇L(θ) from τ = 0 to save_times[-1] with the explicit tableau (A, B, C, E).

    ``error_order > 0``: adaptive, SciPy's controller on the RMS norm of the embedded error over
    atol + rtol·max(|θ|, |θ_new|); otherwise fixed steps of ``fixed_step``. Steps are clipped to land on the
    save times. The last stage evaluates the field at the new state, reused as the first stage of the next
    step (FSAL), so a step costs ``stages`` evaluations.

    Returns (states at the save times reached, number reached, status, evaluations, accepted steps,
    rejected steps, τ reached, final state).
    """
    n = theta0.shape[0]
    stages = tableau_b.shape[0]
    adaptive = error_order > 0
    n_save = save_times.shape[0]
    t_final = save_times[n_save - 1]
    states = np.empty((n_save, n))
    buffers = _buffers(problem, n)
    slopes = np.empty((stages + 1, n))
    theta = theta0.copy()
    trial = np.empty(n)
    stage_state = np.empty(n)
    error_estimate = np.empty(n)
    n_rhs = 0
    n_steps = 0
    n_rejected = 0
    for i in range(n):
        states[0, i] = theta[i]
    saved = 1
    t = 0.0
    if not _flow_field(theta, problem, sign, buffers, slopes[0]):
        return states, saved, STATUS_NONFINITE, 1, 0, 0, t, theta
    n_rhs = 1
    if adaptive:
        h_abs = _initial_step(theta, slopes[0], problem, sign, buffers, rtol, atol, t_final, error_order, trial,
                              slopes[1])
        n_rhs += 1
    else:
        h_abs = fixed_step
    error_exponent = -1.0 / (error_order + 1) if adaptive else 0.0
    while saved < n_save:
        target = save_times[saved]
        rejected_before = False
        # attempt steps until one is accepted
        while True:
            if n_steps + n_rejected >= max_steps:
                return states, saved, STATUS_MAX_STEPS, n_rhs, n_steps, n_rejected, t, theta
            if h_abs < _min_step(t, t_final):
                return states, saved, STATUS_STEP_UNDERFLOW, n_rhs, n_steps, n_rejected, t, theta
            h = h_abs
            clipped = False
            if t + h >= target * (1.0 - 1e-12):  # land exactly on the save time, without a sliver step
                h = target - t
                clipped = True
            # stages 1..s−1 (stage 0 is the carried-over slope at θ)
            finite = True
            for s in range(1, stages):
                for i in range(n):
                    stage_state[i] = theta[i]
                for j in range(s):
                    weight = h * tableau_a[s, j]
                    if weight != 0.0:
                        for i in range(n):
                            stage_state[i] += weight * slopes[j, i]
                n_rhs += 1
                if not _flow_field(stage_state, problem, sign, buffers, slopes[s]):
                    finite = False
                    break
            if finite:
                for i in range(n):
                    trial[i] = theta[i]
                for j in range(stages):
                    weight = h * tableau_b[j]
                    if weight != 0.0:
                        for i in range(n):
                            trial[i] += weight * slopes[j, i]
                n_rhs += 1
                finite = _flow_field(trial, problem, sign, buffers, slopes[stages])
            if not adaptive:
                if not finite:
                    return states, saved, STATUS_NONFINITE, n_rhs, n_steps, n_rejected, t, theta
                error_norm = 0.0
            elif not finite:
                error_norm = np.inf
            else:
                for i in range(n):
                    error_estimate[i] = 0.0
                for j in range(stages + 1):
                    weight = h * tableau_e[j]
                    if weight != 0.0:
                        for i in range(n):
                            error_estimate[i] += weight * slopes[j, i]
                total = 0.0
                for i in range(n):
                    scale = atol + max(abs(theta[i]), abs(trial[i])) * rtol
                    total += (error_estimate[i] / scale) ** 2
                error_norm = math.sqrt(total / n)
            if error_norm < 1.0:
                if adaptive:
                    if error_norm == 0.0:
                        factor = _MAX_FACTOR
                    else:
                        factor = min(_MAX_FACTOR, _SAFETY * error_norm ** error_exponent)
                    if rejected_before:
                        factor = min(1.0, factor)
                    # a step shortened only to land on a save time should not shrink the next one
                    h_abs = max(h * factor, h_abs) if (clipped and factor >= 1.0) else h * factor
                break
            if not math.isfinite(error_norm):
                h_abs = h * _MIN_FACTOR
            else:
                h_abs = h * max(_MIN_FACTOR, _SAFETY * error_norm ** error_exponent)
            rejected_before = True
            n_rejected += 1
        # accept
        n_steps += 1
        for i in range(n):
            theta[i] = trial[i]
            slopes[0, i] = slopes[stages, i]
        t = target if clipped else t + h
        if _max_abs(theta) > blow_up:
            return states, saved, STATUS_BLOW_UP, n_rhs, n_steps, n_rejected, t, theta
        if clipped:
            for i in range(n):
                states[saved, i] = theta[i]
            saved += 1
    return states, saved, STATUS_OK, n_rhs, n_steps, n_rejected, t, theta


# --- Gauss–Legendre ----------------------------------------------------------------------------------

@njit(cache=True)
def _gauss_stages(theta, h, problem, sign, buffers, gauss_a, stage_z, stage_f, stage_state, previous):
    """Solve Z_i = h Σ_j a_ij F(θ + Z_j) by fixed-point iteration to round-off.

    Returns (outcome, iterations): outcome 1 converged, 0 diverged or stalled above round-off (the caller then
    halves the step), −1 the field was not finite. Converged means: the increment is below one ulp of θ, or it
    stopped shrinking once already below 1e-13·|θ| (the round-off floor).
    """
    n = theta.shape[0]
    size = max(_max_abs(theta), 1e-300)
    last_change = np.inf
    for iteration in range(1, _GAUSS_MAX_ITERATIONS + 1):
        for s in range(2):
            for i in range(n):
                stage_state[i] = theta[i] + stage_z[s, i]
            if not _flow_field(stage_state, problem, sign, buffers, stage_f[s]):
                return -1, iteration
        change = 0.0
        for s in range(2):
            for i in range(n):
                previous[i] = stage_z[s, i]
                stage_z[s, i] = h * (gauss_a[s, 0] * stage_f[0, i] + gauss_a[s, 1] * stage_f[1, i])
                change = max(change, abs(stage_z[s, i] - previous[i]))
        if not math.isfinite(change):
            return -1, iteration
        if change <= 2.3e-16 * size:
            return 1, iteration
        if change >= last_change:
            if change <= 1e-13 * size:
                return 1, iteration
            if iteration > 3:
                return 0, iteration
        last_change = change
    return 0, _GAUSS_MAX_ITERATIONS


@njit(cache=True)
def gauss_kernel(theta0, problem, sign, save_times, nominal_step, max_steps, blow_up):
    """Integrate θ' = −s∇L(θ) with the 2-stage Gauss–Legendre method, steps of ``nominal_step``.

    A step whose stage equations cannot be solved is retried at half the size (counted as rejected), and the
    step grows back towards the nominal size after easy steps; the state is updated with compensated
    summation so that round-off does not accumulate into the invariants. Same returns as ``explicit_rk_kernel``.
    """
    n = theta0.shape[0]
    n_save = save_times.shape[0]
    t_final = save_times[n_save - 1]
    states = np.empty((n_save, n))
    buffers = _buffers(problem, n)
    theta = theta0.copy()
    compensation = np.zeros(n)
    stage_z = np.empty((2, n))
    stage_f = np.empty((2, n))
    stage_state = np.empty(n)
    previous = np.empty(n)
    velocity = np.empty(n)
    gauss_a = GAUSS_A.copy()
    node_0 = GAUSS_C[0]
    node_1 = GAUSS_C[1]
    for i in range(n):
        states[0, i] = theta[i]
    saved = 1
    t = 0.0
    n_rhs = 0
    n_steps = 0
    n_rejected = 0
    h_current = nominal_step
    while saved < n_save:
        target = save_times[saved]
        if n_steps + n_rejected >= max_steps:
            return states, saved, STATUS_MAX_STEPS, n_rhs, n_steps, n_rejected, t, theta
        if h_current < _min_step(t, t_final) or h_current < nominal_step * 0.5**_GAUSS_HALVINGS:
            return states, saved, STATUS_STEP_UNDERFLOW, n_rhs, n_steps, n_rejected, t, theta
        h = h_current
        clipped = False
        if t + h >= target * (1.0 - 1e-12):  # land exactly on the save time; avoid a sliver of a last step
            h = target - t
            clipped = True
        # initial guess from the field at θ (an explicit Euler predictor for each node)
        n_rhs += 1
        if not _flow_field(theta, problem, sign, buffers, velocity):
            return states, saved, STATUS_NONFINITE, n_rhs, n_steps, n_rejected, t, theta
        for i in range(n):
            stage_z[0, i] = node_0 * h * velocity[i]
            stage_z[1, i] = node_1 * h * velocity[i]
        outcome, iterations = _gauss_stages(theta, h, problem, sign, buffers, gauss_a, stage_z, stage_f,
                                            stage_state, previous)
        n_rhs += 2 * iterations
        if outcome != 1:  # not solved (or a stage state where the field overflows): retry with half the step
            n_rejected += 1
            h_current = 0.5 * h
            continue
        # θ_new = θ + h Σ b_i F(θ + Z_i), summed with compensation (Kahan)
        for i in range(n):
            increment = h * (GAUSS_B[0] * stage_f[0, i] + GAUSS_B[1] * stage_f[1, i]) - compensation[i]
            updated = theta[i] + increment
            compensation[i] = (updated - theta[i]) - increment
            theta[i] = updated
        n_steps += 1
        t = target if clipped else t + h
        if iterations <= 8 and h_current < nominal_step:
            h_current = min(2.0 * h_current, nominal_step)
        if _max_abs(theta) > blow_up:
            return states, saved, STATUS_BLOW_UP, n_rhs, n_steps, n_rejected, t, theta
        if clipped:
            for i in range(n):
                states[saved, i] = theta[i]
            saved += 1
    return states, saved, STATUS_OK, n_rhs, n_steps, n_rejected, t, theta


# --- warm-up -----------------------------------------------------------------------------------------

def tiny_problem():
    """A 2-parameter problem (Φ = θ₀θ₁, one feature, one output) in the exact kernel types."""
    out = np.zeros(1, dtype=np.int64)
    coef = np.ones(1)
    variables = np.array([[0, 1]], dtype=np.int64)
    features = np.ones((1, 1))
    targets = np.ones((1, 1))
    moment_m = np.ones((1, 1))
    moment_c = np.ones((1, 1))
    return out, coef, variables, features, targets, moment_m, moment_c


def interleaved_order(out: np.ndarray) -> np.ndarray:
    """A permutation of the monomials after which consecutive monomials feed different entries of Φ.

    The sum Φ_p += term then never waits on the previous store to the same entry (a store-to-load chain that
    halves the speed of the Φ loop); the sum is the same up to round-off.
    """
    out = np.asarray(out, dtype=np.int64)
    by_entry = np.argsort(out, kind="stable")
    sorted_out = out[by_entry]
    starts = np.searchsorted(sorted_out, sorted_out, side="left")
    occurrence = np.empty(out.shape[0], dtype=np.int64)
    occurrence[by_entry] = np.arange(out.shape[0]) - starts
    return np.lexsort((out, occurrence))


def make_problem(out, coef, variables, features, targets, moment_m, moment_c, n_outputs, n_features, loss_id,
                 use_moments, structure=STRUCTURE_SPARSE, hidden=0):
    """The kernel's problem tuple, every array a fresh C-contiguous writable copy of the exact dtype."""
    order = interleaved_order(out)
    out, coef, variables = np.asarray(out)[order], np.asarray(coef)[order], np.asarray(variables)[order]
    def floats(array, ndim):
        return np.array(array, dtype=np.float64, order="C", copy=True, ndmin=ndim)

    def integers(array):
        return np.array(array, dtype=np.int64, order="C", copy=True)

    sizes = np.array([n_outputs, n_features, loss_id, 1 if use_moments else 0, structure, hidden], dtype=np.int64)
    return (integers(out), floats(coef, 1), integers(variables), floats(features, 2), floats(targets, 2),
            floats(moment_m, 2), floats(moment_c, 2), sizes)


def warm_up() -> None:
    """Compile (or load from the cache) every integrator kernel on tiny inputs of the production types."""
    for use_moments, loss_id, structure in ((True, MSE_KERNEL_ID, STRUCTURE_SPARSE),
                                            (False, 2, STRUCTURE_TWO_LAYER_LINEAR)):
        problem = make_problem(*tiny_problem(), 1, 1, loss_id, use_moments, structure, 1)
        theta = np.array([0.5, 0.25])
        save_times = np.array([0.0, 0.01])
        gradient_kernel(theta, problem)
        rhs_loop_kernel(theta, problem, 1.0, 2)
        for tableau in EXPLICIT_TABLEAUX.values():
            explicit_rk_kernel(theta, problem, 1.0, save_times, tableau.a, tableau.b, tableau.c, tableau.e,
                               tableau.error_order, 1e-6, 1e-9, 0.005, 1000, 1e6)
        gauss_kernel(theta, problem, 1.0, save_times, 0.005, 1000, 1e6)
