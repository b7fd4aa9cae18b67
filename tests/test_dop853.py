"""Tests of DOP853 in the one time loop (harness/kernels/tableaux.py, steps.py, integrators.py): SciPy's
coefficients, steps and end states, dense output against SciPy's, order 8, and the statuses as for dp5."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.integrate._ivp import dop853_coefficients as scipy_dop853

from harness.dynamics.flow import GradientFlow, integrate
from harness.kernels import methods, tableaux
from harness.kernels.status import IntegrationStatus
from harness.model.scenario import Scenario

FLOWS = [
    ("linear:4,2,2", "mse", None),
    ("linear:3,2,2", "logcosh", None),
    ("deep-linear:2,3,2,2", "cross-entropy", None),
    ("poly:2,2,1,k=2", "logcosh", "flip/trivial"),
    ("attention:n=3,d=2,dk=2,dv=2,mask=causal,decay=0.5", "cauchy", None),
]


def flow_of(spec, loss, group=None, seed=1, samples=16, scale=0.5):
    built = Scenario(
        spec, loss, group, data="augmented" if group else "free", n_samples=samples, seed=seed, theta_scale=scale
    ).build()
    return GradientFlow(built.network, built.loss, built.data), built.theta0


def scipy_run(flow, theta0, t_final, rtol, atol, t_eval=None):
    solution = solve_ivp(
        lambda t, theta: -flow.gradient(theta),
        (0.0, t_final),
        theta0,
        method="DOP853",
        rtol=rtol,
        atol=atol,
        t_eval=t_eval,
    )
    assert solution.success
    return solution


def test_the_tableau_is_scipys():
    tableau = tableaux.DOP853
    full_a, b, c, e, e3, dense, codes = tableau.kernel
    assert np.array_equal(full_a, scipy_dop853.A) and np.array_equal(b, scipy_dop853.B)
    assert np.array_equal(c, scipy_dop853.C[: tableau.stages])
    assert np.array_equal(e, scipy_dop853.E5) and np.array_equal(e3, scipy_dop853.E3)
    assert np.array_equal(dense, scipy_dop853.D)
    assert codes.tolist() == [0, 7, tableaux.NORM_DOP853] and tableau.dense_output and tableau.order == 8
    assert np.allclose(full_a.sum(axis=1), scipy_dop853.C, atol=1e-14)  # the extra stages' nodes too


@pytest.mark.parametrize("spec,loss,group", FLOWS)
@pytest.mark.parametrize("rtol", [1e-6, 1e-9])
def test_same_steps_and_end_state_as_scipy(spec, loss, group, rtol):
    """Step for step SciPy's DOP853, on the reference (sparse-monomial) right-hand side.

    Both sides call the same compiled gradient; the steps agree exactly as long as the stage sums round alike.
    Near the stability boundary (the attention/cauchy flow rejects a quarter of its steps) an accept/reject
    decision can hinge on the last bit of a stage sum, which SciPy forms with BLAS (``K.T @ B``) and the loop in
    its own order, so the dense kernels' different round-off may change a rejection there: see the next test.
    """
    flow, theta0 = flow_of(spec, loss, group)
    flow = GradientFlow(flow.network, flow.loss, flow.data, sparse_only=True)
    ours = integrate(flow, theta0, 3.0, "dop853", rtol=rtol, atol=rtol * 1e-2)
    scipy = scipy_run(flow, theta0, 3.0, rtol, rtol * 1e-2)
    assert ours.ok
    assert ours.n_steps == scipy.t.size - 1 and ours.n_rhs == scipy.nfev
    assert np.abs(ours.final_state - scipy.y[:, -1]).max() < 1e-12 * np.abs(theta0).max()


@pytest.mark.parametrize("spec,loss,group", FLOWS)
def test_dense_kernels_take_scipys_accepted_steps(spec, loss, group):
    """With the dense kernels: SciPy's accepted steps, and an end state as close as two runs at rtol can be."""
    rtol = 1e-9
    flow, theta0 = flow_of(spec, loss, group)
    ours = integrate(flow, theta0, 3.0, "dop853", rtol=rtol, atol=rtol * 1e-2)
    scipy = scipy_run(flow, theta0, 3.0, rtol, rtol * 1e-2)
    assert ours.ok and ours.n_steps == scipy.t.size - 1
    assert np.abs(ours.final_state - scipy.y[:, -1]).max() < rtol * np.abs(theta0).max()


@pytest.mark.parametrize("spec,loss,group", FLOWS[:3])
def test_dense_output_matches_scipys_and_does_not_change_the_steps(spec, loss, group):
    """Save times inside a step are interpolated (SciPy's t_eval); the steps are those of a run saving none."""
    flow, theta0 = flow_of(spec, loss, group)
    times = np.linspace(0.0, 3.0, 65)
    many = integrate(flow, theta0, 3.0, "dop853", rtol=1e-8, atol=1e-10, n_save=64)
    few = integrate(flow, theta0, 3.0, "dop853", rtol=1e-8, atol=1e-10)
    scipy = scipy_run(flow, theta0, 3.0, 1e-8, 1e-10, t_eval=times)
    assert many.ok and np.array_equal(many.times, times)
    assert (many.n_steps, many.n_rejected) == (few.n_steps, few.n_rejected)
    assert np.array_equal(many.final_state, few.final_state)
    assert many.n_steps < 64  # fewer steps than save times: the saves did not shorten any step
    extra_stages = scipy_dop853.N_STAGES_EXTENDED - scipy_dop853.N_STAGES - 1
    assert few.n_rhs < many.n_rhs <= few.n_rhs + extra_stages * many.n_steps
    assert np.abs(many.states - scipy.y.T).max() < 1e-12 * np.abs(theta0).max()


def test_dense_output_takes_fewer_steps_than_clipping_with_many_save_times():
    flow, theta0 = flow_of("linear:4,2,2", "mse")
    dop853 = integrate(flow, theta0, 10.0, "dop853", rtol=1e-8, atol=1e-10, n_save=64)
    dp5 = integrate(flow, theta0, 10.0, "dp5", rtol=1e-8, atol=1e-10, n_save=64)
    assert dop853.ok and dp5.ok
    assert dp5.n_steps >= 64 > dop853.n_steps  # dp5 lands a step on every save time


@pytest.fixture
def fixed_dop853():
    """DOP853's 12 stages and weights as a fixed-step method, registered from this file alone."""
    tableau = tableaux.DOP853
    fixed = tableaux.ButcherTableau("dop853-fixed", tableau.a, tableau.b, tableau.c, order=8)
    yield methods.register_method(methods.Method("dop853-fixed", fixed, "DOP853 at fixed steps"))
    methods.unregister_method("dop853-fixed")


def test_order_eight_on_a_smooth_flow(fixed_dop853):
    """At fixed steps the error falls by 2^8 per halving of the step."""
    flow, theta0 = flow_of("linear:2,2,2", "mse", scale=1.0)
    reference = scipy_run(flow, theta0, 1.0, 1e-13, 1e-15).y[:, -1]
    errors = []
    for steps in (2, 4, 8):  # errors 1e-7 … 1e-12: above the reference's and round-off
        run = integrate(flow, theta0, 1.0, fixed_dop853.name, steps=steps)
        assert run.ok
        errors.append(np.abs(run.final_state - reference).max())
    orders = [math.log2(errors[i] / errors[i + 1]) for i in range(len(errors) - 1)]
    assert all(abs(seen - 8) < 0.5 for seen in orders), f"observed orders {orders}, expected 8"


def test_fewer_evaluations_than_dp5_at_tight_tolerances():
    flow, theta0 = flow_of("linear:4,2,2", "mse")
    dop853 = integrate(flow, theta0, 10.0, "dop853", rtol=1e-10, atol=1e-12)
    dp5 = integrate(flow, theta0, 10.0, "dp5", rtol=1e-10, atol=1e-12)
    assert dop853.n_rhs < dp5.n_rhs


def test_max_steps_status():
    flow, theta0 = flow_of("linear:4,2,2", "mse")
    run = integrate(flow, theta0, 10.0, "dop853", rtol=1e-12, atol=1e-14, max_steps=3, n_save=8)
    assert run.status is IntegrationStatus.MAX_STEPS
    assert run.n_steps + run.n_rejected == 3 and run.final_time < 10.0
    assert np.all(run.times <= run.final_time)  # no save time beyond where the run stopped


def test_more_save_times_than_steps_is_not_refused_with_a_dense_output():
    """Without a dense output each save time costs a step (refused above max_steps); with one it costs none."""
    flow, theta0 = flow_of("linear:4,2,2", "mse")
    run = integrate(flow, theta0, 3.0, "dop853", n_save=200, max_steps=50)
    assert run.ok and run.times.size == 201 and run.n_steps + run.n_rejected <= 50
