"""A property added from the template is picked up by pytest and ``flowlaws run`` and reported, with no other edit.

The template is read from the installed ``properties`` package (it ships as package data, so an installed
copy has it too) and copied, as a user would, into the properties folder of a temporary project whose only
other files are the root conftest (loading the flowlaws plugin) and the pytest settings of pyproject.toml.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.reporting import folders

PROJECT = Path(__file__).resolve().parent.parent  # the repository (tests are not installed)
TEMPLATE = importlib.resources.files("properties").joinpath("prop_template.py.example")
TEMPLATE_ID = "augmented-data-is-closed"


def test_the_template_is_short_and_not_collected():
    assert TEMPLATE.is_file()
    assert len(TEMPLATE.read_text().splitlines()) < 30
    assert not TEMPLATE.name.endswith(".py")  # pytest never collects the template itself


def test_flowlaws_list_template_prints_the_shipped_template(capsys):
    assert main(["list", "--template"]) == 0
    assert capsys.readouterr().out == TEMPLATE.read_text()


@pytest.fixture(scope="module")
def user_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("user-project")
    (root / "properties").mkdir()
    shutil.copy(PROJECT / "conftest.py", root / "conftest.py")
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = properties\npython_files = test_*.py prop_*.py\n")
    (root / "properties" / "prop_closed_data.py").write_text(TEMPLATE.read_text())
    return root


def _environment(root: Path) -> dict:
    return {**os.environ, "FLOWLAWS_EXAMPLE_DB": str(root / "examples")}


def test_pytest_collects_runs_and_reports_the_new_property(user_project):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            "-q",
            "--flowlaws-profile=quick",
            "--hypothesis-seed=2",
        ],
        cwd=user_project,
        env=_environment(user_project),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    run = folders.latest_run(user_project / "reports")
    assert run is not None
    index = json.loads((run / "index.json").read_text())
    assert [p["id"] for p in index["properties"]] == [TEMPLATE_ID]
    assert index["properties"][0]["examples"] > 0


def test_flowlaws_run_and_list_pick_up_the_new_property(user_project, capsys):
    properties = user_project / "properties"
    assert main(["list", "--json", "--properties-dir", str(properties)]) == 0
    assert [p["id"] for p in json.loads(capsys.readouterr().out)["properties"]] == [TEMPLATE_ID]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            TEMPLATE_ID,
            "--properties-dir",
            str(properties),
            "-n",
            "0",
            "--seed",
            "3",
            "--report-dir",
            str(user_project / "runs"),
        ],
        cwd=user_project,
        env=_environment(user_project),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    index_md = (user_project / "runs" / "quick-seed3" / "index.md").read_text()
    assert f"| {TEMPLATE_ID} | G-augmented data sets are closed under G |" in index_md
