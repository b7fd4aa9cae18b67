"""Gradient flows of torch models: θ' = −∇_θ L_S(θ) for any ``TorchModel`` (issue 11, item 3).

``ModelFlow(model, loss, data)`` is the validated problem (as ``GradientFlow`` for a tensorizable network), with
L_S(θ) = mean_r ℓ(f_r(θ, x), y_r) computed by ``TorchModel.loss`` and ∇L_S by torch autograd (float64).
``integrate_model`` integrates it and returns the same ``harness.dynamics.flow.Trajectory`` record, with the same
status vocabulary, as the compiled integrators.

Why SciPy: the compiled time loop (``harness.kernels.integrators``) cannot call torch. The adaptive methods are
therefore SciPy's own Runge–Kutta solvers driven step by step with the torch right-hand side: ``dop853`` is
``scipy.integrate.DOP853`` and ``dp5`` is ``scipy.integrate.RK45`` (Dormand–Prince 5(4)), the classes
``solve_ivp(method="DOP853" | "RK45")`` steps; flowlaws' compiled DOP853 and dp5 have exactly their coefficients and
take exactly their steps (tests/test_dop853.py, tests/test_integrators.py), so a model flow and a tensorizable flow
are integrated by the same method. ``solve_ivp``'s own loop has no step budget and no blow-up bound, so the solver
is stepped here, which adds both and keeps exact counts:

* ``ok`` — the run reached t_final; ``max_steps`` — attempted steps (accepted + rejected) reached ``max_steps``
  (checked after each accepted step: SciPy retries a rejected step inside one call); ``blow_up`` — ‖θ‖∞ >
  ``blow_up`` after a step; ``step_underflow`` — SciPy gave up because the step needed fell below the spacing of
  floats at t (its only failure for these methods); ``nonfinite`` — ∇L was NaN or inf at θ₀, or a saved state
  from the dense output was.
  As for the compiled loop, a stage with a non-finite slope only rejects the step (both then shrink it).

A failed run keeps the states of the save times reached and nothing else, so it can never look conserved.
``law_drift_of_model`` is ``harness.dynamics.flow.law_drift`` for a model (the same ``LawDrift`` record), and
``judge_model_laws`` judges published laws or any torch function θ ↦ h(θ) (``torch_law``) along a model flow with
the one drift rule (``harness.dynamics.conservation``: ``DriftRule``, ``judge_drift``), three outcomes each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from harness.dynamics.conservation import (
    EXPLICIT_LAWS,
    DriftJudgement,
    DriftOutcome,
    DriftRule,
    ExplicitLaw,
    judge_drift,
)
from harness.dynamics.flow import (
    DEFAULT_BLOW_UP,
    DEFAULT_RTOL,
    LawDrift,
    Trajectory,
    parameter_vector,
    run_request,
    trajectory_of,
)
from harness.errors import InvalidInput
from harness.jsonable import plain
from harness.kernels.status import IntegrationStatus
from harness.model.data import DataSet, check_data_size
from harness.model.family import Network
from harness.model.losses import Loss, get_loss
from harness.model.torch_model import TorchModel
from harness.model.zoo import parse_model

DEFAULT_ATOL = 1e-10
# Attempted steps of one model run unless asked otherwise (the compiled loop allows 200,000): ∇L through torch costs
# ~1 ms, a DOP853 step 12 of them, so this bounds a run to ~10 s. A smooth flow over a drift horizon needs tens of
# steps; a ReLU flow that slides along a kink (a pre-activation held at 0, where ∇L jumps: a Filippov sliding mode)
# makes any explicit adaptive method chatter without end, and then stops here with status max_steps.
DEFAULT_MODEL_MAX_STEPS = 800
# flowlaws' adaptive methods and the SciPy solver class with the same tableau (and SciPy's step-size control).
SCIPY_SOLVERS = {"dop853": "DOP853", "dp5": "RK45"}


@dataclass(frozen=True, eq=False, init=False)
class ModelFlow:
    """The gradient flow of L_S(θ) = mean_r ℓ(f_r(θ, x), y_r) for one torch model, loss and data set S = (x, y).

    Validated on construction as ``GradientFlow`` is: the model (a zoo spec, a ``Network`` or a ``TorchModel``;
    its size bound), the loss (or its name), the data (a ``DataSet`` or an (x, y) pair: shapes, finite values),
    targets the loss accepts, and the data size bound.
    """

    model: TorchModel
    loss: Loss
    data: DataSet

    def __init__(self, model: TorchModel | Network | str, loss: Loss | str, data: DataSet | tuple):
        model = parse_model(model)
        loss = get_loss(loss)
        if not isinstance(data, DataSet):
            try:
                x, y = data
            except (TypeError, ValueError):
                raise InvalidInput(f"data must be a DataSet or an (x, y) pair, got {type(data).__name__}") from None
            data = DataSet(x, y)
        data.check_network(model, loss)  # type: ignore[arg-type]  (a TorchModel has the shapes a Network has)
        check_data_size(model, data.n_samples)  # type: ignore[arg-type]
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "data", data)

    @cached_property
    def tensors(self) -> tuple:
        """x and y as float64 torch tensors (made once: every evaluation of ∇L reads them)."""
        import torch

        return torch.tensor(self.data.x), torch.tensor(self.data.y)  # copies: the data's arrays are read-only

    @property
    def n_params(self) -> int:
        """D, the length of θ."""
        return self.model.n_params

    def check_theta(self, theta, name: str = "theta") -> np.ndarray:
        """θ as a fresh float64 vector, or InvalidInput naming what is wrong."""
        return parameter_vector(theta, self.n_params, self.model, name)

    def loss_value(self, theta) -> float:
        """L_S(θ)."""
        import torch

        x, y = self.tensors
        with torch.no_grad():
            return float(self.model.loss(torch.as_tensor(self.check_theta(theta)), x, y, self.loss))

    def gradient(self, theta) -> np.ndarray:
        """∇_θ L_S(θ) by reverse-mode autograd (NumPy in and out, float64)."""
        return self._gradient(self.check_theta(theta))

    def _gradient(self, theta: np.ndarray) -> np.ndarray:
        """∇L_S at an already checked θ (the integrator's right-hand side: no copy, no check)."""
        import torch

        x, y = self.tensors
        weights = torch.tensor(theta, requires_grad=True)
        (gradient,) = torch.autograd.grad(self.model.loss(weights, x, y, self.loss), weights)
        return gradient.numpy()


def integrate_model(
    flow: ModelFlow,
    theta0,
    t_final: float,
    *,
    method: str = "dop853",
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    n_save: int = 1,
    direction: int = 1,
    max_steps: int = DEFAULT_MODEL_MAX_STEPS,
    blow_up: float = DEFAULT_BLOW_UP,
) -> Trajectory:
    """Integrate θ' = −s·∇L_S(θ) (s = ``direction``) from θ₀ over flow time ``t_final`` with SciPy's solver.

    ``method`` is ``dop853`` (Hairer's 8(5,3), SciPy's DOP853, the default) or ``dp5`` (Dormand–Prince 5(4),
    SciPy's RK45); see the module docstring for why SciPy and how its outcomes map to the statuses. States are
    saved at n_save + 1 equally spaced times including 0 and t_final (inner ones from the solver's dense output);
    ``max_steps`` defaults to ``DEFAULT_MODEL_MAX_STEPS`` (why: where it is defined).
    Every option is checked before any work with ``integrate``'s rules (``harness.dynamics.flow.run_request``:
    tolerances, save count, step budget, blow-up bound); a run that fails on the way returns with its status.
    """
    if not isinstance(flow, ModelFlow):
        raise InvalidInput(f"flow must be a ModelFlow, got {type(flow).__name__}")
    if method not in SCIPY_SOLVERS:
        raise InvalidInput(
            f"method {method!r} cannot integrate a torch model; allowed: {', '.join(SCIPY_SOLVERS)} (adaptive "
            "Runge–Kutta through SciPy: the compiled integrators cannot call torch)"
        )
    theta0 = flow.check_theta(theta0, "theta0")
    run = run_request(flow, method, t_final, rtol, atol, 1, n_save, direction, max_steps, blow_up, theta0)
    start = time.perf_counter()
    result = _step_scipy(flow, theta0, run, blow_up)
    return trajectory_of(run, *result, time.perf_counter() - start)


def _step_scipy(
    flow: ModelFlow, theta0: np.ndarray, run, blow_up: float
) -> tuple[np.ndarray, int, int, int, int, int, float, np.ndarray]:
    """The loop: SciPy's solver stepped to t_final, states saved; returns ``trajectory_of``'s arguments."""
    from scipy import integrate as scipy_integrate

    sign = float(run.direction)
    save_times = run.save_times
    states = np.empty((save_times.size, theta0.size))
    states[0] = theta0
    evaluations = [0]

    def field(_t, theta):
        evaluations[0] += 1
        return -sign * flow._gradient(theta)

    solver_class = getattr(scipy_integrate, SCIPY_SOLVERS[run.record.name])
    with np.errstate(all="ignore"):  # a non-finite ∇L(θ₀) is reported as a status, not as warnings
        solver = solver_class(field, 0.0, theta0, run.t_final, rtol=run.rtol, atol=run.atol)
    if not np.isfinite(solver.f).all():
        return states, 1, IntegrationStatus.NONFINITE.code, evaluations[0], 0, 0, 0.0, theta0.copy()
    saved, n_steps, n_rejected = 1, 0, 0
    status = IntegrationStatus.OK
    last = save_times.size - 1
    while saved <= last:
        if n_steps + n_rejected >= run.max_steps:
            status = IntegrationStatus.MAX_STEPS
            break
        before = evaluations[0]
        with np.errstate(all="ignore"):  # non-finite stages are rejected steps, not warnings
            solver.step()
        attempts = (evaluations[0] - before) // solver.n_stages  # each attempt evaluates every stage once
        if solver.status == "failed":  # SciPy's only failure of an explicit RK step: the step fell below spacing
            n_rejected += attempts
            status = IntegrationStatus.STEP_UNDERFLOW
            break
        n_steps += 1
        n_rejected += max(attempts - 1, 0)
        t_new = solver.t
        if saved < last and save_times[saved] < t_new:
            dense = solver.dense_output()
            while saved < last and save_times[saved] < t_new:
                states[saved] = dense(save_times[saved])
                saved += 1
            if not np.isfinite(states[:saved]).all():
                status = IntegrationStatus.NONFINITE
                break
        if float(np.abs(solver.y).max()) > blow_up:
            status = IntegrationStatus.BLOW_UP
            break
        if solver.status == "finished":
            states[last] = solver.y
            saved = last + 1
    final_state = np.array(solver.y, dtype=float, copy=True)
    return states, saved, status.code, evaluations[0], n_steps, n_rejected, float(solver.t), final_state


def law_drift_of_model(model, trajectory: Trajectory, laws=None) -> LawDrift:
    """How far each law moved along a model's trajectory, relative to its scale (``flow.law_drift``'s record).

    ``laws`` defaults to the model's published laws (``known_laws``, named by ``law_names``); any function
    θ ↦ (values, scales) works, its laws then named h0, h1, …. A failed trajectory gives a ``LawDrift`` that is
    not available (NaN drifts, the status kept).
    """
    model = parse_model(model)
    law_function = model.known_laws if laws is None else laws
    if laws is None:
        names = tuple(model.law_names)
    else:
        names = tuple(f"h{i}" for i in range(np.asarray(law_function(trajectory.initial_state)[0]).size))
    if not trajectory.ok:
        nan = np.full(len(names), np.nan)
        history = np.full((len(trajectory.states), len(names)), np.nan)
        return LawDrift(names, nan, nan.copy(), nan.copy(), history, status=trajectory.status)
    pairs = [law_function(state) for state in trajectory.states]
    values = np.array([np.asarray(value, dtype=float).reshape(-1) for value, _ in pairs])
    scales = np.array([np.asarray(scale, dtype=float).reshape(-1) for _, scale in pairs])
    if values.shape[1] == 0:
        return LawDrift(names, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros((len(trajectory.states), 0)))
    scale = np.maximum(np.abs(scales).max(axis=0), 1e-300)
    history = np.abs(values - values[0]) / scale
    return LawDrift(names, history.max(axis=0), scale, values[0], history)


# --- laws of a model judged along its flow, with the one drift rule ---------------------------------------------


def torch_law(function, text: str, *, index: int | None = None) -> ExplicitLaw:
    """A law h(θ) given as a torch function of the flat θ, as the ``ExplicitLaw`` the drift rule judges.

    ``function`` maps a float64 tensor θ (D,) to a scalar, or to a vector whose entry ``index`` is h; ∇h comes
    from autograd. The law's scale (what its drift is measured against) is ``ExplicitLaw.scale``'s,
    max(|h(θ)|, ‖∇h(θ)‖·‖θ‖), as for every explicit law.
    """

    def value_tensor(theta):
        value = function(theta)
        return value if index is None else value.reshape(-1)[index]

    def value(*theta) -> float:
        import torch

        with torch.no_grad():
            return float(value_tensor(torch.tensor(theta, dtype=torch.float64)))

    def gradient(*theta) -> np.ndarray:
        import torch

        weights = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        (result,) = torch.autograd.grad(value_tensor(weights), weights, allow_unused=True)
        return np.zeros(len(theta)) if result is None else result.numpy()

    return ExplicitLaw(text=text, value=value, gradient=gradient)


def published_laws(model) -> list[ExplicitLaw]:
    """The model's published laws (``law_function``, named by ``law_names``), one ``ExplicitLaw`` each."""
    model = parse_model(model)
    return [torch_law(model.law_function, name, index=i) for i, name in enumerate(model.law_names)]


@dataclass(frozen=True)
class ModelLawDrift:
    """The drift rule's verdict on laws along one model flow: a judgement per law and the shared evidence.

    ``evidence`` is ``judge_drift``'s (horizon, both tolerances, method, statuses, loss change, thresholds).
    """

    model: str
    loss: str
    judgements: tuple[DriftJudgement, ...]
    evidence: dict = field(repr=False)

    def laws_with(self, outcome: str) -> tuple[str, ...]:
        """The laws whose outcome is ``outcome`` (conserved, drifts or inconclusive)."""
        return tuple(j.law for j in self.judgements if j.outcome == outcome)

    @property
    def conserved(self) -> tuple[str, ...]:
        return self.laws_with(DriftOutcome.CONSERVED.value)

    @property
    def drifting(self) -> tuple[str, ...]:
        return self.laws_with(DriftOutcome.DRIFTS.value)

    @property
    def inconclusive(self) -> tuple[str, ...]:
        return self.laws_with(DriftOutcome.INCONCLUSIVE.value)

    def to_dict(self) -> dict:
        return plain(
            {
                "model": self.model,
                "loss": self.loss,
                "judgements": [j.to_dict() for j in self.judgements],
                "evidence": self.evidence,
            }
        )


def judge_model_laws(
    flow: ModelFlow,
    theta0,
    laws: list[ExplicitLaw] | None = None,
    *,
    horizon: float | None = None,
    rule: DriftRule = EXPLICIT_LAWS,
) -> ModelLawDrift:
    """Judge laws along the model flow from θ₀ with the one drift rule (``conservation.judge_drift``).

    ``laws`` defaults to the model's published laws; any ``ExplicitLaw`` works (``torch_law`` for a torch
    function). The rule defaults to ``EXPLICIT_LAWS`` (DOP853 at rtol 1e-6 and 1e-11): ``KNOWN_LAWS`` leans on an
    exact Gauss–Legendre check that has no torch counterpart. Each law: conserved, drifts or inconclusive with
    the reason (a failed integration is inconclusive with its status).
    """
    if not isinstance(flow, ModelFlow):
        raise InvalidInput(f"flow must be a ModelFlow, got {type(flow).__name__}")
    theta0 = flow.check_theta(theta0, "theta0")
    laws = published_laws(flow.model) if laws is None else list(laws)
    judgements, evidence = judge_drift(flow, theta0, laws, horizon=horizon, rule=rule)
    return ModelLawDrift(str(flow.model), flow.loss.name, tuple(judgements), evidence)
