"""The gate (``ci``: derandomized, no database) and the explorers (``--flowlaws-seed``: seeded, database on).

``--flowlaws-seed`` works through a private Hypothesis attribute (see
``harness.testing.seeding.seed_hypothesis``); these tests are what fails, loudly, if a Hypothesis upgrade
changes it: same seed and empty database → same examples, another seed → other examples, and the
database still written. Each case is a pytest subprocess on a tiny file of Hypothesis tests, without the
Numba warm-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from harness.testing import seeding

TESTS = """
import json, os
from pathlib import Path
import pytest
from hypothesis import given, settings, strategies as st

def _log(name, value):
    with open(os.environ["FLOWLAWS_TEST_DRAWS"], "a") as log:
        log.write(json.dumps([name, value]) + "\\n")

@given(st.integers(0, 10**12))
def test_first(x):
    _log("first", x)

@pytest.mark.parametrize("k", [1, 2])
@given(st.text(max_size=8))
def test_second(k, s):
    _log(f"second-{k}", s)

@given(st.integers(0, 10**6))
def test_fails_on_large(x):
    _log("fails", x)
    assert x < 1000

def test_settings():
    current = settings()
    database = current.database
    _log("settings", {"type": type(database).__name__, "path": str(getattr(database, "path", None)),
                      "derandomize": current.derandomize})
"""


def _pytest(tmp_path: Path, name: str, *options: str, database: Path | None = None, workers: str = "0"):
    """One pytest run of TESTS; returns (draws by test, the completed process)."""
    (tmp_path / "test_draws.py").write_text(TESTS)
    log = tmp_path / f"draws-{name}.jsonl"
    environment = {
        **os.environ,
        "FLOWLAWS_TEST_DRAWS": str(log),
        "FLOWLAWS_EXAMPLE_DB": str(database or tmp_path / f"db-{name}"),
    }
    environment.pop("FLOWLAWS_PROFILE", None)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "test_draws.py",
        "-p",
        "harness.testing.plugin",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:benchmark",
        "--flowlaws-no-warmup",
        "--flowlaws-no-report",
        *options,
    ]
    command += ["-n", workers] if workers != "0" else ["-p", "no:xdist"]
    result = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120)
    draws = defaultdict(list)
    for line in log.read_text().splitlines() if log.exists() else []:
        test, value = json.loads(line)
        draws[test].append(value)
    for values in draws.values():
        if values and not isinstance(values[0], dict):
            values.sort(key=repr)  # xdist runs the parametrized cases in any order
    return dict(draws), result


def _database_entries(folder: Path) -> int:
    return sum(1 for path in folder.rglob("*") if path.is_file()) if folder.exists() else 0


def test_the_same_flowlaws_seed_draws_the_same_examples_and_keeps_the_database(tmp_path):
    first, result = _pytest(tmp_path, "a", "--flowlaws-profile=quick", "--flowlaws-seed=5")
    assert result.returncode == 1, result.stdout + result.stderr  # test_fails_on_large
    again, _ = _pytest(tmp_path, "b", "--flowlaws-profile=quick", "--flowlaws-seed=5")
    other, _ = _pytest(tmp_path, "c", "--flowlaws-profile=quick", "--flowlaws-seed=6")
    generated = ("first", "second-1", "second-2")
    assert all(len(first[test]) == 8 for test in generated)  # the quick profile's 8 examples each
    assert {t: first[t] for t in generated} == {t: again[t] for t in generated}, (
        "--flowlaws-seed no longer fixes Hypothesis's draws: see harness.testing.seeding.seed_hypothesis"
    )
    assert first["fails"] == again["fails"]
    assert all(first[test] != other[test] for test in generated), "another seed must draw other examples"
    (setting,) = first["settings"]
    assert setting == {"type": "DirectoryBasedExampleDatabase", "path": str(tmp_path / "db-a"), "derandomize": False}
    assert _database_entries(tmp_path / "db-a") >= 1, "the explorer must save its failure in the database"
    assert "seed 5 (--flowlaws-seed=5" in result.stdout  # the header says how to reproduce
    assert "did not reach Hypothesis" not in result.stdout  # the plugin's own run-time check


def test_a_seeded_explorer_draws_the_same_under_xdist(tmp_path):
    single, _ = _pytest(tmp_path, "single", "--flowlaws-profile=quick", "--flowlaws-seed=11")
    spread, result = _pytest(tmp_path, "xdist", "--flowlaws-profile=quick", "--flowlaws-seed=11", workers="2")
    assert "created: 2/2 workers" in result.stdout
    assert {k: v for k, v in single.items() if k != "settings"} == {k: v for k, v in spread.items() if k != "settings"}


def test_without_a_seed_an_explorer_draws_one_and_says_which(tmp_path):
    draws, result = _pytest(tmp_path, "fresh", "--flowlaws-profile=quick")
    header = next(line for line in result.stdout.splitlines() if line.startswith("flowlaws: profile quick"))
    seed = int(header.split("seed ")[1].split()[0])
    again, _ = _pytest(tmp_path, "replayed", "--flowlaws-profile=quick", f"--flowlaws-seed={seed}")
    assert draws["first"] == again["first"] and draws["second-1"] == again["second-1"]


def test_hypothesis_seed_still_fixes_the_draws_but_bypasses_the_database(tmp_path):
    draws, result = _pytest(tmp_path, "forced", "--flowlaws-profile=quick", "--hypothesis-seed=5")
    again, _ = _pytest(tmp_path, "forced-again", "--flowlaws-profile=quick", "--hypothesis-seed=5")
    assert result.returncode == 1 and draws["first"] == again["first"]
    assert _database_entries(tmp_path / "db-forced") == 0  # Hypothesis: no database key under a forced seed
    assert "the example database is bypassed" in result.stdout


def test_the_gate_is_derandomized_and_uses_no_database(tmp_path):
    first, result = _pytest(tmp_path, "gate-a")
    again, _ = _pytest(tmp_path, "gate-b", workers="2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert {k: v for k, v in first.items() if k != "settings"} == {k: v for k, v in again.items() if k != "settings"}
    assert first["settings"] == [{"type": "NoneType", "path": "None", "derandomize": True}]
    assert _database_entries(tmp_path / "db-gate-a") == 0
    assert "derandomized" in result.stdout


def test_a_seed_under_the_gate_is_a_usage_error(tmp_path):
    _, result = _pytest(tmp_path, "gate-seed", "--flowlaws-seed=3")
    assert result.returncode == 4 and "derandomized" in result.stderr
    _, result = _pytest(tmp_path, "both", "--flowlaws-profile=quick", "--flowlaws-seed=3", "--hypothesis-seed=3")
    assert result.returncode == 4 and "not both" in result.stderr
    _, result = _pytest(tmp_path, "negative", "--flowlaws-profile=quick", "--flowlaws-seed=-1")
    assert result.returncode == 4 and "is not a valid seed; allowed: an integer from 0" in result.stderr


def test_a_broken_example_database_is_reported_once(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    _, result = _pytest(
        tmp_path, "broken", "--flowlaws-profile=quick", "--flowlaws-seed=1", database=blocker / "db", workers="2"
    )
    assert result.stderr.count("flowlaws: warning: the example database at") == 1, result.stderr
    assert "will not be saved" in result.stderr


def test_hypothesis_draws_no_literals_of_the_modules_that_happen_to_be_loaded():
    # Under the plugin (loaded by the root conftest), whatever harness modules are imported, the pool of
    # "local constants" Hypothesis mixes into its draws stays empty; see harness.testing.seeding.pin_local_constants.
    from hypothesis.internal.conjecture import providers

    import harness.verdicts.verdict  # noqa: F401  (a local module full of string literals)

    assert len(providers._get_local_constants()) == 0


@pytest.mark.parametrize("nodeid", ["a.py::t", "properties/prop_x.py::test_y[case]"])
def test_per_test_seeds_depend_on_the_run_seed_and_the_node_id_only(nodeid):
    assert seeding.per_test_seed(1, nodeid) == seeding.per_test_seed(1, nodeid)
    assert seeding.per_test_seed(1, nodeid) != seeding.per_test_seed(2, nodeid)
    assert seeding.per_test_seed(1, nodeid) != seeding.per_test_seed(1, nodeid + "x")
