"""When a campaign stops starting examples: the stop file, the time budget, and the parent-death watchdog.

``flowlaws run`` creates a *stop file* on the first Ctrl-C, and ``--flowlaws-time-budget`` sets a
deadline; past either, every test skips the examples it has not started (a found violation is still
shrunk), so the report covers every example that ran. The skip reason is a ``StopReason``.

Under ``flowlaws run`` (FLOWLAWS_PARENT_PID set), the controller also watches its parent: if ``flowlaws run``
dies, even by SIGKILL, the controller removes the run's scratch folder and kills its own process group
(itself and its xdist workers), so that no orphan writes a report later.
"""

from __future__ import annotations

import enum
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from harness.verdicts.verdict import Status

# The parent-death watchdog's polling period: how long an orphaned campaign may outlive ``flowlaws run``.
WATCHDOG_SECONDS = 0.2


class StopReason(str, enum.Enum):
    """Why no new example may start; the value is the skip message a test shows."""

    STOPPED = "flowlaws: stopped by an interrupt of flowlaws run"
    BUDGET = "flowlaws time budget exhausted"

    def __str__(self) -> str:
        return self.value


def why_stop(state: dict) -> StopReason | None:
    """Why no new example may start: the campaign was asked to stop, or its time budget is spent."""
    if state["stop_file"] and os.path.exists(state["stop_file"]):
        return StopReason.STOPPED
    if state["deadline"] is not None and time.monotonic() > state["deadline"]:
        return StopReason.BUDGET
    return None


def bounded_call(handle, state: dict):
    """The body of the ``pytest_runtest_call`` wrapper: run the test, skipping examples once told to stop.

    ``handle`` is the test's ``hypothesis`` handle (None for a plain test, which only skips before it starts).
    """
    if state["deadline"] is None and state["stop_file"] is None:
        return (yield)
    reason = why_stop(state)
    if reason:
        pytest.skip(f"{reason} before this test started")
    if handle is None:
        return (yield)
    # Hypothesis documents ``test.hypothesis.inner_test`` as the place to wrap each example. Past the
    # deadline (or once asked to stop) we skip the rest of the test, unless a violation was found: it must
    # still be shrunk. The examples that ran are reported.
    from harness.verdicts.property import RECORDER

    inner = handle.inner_test

    def bounded(*args, **kwargs):
        reason = why_stop(state)
        if reason and not any(r["verdict"]["status"] == Status.VIOLATED for r in RECORDER.records):
            pytest.skip(str(reason))
        return inner(*args, **kwargs)

    handle.inner_test = bounded
    try:
        return (yield)
    finally:
        handle.inner_test = inner


def start_parent_watchdog() -> None:
    """Under ``flowlaws run``: when it dies (even by SIGKILL), take this pytest and its workers down too.

    A thread polling ``os.getppid()`` rather than prctl(PR_SET_PDEATHSIG): the death signal would reach
    only this process, not the xdist workers it starts, and fires on the death of the parent *thread*.
    ``flowlaws run`` starts pytest in its own session, so the process group is exactly this campaign.
    """
    parent = os.environ.pop("FLOWLAWS_PARENT_PID", None)  # popped: tests that start pytest must not inherit it
    scratch = os.environ.pop("FLOWLAWS_RUN_SCRATCH", None)
    if not parent or not parent.isdigit():
        return
    parent_pid = int(parent)

    def orphaned() -> None:
        if scratch and Path(scratch).name.startswith("flowlaws-run-"):
            shutil.rmtree(scratch, ignore_errors=True)
        if os.getpgrp() == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCHDOG_SECONDS)
        orphaned()

    threading.Thread(target=watch, name="flowlaws-parent-watchdog", daemon=True).start()
