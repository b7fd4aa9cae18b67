"""Tests of harness/dynamics/many.py and integrators.integrate_many_kernel: a batch of flows gives bitwise what
``integrate`` gives flow by flow, failed flows are not available, and bad input is refused once, up front."""

from __future__ import annotations

import numpy as np
import pytest

from harness.dynamics.flow import MAX_SAVED_VALUES, GradientFlow, integrate, law_drift
from harness.dynamics.many import integrate_many
from harness.errors import InvalidInput
from harness.kernels.status import IntegrationStatus
from harness.model.scenario import Scenario


def flow_of(spec="linear:4,2,2", loss="mse", samples=16):
    built = Scenario(spec, loss, None, data="free", n_samples=samples, seed=3, theta_scale=0.5).build()
    return GradientFlow(built.network, built.loss, built.data)


def starts(flow, count, seed=0, scale=0.5):
    return np.random.default_rng(seed).normal(scale=scale, size=(count, flow.n_params))


@pytest.mark.parametrize(
    "spec,loss,method,options",
    [
        ("linear:4,2,2", "mse", "dp5", {}),
        ("linear:4,2,2", "mse", "dop853", dict(n_save=16)),
        ("deep-linear:2,3,2,2", "logcosh", "rk4", dict(steps=40)),
        ("linear:3,2,2", "cauchy", "gauss", dict(steps=20, n_save=4, direction=-1)),
    ],
)
def test_each_flow_of_a_batch_is_bitwise_the_single_flow(spec, loss, method, options):
    flow = flow_of(spec, loss)
    thetas = starts(flow, 6)
    batch = integrate_many(flow, thetas, 2.0, method, **options)
    assert len(batch) == 6 and batch.ok.all()
    for i, theta0 in enumerate(thetas):
        single = integrate(flow, theta0, 2.0, method, **options)
        again = batch.trajectory(i)
        assert np.array_equal(single.states, again.states) and np.array_equal(single.times, again.times)
        assert np.array_equal(single.final_state, batch.final_states[i])
        assert np.array_equal(single.states, batch.states[i])
        assert (single.n_rhs, single.n_steps, single.n_rejected) == (
            batch.n_rhs[i],
            batch.n_steps[i],
            batch.n_rejected[i],
        )
        assert again.summary() == single.summary()
    assert np.array_equal(batch.times, single.times)


def test_a_failed_flow_is_not_available_and_does_not_spoil_the_others():
    flow = flow_of("linear:3,2,2", "quartic")
    thetas = starts(flow, 4)
    thetas[1] *= 30.0  # backward quartic flow from far out: leaves the bound quickly
    batch = integrate_many(flow, thetas, 5.0, "dp5", direction=-1, blow_up=50.0, n_save=4)
    singles = [integrate(flow, theta, 5.0, "dp5", direction=-1, blow_up=50.0, n_save=4) for theta in thetas]
    assert batch.statuses == tuple(single.status for single in singles)
    assert batch.statuses[1] is IntegrationStatus.BLOW_UP
    failed = ~batch.ok
    assert failed[1]
    assert np.isnan(batch.final_states[failed]).all() and np.isnan(batch.states[failed]).all()
    assert np.isfinite(batch.final_states[~failed]).all()
    trajectory = batch.trajectory(1)
    assert not trajectory.ok and trajectory.failure is not None
    assert np.array_equal(trajectory.states, singles[1].states)
    assert law_drift(flow.network, trajectory).largest is None  # judged as not available, as a single run


def test_bad_input_is_refused_before_any_work():
    flow = flow_of()
    with pytest.raises(InvalidInput, match=r"thetas has shape \(12,\); .* needs \(B, 12\)"):
        integrate_many(flow, np.zeros(12), 1.0)
    with pytest.raises(InvalidInput, match=r"thetas contains NaN or inf \(first at row 1, index 3\)"):
        thetas = np.zeros((2, 12))
        thetas[1, 3] = np.nan
        integrate_many(flow, thetas, 1.0)
    with pytest.raises(InvalidInput, match="unknown integration method 'euler'"):
        integrate_many(flow, np.zeros((2, 12)), 1.0, "euler")
    with pytest.raises(InvalidInput, match="t_final"):
        integrate_many(flow, np.zeros((2, 12)), -1.0)
    flows = MAX_SAVED_VALUES // (2 * flow.n_params) + 1
    with pytest.raises(InvalidInput, match=f"would save {flows:,} flows × 2 states"):
        integrate_many(flow, np.zeros((flows, 12)), 1.0)
    with pytest.raises(InvalidInput, match="must be a GradientFlow"):
        integrate_many("linear:4,2,2", np.zeros((2, 12)), 1.0)  # pyright: ignore[reportArgumentType]
