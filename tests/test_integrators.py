"""Tests of harness/kernels/{integrators,tableaux,methods,status}.py (mostly through harness.dynamics.flow.integrate):
accuracy, invariants, statuses, and methods registered from this file alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from harness.dynamics.flow import GradientFlow, integrate, law_drift
from harness.errors import InvalidInput
from harness.kernels import integrators, methods, tableaux
from harness.kernels import problem as kernel_problem
from harness.kernels.status import STATUS_NAMES, IntegrationStatus
from harness.model.data import DataSet
from harness.model.scenario import Scenario

CASES = [
    ("linear:3,2,2", "mse", None),
    ("deep-linear:2,3,2,2", "cross-entropy", None),
    ("poly:2,2,1,k=2", "logcosh", "flip/trivial"),
    ("attention:n=3,d=2,dk=2,dv=2,mask=causal,decay=0.5", "cauchy", None),
    ("linear:3,2,1", "huber", "cyclic/sign"),
]


def flow_of(spec, loss, group=None, seed=1, samples=5, scale=1.0):
    built = Scenario(
        spec, loss, group, data="augmented" if group else "free", n_samples=samples, seed=seed, theta_scale=scale
    ).build()
    return GradientFlow(built.network, built.loss, built.data), built.theta0


def reference_solution(flow, theta0, times, direction=1):
    """SciPy DOP853 at tight tolerances on θ' = −s∇L(θ)."""
    solution = solve_ivp(
        lambda t, theta: -direction * flow.gradient(theta),
        (0.0, times[-1]),
        theta0,
        method="DOP853",
        rtol=1e-13,
        atol=1e-14,
        t_eval=times,
    )
    assert solution.success
    return solution.y.T


@pytest.mark.parametrize("spec,loss,group", CASES)
@pytest.mark.parametrize(
    "method,options,tolerance",
    [
        ("dp5", dict(rtol=1e-11, atol=1e-13), 1e-8),
        ("rk4", dict(steps=2000), 1e-8),
        ("gauss", dict(steps=1000), 1e-9),
    ],
)
def test_states_agree_with_scipy_dop853(spec, loss, group, method, options, tolerance):
    flow, theta0 = flow_of(spec, loss, group)
    trajectory = integrate(flow, theta0, 1.0, method, n_save=4, **options)
    assert trajectory.ok, trajectory.status
    reference = reference_solution(flow, theta0, np.abs(trajectory.times))
    error = np.abs(trajectory.states - reference).max() / np.abs(reference).max()
    assert error < tolerance, f"{method} on {spec}/{loss}: relative error {error:.2e} >= {tolerance:g}"


def test_backward_flow_agrees_with_scipy():
    flow, theta0 = flow_of("linear:3,2,2", "logcosh", scale=0.5)
    trajectory = integrate(flow, theta0, 0.3, "dp5", rtol=1e-11, atol=1e-13, direction=-1, n_save=3)
    assert trajectory.ok and np.all(trajectory.times <= 0) and trajectory.times[-1] == -0.3
    reference = reference_solution(flow, theta0, np.abs(trajectory.times), direction=-1)
    assert np.abs(trajectory.states - reference).max() < 1e-8 * np.abs(reference).max()


@pytest.mark.parametrize("spec,loss,group", CASES)
def test_gauss_keeps_quadratic_laws_to_round_off(spec, loss, group):
    flow, theta0 = flow_of(spec, loss, group)
    trajectory = integrate(flow, theta0, 3.0, "gauss", steps=1500, n_save=30)
    assert trajectory.ok, trajectory.status
    drift = law_drift(flow.network, trajectory)
    assert drift.largest is not None and drift.largest < 1e-12, drift.as_dict()


def test_explicit_methods_do_not_keep_quadratic_laws_exactly():
    """The contrast that makes Gauss necessary: RK4 with a coarse step drifts far above round-off."""
    flow, theta0 = flow_of("deep-linear:2,3,2,2", "mse")
    drift = law_drift(flow.network, integrate(flow, theta0, 2.0, "rk4", steps=100, n_save=5)).largest
    assert drift is not None and drift > 1e-8


@pytest.mark.parametrize("spec,loss,group", CASES)
def test_dp5_drift_shrinks_with_tolerance(spec, loss, group):
    flow, theta0 = flow_of(spec, loss, group)
    drifts = [
        law_drift(flow.network, integrate(flow, theta0, 3.0, "dp5", rtol=rtol, atol=rtol * 1e-2)).largest
        for rtol in (1e-5, 1e-9)
    ]
    coarse, fine = drifts
    assert coarse is not None and fine is not None, drifts
    assert fine <= 1e-12 or fine * 10 <= coarse, drifts


@pytest.mark.parametrize("method,options", [("gauss", dict(steps=400)), ("dp5", dict(rtol=1e-12, atol=1e-14))])
def test_backward_then_forward_returns_to_the_start(method, options):
    flow, theta0 = flow_of("poly:2,2,1,k=2", "pseudo-huber", scale=0.5)
    forward = integrate(flow, theta0, 0.5, method, **options)
    back = integrate(flow, forward.final_state, 0.5, method, direction=-1, **options)
    assert forward.ok and back.ok
    assert np.abs(forward.final_state - theta0).max() > 1e-3  # it moved
    assert np.abs(back.final_state - theta0).max() < 1e-9 * np.abs(theta0).max()


def quartic_flow():
    """Backward quartic flow: θ' = +∇L grows like a cubic polynomial and blows up in finite time."""
    data = DataSet(np.array([[1.0], [-0.5]]), np.array([[0.3], [0.1]]))
    return GradientFlow("linear:1,1,1", "quartic", data), np.array([1.5, 1.2])  # pyright: ignore[reportArgumentType]  (GradientFlow's fields omit spec and name inputs)


@pytest.mark.parametrize("method", ["dp5", "dop853", "rk4", "gauss"])
def test_backward_quartic_flow_ends_with_blow_up(method):
    flow, theta0 = quartic_flow()
    # θ ~ (t* − t)^(−1/6) near the singularity: a bound of 10 is reached well before t* is resolved in float64
    trajectory = integrate(flow, theta0, 10.0, method, direction=-1, steps=1000, blow_up=10.0, n_save=10)
    assert trajectory.status == "blow_up"
    assert not trajectory.ok
    assert np.all(np.isfinite(trajectory.states)) and np.all(np.isfinite(trajectory.final_state))
    assert np.abs(trajectory.final_state).max() > 10.0
    assert -10.0 < trajectory.final_time < 0  # stopped early, before the horizon
    assert trajectory.n_rhs < 50_000
    assert trajectory.times.size < 11  # only the save times actually reached


def test_rk4_with_a_far_too_large_step_ends_with_a_status_not_nan():
    flow, theta0 = flow_of("linear:2,2,2", "quartic", scale=2.0)
    trajectory = integrate(flow, theta0, 50.0, "rk4", steps=5, blow_up=1e8)
    assert trajectory.status in ("blow_up", "nonfinite")
    assert np.all(np.isfinite(trajectory.states))


@pytest.mark.parametrize("method", ["dp5", "dop853"])
def test_backward_blow_up_without_a_bound_ends_with_step_underflow_or_nonfinite(method):
    flow, theta0 = quartic_flow()
    trajectory = integrate(flow, theta0, 10.0, method, direction=-1, blow_up=math.inf)
    assert trajectory.status in ("step_underflow", "nonfinite", "max_steps")
    assert trajectory.status != "ok"
    assert np.all(np.isfinite(trajectory.states))


def test_nonfinite_gradient_gives_status_nonfinite():
    # exp(−y f) with f = −1600 overflows to inf at θ₀ itself.
    data = DataSet(np.array([[-1.0]]), np.array([[1.0]]))
    flow = GradientFlow("linear:1,1,1", "exp", data)  # pyright: ignore[reportArgumentType]  (GradientFlow's fields omit spec and name inputs)
    for method in ("dp5", "dop853", "rk4", "gauss"):
        trajectory = integrate(flow, np.array([40.0, 40.0]), 1.0, method)
        assert trajectory.status == "nonfinite", method
        assert np.all(np.isfinite(trajectory.states))
        assert trajectory.final_time == 0.0


def test_max_steps_status():
    flow, theta0 = flow_of("linear:3,2,2", "mse")
    trajectory = integrate(flow, theta0, 5.0, "dp5", rtol=1e-12, max_steps=7, n_save=2)
    assert trajectory.status == "max_steps"
    assert trajectory.n_steps + trajectory.n_rejected == 7
    assert 0 < trajectory.final_time < 5.0


def test_an_honest_max_steps_hit_of_a_fixed_step_method_is_a_status():
    """Gauss halves steps it cannot solve: a stiff flow can still run out of budget (not refused up front)."""
    flow, theta0 = flow_of("linear:3,2,2", "quartic")
    trajectory = integrate(flow, theta0, 100.0, "gauss", steps=20, max_steps=30, n_save=2, direction=-1)
    assert trajectory.status == "max_steps" and not trajectory.ok
    assert trajectory.n_steps + trajectory.n_rejected == 30 and trajectory.n_rejected > 0
    failure = trajectory.failure
    assert failure is not None and "max_steps" in failure and "stopped at t = " in failure


@pytest.mark.parametrize("method", ["rk4", "gauss"])
def test_fixed_steps_beyond_the_step_budget_are_refused_up_front(method):
    flow, theta0 = flow_of("linear:3,2,2", "mse")
    with pytest.raises(InvalidInput, match=r"steps=1000 fixed steps cannot finish within max_steps=7"):
        integrate(flow, theta0, 5.0, method, steps=1000, max_steps=7)


@pytest.mark.parametrize(
    "options,message",
    [
        (dict(max_steps=10**9), r"max_steps=1000000000 is above the limit of 10,000,000"),
        (dict(n_save=10**9), r"n_save=1000000000 would save 1,000,000,001 states of D = 10 numbers"),
        (dict(n_save=300_000), r"n_save=300000 save times need at least as many steps, more than max_steps=200,000"),
        (dict(steps=10**9, method="gauss"), r"steps=1000000000 fixed steps cannot finish within max_steps=200,000"),
    ],
)
def test_resource_guards_refuse_before_any_work(options, message):
    flow, theta0 = flow_of("linear:3,2,2", "mse")
    options = {"method": "dp5", **options}
    with pytest.raises(InvalidInput, match=message):
        integrate(flow, theta0, 1.0, options.pop("method"), **options)


def test_counts_of_gradient_evaluations():
    flow, theta0 = flow_of("linear:3,2,2", "mse")
    rk4 = integrate(flow, theta0, 1.0, "rk4", steps=50)
    assert (rk4.n_steps, rk4.n_rhs) == (50, 1 + 4 * 50)  # FSAL-style: the end slope starts the next step
    dp5 = integrate(flow, theta0, 1.0, "dp5")
    assert dp5.n_rhs == 2 + 6 * (dp5.n_steps + dp5.n_rejected)  # initial slope + initial-step probe


def test_dp5_takes_the_same_steps_as_scipy_rk45():
    """Same tableau, controller and initial step as SciPy's RK45, so the step counts match."""
    flow, theta0 = flow_of("linear:4,2,2", "mse", samples=16, scale=0.5)
    ours = integrate(flow, theta0, 5.0, "dp5", rtol=1e-8, atol=1e-10)
    scipy = solve_ivp(lambda t, theta: -flow.gradient(theta), (0, 5.0), theta0, method="RK45", rtol=1e-8, atol=1e-10)
    assert abs(ours.n_steps - (scipy.t.size - 1)) <= 1
    assert np.abs(ours.final_state - scipy.y[:, -1]).max() < 1e-12 * np.abs(theta0).max()


def test_interleaved_order_is_a_permutation_that_separates_equal_entries():
    out = np.array([0, 0, 0, 1, 1, 2, 0, 2])
    order = kernel_problem.interleaved_order(out)
    assert sorted(order.tolist()) == list(range(out.size))
    reordered = out[order]
    assert reordered.tolist() == [0, 1, 2, 0, 1, 2, 0, 0]


def test_warm_up_runs_and_status_names_are_stable():
    integrators.warm_up()
    assert STATUS_NAMES == ("ok", "max_steps", "blow_up", "step_underflow", "nonfinite")


@pytest.mark.parametrize(
    "tableau", [tableaux.DORMAND_PRINCE, tableaux.DOP853, tableaux.CLASSICAL_RK4], ids=lambda t: t.name
)
def test_explicit_tableaux_are_consistent(tableau):
    assert np.allclose(tableau.a.sum(axis=1), tableau.c)
    assert tableau.b.sum() == pytest.approx(1.0, abs=1e-15)
    assert tableau.e.sum() == pytest.approx(0.0, abs=1e-15)
    assert np.all(np.triu(tableau.a) == 0)  # explicit: strictly lower triangular
    assert tableau.e.shape == (tableau.b.size + 1,)


def test_gauss_tableau_satisfies_cooper_condition():
    """b_i a_ij + b_j a_ji = b_i b_j: the condition under which a Runge–Kutta method keeps quadratic invariants."""
    a, b = tableaux.GAUSS_LEGENDRE_2.a, tableaux.GAUSS_LEGENDRE_2.b
    assert np.allclose(b[:, None] * a + (b[:, None] * a).T, np.outer(b, b), atol=1e-16)
    assert np.allclose(a.sum(axis=1), tableaux.GAUSS_LEGENDRE_2.c)


def test_gauss_halves_a_step_it_cannot_solve_and_still_keeps_the_laws():
    """One nominal step over a stiff stretch: fixed-point iteration diverges, the step is halved until it converges."""
    flow, theta0 = flow_of("deep-linear:2,3,2,2", "mse", scale=1.5)
    trajectory = integrate(flow, theta0, 1.0, "gauss", steps=1)
    assert trajectory.ok and trajectory.n_rejected > 0
    largest = law_drift(flow.network, trajectory).largest
    assert largest is not None and largest < 1e-12


# --- the method registry: adding a method is adding a tableau -------------------------------------------------

KUTTA_RK3 = tableaux.ButcherTableau(
    name="kutta3", a=[[0, 0, 0], [0.5, 0, 0], [-1, 2, 0]], b=[1 / 6, 2 / 3, 1 / 6], c=[0, 0.5, 1], order=3
)
IMPLICIT_MIDPOINT = tableaux.ButcherTableau(name="midpoint", a=[[0.5]], b=[1.0], c=[0.5], order=2)  # 1-stage Gauss


@pytest.fixture
def test_methods():
    """Kutta's RK3 (explicit) and the implicit midpoint rule, registered from this file alone."""
    added = [
        methods.register_method(methods.Method("kutta3", KUTTA_RK3, "Kutta's third-order method")),
        methods.register_method(methods.Method("midpoint", IMPLICIT_MIDPOINT, "implicit midpoint rule")),
    ]
    yield added
    for method in added:
        methods.unregister_method(method.name)


def observed_order(flow, theta0, method, steps=(8, 16, 32)):
    """log2 of successive error ratios when the step is halved, against a tight DOP853 reference."""
    reference = reference_solution(flow, theta0, np.array([0.0, 1.0]))[-1]
    errors = []
    for n in steps:
        trajectory = integrate(flow, theta0, 1.0, method, steps=n)
        assert trajectory.ok, trajectory.status
        errors.append(np.abs(trajectory.final_state - reference).max())
    return [math.log2(errors[i] / errors[i + 1]) for i in range(len(errors) - 1)]


@pytest.mark.parametrize("name,order", [("kutta3", 3), ("midpoint", 2)])
def test_a_method_registered_from_a_test_integrates_and_converges_at_its_order(test_methods, name, order):
    flow, theta0 = flow_of("linear:3,2,2", "logcosh", scale=0.7)
    record = methods.METHODS[name]
    assert record.order == order and not record.adaptive and record.implicit == (name == "midpoint")
    orders = observed_order(flow, theta0, name)
    assert all(abs(seen - order) < 0.3 for seen in orders), f"{name}: observed orders {orders}, expected {order}"


def test_a_registered_implicit_method_keeps_quadratic_laws(test_methods):
    """The implicit midpoint rule is symplectic, so like Gauss it keeps the linear net's quadratic laws exactly."""
    flow, theta0 = flow_of("linear:3,2,2", "mse")
    midpoint = integrate(flow, theta0, 1.0, "midpoint", steps=20, n_save=4)
    explicit = integrate(flow, theta0, 1.0, "kutta3", steps=20, n_save=4)
    assert midpoint.ok and explicit.ok
    kept, drifted = law_drift(flow.network, midpoint).largest, law_drift(flow.network, explicit).largest
    assert kept is not None and drifted is not None and kept < 1e-13 < drifted


def test_unregistered_methods_are_refused_with_the_registered_names():
    flow, theta0 = flow_of("linear:3,2,2", "mse")
    with pytest.raises(InvalidInput, match=r"unknown integration method 'kutta3'; allowed: dp5, dop853, rk4, gauss"):
        integrate(flow, theta0, 1.0, "kutta3")


def test_the_registry_describes_the_builtin_methods():
    described = {name: (m.order, m.implicit, m.adaptive) for name, m in methods.METHODS.items()}
    assert described == {
        "dp5": (5, False, True),
        "dop853": (8, False, True),
        "rk4": (4, False, False),
        "gauss": (4, True, False),
    }
    assert "embedded order-4" in methods.METHODS["dp5"].error_estimator
    assert "halved" in methods.METHODS["gauss"].error_estimator
    assert methods.METHODS["rk4"].describe() == "rk4: classical Runge–Kutta (explicit, order 4, fixed-step)"
    with pytest.raises(ValueError, match="already registered"):
        methods.register_method(methods.Method("rk4", tableaux.CLASSICAL_RK4, "again"))


@pytest.mark.parametrize(
    "arguments,message",
    [
        (dict(a=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0, 0.5], order=2), "row sums of A are not C"),
        (dict(a=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0, 1], order=2, e=[1, 0]), "A must be 2×2"),
        (dict(a=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0, 1], order=2, e=[0.5, -0.5, 0]), "error weights go with"),
        (dict(a=[[0.5]], b=[1], c=[0.5], order=2, e=[1, -1], error_order=1), "implicit method with an error estimate"),
    ],
)
def test_inconsistent_tableaux_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        tableaux.ButcherTableau(name="bad", **arguments)


def test_integration_statuses_are_a_str_enum_with_a_meaning_each():
    assert [status.value for status in IntegrationStatus] == list(STATUS_NAMES)
    for status in IntegrationStatus:
        assert IntegrationStatus.of(status.code) is status and status == status.value
        assert f"{status}" == str(status) == status.value and status.meaning
    flow, theta0 = flow_of("linear:3,2,2", "quartic")
    failed = integrate(flow, theta0, 100.0, "gauss", steps=20, max_steps=30, n_save=2, direction=-1)
    assert failed.status is IntegrationStatus.MAX_STEPS
    assert failed.failure is not None and IntegrationStatus.MAX_STEPS.meaning in failed.failure
