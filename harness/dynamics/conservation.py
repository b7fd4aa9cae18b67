"""Is an explicit law conserved along a real flow? Drift judged against the integrator's own error.

DESIGN.md §2, oracle 3: "Explicit laws from oracle 2 must stay constant along augmented flows and drift along
plain ones", and "judge drift against the integrator's own error (drift of a true law shrinks as the tolerance
tightens; a violation does not)". Laws here are any sympy expressions in the parameter symbols of
``harness.laws.fields.parameter_symbols`` (polynomial or rational: Gauss–Legendre keeps only quadratic invariants,
so the judgement uses Dormand–Prince at two tolerances).

Outcomes per law: ``conserved`` (tight drift at round-off, or shrinking ≥ 10× over the tolerance change),
``drifts`` (tight drift clearly above the integrator error and not shrinking), or ``inconclusive`` with the
reason: the run failed or blew up, the flow barely moved, a ratio law's denominator came near zero (trap (d):
ratio laws hold only away from it), the law was not finite along the flow, or the drift sat in between.

A failed run is never judged: if either integration ends with a status other than ``ok``, every judgement is
``inconclusive`` with that status (``DriftJudgement.status``) and NaN drifts, whatever the saved states show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from harness.dynamics.flow import GradientFlow, integrate, loss_values
from harness.model.family import Network

LOOSE_RTOL, TIGHT_RTOL = 1e-6, 1e-11
ROUND_OFF = 1e-11  # relative drift indistinguishable from float64 round-off along a flow
REQUIRED_SHRINK = 10.0  # five decades of tolerance must buy at least one decade of drift for a true law
CLEAR_DRIFT = 1e-7  # a drift this size that does not shrink from rtol 1e-6 to 1e-11 is no integrator error
MIN_LOSS_CHANGE = 1e-6
MIN_DENOMINATOR = 1e-3  # |Q(θ(t))| / |Q(θ₀)| below this: a ratio law is near its pole
SERIES_POINTS = 40


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
    expr = sympy.sympify(expression, locals={s.name: s for s in symbols}) if isinstance(expression, str) else expression
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

        return {"law": self.law, "outcome": self.outcome, "reason": self.reason,
                "drift_loose": number(self.drift_loose), "drift_tight": number(self.drift_tight),
                "min_denominator_ratio": self.min_denominator_ratio, "status": self.status}


def flow_horizon(flow: GradientFlow, theta0: np.ndarray) -> float:
    """A flow time over which θ moves by about half its size at the initial speed, clipped to [0.05, 5]."""
    speed = float(np.linalg.norm(flow.gradient(theta0)))
    if speed == 0.0:
        return 1.0
    return float(np.clip(0.5 * np.linalg.norm(theta0) / speed, 0.05, 5.0))


def _relative_drift(law: ExplicitLaw, states: np.ndarray, scale: float) -> np.ndarray:
    values = np.array([float(law.value(*state)) for state in states])
    return np.abs(values - values[0]) / scale


def judge_drift(flow: GradientFlow, theta0: np.ndarray, laws: list[ExplicitLaw], *, horizon: float | None = None,
                with_series: bool = False) -> tuple[list[DriftJudgement], dict]:
    """Judge each law along the flow from θ₀; returns the judgements and shared evidence (and plot series)."""
    theta0 = np.asarray(theta0, dtype=float)
    horizon = flow_horizon(flow, theta0) if horizon is None else horizon
    loose = integrate(flow, theta0, horizon, "dp5", rtol=LOOSE_RTOL, atol=LOOSE_RTOL * 1e-2, n_save=2)
    tight = integrate(flow, theta0, horizon, "dp5", rtol=TIGHT_RTOL, atol=TIGHT_RTOL * 1e-2, n_save=2)
    evidence = {"horizon": horizon, "rtol_loose": LOOSE_RTOL, "rtol_tight": TIGHT_RTOL,
                "statuses": {"loose": loose.status, "tight": tight.status},
                "thresholds": {"round_off": ROUND_OFF, "required_shrink": REQUIRED_SHRINK, "clear_drift": CLEAR_DRIFT}}
    if not (loose.ok and tight.ok):
        failed = loose if not loose.ok else tight
        reason = f"integration did not finish (loose: {loose.status}, tight: {tight.status}; {failed.failure})"
        return [DriftJudgement(law.text, "inconclusive", reason, np.nan, np.nan, status=failed.status)
                for law in laws], evidence
    losses = loss_values(flow, tight)
    loss_change = abs(losses[-1] - losses[0]) / max(abs(losses[0]), 1e-300)
    evidence.update(loss_start=float(losses[0]), loss_end=float(losses[-1]), relative_loss_change=loss_change)
    dense = None
    if with_series:
        dense = {rtol: integrate(flow, theta0, horizon, "dp5", rtol=rtol, atol=rtol * 1e-2, n_save=SERIES_POINTS)
                 for rtol in (LOOSE_RTOL, TIGHT_RTOL)}
    judgements, series_drift = [], {}
    for law in laws:
        scale = law.scale(theta0)
        drift_loose = float(_relative_drift(law, loose.states, scale).max())
        drift_tight = float(_relative_drift(law, tight.states, scale).max())
        ratio = None
        if law.denominator is not None:
            q0 = abs(float(law.denominator(*theta0)))
            states = tight.states if dense is None else dense[TIGHT_RTOL].states
            ratio = min(abs(float(law.denominator(*s))) for s in states) / max(q0, 1e-300)
        if dense is not None and dense[TIGHT_RTOL].ok:
            series_drift[law.text] = _relative_drift(law, dense[TIGHT_RTOL].states, scale).tolist()
        judgements.append(_classify(law.text, drift_loose, drift_tight, ratio, loss_change))
    if dense is not None and all(run.ok for run in dense.values()):
        a, b = dense[LOOSE_RTOL].states, dense[TIGHT_RTOL].states
        error = np.linalg.norm(a - b, axis=1) / np.maximum(np.linalg.norm(b, axis=1), 1e-300)
        evidence["series"] = {"times": dense[TIGHT_RTOL].times.tolist(), "drift": series_drift,
                              "error": error.tolist(), "error_label": f"‖θ(rtol {LOOSE_RTOL:g}) − θ(rtol {TIGHT_RTOL:g})‖/‖θ‖"}
    return judgements, evidence


def _classify(text: str, loose: float, tight: float, denominator_ratio: float | None,
              loss_change: float) -> DriftJudgement:
    if not (np.isfinite(loose) and np.isfinite(tight)):
        return DriftJudgement(text, "inconclusive", f"the law is not finite along the flow (drifts {loose} and "
                              f"{tight})", loose, tight, denominator_ratio)
    if denominator_ratio is not None and denominator_ratio < MIN_DENOMINATOR:
        return DriftJudgement(text, "inconclusive", f"denominator came within {denominator_ratio:.1e} of zero "
                              "(relative): a ratio law holds only away from its pole", loose, tight, denominator_ratio)
    if not loss_change > MIN_LOSS_CHANGE:
        return DriftJudgement(text, "inconclusive", f"the flow barely moves (relative loss change {loss_change:.1e})",
                              loose, tight, denominator_ratio)
    if tight <= ROUND_OFF:
        return DriftJudgement(text, "conserved", f"drift at round-off ({tight:.1e})", loose, tight, denominator_ratio)
    if tight * REQUIRED_SHRINK <= loose and tight < CLEAR_DRIFT:
        return DriftJudgement(text, "conserved", f"drift shrinks with the tolerance ({loose:.1e} → {tight:.1e})",
                              loose, tight, denominator_ratio)
    if tight >= CLEAR_DRIFT and tight * 3 >= loose:
        return DriftJudgement(text, "drifts", f"drift {tight:.1e} does not shrink with the tolerance "
                              f"({loose:.1e} → {tight:.1e})", loose, tight, denominator_ratio)
    return DriftJudgement(text, "inconclusive", f"drift neither at the integrator's error nor clearly above it "
                          f"({loose:.1e} → {tight:.1e})", loose, tight, denominator_ratio)
