"""Property 2: the known laws are conserved along integrated gradient flows.

Statement: for every family, loss class, data set (free or G-augmented) and θ₀, each published law h of the
network (linear UᵀU − VᵀV; deep linear W_{i+1}ᵀW_{i+1} − W_iW_iᵀ; polynomial k‖u_j‖² − ‖v_j‖²; attention
W_QᵀW_Q − W_KᵀW_K and ‖W_Q‖² − ‖W_V‖²) satisfies ∇h·∇L = 0, so h(θ(t)) is constant along θ' = −∇L(θ).

The check integrates the flow and judges the drift against the integrator's own error (DESIGN.md §2.3):
- 2-stage Gauss–Legendre conserves quadratic invariants exactly, so its relative drift must stay ≤ 1e-9;
- Dormand–Prince conserves them only up to its error, so its drift must shrink as the tolerance tightens
  (rtol 1e-6 → 1e-10) or already sit at round-off; a non-law plateaus instead.
A flow that blows up or barely moves cannot tell a law from a non-law: inconclusive, with the reason (any
trajectory status but ``ok`` is inconclusive, whatever its saved states show).

The class, and which data sets stand for it. The claim is universal: a published law satisfies ∇h·∇L_data = 0
identically, for every data set of every size with every loss (it comes from a parameter symmetry of f, not
from the data). So each drawn data set (N Gaussian samples, random or teacher targets, free or G-augmented)
is a member of the class, and a drift on any one of them is a real counterexample; drawing a sub-class can
only weaken a "holds" (coverage), never manufacture a violation. No sub-class question arises.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.dynamics.conservation import KNOWN_LAWS, DriftBasis, flow_horizon
from harness.dynamics.flow import GradientFlow, integrate, law_drift, loss_values
from harness.model.family import FAMILIES
from harness.model.losses import LOSS_CLASSES
from harness.model.scenario import Scenario
from harness.verdicts.property import NO_PLANT, Plant, Property, enforce
from harness.verdicts.verdict import Verdict
from strategies import scenarios
from strategies.groups import group_kind_names, token_kind_names

GAUSS_TOLERANCE = 1e-9  # relative drift allowed to the Gauss–Legendre flow (exact up to round-off)
GAUSS_STEPS = 200
RULE = KNOWN_LAWS  # the drift judge (harness.dynamics.conservation): rtol 1e-6 → 1e-10, round-off 1e-10
MIN_LOSS_CHANGE = 1e-6  # relative change of L below which the flow has not moved enough to judge
SAVES = 20
HORIZON_EXTENSIONS = 3  # a flow that barely moves is run up to 3 times, each 100× longer
HORIZON_FACTOR = 100.0
DP5_SAVES = 2


def _relative_loss_change(flow: GradientFlow, trajectory) -> float:
    losses = loss_values(flow, trajectory)
    return float(abs(losses[-1] - losses[0]) / max(abs(losses[0]), 1e-300))


def conservation_verdict(scenario: Scenario, laws=None) -> Verdict:
    """Whether the laws (default: the network's known laws; any θ ↦ (values, scales)) are conserved."""
    built = scenario.build()
    flow = GradientFlow(built.network, built.loss, built.data)
    theta0 = built.theta0
    horizon = flow_horizon(flow, theta0)
    # A slow flow (tiny inputs under a quartic loss, a point near a minimum) would stand still over the default
    # horizon and be inconclusive; a longer flow decides. Only a finished run is ever measured.
    for _ in range(HORIZON_EXTENSIONS + 1):
        gauss = integrate(flow, theta0, horizon, "gauss", steps=GAUSS_STEPS, n_save=SAVES)
        if not gauss.ok or _relative_loss_change(flow, gauss) > MIN_LOSS_CHANGE:
            break
        horizon *= HORIZON_FACTOR
    runs = {"gauss": gauss}
    for name, rtol in (("dp5_loose", RULE.loose_rtol), ("dp5_tight", RULE.tight_rtol)):
        # few save times: steps clipped to land on many of them would make both runs equally (too) accurate
        runs[name] = integrate(
            flow, theta0, horizon, "dp5", rtol=rtol, atol=rtol * RULE.atol_per_rtol, n_save=DP5_SAVES
        )
    evidence = {
        "horizon": horizon,
        "statuses": {name: run.status for name, run in runs.items()},
        "gradient_evaluations": {name: run.n_rhs for name, run in runs.items()},
        "tolerances": {
            "gauss_steps": GAUSS_STEPS,
            "dp5_loose_rtol": RULE.loose_rtol,
            "dp5_tight_rtol": RULE.tight_rtol,
            "gauss_bound": GAUSS_TOLERANCE,
            "round_off": RULE.round_off,
            "required_shrink": RULE.required_shrink,
        },
    }
    failed = {name: run.status for name, run in runs.items() if not run.ok}
    if failed:
        return Verdict.inconclusive(f"integration did not finish: {failed}", **evidence)
    losses = loss_values(flow, gauss)
    loss_change = _relative_loss_change(flow, gauss)
    evidence.update(loss_start=float(losses[0]), loss_end=float(losses[-1]), relative_loss_change=loss_change)
    if not loss_change > MIN_LOSS_CHANGE:
        return Verdict.inconclusive(
            f"the flow barely moves (relative loss change {loss_change:.1e}); "
            "conservation cannot be told from standing still",
            **evidence,
        )
    drifts = {name: law_drift(built.network, run, laws) for name, run in runs.items()}
    gauss_drift = drifts["gauss"].largest
    loose, tight = drifts["dp5_loose"].largest, drifts["dp5_tight"].largest
    # every run finished (``failed`` is empty above), so every drift is available
    assert gauss_drift is not None and loose is not None and tight is not None
    evidence.update(
        gauss_drift=gauss_drift,
        dp5_drift_loose=loose,
        dp5_drift_tight=tight,
        law_names=list(drifts["gauss"].names),
        gauss_drift_per_law=drifts["gauss"].drifts,
    )
    if laws is None and len(drifts["gauss"].names) == 0:
        return Verdict.inconclusive("the network has no known law to check", **evidence)
    if gauss_drift > GAUSS_TOLERANCE:
        worst = int(np.argmax(drifts["gauss"].drifts))
        return Verdict.violated(
            f"law {drifts['gauss'].names[worst]} drifts by {gauss_drift:.2e} (relative) under "
            f"Gauss–Legendre, above {GAUSS_TOLERANCE:g}",
            **evidence,
        )
    call = RULE.judge(loose, tight)
    if call.basis is DriftBasis.ROUND_OFF:
        return Verdict.holds(
            f"Gauss drift {gauss_drift:.1e}; Dormand–Prince drift at round-off ({tight:.1e})", **evidence
        )
    if call.basis is DriftBasis.SHRINKS:
        return Verdict.holds(
            f"Gauss drift {gauss_drift:.1e}; Dormand–Prince drift shrinks {loose:.1e} → {tight:.1e} "
            f"as rtol goes {RULE.loose_rtol:g} → {RULE.tight_rtol:g}",
            **evidence,
        )
    if call.basis is DriftBasis.BETWEEN:
        return Verdict.inconclusive(
            f"Dormand–Prince drift {tight:.1e} neither shrinks with the tolerance nor stands "
            f"clear of its error (below {RULE.clear_drift:g})",
            **evidence,
        )
    return Verdict.violated(
        f"Dormand–Prince drift does not shrink with the tolerance ({loose:.1e} → {tight:.1e}): "
        "the quantity moves with the flow, not with the integrator's error",
        **evidence,
    )


def check(scenario: Scenario, *, plant: Plant = NO_PLANT) -> Verdict:
    """Property 2 on one scenario; the plant ``law_values`` (θ ↦ (values, scales)) replaces the known laws."""
    return conservation_verdict(scenario, plant.law_values)


PROPERTY = Property(
    id="known-laws-conserved",
    title="Known laws are conserved along integrated flows",
    statement="Along θ' = −∇L(θ) every published law h of the network stays constant: Gauss–Legendre drift ≤ 1e-9 "
    "(relative) and Dormand–Prince drift shrinks as its tolerance tightens.",
    reference="DESIGN.md §1 (known laws), §2 oracle 3 and 'Quadratic invariants'; Marcotte, Gribonval, Peyré (2023)",
    check=check,
    plants=frozenset({"law_values"}),
)


@pytest.mark.property
@pytest.mark.parametrize("loss_class", LOSS_CLASSES)
@pytest.mark.parametrize("family", FAMILIES)
@given(data=st.data())
def test_known_laws_are_conserved(family, loss_class, data):
    scenario = data.draw(scenarios(families=(family,), loss_kinds=(loss_class,), max_params=12), label="scenario")
    enforce(PROPERTY, scenario)


# --- a coverage sweep: one example in every family × group kind × loss class cell, every run -----------------
# Random draws leave rare cells (e.g. attention × signperm × polynomial) empty in a 25-example run; this sweep
# makes the coverage table of every campaign complete by construction.
COVERAGE_CELLS = [
    (family, kind, loss_class)
    for family in FAMILIES
    for kind in group_kind_names()
    for loss_class in LOSS_CLASSES
    if family == "attention" or kind not in token_kind_names()
]


@pytest.mark.property
@pytest.mark.parametrize("family, kind, loss_class", COVERAGE_CELLS)
@settings(max_examples=1)
@given(data=st.data())
def test_known_laws_coverage_sweep(family, kind, loss_class, data):
    scenario = data.draw(
        scenarios(families=(family,), group_kinds=(kind,), loss_kinds=(loss_class,), max_params=12), label="scenario"
    )
    enforce(PROPERTY, scenario)
