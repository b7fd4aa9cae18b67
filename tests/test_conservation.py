"""The drift judge ``DriftRule`` (harness.dynamics.conservation): each clause, both records, and the judgement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.dynamics.conservation import (
    EXPLICIT_LAWS,
    KNOWN_LAWS,
    SELFCHECK_FIGURE,
    DriftBasis,
    DriftOutcome,
    DriftRule,
    _classify,
)


@pytest.mark.parametrize("rule", [EXPLICIT_LAWS, KNOWN_LAWS])
def test_round_off_is_conserved_whatever_the_loose_drift(rule):
    call = rule.judge(1.0, rule.round_off)
    assert (call.outcome, call.basis) == (DriftOutcome.CONSERVED, DriftBasis.ROUND_OFF)
    assert rule.judge(1.0, rule.round_off * 1.01).basis is not DriftBasis.ROUND_OFF


@pytest.mark.parametrize("rule", [EXPLICIT_LAWS, KNOWN_LAWS])
def test_a_tenfold_shrink_below_clear_drift_is_conserved(rule):
    call = rule.judge(1e-8, 1e-9)
    assert (call.outcome, call.basis) == (DriftOutcome.CONSERVED, DriftBasis.SHRINKS)
    assert (call.loose, call.tight) == (1e-8, 1e-9)


@pytest.mark.parametrize("rule", [EXPLICIT_LAWS, KNOWN_LAWS])
def test_a_large_drift_that_does_not_shrink_drifts(rule):
    call = rule.judge(2e-5, 1e-5)
    assert (call.outcome, call.basis) == (DriftOutcome.DRIFTS, DriftBasis.PLATEAU)


@pytest.mark.parametrize("rule", [EXPLICIT_LAWS, KNOWN_LAWS])
def test_a_small_drift_that_does_not_shrink_is_inconclusive(rule):
    call = rule.judge(2e-9, 1e-9)  # above round-off, below clear drift, not shrinking
    assert (call.outcome, call.basis) == (DriftOutcome.INCONCLUSIVE, DriftBasis.BETWEEN)


def test_the_records_differ_only_where_documented():
    # A shrink above clear drift: the known-law rule (bounded by Gauss-Legendre) calls it conserved, the
    # explicit-law rule does not.
    assert KNOWN_LAWS.judge(1e-4, 1e-6).outcome is DriftOutcome.CONSERVED
    assert EXPLICIT_LAWS.judge(1e-4, 1e-6).outcome is DriftOutcome.INCONCLUSIVE
    # Shrinking 5x above clear drift: no plateau for the explicit rule (3x), a drift for the known rule (10x).
    assert EXPLICIT_LAWS.judge(5e-6, 1e-6).outcome is DriftOutcome.INCONCLUSIVE
    assert KNOWN_LAWS.judge(5e-6, 1e-6).outcome is DriftOutcome.DRIFTS
    # Round-off follows the tight tolerance.
    assert KNOWN_LAWS.judge(1e-9, 5e-11).basis is DriftBasis.ROUND_OFF
    assert EXPLICIT_LAWS.judge(1e-9, 5e-11).basis is DriftBasis.SHRINKS


def test_record_constants_are_the_published_ones():
    assert (EXPLICIT_LAWS.loose_rtol, EXPLICIT_LAWS.tight_rtol, EXPLICIT_LAWS.round_off) == (1e-6, 1e-11, 1e-11)
    assert (KNOWN_LAWS.loose_rtol, KNOWN_LAWS.tight_rtol, KNOWN_LAWS.round_off) == (1e-6, 1e-10, 1e-10)
    assert KNOWN_LAWS.shrink_limit == math.inf and KNOWN_LAWS.plateau == 10.0
    assert (SELFCHECK_FIGURE.loose_rtol, SELFCHECK_FIGURE.tight_rtol) == (1e-10, 1e-12)
    assert EXPLICIT_LAWS.thresholds() == {"round_off": 1e-11, "required_shrink": 10.0, "clear_drift": 1e-7}
    with pytest.raises(AttributeError):
        EXPLICIT_LAWS.round_off = 1.0  # type: ignore[misc]


def test_outcomes_are_strings_as_before():
    assert DriftOutcome.CONSERVED == "conserved" and DriftOutcome("drifts") is DriftOutcome.DRIFTS
    assert {o.value for o in DriftOutcome} == {"conserved", "drifts", "inconclusive"}


def test_classify_checks_finiteness_pole_and_motion_before_the_rule():
    rule = DriftRule(loose_rtol=1e-6, tight_rtol=1e-11, round_off=1e-11)
    assert "not finite" in _classify(rule, "h", np.nan, 0.0, None, 1.0).reason
    assert "denominator" in _classify(rule, "h", 1.0, 0.0, 1e-4, 1.0).reason
    assert "barely moves" in _classify(rule, "h", 1.0, 0.0, None, 1e-7).reason
    judged = _classify(rule, "h", 1e-5, 1e-5, None, 1.0)
    assert (judged.outcome, judged.drift_loose, judged.drift_tight) == ("drifts", 1e-5, 1e-5)
    assert _classify(rule, "h", 1.0, 1e-12, None, 1.0).reason == "drift at round-off (1.0e-12)"
