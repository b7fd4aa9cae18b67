"""The one Numba time loop of flowlaws: every Runge–Kutta tableau integrates θ' = −s·∇L(θ) through it (DESIGN.md §2.3).

As in diffrax's single integration loop, what varies between methods is data handed to the loop, not code: a
Butcher tableau (``harness.kernels.tableaux``) picks the step (explicit stages, or the implicit stage
equations solved to round-off) and the step-size control (SciPy's controller on the embedded error estimate,
or fixed steps; an implicit step whose stage equations cannot be solved is halved). The loop owns what every
method shares: landing exactly on the save times, the step budget, the blow-up bound, the round-off floor of
the step, and the statuses (``harness.kernels.status``) by which a run never hangs and never returns NaN
silently. The right-hand side is ``harness.kernels.problem.flow_field``; every argument is a flat float64/int64
array or a scalar, so the loop is compiled once for every method, network, loss and data set.

Explicit steps follow SciPy's ``rk.py``: the last stage evaluates the field at the new state, reused as the
first stage of the next step (FSAL), with SciPy's error norm, controller and initial step. Implicit steps
iterate Z_i = h Σ_j a_ij F(θ + Z_j) to a fixed point until the increment stops shrinking at the level of
machine precision, and sum the update with compensation (Kahan), so that the 2-stage Gauss–Legendre
collocation method keeps every quadratic invariant to round-off (Cooper's condition).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from harness.kernels.problem import (
    MSE_KERNEL_ID,
    STRUCTURE_SPARSE,
    STRUCTURE_TWO_LAYER_LINEAR,
    flow_field,
    gradient_kernel,
    make_problem,
    rhs_loop_kernel,
    tiny_problem,
    work_buffers,
)
from harness.kernels.status import (
    STATUS_BLOW_UP,
    STATUS_MAX_STEPS,
    STATUS_NONFINITE,
    STATUS_OK,
    STATUS_STEP_UNDERFLOW,
)

# SciPy's step-size controller constants (rk.py).
_SAFETY = 0.9
_MIN_FACTOR = 0.2
_MAX_FACTOR = 10.0
# Implicit steps: fixed-point iterations per attempt, halvings of the nominal step before giving up, and the
# number of iterations below which an accepted step lets the step grow back towards the nominal one.
_IMPLICIT_MAX_ITERATIONS = 100
_IMPLICIT_HALVINGS = 40
_IMPLICIT_EASY_ITERATIONS = 8


# --- shared pieces -------------------------------------------------------------------------------------


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
    flow_field(trial, problem, sign, buffers, trial_velocity)
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


# --- explicit steps -----------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _explicit_stages(theta, h, problem, sign, buffers, tableau_a, tableau_b, slopes, stage_state, trial):
    """One explicit step of size h: slopes[1..s−1] at the stages, ``trial`` = θ + h Σ b_j k_j and slopes[s] = F(trial).

    slopes[0] is F(θ) on entry (carried over). Returns (evaluations made, whether every slope is finite);
    it stops at the first non-finite slope.
    """
    n = theta.shape[0]
    stages = tableau_b.shape[0]
    evaluations = 0
    for s in range(1, stages):
        for i in range(n):
            stage_state[i] = theta[i]
        for j in range(s):
            weight = h * tableau_a[s, j]
            if weight != 0.0:
                for i in range(n):
                    stage_state[i] += weight * slopes[j, i]
        evaluations += 1
        if not flow_field(stage_state, problem, sign, buffers, slopes[s]):
            return evaluations, False
    for i in range(n):
        trial[i] = theta[i]
    for j in range(stages):
        weight = h * tableau_b[j]
        if weight != 0.0:
            for i in range(n):
                trial[i] += weight * slopes[j, i]
    evaluations += 1
    return evaluations, flow_field(trial, problem, sign, buffers, slopes[stages])


@njit(cache=True, inline="always")
def _error_norm(theta, trial, h, tableau_e, slopes, rtol, atol, error_estimate):
    """SciPy's RMS norm of the embedded error h Σ e_j k_j over atol + rtol·max(|θ|, |θ_new|)."""
    n = theta.shape[0]
    for i in range(n):
        error_estimate[i] = 0.0
    for j in range(tableau_e.shape[0]):
        weight = h * tableau_e[j]
        if weight != 0.0:
            for i in range(n):
                error_estimate[i] += weight * slopes[j, i]
    total = 0.0
    for i in range(n):
        scale = atol + max(abs(theta[i]), abs(trial[i])) * rtol
        total += (error_estimate[i] / scale) ** 2
    return math.sqrt(total / n)


# --- implicit steps -----------------------------------------------------------------------------------


@njit(cache=True)
def _implicit_stages(
    theta, h, problem, sign, buffers, tableau_a, tableau_c, velocity, stage_z, slopes, stage_state, previous
):
    """Solve Z_i = h Σ_j a_ij F(θ + Z_j) by fixed-point iteration to round-off, from Z_i = c_i h F(θ).

    On return slopes[i] = F(θ + Z_i). Returns (outcome, iterations): outcome 1 converged, 0 diverged or stalled
    above round-off (the caller then halves the step), −1 the field was not finite. Converged means: the
    increment is below one ulp of θ, or it stopped shrinking once already below 1e-13·|θ| (the round-off floor).
    """
    n = theta.shape[0]
    stages = tableau_c.shape[0]
    for s in range(stages):
        for i in range(n):
            stage_z[s, i] = tableau_c[s] * h * velocity[i]
    size = max(_max_abs(theta), 1e-300)
    last_change = np.inf
    for iteration in range(1, _IMPLICIT_MAX_ITERATIONS + 1):
        for s in range(stages):
            for i in range(n):
                stage_state[i] = theta[i] + stage_z[s, i]
            if not flow_field(stage_state, problem, sign, buffers, slopes[s]):
                return -1, iteration
        change = 0.0
        for s in range(stages):
            for i in range(n):
                previous[i] = stage_z[s, i]
                total = tableau_a[s, 0] * slopes[0, i]
                for j in range(1, stages):
                    total += tableau_a[s, j] * slopes[j, i]
                stage_z[s, i] = h * total
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
    return 0, _IMPLICIT_MAX_ITERATIONS


@njit(cache=True, inline="always")
def _compensated_update(theta, h, tableau_b, slopes, compensation):
    """θ ← θ + h Σ b_i F(θ + Z_i), summed with compensation (Kahan) so round-off does not drift the invariants."""
    stages = tableau_b.shape[0]
    for i in range(theta.shape[0]):
        total = tableau_b[0] * slopes[0, i]
        for j in range(1, stages):
            total += tableau_b[j] * slopes[j, i]
        increment = h * total - compensation[i]
        updated = theta[i] + increment
        compensation[i] = (updated - theta[i]) - increment
        theta[i] = updated


# --- the time loop ------------------------------------------------------------------------------------


@njit(cache=True)
def integrate_kernel(
    theta0,
    problem,
    sign,
    save_times,
    implicit,
    tableau_a,
    tableau_b,
    tableau_c,
    tableau_e,
    error_order,
    rtol,
    atol,
    nominal_step,
    max_steps,
    blow_up,
):
    """Integrate θ' = −s∇L(θ) from τ = 0 to save_times[-1] with the tableau (A, B, C, E).

    ``implicit`` (0 or 1) says whether A is solved as implicit stage equations. ``error_order > 0``: adaptive
    (explicit tableaux only), SciPy's controller on the RMS norm of the embedded error over
    atol + rtol·max(|θ|, |θ_new|); otherwise steps of ``nominal_step``, halved (implicit) while their stage
    equations cannot be solved and grown back after easy steps. Steps are clipped to land on the save times.

    Returns (states at the save times reached, number reached, status code, evaluations, accepted steps,
    rejected steps, τ reached, final state).
    """
    n = theta0.shape[0]
    stages = tableau_b.shape[0]
    adaptive = error_order > 0
    n_save = save_times.shape[0]
    t_final = save_times[n_save - 1]
    states = np.empty((n_save, n))
    buffers = work_buffers(problem, n)
    slopes = np.empty((stages + 1, n))
    theta = theta0.copy()
    trial = np.empty(n)
    stage_state = np.empty(n)
    vector = np.empty(n)  # the explicit error estimate, or the previous iterate of an implicit stage
    velocity = np.empty(n)
    stage_z = np.empty((stages, n))
    compensation = np.zeros(n)
    for i in range(n):
        states[0, i] = theta[i]
    saved = 1
    t = 0.0
    n_rhs = 0
    n_steps = 0
    n_rejected = 0
    if implicit == 0:
        if not flow_field(theta, problem, sign, buffers, slopes[0]):
            return states, saved, STATUS_NONFINITE, 1, 0, 0, t, theta
        n_rhs = 1
    if adaptive:
        h_abs = _initial_step(
            theta, slopes[0], problem, sign, buffers, rtol, atol, t_final, error_order, trial, slopes[1]
        )
        n_rhs += 1
    else:
        h_abs = nominal_step
    smallest_step = nominal_step * 0.5**_IMPLICIT_HALVINGS if implicit else 0.0
    error_exponent = -1.0 / (error_order + 1) if adaptive else 0.0
    iterations = 0
    while saved < n_save:
        target = save_times[saved]
        rejected_before = False
        # attempt steps until one is accepted
        while True:
            if n_steps + n_rejected >= max_steps:
                return states, saved, STATUS_MAX_STEPS, n_rhs, n_steps, n_rejected, t, theta
            if h_abs < _min_step(t, t_final) or h_abs < smallest_step:
                return states, saved, STATUS_STEP_UNDERFLOW, n_rhs, n_steps, n_rejected, t, theta
            h = h_abs
            clipped = False
            if t + h >= target * (1.0 - 1e-12):  # land exactly on the save time, without a sliver step
                h = target - t
                clipped = True
            if implicit:
                n_rhs += 1  # the field at θ, for the initial guess of the stages
                if not flow_field(theta, problem, sign, buffers, velocity):
                    return states, saved, STATUS_NONFINITE, n_rhs, n_steps, n_rejected, t, theta
                outcome, iterations = _implicit_stages(
                    theta,
                    h,
                    problem,
                    sign,
                    buffers,
                    tableau_a,
                    tableau_c,
                    velocity,
                    stage_z,
                    slopes,
                    stage_state,
                    vector,
                )
                n_rhs += stages * iterations
                if outcome == 1:
                    break
                # not solved (or a stage state where the field overflows): retry with half the step
                n_rejected += 1
                h_abs = 0.5 * h
                continue
            evaluations, finite = _explicit_stages(
                theta, h, problem, sign, buffers, tableau_a, tableau_b, slopes, stage_state, trial
            )
            n_rhs += evaluations
            if not adaptive:
                if not finite:
                    return states, saved, STATUS_NONFINITE, n_rhs, n_steps, n_rejected, t, theta
                break
            error_norm = _error_norm(theta, trial, h, tableau_e, slopes, rtol, atol, vector) if finite else np.inf
            if error_norm < 1.0:
                if error_norm == 0.0:
                    factor = _MAX_FACTOR
                else:
                    factor = min(_MAX_FACTOR, _SAFETY * error_norm**error_exponent)
                if rejected_before:
                    factor = min(1.0, factor)
                # a step shortened only to land on a save time should not shrink the next one
                h_abs = max(h * factor, h_abs) if (clipped and factor >= 1.0) else h * factor
                break
            if not math.isfinite(error_norm):
                h_abs = h * _MIN_FACTOR
            else:
                h_abs = h * max(_MIN_FACTOR, _SAFETY * error_norm**error_exponent)
            rejected_before = True
            n_rejected += 1
        # accept
        n_steps += 1
        if implicit:
            _compensated_update(theta, h, tableau_b, slopes, compensation)
        else:
            for i in range(n):
                theta[i] = trial[i]
                slopes[0, i] = slopes[stages, i]
        t = target if clipped else t + h
        if implicit and iterations <= _IMPLICIT_EASY_ITERATIONS and h_abs < nominal_step:
            h_abs = min(2.0 * h_abs, nominal_step)
        if _max_abs(theta) > blow_up:
            return states, saved, STATUS_BLOW_UP, n_rhs, n_steps, n_rejected, t, theta
        if clipped:
            for i in range(n):
                states[saved, i] = theta[i]
            saved += 1
    return states, saved, STATUS_OK, n_rhs, n_steps, n_rejected, t, theta


def run_tableau(theta0, problem, sign, save_times, tableau, rtol, atol, nominal_step, max_steps, blow_up):
    """``integrate_kernel`` with the arrays of ``tableau`` (a ``harness.kernels.tableaux.ButcherTableau``)."""
    return integrate_kernel(
        theta0,
        problem,
        float(sign),
        save_times,
        0 if tableau.explicit else 1,
        tableau.a,
        tableau.b,
        tableau.c,
        tableau.e,
        int(tableau.error_order),
        float(rtol),
        float(atol),
        float(nominal_step),
        int(max_steps),
        float(blow_up),
    )


# --- warm-up -----------------------------------------------------------------------------------------


def warm_up() -> None:
    """Compile (or load from the cache) the right-hand side and the time loop on tiny inputs of the production
    types: one explicit and one implicit tableau go through the same compiled loop."""
    from harness.kernels.tableaux import DORMAND_PRINCE, GAUSS_LEGENDRE_2

    for use_moments, loss_id, structure in (
        (True, MSE_KERNEL_ID, STRUCTURE_SPARSE),
        (False, 2, STRUCTURE_TWO_LAYER_LINEAR),
    ):
        problem = make_problem(*tiny_problem(), 1, 1, loss_id, use_moments, structure, 1)
        theta = np.array([0.5, 0.25])
        save_times = np.array([0.0, 0.01])
        gradient_kernel(theta, problem)
        rhs_loop_kernel(theta, problem, 1.0, 2)
        for tableau in (DORMAND_PRINCE, GAUSS_LEGENDRE_2):
            run_tableau(theta, problem, 1.0, save_times, tableau, 1e-6, 1e-9, 0.005, 1000, 1e6)
