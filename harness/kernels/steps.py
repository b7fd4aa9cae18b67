"""The pieces of one Runge–Kutta step that the time loop (``harness.kernels.integrators``) is made of.

Explicit steps follow SciPy's ``rk.py``: the last stage evaluates the field at the new state, reused as the
first stage of the next step (FSAL), with SciPy's error norms (RK45's RMS norm, DOP853's blend of two
estimates), initial step and DOP853's dense output. Implicit steps iterate Z_i = h Σ_j a_ij F(θ + Z_j) to a
fixed point until the increment stops shrinking at the level of machine precision, and sum the update with
compensation (Kahan), so that the 2-stage Gauss–Legendre collocation method keeps every quadratic invariant to
round-off (Cooper's condition). Everything writes into arrays the loop preallocated.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from harness.kernels.problem import field, flow_field
from harness.kernels.tableaux import NORM_DOP853

# SciPy's step-size controller constants (rk.py).
SAFETY = 0.9
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0
# Implicit steps: fixed-point iterations per attempt, halvings of the nominal step before giving up, and the
# number of iterations below which an accepted step lets the step grow back towards the nominal one.
IMPLICIT_MAX_ITERATIONS = 100
IMPLICIT_HALVINGS = 40
IMPLICIT_EASY_ITERATIONS = 8


# --- shared pieces -------------------------------------------------------------------------------------


@njit(cache=True)
def max_abs(vector):
    top = 0.0
    for i in range(vector.shape[0]):
        value = abs(vector[i])
        if not value <= top:  # also catches NaN
            top = value
    return top


@njit(cache=True)
def min_step(t, t_final):
    """Below this a step no longer changes t meaningfully (SciPy's 10 ulp rule, with a floor relative to T)."""
    return max(10.0 * abs(np.nextafter(t, np.inf) - t), 1e-14 * t_final)


@njit(cache=True)
def initial_step(theta, velocity, problem, sign, buffers, rtol, atol, t_final, error_order, trial, trial_velocity):
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
    flow_field(trial, problem, sign, buffers, trial_velocity)  # once per flow: the general field (same bits)
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
def stage_sum(base, h, weights, count, slopes, out):
    """out = base + Σ_{j < count} (h·weights[j]) k_j, skipping zero weights: every stage state and the step's update.

    The first term is added in the pass that copies ``base`` (one pass over the state fewer per stage; the same
    operations in the same order, so the same bits)."""
    first = h * weights[0] if count > 0 else 0.0
    if first != 0.0:
        for i in range(base.shape[0]):
            out[i] = base[i] + first * slopes[0, i]
    else:
        for i in range(base.shape[0]):
            out[i] = base[i]
    for j in range(1, count):
        weight = h * weights[j]
        if weight != 0.0:
            for i in range(base.shape[0]):
                out[i] += weight * slopes[j, i]


@njit(cache=True, inline="always")
def explicit_stages(theta, h, problem, sign, buffers, tableau_a, tableau_b, slopes, stage_state, trial):
    """One explicit step of size h: slopes[1..s−1] at the stages, ``trial`` = θ + h Σ b_j k_j and slopes[s] = F(trial).

    slopes[0] is F(θ) on entry (carried over). Returns (evaluations made, whether every slope is finite);
    it stops at the first non-finite slope.
    """
    stages = tableau_b.shape[0]
    evaluations = 0
    for s in range(1, stages):
        stage_sum(theta, h, tableau_a[s], s, slopes, stage_state)
        evaluations += 1
        if not field(stage_state, problem, sign, buffers, slopes[s]):
            return evaluations, False
    stage_sum(theta, h, tableau_b, stages, slopes, trial)
    evaluations += 1
    return evaluations, field(trial, problem, sign, buffers, slopes[stages])


@njit(cache=True, inline="always")
def embedded_error_norm(theta, trial, h, tableau_e, tableau_e3, norm, slopes, rtol, atol, estimate, estimate3):
    """The embedded error's norm over atol + rtol·max(|θ|, |θ_new|): SciPy's RMS of h Σ e_j k_j (NORM_RMS), or
    DOP853's |h|·‖e5‖²/√((‖e5‖² + 0.01‖e3‖²)·n) of the two estimates Σ e_j k_j, Σ e3_j k_j (NORM_DOP853)."""
    n = theta.shape[0]
    dop853 = norm == NORM_DOP853
    factor = 1.0 if dop853 else h
    for i in range(n):
        estimate[i] = 0.0
        estimate3[i] = 0.0
    for j in range(tableau_e.shape[0]):
        weight = factor * tableau_e[j]
        weight3 = tableau_e3[j] if dop853 else 0.0
        if weight != 0.0 and weight3 != 0.0:  # both estimates in one pass over k_j (each sum in its own order)
            for i in range(n):
                estimate[i] += weight * slopes[j, i]
                estimate3[i] += weight3 * slopes[j, i]
        elif weight != 0.0:
            for i in range(n):
                estimate[i] += weight * slopes[j, i]
        elif weight3 != 0.0:
            for i in range(n):
                estimate3[i] += weight3 * slopes[j, i]
    total = 0.0
    total3 = 0.0
    for i in range(n):
        scale = atol + max(abs(theta[i]), abs(trial[i])) * rtol
        total += (estimate[i] / scale) ** 2
        total3 += (estimate3[i] / scale) ** 2
    if not dop853:
        return math.sqrt(total / n)
    if total == 0.0 and total3 == 0.0:
        return 0.0
    return abs(h) * total / math.sqrt((total + 0.01 * total3) * n)


@njit(cache=True)
def dense_interpolant(theta, trial, h, problem, sign, buffers, full_a, dense, slopes, stage_state, interpolant):
    """DOP853's dense output over the accepted step θ → trial: the extra stages (rows s+1.. of the extended A,
    into slopes), then the interpolant's rows F (SciPy's ``_dense_output_impl``). Returns (evaluations, finite)."""
    n = theta.shape[0]
    first_extra = full_a.shape[0] - dense.shape[0] + 1  # stages + 1
    stages = first_extra - 1
    evaluations = 0
    for s in range(first_extra, full_a.shape[0]):
        stage_sum(theta, h, full_a[s], s, slopes, stage_state)
        evaluations += 1
        if not flow_field(stage_state, problem, sign, buffers, slopes[s]):
            return evaluations, False
    for i in range(n):
        change = trial[i] - theta[i]
        interpolant[0, i] = change
        interpolant[1, i] = h * slopes[0, i] - change
        interpolant[2, i] = 2.0 * change - h * (slopes[stages, i] + slopes[0, i])
    for row in range(dense.shape[0]):
        for i in range(n):
            interpolant[3 + row, i] = 0.0
        for j in range(dense.shape[1]):
            weight = h * dense[row, j]
            if weight != 0.0:
                for i in range(n):
                    interpolant[3 + row, i] += weight * slopes[j, i]
    return evaluations, True


@njit(cache=True)
def interpolate(theta, interpolant, x, state):
    """The dense output at the fraction x of the step: Horner in x and 1 − x over F reversed (SciPy's)."""
    rows = interpolant.shape[0]
    for i in range(theta.shape[0]):
        value = 0.0
        for k in range(rows):
            value += interpolant[rows - 1 - k, i]
            value *= x if k % 2 == 0 else 1.0 - x
        state[i] = value + theta[i]


# --- implicit steps -----------------------------------------------------------------------------------


@njit(cache=True)
def implicit_stages(
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
    size = max(max_abs(theta), 1e-300)
    last_change = np.inf
    for iteration in range(1, IMPLICIT_MAX_ITERATIONS + 1):
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
    return 0, IMPLICIT_MAX_ITERATIONS


@njit(cache=True, inline="always")
def compensated_update(theta, h, tableau_b, slopes, compensation):
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
