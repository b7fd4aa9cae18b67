"""harness/testing/stopping.py: when a campaign stops starting examples, and why."""

from __future__ import annotations

import time

import pytest

from harness.testing.stopping import StopReason, bounded_call, why_stop


def _state(stop_file=None, deadline=None) -> dict:
    return {"stop_file": stop_file, "deadline": deadline}


def test_why_stop_reads_the_stop_file_then_the_budget(tmp_path):
    stop = tmp_path / "stop"
    assert why_stop(_state(str(stop))) is None
    assert why_stop(_state(deadline=time.monotonic() - 1)) is StopReason.BUDGET
    stop.touch()
    assert why_stop(_state(str(stop), deadline=time.monotonic() - 1)) is StopReason.STOPPED  # the interrupt first
    assert why_stop(_state(deadline=time.monotonic() + 60)) is None


def test_stop_reasons_keep_their_skip_messages():
    assert str(StopReason.STOPPED) == "flowlaws: stopped by an interrupt of flowlaws run"
    assert f"{StopReason.BUDGET} before this test started" == "flowlaws time budget exhausted before this test started"


def test_a_spent_budget_skips_a_test_before_it_starts():
    call = bounded_call(None, _state(deadline=time.monotonic() - 1))
    with pytest.raises(pytest.skip.Exception, match="time budget exhausted before this test started"):
        next(call)
    unbounded = bounded_call(None, _state())
    next(unbounded)  # no budget, no stop file: the test runs (the wrapper yields to it)
