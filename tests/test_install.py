"""What a non-editable install delivers: the wheel's contents, an import without side effects, paths from the
working directory (never from ``__file__``), ``flowlaws --version``, and the documented output actions.

The full path (wheel → fresh virtual environment → ``flowlaws selfcheck`` and ``flowlaws run`` from an empty
folder) is in ``.ci/run``; these tests are the fast part of it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from harness import environment
from harness.cli import COMMANDS
from harness.cli.list import OUTPUT_ACTIONS
from harness.model.groups import OUTPUT_ACTIONS as GROUP_OUTPUT_ACTIONS
from harness.model.groups import build_group
from harness.model.specs import parse_network
from harness.verdicts.discovery import default_properties_dir, installed_properties_dir

PROJECT = Path(__file__).resolve().parent.parent  # the repository (tests are not installed)
PACKAGES = ("harness", "strategies", "properties")
SIDE_EFFECT_VARIABLES = ("NUMBA_CACHE_DIR", *environment.THREAD_VARIABLES)


def _clean_environment(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SIDE_EFFECT_VARIABLES and not k.startswith("FLOWLAWS_")}
    return {**env, **extra}


# ---- the wheel -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Iterator[zipfile.ZipFile]:
    """The file list of a wheel built (no install) from a copy of the project, so the build's own folders
    (build/, *.egg-info) never touch the working tree."""
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns(
        ".git",
        "build",
        "dist",
        "*.egg-info",
        "__pycache__",
        ".numba_cache",
        ".hypothesis",
        ".pytest_cache",
        "reports",
        "benchmarks",
        "tests",
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(PROJECT / package, source / package, ignore=ignore)
    out = tmp_path_factory.mktemp("wheel")
    # Build with the setuptools at hand when there is one (fast, offline), else in pip's isolated environment.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = out.glob("flowlaws-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


@pytest.fixture(scope="module")
def wheel_files(wheel) -> set[str]:
    return set(wheel.namelist())


def _source_modules() -> list[str]:
    """Every .py file of every package in the source tree (a package is a folder with __init__.py)."""
    found = []
    for package in PACKAGES:
        for path in sorted((PROJECT / package).rglob("*.py")):
            folders = path.relative_to(PROJECT).parents
            if all((PROJECT / folder / "__init__.py").is_file() for folder in folders if str(folder) != "."):
                found.append(path.relative_to(PROJECT).as_posix())
    return found


def test_the_wheel_holds_every_module_of_every_subpackage(wheel_files):
    modules = _source_modules()
    assert "harness/cli/__init__.py" in modules and "harness/laws/counting.py" in modules
    missing = [module for module in modules if module not in wheel_files]
    assert not missing, f"not in the wheel: {missing}"


def test_the_wheel_ships_the_property_template_and_the_command(wheel, wheel_files):
    assert "properties/prop_template.py.example" in wheel_files
    assert not any(name.startswith(("tests/", "reports/", "benchmarks/")) for name in wheel_files)
    (entry_points,) = [name for name in wheel_files if name.endswith(".dist-info/entry_points.txt")]
    assert "flowlaws = harness.cli:main" in wheel.read(entry_points).decode()


# ---- no side effects at import, no paths from __file__ ----------------------------------------------------


def _run_python(code: str, cwd: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=_clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_importing_harness_leaves_the_environment_alone(tmp_path):
    code = (
        "import os, json; before = dict(os.environ); import harness, harness.cli, harness.environment; "
        "after = dict(os.environ); print(json.dumps({k: (before.get(k), after.get(k)) "
        "for k in set(before) | set(after) if before.get(k) != after.get(k)}))"
    )
    result = _run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {}


def test_configure_pins_threads_and_puts_the_numba_cache_in_the_working_directory(tmp_path):
    code = (
        "import os, json; from harness import environment; environment.configure(); print(json.dumps("
        "{k: os.environ.get(k) for k in ('NUMBA_CACHE_DIR', 'OMP_NUM_THREADS', 'NUMBA_NUM_THREADS')}))"
    )
    result = _run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "NUMBA_CACHE_DIR": str(tmp_path / ".numba_cache"),
        "OMP_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
    }
    explicit = _run_python(code, tmp_path, NUMBA_CACHE_DIR="/somewhere/else", OMP_NUM_THREADS="3")
    assert json.loads(explicit.stdout)["NUMBA_CACHE_DIR"] == "/somewhere/else"
    assert json.loads(explicit.stdout)["OMP_NUM_THREADS"] == "3"


def test_project_paths_follow_the_working_directory_and_flowlaws_home(tmp_path, monkeypatch):
    for variable in ("FLOWLAWS_HOME", "FLOWLAWS_REPORT_DIR", "FLOWLAWS_EXAMPLE_DB", "NUMBA_CACHE_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    assert environment.report_dir() == tmp_path / "reports"
    assert environment.example_database_dir() == tmp_path / ".hypothesis" / "examples"
    assert environment.numba_cache_dir() == tmp_path / ".numba_cache"
    home = tmp_path / "home"
    monkeypatch.setenv("FLOWLAWS_HOME", str(home))
    assert environment.project_dir() == home and environment.report_dir() == home / "reports"
    monkeypatch.setenv("FLOWLAWS_REPORT_DIR", str(tmp_path / "elsewhere"))
    assert environment.report_dir() == tmp_path / "elsewhere"


def test_default_properties_folder_is_the_projects_else_the_installed_package(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWLAWS_HOME", raising=False)
    monkeypatch.chdir(tmp_path)  # no properties/ here
    assert default_properties_dir() == installed_properties_dir()
    assert (default_properties_dir() / "prop_template.py.example").is_file()
    (tmp_path / "properties").mkdir()
    assert default_properties_dir() == tmp_path / "properties"


def test_no_installed_module_derives_a_path_from_its_own_file():
    # In an installed copy __file__ lies in site-packages: project folders, caches, the example database
    # and reports must come from harness.environment instead.
    pattern = re.compile(r"Path\(\s*__file__\s*\)|os\.path\.\w+\(\s*__file__\s*\)")
    offenders = [
        f"{path.relative_to(PROJECT)}:{number}"
        for package in PACKAGES
        for path in sorted((PROJECT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, f"paths computed from __file__: {offenders}"


# ---- flowlaws --version -------------------------------------------------------------------------------------


def test_version_prints_flowlaws_python_and_the_libraries(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "--version"],
        cwd=tmp_path,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"flowlaws {importlib.metadata.version('flowlaws')} (")
    shown = dict(line.split(" ", 1) for line in lines[1:])
    assert shown == {
        "Python": platform.python_version(),
        "Hypothesis": importlib.metadata.version("hypothesis"),
        "Numba": importlib.metadata.version("numba"),
        "NumPy": importlib.metadata.version("numpy"),
        "torch": importlib.metadata.version("torch"),
    }


def test_the_version_has_one_source():
    import harness

    found = re.search(r'^version = "([^"]+)"$', (PROJECT / "pyproject.toml").read_text(), re.M)
    assert found is not None, "pyproject.toml declares no version"
    declared = found.group(1)
    assert harness.__version__ == importlib.metadata.version("flowlaws") == declared
    copies = [
        str(path.relative_to(PROJECT))
        for path in sorted((PROJECT / "harness").rglob("*.py"))
        if f'"{declared}"' in path.read_text()
    ]
    assert not copies, f"the version string is repeated in {copies}"


def test_every_command_module_is_importable():
    import importlib

    for name in COMMANDS:
        assert callable(importlib.import_module(f"harness.cli.{name}").add_parser)


# ---- the output actions, as documented by `flowlaws list` and `flowlaws --help` ------------------------------


def _actions(network: str, group: str) -> list[tuple[np.ndarray, np.ndarray]]:
    built = build_group(group, parse_network(network))
    return [(np.asarray(a, float), np.asarray(b, float)) for a, b in zip(built.inputs, built.outputs)]


def test_every_output_action_is_documented():
    assert list(OUTPUT_ACTIONS) == list(GROUP_OUTPUT_ACTIONS)


@pytest.mark.parametrize("group", ["cyclic", "swap:0,1", "flip", "sym", "rot:4"])
def test_trivial_leaves_targets_unchanged(group):
    for _, rho_out in _actions("linear:4,1,2", f"{group}/trivial"):
        assert np.array_equal(rho_out, np.eye(2))


@pytest.mark.parametrize("group", ["cyclic", "swap:0,1", "flip", "dihedral", "rot:4"])
def test_same_moves_targets_like_inputs(group):
    for rho_in, rho_out in _actions("linear:4,1,4", f"{group}/same"):
        assert np.allclose(rho_out, rho_in)


@pytest.mark.parametrize(
    "network, group",
    [
        ("linear:3,1,2", "cyclic"),
        ("linear:4,1,2", "cyclic"),
        ("linear:3,1,2", "swap:0,2"),
        ("linear:3,1,2", "sym"),
        ("linear:3,1,2", "dihedral"),
        ("linear:2,1,2", "signperm"),
        ("linear:3,1,2", "spm:-1,-2,-3"),
        ("linear:2,1,2", "spm:-1,-2"),
        ("linear:2,1,2", "spm:2,-1"),
        ("linear:2,1,2", "rot:4"),
        ("poly:3,1,2,k=2", "sym"),
    ],
)
def test_sign_multiplies_targets_by_the_determinant(network, group):
    elements = _actions(network, f"{group}/sign")
    for rho_in, rho_out in elements:
        assert np.allclose(rho_out, round(np.linalg.det(rho_in)) * np.eye(len(rho_out)))


def test_sign_of_flip_is_minus_one_for_every_dimension_unlike_spm():
    for n in (1, 2, 3, 4):
        (identity, _), (minus_identity, flipped) = _actions(f"linear:{n},1,1", "flip/sign")
        assert np.array_equal(minus_identity, -np.eye(n)) and np.array_equal(flipped, -np.eye(1))
    spm = ",".join(str(-i) for i in range(1, 5))
    (_, _), (minus_identity, unchanged) = _actions("linear:4,1,1", f"spm:{spm}/sign")
    assert np.array_equal(minus_identity, -np.eye(4)) and np.array_equal(unchanged, np.eye(1))


def test_sign_of_token_groups_is_the_sign_of_the_token_permutation():
    # n = 2 tokens of d = 2 features: the swap of tokens has det +1 on R^4, yet y ↦ −y.
    (_, _), (swap, rho_out) = _actions("attention:n=2,d=2,dk=1,dv=1", "tokens-sym/sign")
    assert round(np.linalg.det(swap)) == 1 and np.array_equal(rho_out, -np.eye(2))


def test_list_and_help_explain_every_output_action(capsys):
    from harness.cli import build_parser, main

    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    help_text = build_parser().format_help()
    for name in GROUP_OUTPUT_ACTIONS:
        assert f"/{name} " in listing and f"/{name} " in help_text
    for text in (listing, help_text):
        assert "spm:-1,...,-n/sign" in text and "flip" in text
    assert main(["list", "--json"]) == 0
    actions = json.loads(capsys.readouterr().out)["output_actions"]
    assert [action["name"] for action in actions] == list(GROUP_OUTPUT_ACTIONS)
    assert all("(undocumented)" not in action["meaning"] for action in actions)
