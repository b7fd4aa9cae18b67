"""Gradient flows of torch models (``harness.dynamics.model_flow``): the problem, SciPy's steps, statuses, drift."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from harness.dynamics.flow import GradientFlow, integrate
from harness.dynamics.model_flow import (
    ModelFlow,
    integrate_model,
    judge_model_laws,
    law_drift_of_model,
    published_laws,
    torch_law,
)
from harness.errors import InvalidInput
from harness.kernels.status import IntegrationStatus
from harness.model.data import DataSet, augment, random_dataset
from harness.model.groups import build_group
from harness.model.scenario import Scenario
from harness.model.torch_model import network_from_module
from harness.model.zoo import parse_model


def dataset(model, n_samples: int, rng, **options) -> DataSet:
    """``random_dataset`` for a torch model (its signature names a Network; it reads only the shapes)."""
    return random_dataset(model, n_samples, rng, **options)  # pyright: ignore[reportArgumentType]


def model_flow(spec: str, loss: str = "mse", seed: int = 0, samples: int = 8):
    model = parse_model(spec)
    rng = np.random.default_rng(seed)
    data = dataset(model, samples, rng, loss=loss)
    return ModelFlow(model, loss, data), model.random_theta(rng)


class SquareRoot(torch.nn.Module):
    """f(w, x) = √w · x: under MSE towards y = 0 the flow w' = −c reaches w = 0 in finite time, where √w ends."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1, dtype=torch.float64))

    def forward(self, x):
        return x * torch.sqrt(self.w)


def square_root_flow():
    model = network_from_module(SquareRoot(), (1,), name="sqrt")
    return ModelFlow(model, "mse", DataSet(np.ones((1, 1)), np.zeros((1, 1))))


# --- the problem ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["linear:3,2,2", "poly:2,2,1,k=2", "attention:n=2,d=2,dk=1,dv=1"])
@pytest.mark.parametrize("loss", ["mse", "logcosh"])
def test_the_gradient_of_a_tensorizable_model_is_the_compiled_one(spec, loss):
    built = Scenario(spec, loss, n_samples=6, seed=2).build()
    compiled = GradientFlow(built.network, built.loss, built.data)
    flow = ModelFlow(built.network, built.loss, built.data)
    reference = compiled.gradient(built.theta0)
    assert np.abs(flow.gradient(built.theta0) - reference).max() <= 1e-13 * max(1.0, np.abs(reference).max())
    assert flow.loss_value(built.theta0) == pytest.approx(compiled.loss_value(built.theta0), rel=1e-13)


@pytest.mark.parametrize(
    "build,message",
    [
        (lambda m: ModelFlow(m, "mse", DataSet(np.zeros((3, 3)), np.zeros((3, 1)))), "data have 3 inputs"),
        (lambda m: ModelFlow(m, "nosuch", DataSet(np.zeros((3, 2)), np.zeros((3, 1)))), "unknown loss 'nosuch'"),
        (lambda m: ModelFlow(m, "mse", (np.zeros((3, 2)), np.full((3, 1), np.nan))), "contains NaN or inf"),
        (lambda m: ModelFlow(m, "logistic", DataSet(np.zeros((3, 2)), np.full((3, 1), 0.5))), "labels ±1"),
        (lambda m: ModelFlow("mlp:2,0,1", "mse", DataSet(np.zeros((3, 2)), np.zeros((3, 1)))), "sizes must be"),
        (lambda m: ModelFlow(m, "mse", "data"), "data must be a DataSet or an (x, y) pair"),  # pyright: ignore[reportArgumentType]  (refused)
        (lambda m: ModelFlow(m, "mse", DataSet(np.zeros((3, 2)), np.zeros((3, 1)))).gradient(np.zeros(3)), "(13,)"),
    ],
)
def test_bad_input_is_one_clear_error(build, message):
    with pytest.raises(InvalidInput, match=None) as error:
        build(parse_model("mlp:2,3,1"))
    assert message in str(error.value)


def test_integrate_model_refuses_before_any_work():
    flow, theta0 = model_flow("mlp:2,3,1")
    refusals = {
        "gauss": ({"method": "gauss"}, "cannot integrate a torch model; allowed: dop853, dp5"),
        "rtol": ({"rtol": 1e-16}, "below what float64 can deliver"),
        "n_save": ({"n_save": 10**7}, "above the limit"),
        "max_steps": ({"max_steps": 10**9}, "above the limit of 10,000,000"),
        "blow_up": ({"blow_up": 1e-6}, "theta0 already exceeds the blow-up bound"),
    }
    for name, (options, message) in refusals.items():
        with pytest.raises(InvalidInput) as error:
            integrate_model(flow, theta0, 1.0, **options)
        assert message in str(error.value), name
    with pytest.raises(InvalidInput, match="must be a ModelFlow"):
        compiled = GradientFlow("linear:2,1,1", "mse", (np.ones((2, 2)), np.ones((2, 1))))  # pyright: ignore[reportArgumentType]
        integrate_model(compiled, np.ones(3), 1.0)  # pyright: ignore[reportArgumentType]  (the refusal tested)


# --- the integrator: SciPy's method, the compiled loop's steps and statuses --------------------------------


@pytest.mark.parametrize("spec,loss", [("linear:3,2,2", "logcosh"), ("deep-linear:2,3,2,1", "mse")])
def test_dop853_takes_the_compiled_loops_steps_on_a_tensorizable_flow(spec, loss):
    built = Scenario(spec, loss, n_samples=8, seed=1, theta_scale=0.5).build()
    compiled = integrate(GradientFlow(built.network, built.loss, built.data), built.theta0, 3.0, "dop853", n_save=7)
    ours = integrate_model(ModelFlow(built.network, built.loss, built.data), built.theta0, 3.0, n_save=7)
    assert ours.ok and compiled.ok and ours.method == "dop853"
    assert (ours.n_steps, ours.n_rejected, ours.n_rhs) == (compiled.n_steps, compiled.n_rejected, compiled.n_rhs)
    assert np.abs(ours.states - compiled.states).max() <= 1e-12 * np.abs(compiled.states).max()
    assert np.array_equal(ours.times, compiled.times)


@pytest.mark.parametrize("spec,method", [("mlp:2,3,1", "DOP853"), ("mlp:3,4,2,act=tanh", "RK45")])
def test_the_end_state_is_solve_ivps(spec, method):
    flow, theta0 = model_flow(spec)
    name = {"DOP853": "dop853", "RK45": "dp5"}[method]
    ours = integrate_model(flow, theta0, 2.0, method=name, rtol=1e-9, atol=1e-11)
    scipy = solve_ivp(lambda t, th: -flow.gradient(th), (0.0, 2.0), theta0, method=method, rtol=1e-9, atol=1e-11)
    assert scipy.success and ours.ok
    assert ours.n_steps == scipy.t.size - 1 and ours.n_rhs == scipy.nfev
    assert np.abs(ours.final_state - scipy.y[:, -1]).max() <= 1e-13 * np.abs(theta0).max()
    assert np.array_equal(ours.states[-1], ours.final_state) and ours.times[-1] == 2.0


def test_backward_flow_and_dense_save_times():
    flow, theta0 = model_flow("mlp:2,3,1,act=tanh")
    ours = integrate_model(flow, theta0, 0.5, direction=-1, n_save=5, rtol=1e-11, atol=1e-13)
    assert ours.ok and ours.direction == -1 and ours.times[-1] == -0.5 and ours.states.shape == (6, flow.n_params)
    scipy = solve_ivp(
        lambda t, th: flow.gradient(th), (0.0, 0.5), theta0, "DOP853", rtol=1e-11, atol=1e-13, t_eval=[0.2]
    )
    assert np.abs(ours.states[2] - scipy.y[:, 0]).max() <= 1e-12


def test_statuses_are_honest():
    flow, theta0 = model_flow("mlp:2,3,1")
    budget = integrate_model(flow, theta0, 50.0, max_steps=3, n_save=10)
    assert budget.status == IntegrationStatus.MAX_STEPS and budget.n_steps + budget.n_rejected == 3
    assert budget.states.shape[0] < 11 and abs(budget.final_time) < 50.0
    assert budget.failure is not None and budget.failure.startswith("max_steps")
    grows = integrate_model(flow, theta0, 50.0, direction=-1, blow_up=1.5 * np.abs(theta0).max())
    assert grows.status == IntegrationStatus.BLOW_UP and np.abs(grows.final_state).max() > 1.5 * np.abs(theta0).max()
    ends = integrate_model(square_root_flow(), [1.0], 5.0, n_save=4)  # √w ends at t = 2 (ℓ = (f − y)²/2)
    assert ends.status == IntegrationStatus.STEP_UNDERFLOW and 1.9 < ends.final_time < 2.0 + 1e-9
    assert ends.states.shape[0] == 2 and ends.n_rejected > 0  # saved t = 0 and 1.25 only
    undefined = integrate_model(square_root_flow(), [-1.0], 1.0)
    assert undefined.status == IntegrationStatus.NONFINITE and undefined.n_steps == 0


def test_a_failed_run_has_no_drift():
    flow = square_root_flow()
    failed = integrate_model(flow, [1.0], 5.0, n_save=4)
    drift = law_drift_of_model(flow.model, failed, lambda th: (np.array([th[0]]), np.array([1.0])))
    assert not drift.available and drift.largest is None and drift.as_dict() == {"h0": None}
    judged = judge_model_laws(flow, [1.0], [torch_law(lambda th: th[0], "w")], horizon=5.0)
    assert judged.inconclusive == ("w",) and judged.judgements[0].status in ("step_underflow", "nonfinite")
    assert "integration did not finish" in judged.judgements[0].reason


# --- the drift rule along model flows ----------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["mse", "logcosh"])
def test_relu_rescaling_laws_are_conserved_and_a_planted_non_law_drifts(loss):
    flow, theta0 = model_flow("mlp:2,3,1", loss, seed=4)
    first_layer = torch_law(lambda th: (th[:6] ** 2).sum(), "‖W1‖²")
    judged = judge_model_laws(flow, theta0, published_laws(flow.model) + [first_layer])
    assert judged.conserved == tuple(flow.model.law_names) and len(judged.conserved) == 3, judged.judgements
    assert judged.drifting == ("‖W1‖²",), judged.judgements
    assert judged.evidence["method"] == "dop853" and judged.evidence["statuses"] == {"loose": "ok", "tight": "ok"}
    assert judged.to_dict()["judgements"][0]["outcome"] == "conserved"


def test_the_relu_laws_drift_on_a_tanh_network():
    tanh, theta0 = model_flow("mlp:2,3,1,act=tanh", seed=4)
    judged = judge_model_laws(tanh, theta0, published_laws("mlp:2,3,1"))
    assert judged.drifting == tuple(parse_model("mlp:2,3,1").law_names), judged.judgements
    assert judge_model_laws(tanh, theta0).judgements == ()  # a tanh MLP has no published law


def test_augmented_data_and_a_linear_network():
    model = parse_model("mlp:2,2,1,act=linear")
    rng = np.random.default_rng(7)
    group = build_group("flip/trivial", model)  # pyright: ignore[reportArgumentType]  (groups act on models too)
    data = augment(dataset(model, 4, rng), group)
    judged = judge_model_laws(ModelFlow(model, "logcosh", data), model.random_theta(rng))
    assert len(judged.conserved) == len(model.law_names) == 3, judged.judgements
