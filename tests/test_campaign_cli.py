"""End-to-end tests of ``flowlaws run``, ``replay``, ``list`` and their bad usage, on tiny planted properties.

The properties live in a temporary folder (``--properties-dir``), draw scenarios with ``st.builds`` and
decide instantly, so each campaign costs only pytest's start-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.reporting import folders, runs, summaries

PLANTED_SIZE = """
from hypothesis import example, given, strategies as st
from harness.verdicts.property import Property, enforce
from harness.model.scenario import Scenario
from harness.verdicts.verdict import Verdict

SERIES = {"times": [0.0, 1.0], "drift": {"h": [0.0, 1e-3]}, "error": [0.0, 1e-9]}

def check(scenario):
    d = scenario.build().network.n_params
    if d >= 4:
        return Verdict.violated(f"D = {d} >= 4", D=d, series=SERIES)
    if d == 3:
        return Verdict.inconclusive("D = 3 is undecided", D=d, singular_values=[2.0, 1e-3], gap={"index": 1})
    return Verdict.holds("small", D=d)

PROPERTY = Property(id="planted-size", title="Networks have D < 4", statement="D < 4", reference="planted",
                    check=check)

@given(st.builds(Scenario, network=st.sampled_from(["linear:1,1,1", "linear:2,1,1", "linear:3,1,1"]),
                 seed=st.integers(0, 3)))
@example(Scenario("linear:2,1,1"))  # an undecided case before any violation, whatever Hypothesis draws
def test_planted_size(scenario):
    enforce(PROPERTY, scenario)
"""

ALWAYS_FINE = """
from hypothesis import given, strategies as st
from harness.verdicts.property import Property, enforce
from harness.model.scenario import Scenario
from harness.verdicts.verdict import Verdict

PROPERTY = Property(id="always-fine", title="Fine", statement="true", reference="planted", exploration=True,
                    check=lambda s: Verdict.holds("ok", findings=[{"network": s.network}]))

@given(st.builds(Scenario, network=st.sampled_from(["linear:1,1,1", "linear:2,1,1"]),
                 loss=st.sampled_from(["mse", "logcosh"])))
def test_always_fine(scenario):
    enforce(PROPERTY, scenario)
"""

UNDECIDED = """
from hypothesis import given, strategies as st
from harness.verdicts.property import Property, enforce
from harness.model.scenario import Scenario
from harness.verdicts.verdict import Verdict

def check(scenario):
    if scenario.build().network.n_params == 3:
        return Verdict.inconclusive("D = 3 is undecided")
    return Verdict.holds("small")

PROPERTY = Property(id="undecided", title="Sometimes undecided", statement="-", reference="planted", check=check)

@given(st.builds(Scenario, network=st.sampled_from(["linear:1,1,1", "linear:2,1,1"]), seed=st.integers(0, 3)))
def test_undecided(scenario):
    enforce(PROPERTY, scenario)
"""

CRASHING = """
from hypothesis import given, strategies as st
from harness.verdicts.property import Property, enforce
from harness.model.scenario import Scenario
from harness.verdicts.verdict import Verdict

def check(scenario):
    return Verdict.holds("fine", ratio=1 / (scenario.build().network.n_params - 3))

PROPERTY = Property(id="crashing", title="A check with a bug", statement="-", reference="planted", check=check)

@given(st.builds(Scenario, network=st.sampled_from(["linear:1,1,1", "linear:2,1,1"])))
def test_crashing(scenario):
    enforce(PROPERTY, scenario)
"""

SLOW = """
import os, time
from pathlib import Path
from hypothesis import given, strategies as st
from harness.verdicts.property import Property, enforce
from harness.model.scenario import Scenario
from harness.verdicts.verdict import Verdict

def check(scenario):
    Path(os.environ["FLOWLAWS_TEST_MARKER"]).touch()
    time.sleep(0.5)
    return Verdict.holds("slowly", seed=scenario.seed)

PROPERTY = Property(id="slow", title="Slow", statement="true", reference="planted", check=check)

@given(st.builds(Scenario, network=st.just("linear:1,1,1"), seed=st.integers(0, 10**6)))
def test_slow(scenario):
    enforce(PROPERTY, scenario)
"""


def _properties(root: Path, **modules: str) -> Path:
    folder = root / "properties"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in modules.items():
        (folder / f"prop_{name}.py").write_text(text)
    return folder


def _flowlaws(*args, cwd: Path, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *map(str, args)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def _content(run_folder: Path) -> dict[str, str]:
    """Every file of a run except its timings, with the run's own location and command line blanked (the two
    runs compared differ in ``-n`` and ``--report-dir``, and the headline says so)."""
    import html

    command = json.loads((run_folder / "index.json").read_text())["provenance"]["command"]
    files = {}
    for path in sorted(run_folder.rglob("*")):
        if path.is_file() and path.name != "timings.json":
            data = path.read_bytes()
            if path.suffix in (".md", ".json", ".html"):
                for shown in {command, json.dumps(command)[1:-1], html.escape(command)}:
                    data = data.replace(shown.encode(), b"<command>")
                data = data.replace(str(run_folder.parent.name).encode(), b"<reports>")
            files[str(path.relative_to(run_folder))] = hashlib.sha256(data).hexdigest()
    return files


def test_a_planted_campaign_is_reported_replayable_and_the_same_with_the_same_seed(tmp_path, capsys):
    # One campaign with seed 7 twice: with two xdist workers and in one process, each with its own empty
    # example database. (One test, so that pytest-xdist never runs these two campaigns twice.)
    properties = _properties(tmp_path, size=PLANTED_SIZE, fine=ALWAYS_FINE, undecided=UNDECIDED, crashing=CRASHING)
    results = {}
    for name, workers in (("xdist", "2"), ("single", "0")):
        results[name] = _flowlaws(
            "run",
            "--properties-dir",
            properties,
            "--seed",
            7,
            "-n",
            workers,
            "--report-dir",
            tmp_path / f"reports-{name}",
            cwd=tmp_path,
            env={"FLOWLAWS_EXAMPLE_DB": str(tmp_path / f"db-{name}")},
        )
    result = results["xdist"]
    assert result.returncode == 1, result.stdout + result.stderr
    assert results["single"].returncode == 1
    run = tmp_path / "reports-xdist" / "quick-seed7"
    assert f"report {run / 'index.html'}" in result.stdout
    assert "1 violated" in result.stdout and "inconclusive" in result.stdout

    index = json.loads((run / "index.json").read_text())
    tallies = {p["id"]: p for p in index["properties"]}
    assert tallies["planted-size"]["violated"] == 1 and tallies["planted-size"]["inconclusive"] >= 1
    assert tallies["always-fine"]["exploration"] and index["findings"]["always-fine"]
    assert {(c["family"], c["loss_class"]) for c in index["coverage"]} >= {
        ("linear", "quadratic"),
        ("linear", "analytic"),
    }
    (crash,) = index["errors"]  # a check that raises is a crashed test, not a verdict
    assert crash["nodeid"].endswith("prop_crashing.py::test_crashing") and "ZeroDivisionError" in crash["message"]
    assert "@reproduce_failure(" in crash["message"] and tallies["crashing"]["errors"] == 1
    violated = run / "planted-size-1"
    assert sorted(p.name for p in violated.iterdir()) == [
        "drift.png",
        "evidence.json",
        "report.html",
        "report.md",
        "scenario.json",
    ]
    assert "--flowlaws-seed=7" in (violated / "report.md").read_text()
    assert (run / "planted-size-2" / "spectrum.png").exists()
    assert folders.latest_run(tmp_path / "reports-xdist") == run.resolve()

    # The same seed gives the same content, with or without xdist.
    other = tmp_path / "reports-single" / "quick-seed7"
    assert _content(run) == _content(other) and len(_content(run)) >= 6

    # Replay reproduces the stored verdicts.
    assert main(["replay", str(violated / "scenario.json"), "--properties-dir", str(properties)]) == 1
    assert "violated: D = 4 >= 4" in capsys.readouterr().out
    assert (
        main(["replay", str(run / "planted-size-2" / "scenario.json"), "--properties-dir", str(properties), "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["status"] == "inconclusive"


def test_a_clean_campaign_exits_0_with_inconclusive_examples_counted(tmp_path):
    properties = _properties(tmp_path, fine=ALWAYS_FINE, undecided=UNDECIDED)
    report_dir = tmp_path / "reports"
    result = _flowlaws(
        "run", "--properties-dir", properties, "--seed", 1, "-n", "0", "--report-dir", report_dir, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 violated" in result.stdout and " 0 inconclusive" not in result.stdout
    assert sorted(p.name for p in report_dir.iterdir()) == ["latest", "quick-seed1"]
    scripted = _flowlaws(
        "run", "--properties-dir", properties, "--seed", 1, "-n", "0", "--report-dir", report_dir, "--json",
        cwd=tmp_path,
    )  # fmt: skip
    record = json.loads(scripted.stdout)  # stdout is the one JSON object; pytest's progress went to stderr
    assert record["exit_code"] == 0 and record["totals"]["violated"] == 0 and record["totals"]["inconclusive"] > 0
    assert record["report"].endswith("quick-seed1-2") and "passed" in scripted.stderr


def test_killing_a_run_midway_leaves_earlier_reports_intact(tmp_path):
    properties = _properties(tmp_path, slow=SLOW)
    report_dir = tmp_path / "reports"
    collector = runs.RunCollector()
    collector.add(summaries.summarize_test("earlier::test", [], module_properties=[{"id": "earlier"}]), 1.0)
    earlier = folders.write_run(
        *runs.build_run(collector, run_id="earlier", profile="quick", seed=1, started=0.0, finished=1.0),
        report_dir,
        plots=False,
    )
    before = {p: p.read_bytes() for p in earlier.rglob("*") if p.is_file()}
    marker = tmp_path / "started"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            "--properties-dir",
            str(properties),
            "--profile",
            "thorough",
            "-n",
            "0",
            "--report-dir",
            str(report_dir),
        ],
        cwd=tmp_path,
        env={**os.environ, "FLOWLAWS_TEST_MARKER": str(marker)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert marker.exists(), "the slow property never started"
        time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert {p: p.read_bytes() for p in earlier.rglob("*") if p.is_file()} == before
    assert folders.latest_run(report_dir) == earlier.resolve()
    assert sorted(p.name for p in report_dir.iterdir() if not p.name.startswith(".")) == ["earlier", "latest"]


def test_an_interrupted_run_still_reports_what_finished(tmp_path):
    _properties(tmp_path, fine=ALWAYS_FINE, slow=SLOW)
    marker = tmp_path / "started"
    log = tmp_path / "pytest-stderr.txt"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-X",
                "faulthandler",  # SIGABRT (below) dumps every thread's stack: a hang says where it hangs
                "-m",
                "pytest",
                "properties",
                "-p",
                "harness.testing.plugin",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:xdist",
                "-o",
                "python_files=prop_*.py",
                "--flowlaws-profile=thorough",
                "--hypothesis-seed=1",
            ],
            cwd=tmp_path,
            env={**os.environ, "FLOWLAWS_TEST_MARKER": str(marker)},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            # SIGINT at its default, whatever this process inherited: a background job of a non-interactive
            # shell (`cmd &`, e.g. CI started in the background) ignores SIGINT, and Python keeps an ignored
            # SIGINT ignored, so the interrupt below would never arrive (`flowlaws run` does the same).
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            deadline = time.monotonic() + 120
            while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.2)
            assert marker.exists(), "the slow property never started"
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGABRT)
                process.wait(timeout=30)
                raise AssertionError(f"pytest did not stop on SIGINT; its stacks:\n{log.read_text()[-6000:]}") from None
    run = folders.latest_run(tmp_path / "reports")
    assert run is not None
    index = json.loads((run / "index.json").read_text())
    assert index["unfinished"] == ["properties/prop_slow.py::test_slow"]
    assert index["outcome"].startswith("interrupted")
    assert {p["id"]: p["examples"] for p in index["properties"]}["always-fine"] > 0


def test_minutes_bound_the_campaign(tmp_path):
    properties = _properties(tmp_path, slow=SLOW)
    start = time.monotonic()
    result = _flowlaws(
        "run",
        "--properties-dir",
        properties,
        "--profile",
        "thorough",
        "--minutes",
        0.25,
        "-n",
        "0",
        "--report-dir",
        tmp_path / "reports",
        cwd=tmp_path,
        env={"FLOWLAWS_TEST_MARKER": str(tmp_path / "started")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - start < 90  # 300 examples of 0.5 s would take 150 s
    run = folders.latest_run(tmp_path / "reports")
    assert run is not None
    index = json.loads((run / "index.json").read_text())
    assert index["totals"]["skipped"] == 1 and 0 < index["totals"]["examples"] < 300


SKIPPED = """
import pytest
from hypothesis import given, strategies as st
from harness.verdicts.property import Property, enforce
from harness.model.scenario import Scenario
from harness.verdicts.verdict import Verdict

PROPERTY = Property(id="skipped", title="Never runs", statement="-", reference="planted",
                    check=lambda s: Verdict.holds("ok"))

@pytest.mark.skip(reason="planted: no example may run")
@given(st.builds(Scenario, network=st.just("linear:1,1,1")))
def test_skipped(scenario):
    enforce(PROPERTY, scenario)
"""


def test_a_campaign_that_ran_no_example_never_claims_no_violation(tmp_path):
    properties = _properties(tmp_path, skipped=SKIPPED)
    result = _flowlaws(
        "run", "--properties-dir", properties, "-n", "0", "--report-dir", tmp_path / "reports", cwd=tmp_path
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no example ran, so nothing was checked" in result.stderr and "no violation" not in result.stdout


def test_plain_unit_tests_write_no_report(tmp_path):
    (tmp_path / "test_plain.py").write_text("def test_nothing():\n    assert True\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "test_plain.py",
            "-p",
            "harness.testing.plugin",
            "-p",
            "no:cacheprovider",
            "-q",
            "--flowlaws-report-dir",
            str(tmp_path / "reports"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "reports").exists()


# ---- bad usage: exit 2, one message, nothing written -------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--profile", "bogus"], "unknown profile 'bogus'; allowed: quick, ci, thorough"),
        (["run", "no-such-property"], "unknown property 'no-such-property'"),
        (["run", "-n", "many"], "-n must be a number of workers"),
        (["run", "--minutes", "0"], "--minutes must be positive"),
        (["run", "--minutes", "nan"], "--minutes must be positive and finite"),
        (["run", "--minutes", "soon"], "--minutes must be a number of minutes"),
        (["run", "--minutes", "0.05"], "--minutes 0.05 is too short to run any example"),
        (["run", "-n", "100000"], "-n 100000 is more than 4 workers per core"),
        (["run", "-n", "-1"], "-n must be a number of workers"),
        (["run", "--seed", "-1"], "--seed '-1' is not a valid seed; allowed: an integer from 0 to 2**64 - 1"),
        (["run", "--seed", "1.5"], "is not a valid seed; allowed: an integer from 0 to 2**64 - 1"),
        (["run", "--seed", "１２"], "is not a valid seed; allowed: an integer from 0 to 2**64 - 1"),
        (["run", "--seed", str(2**64)], "is not a valid seed; allowed: an integer from 0 to 2**64 - 1"),
        (["run", "--profile", "ci", "--seed", "3"], "--seed has no effect with --profile ci"),
        (["run", "--profile", "replay"], "unknown profile 'replay'"),
        (["replay", "/no/such/scenario.json"], "cannot read scenario file"),
    ],
)
def test_bad_usage_is_one_message_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "is corrupted: not valid JSON"),
        ('{"format": "something-else"}', "not a flowlaws scenario"),
        (
            '{"format": "flowlaws-scenario/1", "network": "linear:2,1,1", "data": "augmented", "group": "flip", '
            '"arrays": {"x": [[1.0]], "y": [[1.0]], "theta0": [0.0]}, "property": "x"}',
            "is corrupted",
        ),
        (
            '{"format": "flowlaws-scenario/1", "network": "linear:1,1,1", "property": "no-such-property"}',
            "which no property module defines",
        ),
    ],
)
def test_a_corrupted_scenario_file_is_one_message_and_exit_2(tmp_path, text, message, capsys):
    path = tmp_path / "scenario.json"
    path.write_text(text)
    assert main(["replay", str(path), "--properties-dir", str(_properties(tmp_path))]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1


def test_an_unwritable_report_folder_is_one_message_exit_2_and_nothing_written(tmp_path, capsys):
    properties = _properties(tmp_path, fine=ALWAYS_FINE)
    blocker = tmp_path / "file"
    blocker.write_text("")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(["run", "--properties-dir", str(properties), "--report-dir", str(blocker / "reports")]) == 2
    assert "not writable" in capsys.readouterr().err
    assert main(["selfcheck", "--report-dir", str(blocker / "reports")]) == 2
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_list_shows_properties_families_groups_and_losses(tmp_path, capsys):
    properties = _properties(tmp_path, size=PLANTED_SIZE)
    assert main(["list", "--json", "--properties-dir", str(properties)]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["properties"] == [
        {"id": "planted-size", "title": "Networks have D < 4", "module": "prop_size", "exploration": False}
    ]
    assert "linear" in listing["families"] and any(g["spec"] == "cyclic" for g in listing["groups"])
    assert {"name": "mse", "class": "quadratic", "formula": "½‖f − y‖²"} in listing["losses"]
    assert main(["list", "--properties-dir", str(properties)]) == 0
    assert "planted-size" in capsys.readouterr().out


def test_selfcheck_refutes_the_planted_conjecture_with_a_small_counterexample(tmp_path, capsys):
    start = time.monotonic()
    assert main(["selfcheck", "--json", "--report-dir", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert time.monotonic() - start < 60
    assert result["refuted"] and result["D"] <= 5 and result["loss"] == "mse"
    assert result["augmented_laws"] > result["free_laws"]
    assert (result["arch"], result["group"], result["D"], result["free_laws"], result["augmented_laws"]) == (
        "linear:3,1,1",
        "cyclic/trivial",
        4,
        1,
        2,
    )  # the worked example of DESIGN.md §1, found every time
    folder = Path(result["report"])
    assert {"drift.png", "spectrum.png", "scenario.json", "report.md", "report.html"} <= {
        p.name for p in folder.iterdir()
    }
    assert not (tmp_path / "latest").exists()  # reports/latest stays on the last campaign, not the self-check
    assert main(["replay", str(folder / "scenario.json")]) == 1
    assert "violated: augmented data gives 2 laws, free data 1 (D = 4)" in capsys.readouterr().out


def test_campaign_exit_codes_are_one_enum_with_a_message_each(capsys):
    from harness.cli.run import CampaignExit, _conclude

    assert [int(code) for code in CampaignExit] == [0, 1, 2, 130, 143]
    assert all(code.message for code in CampaignExit)
    totals = {"examples": 3, "holds": 2, "violated": 1, "inconclusive": 0, "errors": 0, "skipped": 0}
    assert _conclude(1, False, {"totals": totals, "report": "r"}) is CampaignExit.VIOLATION
    assert (
        _conclude(0, False, {"totals": {**totals, "examples": 0, "violated": 0, "holds": 0}, "report": "r"})
        is CampaignExit.NOTHING_CHECKED
    )
    assert _conclude(0, False, None, stopped_by=signal.SIGTERM) is CampaignExit.TERMINATED
    capsys.readouterr()
