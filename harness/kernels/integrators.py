"""The one Numba time loop of flowlaws: every Runge–Kutta tableau integrates θ' = −s·∇L(θ) through it (DESIGN.md §2.3).

As in diffrax's single integration loop, what varies between methods is data handed to the loop, not code: a
Butcher tableau (``harness.kernels.tableaux``) picks the step (explicit stages, or the implicit stage
equations solved to round-off) and the step-size control (SciPy's controller on the embedded error estimate,
or fixed steps; an implicit step whose stage equations cannot be solved is halved). The loop owns what every
method shares: landing on (or interpolating) the save times, the step budget, the blow-up bound, the round-off floor of
the step, and the statuses (``harness.kernels.status``) by which a run never hangs and never returns NaN
silently. The right-hand side is ``harness.kernels.problem.field`` in the explicit steps (the tiny two-layer
moment field where it applies) and ``flow_field`` at the once-per-flow and implicit call sites (the same bits, and
the tiny field is linked into the loop only twice: cold compile time); every argument is a flat float64/int64
array or a scalar, so the loop is compiled once for every method, network, loss and data set.

The loop also owns the way into it: the rows of a B × D array of initial states one after another in one
compiled call (``integrate_many_kernel``, through ``_run``); one flow is a batch of one (``integrate_kernel``).
A tableau with a dense output (DOP853) lands steps only on the final time and interpolates the other save
times inside the steps. The step pieces (stages, error norms, dense output, implicit solves) are
``harness.kernels.steps``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from harness.kernels.families import UNCOUNTED
from harness.kernels.problem import (
    MSE_KERNEL_ID,
    flow_field,
    gradient_kernel,
    make_problem,
    rhs_loop_kernel,
    tiny_linear_dense,
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
from harness.kernels.steps import (
    IMPLICIT_EASY_ITERATIONS,
    IMPLICIT_HALVINGS,
    MAX_FACTOR,
    MIN_FACTOR,
    SAFETY,
    compensated_update,
    dense_interpolant,
    embedded_error_norm,
    explicit_stages,
    implicit_stages,
    initial_step,
    interpolate,
    max_abs,
    min_step,
)

# --- the time loop ------------------------------------------------------------------------------------

# Entries of the float settings handed to the loop.
SETTING_RTOL, SETTING_ATOL, SETTING_STEP, SETTING_BLOW_UP = 0, 1, 2, 3


@njit(cache=True)
def _workspace(problem, n, tableau):
    """The loop's preallocated arrays for states of length n (reused across the flows of a batch)."""
    full_a, tableau_b = tableau[0], tableau[1]
    stages = tableau_b.shape[0]
    slopes = np.empty((max(stages + 1, full_a.shape[0]), n))
    interpolant = np.empty((tableau[5].shape[0] + 3, n))
    vectors = np.empty((5, n))  # trial, stage state, error estimate (or previous iterate), E3 estimate, velocity
    return work_buffers(problem, n), slopes, interpolant, vectors, np.empty((stages, n)), np.empty(n)


@njit(cache=True, **UNCOUNTED)
def _run(theta, problem, sign, save_times, tableau, settings, max_steps, states, workspace):
    """Integrate θ' = −s∇L(θ) in place from τ = 0 to save_times[-1] with ``tableau`` (``ButcherTableau.kernel``).

    Implicit tableaux solve their stage equations; ``error_order > 0``: adaptive (explicit only), SciPy's
    controller on the tableau's error norm over atol + rtol·max(|θ|, |θ_new|); otherwise steps of the nominal
    step, halved (implicit) while their stage equations cannot be solved and grown back after easy steps.
    Steps land on the save times, or, with a dense output, only on the last one (the others are interpolated).
    Writes the states at the save times reached into ``states``; returns (number reached, status code,
    evaluations, accepted steps, rejected steps, τ reached).

    Compiled without reference counting (``UNCOUNTED``): it allocates nothing (``workspace`` is the caller's),
    and every row view it takes (``slopes[s]``, ``states[saved]``) would otherwise cost an atomic increment and
    decrement per stage.
    """
    full_a, tableau_b, tableau_c, tableau_e, tableau_e3, dense, codes = tableau
    implicit, error_order, norm = codes[0], codes[1], codes[2]
    rtol, atol = settings[SETTING_RTOL], settings[SETTING_ATOL]
    nominal_step, blow_up = settings[SETTING_STEP], settings[SETTING_BLOW_UP]
    buffers, slopes, interpolant, vectors, stage_z, compensation = workspace
    trial, stage_state, vector, vector3, velocity = vectors[0], vectors[1], vectors[2], vectors[3], vectors[4]
    n = theta.shape[0]
    stages = tableau_b.shape[0]
    adaptive = error_order > 0
    interpolated = dense.shape[0] > 0
    n_save = save_times.shape[0]
    t_final = save_times[n_save - 1]
    for i in range(n):
        states[0, i] = theta[i]
        compensation[i] = 0.0
    saved = 1
    t = 0.0
    n_rhs = 0
    n_steps = 0
    n_rejected = 0
    if implicit == 0:
        if not flow_field(theta, problem, sign, buffers, slopes[0]):
            return saved, STATUS_NONFINITE, 1, 0, 0, t
        n_rhs = 1
    if adaptive:
        h_abs = initial_step(
            theta, slopes[0], problem, sign, buffers, rtol, atol, t_final, error_order, trial, slopes[1]
        )
        n_rhs += 1
    else:
        h_abs = nominal_step
    smallest_step = nominal_step * 0.5**IMPLICIT_HALVINGS if implicit else 0.0
    error_exponent = -1.0 / (error_order + 1) if adaptive else 0.0
    iterations = 0
    while saved < n_save:
        target = t_final if interpolated else save_times[saved]
        rejected_before = False
        # attempt steps until one is accepted
        while True:
            if n_steps + n_rejected >= max_steps:
                return saved, STATUS_MAX_STEPS, n_rhs, n_steps, n_rejected, t
            if h_abs < min_step(t, t_final) or h_abs < smallest_step:
                return saved, STATUS_STEP_UNDERFLOW, n_rhs, n_steps, n_rejected, t
            h = h_abs
            clipped = False
            if t + h >= target * (1.0 - 1e-12):  # land exactly on the save time, without a sliver step
                h = target - t
                clipped = True
            if implicit:
                n_rhs += 1  # the field at θ, for the initial guess of the stages
                if not flow_field(theta, problem, sign, buffers, velocity):
                    return saved, STATUS_NONFINITE, n_rhs, n_steps, n_rejected, t
                outcome, iterations = implicit_stages(
                    theta, h, problem, sign, buffers, full_a, tableau_c, velocity, stage_z, slopes, stage_state, vector
                )
                n_rhs += stages * iterations
                if outcome == 1:
                    break
                # not solved (or a stage state where the field overflows): retry with half the step
                n_rejected += 1
                h_abs = 0.5 * h
                continue
            evaluations, finite = explicit_stages(
                theta, h, problem, sign, buffers, full_a, tableau_b, slopes, stage_state, trial
            )
            n_rhs += evaluations
            if not adaptive:
                if not finite:
                    return saved, STATUS_NONFINITE, n_rhs, n_steps, n_rejected, t
                break
            error_norm = np.inf
            if finite:
                error_norm = embedded_error_norm(
                    theta, trial, h, tableau_e, tableau_e3, norm, slopes, rtol, atol, vector, vector3
                )
            if error_norm < 1.0:
                if error_norm == 0.0:
                    factor = MAX_FACTOR
                else:
                    factor = min(MAX_FACTOR, SAFETY * error_norm**error_exponent)
                if rejected_before:
                    factor = min(1.0, factor)
                # a step shortened only to land on a save time should not shrink the next one
                h_abs = max(h * factor, h_abs) if (clipped and factor >= 1.0) else h * factor
                break
            if not math.isfinite(error_norm):
                h_abs = h * MIN_FACTOR
            else:
                h_abs = h * max(MIN_FACTOR, SAFETY * error_norm**error_exponent)
            rejected_before = True
            n_rejected += 1
        # accept
        n_steps += 1
        t_new = target if clipped else t + h
        if interpolated and saved < n_save - 1 and save_times[saved] < t_new:
            # save times inside the step (the last one is landed on): the dense output, computed once per step
            evaluations, finite = dense_interpolant(
                theta, trial, h, problem, sign, buffers, full_a, dense, slopes, stage_state, interpolant
            )
            n_rhs += evaluations
            if not finite:
                return saved, STATUS_NONFINITE, n_rhs, n_steps, n_rejected, t
            while saved < n_save - 1 and save_times[saved] < t_new:
                interpolate(theta, interpolant, (save_times[saved] - t) / h, states[saved])
                saved += 1
        if implicit:
            compensated_update(theta, h, tableau_b, slopes, compensation)
        else:
            for i in range(n):
                theta[i] = trial[i]
                slopes[0, i] = slopes[stages, i]
        t = t_new
        if implicit and iterations <= IMPLICIT_EASY_ITERATIONS and h_abs < nominal_step:
            h_abs = min(2.0 * h_abs, nominal_step)
        if max_abs(theta) > blow_up:
            return saved, STATUS_BLOW_UP, n_rhs, n_steps, n_rejected, t
        if clipped:
            for i in range(n):
                states[saved, i] = theta[i]
            saved += 1
    return saved, STATUS_OK, n_rhs, n_steps, n_rejected, t


@njit(cache=True)
def _integrate_many_into(thetas, problem, sign, save_times, tableau, settings, max_steps, outputs):
    """The flows from each row of ``thetas`` (B × D) through ``_run``, one after another, sharing one workspace,
    written into ``outputs`` = (states, final states, statuses, counts, τ reached) (``integrate_many_kernel``)."""
    states, finals, statuses, counts, reached = outputs
    workspace = _workspace(problem, thetas.shape[1], tableau)
    for flow in range(thetas.shape[0]):
        finals[flow] = thetas[flow]
        saved, status, n_rhs, n_steps, n_rejected, t = _run(
            finals[flow], problem, sign, save_times, tableau, settings, max_steps, states[flow], workspace
        )
        statuses[flow] = status
        counts[flow, 0], counts[flow, 1], counts[flow, 2], counts[flow, 3] = saved, n_rhs, n_steps, n_rejected
        reached[flow] = t


def integrate_many_kernel(thetas, problem, sign, save_times, tableau, settings, max_steps):
    """The flows from each row of ``thetas`` (B × D) in one compiled call (``_integrate_many_into``).

    Returns (states (B × save times × D), final states (B × D), statuses (B), counts (B × 4: save times reached,
    evaluations, accepted steps, rejected steps), τ reached (B)). The arrays are made here, in NumPy, and
    filled by the compiled loop: an array handed back by Numba costs about 0.9 µs of boxing, one handed in
    0.1 µs of unboxing, which matters for a single tiny flow (≈ 30 µs in all).
    """
    flows, n = thetas.shape
    outputs = (
        np.empty((flows, save_times.shape[0], n)),
        np.empty((flows, n)),
        np.empty(flows, dtype=np.int64),
        np.empty((flows, 4), dtype=np.int64),
        np.empty(flows),
    )
    _integrate_many_into(thetas, problem, sign, save_times, tableau, settings, max_steps, outputs)
    return outputs


def integrate_kernel(theta0, problem, sign, save_times, tableau, settings, max_steps):
    """One flow as a batch of one: (states at the save times reached, number reached, status code, evaluations,
    accepted steps, rejected steps, τ reached, final state).

    Not a second compiled driver: each one would link and optimize its own copy of ``_run`` (tens of seconds of
    cold compilation), so there is one, ``_integrate_many_into``, and this is plain Python around it.
    """
    states, finals, statuses, counts, reached = integrate_many_kernel(
        theta0.reshape(1, -1), problem, sign, save_times, tableau, settings, max_steps
    )
    saved, n_rhs, n_steps, n_rejected = counts[0]
    return states[0], saved, statuses[0], n_rhs, n_steps, n_rejected, reached[0], finals[0]


def kernel_settings(rtol, atol, nominal_step, blow_up) -> np.ndarray:
    """The float settings of a run in the loop's layout (SETTING_*)."""
    return np.array([rtol, atol, nominal_step, blow_up], dtype=np.float64)


def run_tableau(theta0, problem, sign, save_times, tableau, rtol, atol, nominal_step, max_steps, blow_up):
    """``integrate_kernel`` with the arrays of ``tableau`` (a ``harness.kernels.tableaux.ButcherTableau``)."""
    settings = kernel_settings(rtol, atol, nominal_step, blow_up)
    return integrate_kernel(theta0, problem, float(sign), save_times, tableau.kernel, settings, int(max_steps))


# --- warm-up -----------------------------------------------------------------------------------------


def warm_up() -> None:
    """Compile (or load from the cache) the right-hand side and the time loop on tiny inputs of the production
    types: one explicit and one implicit tableau go through the same compiled loop."""
    from harness.kernels.tableaux import DOP853, DORMAND_PRINCE, GAUSS_LEGENDRE_2

    # the sparse path with moments, a dense row loss, and the two-layer tiny moment field (``problem.field``)
    cases = ((True, MSE_KERNEL_ID, None), (False, 2, tiny_linear_dense()), (True, MSE_KERNEL_ID, tiny_linear_dense()))
    for use_moments, loss_id, dense in cases:
        problem = make_problem(*tiny_problem(), 1, 1, loss_id, use_moments, dense)
        theta = np.array([0.5, 0.25])
        save_times = np.array([0.0, 0.01])
        gradient_kernel(theta, problem)
        rhs_loop_kernel(theta, problem, 1.0, 2)
        for tableau in (DORMAND_PRINCE, GAUSS_LEGENDRE_2, DOP853):
            run_tableau(theta, problem, 1.0, save_times, tableau, 1e-6, 1e-9, 0.005, 1000, 1e6)
        settings = kernel_settings(1e-6, 1e-9, 0.005, 1e6)
        integrate_many_kernel(np.stack([theta, theta]), problem, 1.0, save_times, DOP853.kernel, settings, 1000)
