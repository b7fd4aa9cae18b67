"""The explorers' example database: ``flowlaws run`` writes it, the next run replays its failure first, and
README's multi-host recipe shares one database folder between xdist gateways (two ``popen//chdir=`` working
copies stand in for two hosts).

The planted property fails for scenario seeds ≥ 500 and logs every scenario it checks, so a test can see
which example a run tried first.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from harness.reporting import folders

PLANTED = """
import json, os
from hypothesis import given, strategies as st
from harness.verdicts.property import Property, enforce
from harness.model.scenario import Scenario
from harness.verdicts.verdict import Verdict

def check(scenario):
    with open(os.environ["FLOWLAWS_TEST_LOG"], "a") as log:
        log.write(json.dumps(scenario.seed) + "\\n")
    if scenario.seed >= 500:
        return Verdict.violated(f"seed {scenario.seed} >= 500")
    return Verdict.holds("small seed")

PROPERTY = Property(id="planted", title="Seeds stay below 500", statement="seed < 500", reference="planted",
                    check=check)

@given(st.builds(Scenario, network=st.just("linear:1,1,1"), seed=st.integers(0, 10**6)))
def test_planted(scenario):
    enforce(PROPERTY, scenario)

@given(st.builds(Scenario, network=st.just("linear:2,1,1"), seed=st.integers(0, 10**6)))
def test_planted_too(scenario):
    enforce(PROPERTY, scenario)
"""

REPOSITORY = Path(__file__).resolve().parent.parent  # tests are not installed; the repository's own files


def _working_copy(folder: Path) -> Path:
    """A working copy holding what README's recipe needs: the pytest configuration and the properties."""
    (folder / "properties").mkdir(parents=True)
    for name in ("pyproject.toml", "conftest.py"):
        shutil.copy(REPOSITORY / name, folder / name)
    (folder / "properties" / "prop_planted.py").write_text(PLANTED)
    return folder


def _checked(log: Path) -> list[int]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _entries(database: Path) -> int:
    return sum(1 for path in database.rglob("*") if path.is_file()) if database.exists() else 0


def _run(project: Path, database: Path, log: Path, seed: int, run_id: str):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            "--seed",
            str(seed),
            "-n",
            "0",
            "--run-id",
            run_id,
            "--no-plots",
            "planted",
        ],
        cwd=project,
        env={**os.environ, "FLOWLAWS_EXAMPLE_DB": str(database), "FLOWLAWS_TEST_LOG": str(log)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_campaign_writes_its_failure_to_the_database_and_the_next_replays_it_first(tmp_path):
    project = _working_copy(tmp_path / "project")
    database = tmp_path / "shared-db"
    first = _run(project, database, tmp_path / "first.log", seed=1, run_id="first")
    assert first.returncode == 1, first.stdout + first.stderr
    assert f"example database {database}" in first.stdout
    assert _entries(database) >= 2, "both failing tests must be saved"
    shrunk = folders.latest_run(project / "reports")
    assert shrunk is not None
    assert json.loads((shrunk / "index.json").read_text())["totals"]["violated"] == 2

    # Another seed: generation alone would start elsewhere (the control, with an empty database, shows it).
    second = _run(project, database, tmp_path / "second.log", seed=2, run_id="second")
    control = _run(project, tmp_path / "empty-db", tmp_path / "control.log", seed=2, run_id="control")
    assert second.returncode == 1 and control.returncode == 1
    replayed, fresh = _checked(tmp_path / "second.log"), _checked(tmp_path / "control.log")
    assert replayed[0] == 500, replayed[:5]  # the saved, shrunk counterexample is the first example tried
    assert fresh[0] != 500 and fresh.index(500) > replayed.index(500)
    index = json.loads((project / "reports" / "second" / "index.json").read_text())
    # Each test counts the counterexample found at once: one example for its violation.
    assert index["totals"]["violated"] == 2 and index["totals"]["examples"] == 2


def _readme_recipe(gateways: list[str]) -> list[str]:
    """The pytest command of README's multi-host recipe, its ``--tx`` gateways replaced by ``gateways``."""
    text = (REPOSITORY / "README.md").read_text()
    section = text[text.index("*One controller, workers on several hosts*") :]
    block = section[section.index("```") + 3 :]
    block = block[block.index("\n") + 1 : block.index("```")]
    lines = [line.split("#")[0].strip() for line in block.replace("\\\n", " ").splitlines()]
    (command,) = [line for line in lines if "pytest" in line]
    words = shlex.split(command)
    assert words[0].startswith("FLOWLAWS_EXAMPLE_DB=") and words[1] == "python", words
    words = [sys.executable, *words[2:]]
    ssh = [i for i, word in enumerate(words) if word == "--tx"]
    assert len(ssh) == len(gateways) == 2, words
    for position, gateway in zip(ssh, gateways):
        words[position + 1] = gateway
    return words


def test_readme_multi_host_recipe_with_two_working_copies_and_one_shared_database(tmp_path):
    controller = _working_copy(tmp_path / "controller")
    host1, host2 = _working_copy(tmp_path / "host1"), _working_copy(tmp_path / "host2")
    database = tmp_path / "shared" / "flowlaws-examples"
    log = tmp_path / "checked.log"
    # README's recipe as written, with popen//chdir gateways for its ssh ones (same Python, same flowlaws).
    recipe = _readme_recipe(gateways=[f"popen//chdir={host1}", f"popen//chdir={host2}"])
    assert "--flowlaws-seed" in recipe and recipe[recipe.index("--flowlaws-seed") + 1] == "42"
    environment = {**os.environ, "FLOWLAWS_EXAMPLE_DB": str(database), "FLOWLAWS_TEST_LOG": str(log)}
    result = subprocess.run(recipe, cwd=controller, env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gw0" in result.stdout and "gw1" in result.stdout  # two gateways ran tests
    assert _entries(database) >= 2, "the workers' failures must reach the shared database"
    run = folders.latest_run(controller / "reports")
    assert run is not None and json.loads((run / "index.json").read_text())["totals"]["violated"] == 2
    assert not (host1 / "reports").exists() and not (host2 / "reports").exists()  # only the controller writes
    # Run again with another seed: both gateways replay the shared failures before generating anything.
    log.unlink()
    again = subprocess.run(
        [*recipe[: recipe.index("42")], "43", *recipe[recipe.index("42") + 1 :]],
        cwd=controller,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 1, again.stdout + again.stderr
    assert _checked(log)[:2] == [500, 500]
