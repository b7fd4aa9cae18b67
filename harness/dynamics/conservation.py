"""Is an explicit law conserved along a real flow? Drift judged against the integrator's own error.

DESIGN.md §2, oracle 3: "Explicit laws from oracle 2 must stay constant along augmented flows and drift along
plain ones", and "judge drift against the integrator's own error (drift of a true law shrinks as the tolerance
tightens; a violation does not)". Laws here are any sympy expressions in the parameter symbols of
``harness.laws.fields.parameter_symbols`` (polynomial or rational: Gauss–Legendre keeps only quadratic invariants,
so the judgement uses an adaptive explicit method at two tolerances: DOP853 for explicit laws, Dormand–Prince
for the published ones).

Outcomes per law: ``conserved`` (tight drift at round-off, or shrinking ≥ 10× over the tolerance change),
``drifts`` (tight drift clearly above the integrator error and not shrinking), or ``inconclusive`` with the
reason: the run failed or blew up, the flow barely moved, a ratio law's denominator came near zero (trap (d):
ratio laws hold only away from it), the law was not finite along the flow, or the drift sat in between.

A failed run is never judged: if either integration ends with a status other than ``ok``, every judgement is
``inconclusive`` with that status (``DriftJudgement.status``) and NaN drifts, whatever the saved states show.

The drift judge is ``DriftRule``, the one place where a loose and a tight drift of one method become a
three-valued call; every property and ``flowlaws selfcheck`` read their tolerances from a ``DriftRule``.
Two judging records exist because two evidence kinds exist (their constants differed before they were gathered here,
and each verdict is kept):

- ``EXPLICIT_LAWS`` (any sympy law, Properties 4–5): DOP853, tolerances 1e-6 → 1e-11, round-off 1e-11; a
  shrinking drift is called conserved only below ``clear_drift`` and a drift needs the plateau ``tight·3 ≥ loose``.
  DOP853 replaced Dormand–Prince here (issue 10): 40 % fewer evaluations over the theorem tests' flows, and
  the same outcome for each of their 35 judgements (the tests of this rule pass unchanged).
- ``KNOWN_LAWS`` (published quadratic laws beside an exact Gauss–Legendre check, Property 2): tolerances
  1e-6 → 1e-10, round-off 1e-10; the Gauss run already bounds the law, so any tenfold shrink is conserved
  (``shrink_limit`` = ∞) and a drift ≥ ``clear_drift`` that does not shrink tenfold is a drift (plateau 10).

``SELFCHECK_FIGURE`` only sets the method and tolerances of the selfcheck's drift figure
(``harness.dynamics.drift_series``; nothing is judged from it).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from harness.dynamics.flow import GradientFlow, integrate, loss_values
from harness.model.family import Network

if TYPE_CHECKING:
    from harness.dynamics.model_flow import ModelFlow

MIN_LOSS_CHANGE = 1e-6
MIN_DENOMINATOR = 1e-3  # |Q(θ(t))| / |Q(θ₀)| below this: a ratio law is near its pole
SERIES_POINTS = 40


class DriftOutcome(str, enum.Enum):
    """The three-valued call on one law along one flow (values as in reports)."""

    def __str__(self) -> str:  # the value, as the plain strings this vocabulary replaced printed
        return self.value

    CONSERVED = "conserved"
    DRIFTS = "drifts"
    INCONCLUSIVE = "inconclusive"


class DriftBasis(str, enum.Enum):
    """Which clause of ``DriftRule.judge`` decided: callers word their verdict from it."""

    def __str__(self) -> str:  # the value, as the plain strings this vocabulary replaced printed
        return self.value

    ROUND_OFF = "round-off"  # tight drift at round-off: conserved
    SHRINKS = "shrinks"  # drift shrinks with the tolerance: conserved
    PLATEAU = "plateau"  # drift clearly above the integrator's error and not shrinking: drifts
    BETWEEN = "between"  # neither: inconclusive


@dataclass(frozen=True)
class DriftCall:
    """A ``DriftRule``'s judgement of one loose/tight drift pair, with the numbers that decided it."""

    outcome: DriftOutcome
    basis: DriftBasis
    loose: float
    tight: float


@dataclass(frozen=True)
class DriftRule:
    """The drift judge: ``method`` at ``loose_rtol`` and ``tight_rtol`` (atol = rtol·``atol_per_rtol``).

    ``judge(loose, tight)`` on the relative drifts max_t |h(θ(t)) − h(θ₀)| / scale of the two runs:

    1. tight ≤ ``round_off``: conserved (round-off of the tight run);
    2. tight·``required_shrink`` ≤ loose and tight < ``shrink_limit``: conserved (the drift is the integrator's);
    3. tight ≥ ``clear_drift`` and tight·``plateau`` ≥ loose: drifts (it does not follow the tolerance);
    4. otherwise inconclusive.

    Non-finite drifts are not judged here (callers say why the law was not finite). The module docstring
    lists the two records and why their constants differ.
    """

    loose_rtol: float
    tight_rtol: float
    round_off: float
    required_shrink: float = 10.0
    clear_drift: float = 1e-7
    shrink_limit: float = 1e-7
    plateau: float = 3.0
    atol_per_rtol: float = 1e-2
    method: str = "dp5"  # the adaptive method whose error the drifts are judged against

    def judge(self, loose: float, tight: float) -> DriftCall:
        if tight <= self.round_off:
            return DriftCall(DriftOutcome.CONSERVED, DriftBasis.ROUND_OFF, loose, tight)
        if tight * self.required_shrink <= loose and tight < self.shrink_limit:
            return DriftCall(DriftOutcome.CONSERVED, DriftBasis.SHRINKS, loose, tight)
        if tight >= self.clear_drift and tight * self.plateau >= loose:
            return DriftCall(DriftOutcome.DRIFTS, DriftBasis.PLATEAU, loose, tight)
        return DriftCall(DriftOutcome.INCONCLUSIVE, DriftBasis.BETWEEN, loose, tight)

    def thresholds(self) -> dict:
        """The constants as recorded in a verdict's evidence."""
        return {"round_off": self.round_off, "required_shrink": self.required_shrink, "clear_drift": self.clear_drift}


# Explicit (sympy) laws: five decades of tolerance must buy one decade of drift; a drift of 1e-7 that does not
# shrink from rtol 1e-6 to 1e-11 is no integrator error; 1e-11 is float64 round-off along a flow.
EXPLICIT_LAWS = DriftRule(loose_rtol=1e-6, tight_rtol=1e-11, round_off=1e-11, method="dop853")
# Published laws (Property 2): four decades of tolerance, round-off at the tight run's own error (rtol 1e-10).
KNOWN_LAWS = DriftRule(loose_rtol=1e-6, tight_rtol=1e-10, round_off=1e-10, shrink_limit=math.inf, plateau=10.0)
# ``flowlaws selfcheck``'s drift.png: drift along rtol-1e-10 flows, the integrator's error read as |h(θ_1e-10(t)) −
# h(θ_1e-12(t))| (a picture of a counterexample already refuted by exact counts: nothing is judged from it).
SELFCHECK_FIGURE = DriftRule(loose_rtol=1e-10, tight_rtol=1e-12, round_off=1e-12, method="dop853")


@dataclass(frozen=True)
class ExplicitLaw:
    """h(θ) as numeric functions compiled from a sympy expression (its text is kept for reports)."""

    text: str
    value: Callable = field(repr=False)
    gradient: Callable = field(repr=False)
    denominator: Callable | None = field(default=None, repr=False)

    def scale(self, theta: np.ndarray) -> float:
        """Size against which drift is measured: max(|h(θ)|, ‖∇h(θ)‖·‖θ‖), never below 1e-300."""
        gradient = np.asarray(self.gradient(*theta), dtype=float)
        return max(abs(float(self.value(*theta))), float(np.linalg.norm(gradient) * np.linalg.norm(theta)), 1e-300)


def compile_law(network: Network, expression) -> ExplicitLaw:
    """Compile a law given as a sympy expression or its string in the parameter symbols of ``network``."""
    import sympy

    from harness.laws.fields import parameter_symbols

    symbols = parameter_symbols(network)
    names = {s.name: s for s in symbols}
    expr = sympy.sympify(expression, locals=names) if isinstance(expression, str) else expression  # pyright: ignore[reportCallIssue]  # sympy's sympify overloads omit ``locals`` for str input
    numerator, denominator = sympy.fraction(sympy.together(expr))
    gradient = [sympy.diff(expr, s) for s in symbols]
    return ExplicitLaw(
        text=str(expr),
        value=sympy.lambdify(symbols, expr, "numpy"),
        gradient=sympy.lambdify(symbols, gradient, "numpy"),
        denominator=None if denominator.is_number else sympy.lambdify(symbols, denominator, "numpy"),
    )


@dataclass(frozen=True)
class DriftJudgement:
    """Verdict on one law along one flow, with the drifts that decided."""

    law: str
    outcome: str  # conserved | drifts | inconclusive
    reason: str
    drift_loose: float
    drift_tight: float
    min_denominator_ratio: float | None = None
    status: str = "ok"  # "ok", or the status of the integration that failed (then the outcome is inconclusive)

    def __post_init__(self):
        if self.status != "ok" and self.outcome != "inconclusive":
            raise ValueError(f"a failed integration ({self.status}) can only be inconclusive, not {self.outcome}")

    def to_dict(self) -> dict:
        def number(value):
            return None if value is None or not np.isfinite(value) else value

        return {
            "law": self.law,
            "outcome": self.outcome,
            "reason": self.reason,
            "drift_loose": number(self.drift_loose),
            "drift_tight": number(self.drift_tight),
            "min_denominator_ratio": self.min_denominator_ratio,
            "status": self.status,
        }


def flow_horizon(flow: GradientFlow | ModelFlow, theta0: np.ndarray) -> float:
    """A flow time over which θ moves by about half its size at the initial speed, clipped to [0.05, 5]."""
    speed = float(np.linalg.norm(flow.gradient(theta0)))
    if speed == 0.0:
        return 1.0
    return float(np.clip(0.5 * np.linalg.norm(theta0) / speed, 0.05, 5.0))


def _relative_drift(law: ExplicitLaw, states: np.ndarray, scale: float) -> np.ndarray:
    values = np.array([float(law.value(*state)) for state in states])
    return np.abs(values - values[0]) / scale


def _integrate(flow: GradientFlow | ModelFlow, theta0, horizon: float, method: str, **options):
    """One run of ``judge_drift``: a tensorizable flow by the compiled loop (``integrate``), a torch model's flow
    by ``harness.dynamics.model_flow.integrate_model`` (the same method through SciPy: issue 11)."""
    if not isinstance(flow, GradientFlow):
        from harness.dynamics.model_flow import ModelFlow, integrate_model

        if isinstance(flow, ModelFlow):
            return integrate_model(flow, theta0, horizon, method=method, **options)
    return integrate(flow, theta0, horizon, method, **options)  # type: ignore[arg-type]  (refuses anything else)


def judge_drift(
    flow: GradientFlow | ModelFlow,
    theta0: np.ndarray,
    laws: list[ExplicitLaw],
    *,
    horizon: float | None = None,
    with_series: bool = False,
    rule: DriftRule = EXPLICIT_LAWS,
) -> tuple[list[DriftJudgement], dict]:
    """Judge each law along the flow from θ₀ with ``rule``; returns the judgements and shared evidence (and
    plot series). ``flow`` is a ``GradientFlow`` or a torch model's ``ModelFlow`` (the same rule for both)."""
    theta0 = np.asarray(theta0, dtype=float)
    horizon = flow_horizon(flow, theta0) if horizon is None else horizon
    loose_rtol, tight_rtol = rule.loose_rtol, rule.tight_rtol
    method = rule.method
    loose = _integrate(flow, theta0, horizon, method, rtol=loose_rtol, atol=loose_rtol * rule.atol_per_rtol, n_save=2)
    tight = _integrate(flow, theta0, horizon, method, rtol=tight_rtol, atol=tight_rtol * rule.atol_per_rtol, n_save=2)
    evidence = {
        "horizon": horizon,
        "rtol_loose": loose_rtol,
        "rtol_tight": tight_rtol,
        "method": method,
        "statuses": {"loose": loose.status, "tight": tight.status},
        "thresholds": rule.thresholds(),
    }
    if not (loose.ok and tight.ok):
        failed = loose if not loose.ok else tight
        reason = f"integration did not finish (loose: {loose.status}, tight: {tight.status}; {failed.failure})"
        return [
            DriftJudgement(law.text, "inconclusive", reason, np.nan, np.nan, status=failed.status) for law in laws
        ], evidence
    losses = loss_values(flow, tight)  # type: ignore[arg-type]  (it reads only flow.loss_value: a ModelFlow has it)
    loss_change = abs(losses[-1] - losses[0]) / max(abs(losses[0]), 1e-300)
    evidence.update(loss_start=float(losses[0]), loss_end=float(losses[-1]), relative_loss_change=loss_change)
    dense = None
    if with_series:
        dense = {
            rtol: _integrate(
                flow, theta0, horizon, method, rtol=rtol, atol=rtol * rule.atol_per_rtol, n_save=SERIES_POINTS
            )
            for rtol in (loose_rtol, tight_rtol)
        }
    judgements, series_drift = [], {}
    for law in laws:
        scale = law.scale(theta0)
        drift_loose = float(_relative_drift(law, loose.states, scale).max())
        drift_tight = float(_relative_drift(law, tight.states, scale).max())
        ratio = None
        if law.denominator is not None:
            q0 = abs(float(law.denominator(*theta0)))
            states = tight.states if dense is None else dense[tight_rtol].states
            ratio = min(abs(float(law.denominator(*s))) for s in states) / max(q0, 1e-300)
        if dense is not None and dense[tight_rtol].ok:
            series_drift[law.text] = _relative_drift(law, dense[tight_rtol].states, scale).tolist()
        judgements.append(_classify(rule, law.text, drift_loose, drift_tight, ratio, loss_change))
    if dense is not None and all(run.ok for run in dense.values()):
        a, b = dense[loose_rtol].states, dense[tight_rtol].states
        error = np.linalg.norm(a - b, axis=1) / np.maximum(np.linalg.norm(b, axis=1), 1e-300)
        evidence["series"] = {
            "times": dense[tight_rtol].times.tolist(),
            "drift": series_drift,
            "error": error.tolist(),
            "error_label": f"‖θ(rtol {loose_rtol:g}) − θ(rtol {tight_rtol:g})‖/‖θ‖",
        }
    return judgements, evidence


def _classify(
    rule: DriftRule, text: str, loose: float, tight: float, denominator_ratio: float | None, loss_change: float
) -> DriftJudgement:
    if not (np.isfinite(loose) and np.isfinite(tight)):
        return DriftJudgement(
            text,
            "inconclusive",
            f"the law is not finite along the flow (drifts {loose} and {tight})",
            loose,
            tight,
            denominator_ratio,
        )
    if denominator_ratio is not None and denominator_ratio < MIN_DENOMINATOR:
        return DriftJudgement(
            text,
            "inconclusive",
            f"denominator came within {denominator_ratio:.1e} of zero "
            "(relative): a ratio law holds only away from its pole",
            loose,
            tight,
            denominator_ratio,
        )
    if not loss_change > MIN_LOSS_CHANGE:
        return DriftJudgement(
            text,
            "inconclusive",
            f"the flow barely moves (relative loss change {loss_change:.1e})",
            loose,
            tight,
            denominator_ratio,
        )
    call = rule.judge(loose, tight)
    reason = {
        DriftBasis.ROUND_OFF: f"drift at round-off ({tight:.1e})",
        DriftBasis.SHRINKS: f"drift shrinks with the tolerance ({loose:.1e} → {tight:.1e})",
        DriftBasis.PLATEAU: f"drift {tight:.1e} does not shrink with the tolerance ({loose:.1e} → {tight:.1e})",
        DriftBasis.BETWEEN: f"drift neither at the integrator's error nor clearly above it ({loose:.1e} → {tight:.1e})",
    }[call.basis]
    return DriftJudgement(text, call.outcome.value, reason, loose, tight, denominator_ratio)
