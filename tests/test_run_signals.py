"""Kill tests of ``flowlaws run``: SIGINT, SIGTERM and SIGKILL of the flowlaws process, once examples run.

Afterwards: no process of the campaign is left (pytest and its xdist workers are found by a unique marker in
their environment, scanning /proc), no ``flowlaws-run-*`` scratch folder is left (TMPDIR is the test's own),
and ``reports/latest`` is untouched or points at a complete run. SIGINT also prints the summary of what ran
and exits 130 with no traceback; SIGTERM exits 143.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.reporting import folders

SLOW = """
import os, time
from pathlib import Path
from hypothesis import given, strategies as st
from harness.verdicts.property import Property, enforce
from harness.model.scenario import Scenario
from harness.verdicts.verdict import Verdict

def check(scenario):
    Path(os.environ["FLOWLAWS_TEST_MARKER"]).touch()
    time.sleep(0.3)
    return Verdict.holds("slowly")

PROPERTY = Property(id="slow", title="Slow", statement="true", reference="planted", check=check)

@given(st.builds(Scenario, network=st.just("linear:1,1,1"), seed=st.integers(0, 10**6)))
def test_slow(scenario):
    enforce(PROPERTY, scenario)

@given(st.builds(Scenario, network=st.just("linear:2,1,1"), seed=st.integers(0, 10**6)))
def test_slow_too(scenario):
    enforce(PROPERTY, scenario)
"""


def _campaign_processes(marker: str) -> list[int]:
    """Pids of live processes whose environment carries ``marker`` (pytest, its workers, flowlaws)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def _wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _start(tmp_path: Path, workers: str):
    folder = tmp_path / "properties"
    folder.mkdir()
    (folder / "prop_slow.py").write_text(SLOW)
    scratch_parent = tmp_path / "tmp"
    scratch_parent.mkdir()
    marker = tmp_path / "started"
    environment = {
        **os.environ,
        "FLOWLAWS_TEST_MARKER": str(marker),
        "TMPDIR": str(scratch_parent),
        "FLOWLAWS_EXAMPLE_DB": str(tmp_path / "db"),
    }
    out, err = open(tmp_path / "stdout", "w"), open(tmp_path / "stderr", "w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            "--properties-dir",
            str(folder),
            "--profile",
            "thorough",
            "-n",
            workers,
            "--report-dir",
            str(tmp_path / "reports"),
            "--no-plots",
        ],
        cwd=tmp_path,
        env=environment,
        stdout=out,
        stderr=err,
        start_new_session=True,
    )
    out.close()
    err.close()
    return process, marker, scratch_parent


@pytest.mark.parametrize(
    "signum, workers, code",
    [
        (signal.SIGINT, "2", 130),
        (signal.SIGTERM, "0", 143),
        (signal.SIGKILL, "2", -signal.SIGKILL),
    ],
)
def test_a_signalled_run_leaves_no_process_no_scratch_and_no_half_report(tmp_path, signum, workers, code):
    process, marker, scratch_parent = _start(tmp_path, workers)
    try:
        assert _wait_until(lambda: marker.exists() or process.poll() is not None, 120), "no example started"
        assert process.poll() is None, (tmp_path / "stderr").read_text()
        assert len(_campaign_processes(str(marker))) >= (4 if workers == "2" else 2)  # flowlaws, pytest, workers
        os.kill(process.pid, signum)  # the flowlaws process only: forwarding is what is tested
        process.wait(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    stdout, stderr = (tmp_path / "stdout").read_text(), (tmp_path / "stderr").read_text()
    assert process.returncode == code, stdout + stderr
    assert _wait_until(lambda: not _campaign_processes(str(marker)), 15), (
        f"processes left behind: {_campaign_processes(str(marker))}"
    )
    assert not list(scratch_parent.glob("flowlaws-run-*")), "scratch folder left behind"
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stdout + stderr
    latest = folders.latest_run(tmp_path / "reports")
    if latest is not None:  # a report: complete, and pointed at only once complete
        index = json.loads((latest / "index.json").read_text())
        assert (latest / "timings.json").exists() and (latest / "index.html").exists()
    if signum == signal.SIGINT:
        assert latest is not None and index["outcome"].startswith("interrupted")
        assert "flowlaws run: " in stdout and " examples: " in stdout and "report " in stdout  # the summary
        assert "stopped by SIGINT" in stderr
    if signum == signal.SIGKILL:
        time.sleep(1.0)  # had an orphan survived, it would now be writing its report
        assert folders.latest_run(tmp_path / "reports") is None
