"""Tests of harness/flow.py: the GradientFlow problem, its validation, gradients, trajectories and law drift;
and that property (2)'s check can fail (planted non-laws)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.dynamics.flow import GradientFlow, LawDrift, Trajectory, integrate, law_drift, loss_values
from harness.errors import InvalidInput
from harness.kernels import problem as kernel_problem
from harness.kernels.status import IntegrationStatus
from harness.model.data import DataSet, random_dataset
from harness.model.losses import LOSSES
from harness.model.scenario import Scenario
from harness.model.specs import parse_network
from harness.verdicts.verdict import Status
from properties.prop_known_laws import conservation_verdict

SPECS = ["linear:3,2,2", "deep-linear:2,2,3,2", "poly:2,2,2,k=3", "attention:n=3,d=2,dk=2,dv=2,mask=causal"]


def built(spec="linear:3,2,2", loss="mse", group=None, seed=3, samples=6):
    return Scenario(spec, loss, group, data="augmented" if group else "free", n_samples=samples, seed=seed).build()


def flow_and_theta(spec="linear:3,2,2", loss="mse", **options):
    scenario = built(spec, loss, **options)
    return GradientFlow(scenario.network, scenario.loss, scenario.data), scenario.theta0


# --- the gradient ------------------------------------------------------------------------------------


def reference_gradient(flow, theta):
    return flow.reference_gradient(theta)


def loss_compatible(spec):
    network = parse_network(spec)
    for loss in LOSSES.values():
        if loss.targets == "pm1" and network.n_outputs != 1:
            continue
        if loss.targets == "prob" and network.n_outputs < 2:
            continue
        yield loss.name


@pytest.mark.parametrize(
    "spec,loss", [(spec, loss) for spec in SPECS + ["linear:3,2,1"] for loss in loss_compatible(spec)]
)
def test_gradient_kernel_equals_jacobian_transpose_times_g(spec, loss):
    flow, theta = flow_and_theta(spec, loss)
    expected = reference_gradient(flow, theta)
    assert np.allclose(flow.gradient(theta), expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("spec", SPECS)
def test_gradient_is_the_derivative_of_the_loss(spec):
    flow, theta = flow_and_theta(spec, "logcosh")
    direction = np.random.default_rng(0).standard_normal(theta.size)
    step = 1e-5
    slope = (flow.loss_value(theta + step * direction) - flow.loss_value(theta - step * direction)) / (2 * step)
    assert slope == pytest.approx(flow.gradient(theta) @ direction, rel=1e-7, abs=1e-9)


def test_mse_moment_path_equals_the_row_path():
    flow, theta = flow_and_theta("poly:2,2,2,k=2", "mse", samples=40)
    assert flow.uses_moments and flow.problem[3].shape[0] == 0  # no rows handed to the kernel
    assert np.allclose(flow.gradient(theta), reference_gradient(flow, theta), rtol=1e-12, atol=1e-13)


def test_mse_problem_size_does_not_grow_with_n():
    network = parse_network("linear:3,2,2")
    rng = np.random.default_rng(0)
    small = GradientFlow(network, "mse", random_dataset(network, 4, rng))  # pyright: ignore[reportArgumentType]  (GradientFlow's fields omit spec, name and (x, y) inputs)
    large = GradientFlow(network, "mse", random_dataset(network, 4000, rng))  # pyright: ignore[reportArgumentType]  (GradientFlow's fields omit spec, name and (x, y) inputs)
    assert [a.shape for a in small.problem] == [a.shape for a in large.problem]


# --- trajectories ------------------------------------------------------------------------------------


def test_trajectory_fields_and_loss_decreases_along_the_flow():
    flow, theta = flow_and_theta("deep-linear:2,2,3,2", "cauchy")
    trajectory = integrate(flow, theta, 1.0, "dp5", n_save=8)
    assert isinstance(trajectory, Trajectory) and trajectory.ok
    assert trajectory.times.tolist() == pytest.approx(np.linspace(0, 1, 9).tolist())
    assert trajectory.states.shape == (9, flow.network.n_params)
    assert np.array_equal(trajectory.initial_state, theta)
    assert np.array_equal(trajectory.final_state, trajectory.states[-1])
    assert trajectory.method == "dp5" and trajectory.direction == 1 and trajectory.rtol == 1e-8
    losses = loss_values(flow, trajectory)
    assert np.all(np.diff(losses) < 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        trajectory.status = IntegrationStatus.OK  # pyright: ignore[reportAttributeAccessIssue]  (the frozen assignment is the point)


def test_law_drift_reports_every_known_law_relative_to_its_scale():
    flow, theta = flow_and_theta("deep-linear:2,2,3,2", "mse")
    trajectory = integrate(flow, theta, 1.0, "gauss", n_save=5)
    drift = law_drift(flow.network, trajectory)
    assert isinstance(drift, LawDrift)
    assert drift.names == tuple(flow.network.known_law_names())
    assert drift.drifts.shape == drift.scales.shape == (len(drift.names),)
    assert drift.history.shape == (6, len(drift.names))
    assert drift.largest is not None and drift.largest < 1e-12
    assert set(drift.as_dict()) == set(drift.names)


def test_law_drift_of_a_non_law_is_large():
    flow, theta = flow_and_theta("linear:3,2,2", "mse")
    trajectory = integrate(flow, theta, 1.0, "gauss")
    network = flow.network

    def squared_norm_of_u(state):  # ‖U‖² alone is not conserved
        u = network.unflatten(state)["U"]
        value = float((u * u).sum())
        return np.array([value]), np.array([value])

    largest = law_drift(network, trajectory, squared_norm_of_u).largest
    assert largest is not None and largest > 1e-3


# --- property (2) can fail ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec,loss", [("linear:3,2,2", "mse"), ("poly:2,2,1,k=2", "logcosh"), ("attention:n=2,d=2,dk=2,dv=1", "quartic")]
)
def test_planted_non_law_is_reported_violated(spec, loss):
    scenario = Scenario(spec, loss, n_samples=5, seed=4)
    network = parse_network(spec)
    first_block = network.blocks[0]

    def first_block_norm(state):  # e.g. ‖U‖² or ‖W_Q‖²: half of a law, not a law
        block = state[first_block.offset : first_block.offset + first_block.size]
        value = float(block @ block)
        return np.array([value]), np.array([value])

    verdict = conservation_verdict(scenario, first_block_norm)
    assert verdict.status is Status.VIOLATED, verdict
    assert verdict.evidence["gauss_drift"] > 1e-9


def test_perturbed_law_is_reported_violated():
    scenario = Scenario("deep-linear:2,2,2,1", "huber", n_samples=5, seed=2)
    network = parse_network(scenario.network)

    def perturbed(state):  # the first known law plus 1e-6 times a non-law
        values, scales = network.known_laws(state)
        return values + 1e-6 * float(state @ state), scales

    verdict = conservation_verdict(scenario, perturbed)
    assert verdict.status is Status.VIOLATED, verdict


def test_known_laws_hold_through_the_same_check():
    verdict = conservation_verdict(Scenario("linear:3,2,2", "logcosh", "cyclic/trivial", "augmented", seed=1))
    assert verdict.status is Status.HOLDS, verdict
    assert verdict.evidence["gauss_drift"] <= 1e-9
    assert verdict.evidence["dp5_drift_tight"] < verdict.evidence["dp5_drift_loose"]


def test_a_flow_that_does_not_move_is_inconclusive():
    network = parse_network("linear:2,1,1")
    theta = np.array([0.0, 0.0, 0.0])  # a critical point of every loss: ∇L = 0
    data = DataSet(np.ones((3, 2)), np.zeros((3, 1)))
    scenario = Scenario(
        str(network), "mse", arrays={"x": data.x.tolist(), "y": data.y.tolist(), "theta0": theta.tolist()}
    )
    verdict = conservation_verdict(scenario)
    assert verdict.status is Status.INCONCLUSIVE
    assert "barely moves" in verdict.reason


# --- bad input -----------------------------------------------------------------------------------------


def test_unknown_method_lists_the_allowed_ones():
    flow, theta = flow_and_theta()
    with pytest.raises(InvalidInput, match=r"unknown integration method 'euler'; allowed: dp5, dop853, rk4, gauss"):
        integrate(flow, theta, 1.0, "euler")


@pytest.mark.parametrize(
    "theta,message",
    [
        (lambda t: np.where(np.arange(t.size) == 2, np.nan, t), r"theta0 contains NaN or inf \(first at index 2\)"),
        (lambda t: np.full(t.size, np.inf), r"theta0 contains NaN or inf"),
        (lambda t: t[:-1], r"theta0 has shape \(9,\); linear:3,2,2 needs \(10,\)"),
        (lambda t: "abc", r"theta0 must be a vector of 10 numbers"),
    ],
)
def test_bad_theta(theta, message):
    flow, theta0 = flow_and_theta()
    with pytest.raises(InvalidInput, match=message):
        integrate(flow, theta(theta0), 1.0)


@pytest.mark.parametrize(
    "options,message",
    [
        (dict(t_final=0.0), r"t_final=0.0 must be a positive finite number"),
        (dict(t_final=np.inf), r"t_final=inf must be a positive finite number"),
        (dict(t_final="soon"), r"t_final='soon' must be a positive number"),
        (dict(rtol=-1e-6), r"rtol=-1e-06 must be a positive finite number"),
        (dict(rtol=1e-16), r"rtol=1e-16 is below what float64 can deliver"),
        (dict(atol=np.nan), r"atol=nan must be a positive finite number"),
        (dict(steps=0), r"steps=0 must be a positive integer"),
        (dict(steps=2.5), r"steps=2.5 must be a positive integer"),
        (dict(n_save=0), r"n_save=0 must be a positive integer"),
        (dict(max_steps=-3), r"max_steps=-3 must be a positive integer"),
        (dict(direction=0), r"direction=0 must be \+1 \(forward in time\) or -1 \(backward\)"),
        (dict(direction=True), r"direction=True must be \+1"),
        (dict(blow_up=1e-3), r"theta0 already exceeds the blow-up bound"),
        (dict(blow_up=0), r"blow_up=0 must be a positive"),
    ],
)
def test_bad_integration_options(options, message):
    flow, theta = flow_and_theta()
    arguments = {"t_final": 1.0, **options}
    with pytest.raises(InvalidInput, match=message):
        integrate(flow, theta, arguments.pop("t_final"), **arguments)


def test_integrate_needs_a_gradient_flow():
    with pytest.raises(InvalidInput, match=r"flow must be a GradientFlow, got str"):
        integrate("linear:3,2,2", np.zeros(10), 1.0)  # pyright: ignore[reportArgumentType]  (the wrong input is the point)


def test_nan_in_data_is_rejected():
    x = np.ones((4, 3))
    x[1, 2] = np.nan
    with pytest.raises(InvalidInput, match=r"data x contains NaN or inf \(first at index \[1, 2\]\)"):
        GradientFlow("linear:3,2,2", "mse", (x, np.ones((4, 2))))  # pyright: ignore[reportArgumentType]  (GradientFlow's fields omit spec, name and (x, y) inputs)


def test_inf_in_targets_is_rejected():
    y = np.ones((4, 2))
    y[0, 0] = np.inf
    with pytest.raises(InvalidInput, match=r"data y contains NaN or inf"):
        GradientFlow("linear:3,2,2", "mse", (np.ones((4, 3)), y))  # pyright: ignore[reportArgumentType]  (GradientFlow's fields omit spec, name and (x, y) inputs)


def test_data_shapes_must_match_the_network():
    with pytest.raises(InvalidInput, match=r"data have 2 inputs and 2 outputs; linear:3,2,2 needs 3 and 2"):
        GradientFlow("linear:3,2,2", "mse", (np.ones((4, 2)), np.ones((4, 2))))  # pyright: ignore[reportArgumentType]  (GradientFlow's fields omit spec, name and (x, y) inputs)


def test_x_and_y_sample_counts_must_match():
    with pytest.raises(InvalidInput, match=r"x has 4 samples but y has 3; they must match"):
        GradientFlow("linear:3,2,2", "mse", (np.ones((4, 3)), np.ones((3, 2))))  # pyright: ignore[reportArgumentType]  (GradientFlow's fields omit spec, name and (x, y) inputs)


def test_data_must_be_a_data_set_or_a_pair():
    with pytest.raises(InvalidInput, match=r"data must be a DataSet or an \(x, y\) pair, got int"):
        GradientFlow("linear:3,2,2", "mse", 7)  # pyright: ignore[reportArgumentType]  (the wrong input is the point)


def test_logistic_needs_labels_plus_minus_one():
    with pytest.raises(InvalidInput, match=r"logistic loss needs labels ±1, got label 0.5"):
        GradientFlow("linear:3,2,1", "logistic", (np.ones((2, 3)), np.array([[1.0], [0.5]])))  # pyright: ignore[reportArgumentType]  (GradientFlow's fields omit spec, name and (x, y) inputs)


def test_logistic_needs_a_scalar_output():
    with pytest.raises(InvalidInput, match=r"logistic loss needs a scalar output \(m = 1\), but the network has m = 2"):
        GradientFlow("linear:3,2,2", "logistic", (np.ones((2, 3)), np.ones((2, 2))))  # pyright: ignore[reportArgumentType]  (GradientFlow's fields omit spec, name and (x, y) inputs)


def test_unknown_loss_and_network_are_rejected():
    with pytest.raises(InvalidInput, match=r"unknown loss 'l1'; allowed: mse, quartic"):
        GradientFlow("linear:3,2,2", "l1", (np.ones((2, 3)), np.ones((2, 2))))  # pyright: ignore[reportArgumentType]  (the wrong input is the point)
    with pytest.raises(InvalidInput, match=r"unknown network spec 'mlp:3'"):
        GradientFlow("mlp:3", "mse", (np.ones((2, 3)), np.ones((2, 2))))  # pyright: ignore[reportArgumentType]  (the wrong input is the point)


def test_problem_arrays_are_fresh_writable_copies():
    """Read-only arrays would be a different Numba type (a second compilation): the problem never holds one."""
    flow, _ = flow_and_theta("poly:2,2,1,k=2", "logcosh")
    assert not flow.data.x.flags.writeable
    for array in flow.problem:
        assert array.flags.writeable and array.flags.c_contiguous
    sizes = flow.problem[kernel_problem.PROBLEM_SIZES].tolist()
    assert sizes[:4] == [1, flow.network.n_features, LOSSES["logcosh"].kernel_id, 0]  # rows, not moments
    assert sizes[kernel_problem.SIZE_STRUCTURE] == kernel_problem.STRUCTURE_POLYNOMIAL  # poly's dense kernel
    dense = flow.network.dense_gradient
    assert dense is not None and sizes[kernel_problem.SIZE_WORK] == dense.work
    assert kernel_problem.MSE_KERNEL_ID == LOSSES["mse"].kernel_id


@pytest.mark.parametrize(
    "spec,loss",
    [
        ("linear:3,2,2", "mse"),
        ("linear:3,2,2", "logcosh"),
        ("linear:4,3,5", "cross-entropy"),
        ("linear:4,3,5", "mse"),
        ("linear:1,1,1", "huber"),
        ("linear:2,3,1", "logistic"),
    ],
)
def test_dense_linear_path_equals_the_sparse_monomial_path(spec, loss):
    scenario = built(spec, loss)
    dense = GradientFlow(scenario.network, scenario.loss, scenario.data)
    sparse = GradientFlow(scenario.network, scenario.loss, scenario.data, sparse_only=True)
    assert (
        dense.problem[kernel_problem.PROBLEM_SIZES][kernel_problem.SIZE_STRUCTURE]
        == kernel_problem.STRUCTURE_TWO_LAYER_LINEAR
    )
    assert (
        sparse.problem[kernel_problem.PROBLEM_SIZES][kernel_problem.SIZE_STRUCTURE] == kernel_problem.STRUCTURE_SPARSE
    )
    expected = sparse.gradient(scenario.theta0)
    assert np.allclose(dense.gradient(scenario.theta0), expected, rtol=1e-13, atol=1e-14 * np.abs(expected).max())
    assert np.allclose(
        expected, reference_gradient(sparse, scenario.theta0), rtol=1e-12, atol=1e-13 * np.abs(expected).max()
    )


# --- a failed run is never judged ------------------------------------------------------------------------


def failed_runs():
    """One trajectory per failure status, each with saved states that did not move (drift over them is 0)."""
    flow, theta = flow_and_theta("linear:3,2,2", "quartic")
    return flow, {
        "step_underflow": integrate(flow, theta, 100.0, "gauss", direction=-1, n_save=5),
        "max_steps": integrate(flow, theta, 100.0, "gauss", steps=20, max_steps=30, direction=-1, n_save=5),
        "nonfinite": integrate(flow, theta, 1e300, "rk4", n_save=5),
        "blow_up": integrate(
            flow, theta, 100.0, "dp5", direction=-1, n_save=5, blow_up=1.5 * float(np.abs(theta).max())
        ),
    }


def test_failed_runs_have_each_status():
    _, runs = failed_runs()
    assert {name: run.status for name, run in runs.items()} == {name: name for name in runs}
    for run in runs.values():
        failure = run.failure
        assert not run.ok and failure is not None and failure.startswith(run.status) and "stopped at t = " in failure


def test_law_drift_of_a_failed_run_is_not_available():
    flow, runs = failed_runs()
    for status, run in runs.items():
        drift = law_drift(flow.network, run)
        assert not drift.available and drift.status == status
        assert drift.largest is None
        assert drift.names == tuple(flow.network.known_law_names())
        assert set(drift.as_dict()) == set(drift.names) and all(v is None for v in drift.as_dict().values())
        assert np.isnan(drift.drifts).all() and np.isnan(drift.history).all()
        # a custom law is refused the same way (no drift of 0 over the states saved before the failure)
        custom = law_drift(flow.network, run, lambda state: (np.array([state @ state]), np.array([1.0])))
        assert custom.largest is None and custom.names == ("h0",)


def test_a_failed_run_cannot_pass_a_threshold_check():
    """Comparing the drift of a failed run with a tolerance raises instead of answering 'conserved'."""
    flow, runs = failed_runs()
    drift = law_drift(flow.network, runs["step_underflow"])
    with pytest.raises(TypeError):
        drift.largest <= 1e-9  # noqa: B015  # pyright: ignore[reportOptionalOperand, reportUnusedExpression]  (the comparison itself must fail)
    assert not (drift.drifts <= 1e-9).any()


def test_loss_values_of_a_failed_run_are_not_available():
    flow, runs = failed_runs()
    for run in runs.values():
        losses = loss_values(flow, run)
        assert losses.shape == (len(run.states),) and np.isnan(losses).all()


def test_the_drift_judge_refuses_a_failed_run():
    from harness.dynamics.conservation import DriftJudgement, compile_law, judge_drift

    flow, theta = flow_and_theta("linear:3,2,2", "quartic")
    law = compile_law(flow.network, "U_00**2 - V_00**2")
    judgements, evidence = judge_drift(flow, theta, [law], horizon=1e300)
    assert evidence["statuses"] == {"loose": "step_underflow", "tight": "step_underflow"}
    [judgement] = judgements
    assert judgement.outcome == "inconclusive" and judgement.status == "step_underflow"
    assert "integration did not finish" in judgement.reason and "stopped at t = " in judgement.reason
    assert judgement.to_dict()["drift_tight"] is None
    with pytest.raises(ValueError, match="can only be inconclusive"):
        DriftJudgement("h", "conserved", "planted", 0.0, 0.0, status="max_steps")


def test_the_known_laws_check_is_inconclusive_on_a_failed_run(monkeypatch):
    """The property over the flow (prop_known_laws) reads the status first: a failure is inconclusive."""
    import properties.prop_known_laws as known_laws

    real = known_laws.integrate

    def starved(flow, theta0, t_final, method="dp5", **options):
        options["max_steps"] = 3
        options["steps"] = min(options.get("steps", 3), 3)
        options["n_save"] = min(options.get("n_save", 1), 3)
        return real(flow, theta0, t_final, method, **options)

    monkeypatch.setattr(known_laws, "integrate", starved)
    verdict = conservation_verdict(Scenario("linear:3,2,2", "mse", seed=1))
    assert verdict.status is Status.INCONCLUSIVE and "integration did not finish" in verdict.reason
