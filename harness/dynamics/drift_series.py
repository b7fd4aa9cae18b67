"""|h(θ(t)) − h(θ₀)| of explicit laws along the augmented MSE flow and the plain flow from the same θ₀.

What ``flowlaws selfcheck`` draws as ``drift.png`` for its shrunk counterexample (``harness.verdicts.planted``):
the extra laws stay put on augmented data and move on plain data, against the integrator's own error.
"""

from __future__ import annotations

from dataclasses import replace

from harness.model.scenario import Scenario
from harness.verdicts.evidence import DriftSeries


def _law_functions(network, texts: tuple[str, ...]):
    import sympy

    from harness.laws.fields import parameter_symbols

    symbols = parameter_symbols(network)
    names = {str(s): s for s in symbols}
    # sympify takes locals= (its stubs do not say so)
    return [(text, sympy.lambdify(symbols, sympy.sympify(text, locals=names), "numpy")) for text in texts]  # pyright: ignore[reportCallIssue]


def drift_series(scenario: Scenario, law_texts: tuple[str, ...], *, saves: int = 40) -> DriftSeries | None:
    """|h(θ(t)) − h(θ₀)| of each explicit law along the augmented MSE flow and the plain (free-data) flow.

    Both flows start at the same θ₀ (drawn from the scenario's seed after the same base data set). The
    integrator's error is estimated, as the laws see it, by |h(θ_loose(t)) − h(θ_tight(t))| on the augmented flow,
    with the method and tolerances of ``SELFCHECK_FIGURE`` (DOP853, rtol 1e-10 and 1e-12: its dense output
    saves the 40 points without shortening steps). None when any of the three integrations did not finish.
    """
    import numpy as np

    from harness.dynamics.conservation import SELFCHECK_FIGURE as RULE
    from harness.dynamics.flow import GradientFlow, integrate

    augmented = scenario.build()
    plain = replace(scenario, data="free", arrays=None).build()
    theta0 = augmented.theta0
    flows = {
        "augmented": GradientFlow(augmented.network, augmented.loss, augmented.data),
        "plain": GradientFlow(plain.network, plain.loss, plain.data),
    }
    speed = float(np.linalg.norm(flows["augmented"].gradient(theta0))) or 1.0
    horizon = float(np.clip(2.0 * np.linalg.norm(theta0) / speed, 0.5, 10.0))
    options = dict(n_save=saves)
    loose = dict(rtol=RULE.loose_rtol, atol=RULE.loose_rtol * RULE.atol_per_rtol)
    tight = dict(rtol=RULE.tight_rtol, atol=RULE.tight_rtol * RULE.atol_per_rtol)
    runs = {name: integrate(flow, theta0, horizon, RULE.method, **loose, **options) for name, flow in flows.items()}
    reference = integrate(flows["augmented"], theta0, horizon, RULE.method, **tight, **options)
    failed = [run for run in (*runs.values(), reference) if not run.ok]
    if failed:  # a run that stopped early shows no drift worth drawing: never plot it as conservation
        return None
    laws = _law_functions(augmented.network, law_texts)
    drift, error = {}, np.zeros(len(runs["augmented"].times))
    for text, function in laws:
        for name, run in runs.items():
            values = np.array([float(function(*state)) for state in run.states])
            drift[f"{text} ({name} data)"] = tuple(np.abs(values - values[0]).tolist())
        accurate = np.array([float(function(*state)) for state in reference.states])
        coarse = np.array([float(function(*state)) for state in runs["augmented"].states])
        n = min(len(accurate), len(coarse))
        error[:n] = np.maximum(error[:n], np.abs(accurate[:n] - coarse[:n]))
    return DriftSeries(
        tuple(runs["augmented"].times.tolist()),
        drift,
        tuple(error.tolist()),
        extra={"statuses": {name: run.status for name, run in runs.items()}},
    )
