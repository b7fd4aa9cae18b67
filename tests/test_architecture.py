"""The import contract of the layout: who may import whom, read from the source (no module is imported).

- The engine (``harness``) never imports ``strategies`` or ``properties``: a researcher's script and the
  command line use the engine without Hypothesis strategies or the shipped properties.
- ``harness.kernels`` (Numba only) imports nothing above it: only the standard library, numpy, numba,
  other kernel modules and the engine's leaf modules (``environment``, ``errors``, ``jsonable``), so the
  compiled layer can be cached, warmed up and benchmarked on its own.
- ``harness.algebra`` (the prime field, spectral gaps, jets, polynomials) imports no model, dynamics, laws,
  verdicts, reporting, testing or command-line module: it is the bottom of the numerical stack.
- Nothing in the engine imports ``harness.cli``, which sits on top of everything.

Each rule is checked on every import statement, including the ones inside functions, so a lazy import
cannot hide a cycle. The tests of the checker itself plant a forbidden import and see it reported.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
ENGINE = PROJECT / "harness"
BELOW_EVERYTHING = {"numpy", "numba", *sys.stdlib_module_names}
# Leaf modules of the engine that import nothing of it: any layer may use them.
LEAVES = ("harness.environment", "harness.errors", "harness.jsonable")


def imported_modules(source: str, module: str) -> set[str]:
    """Absolute names of every module ``source`` (the text of ``module``) imports, relative imports resolved."""
    found = set()
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)  # `from harness import cli`
    return found


def engine_modules() -> dict[str, str]:
    """Every module of the engine, dotted name -> source text."""
    modules = {}
    for path in sorted(ENGINE.rglob("*.py")):
        parts = path.relative_to(PROJECT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path.read_text(encoding="utf-8")
    return modules


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(modules: dict[str, str]) -> list[str]:
    """Every import that breaks one of the rules of the module docstring, as 'importer -> imported: rule'."""
    found = []
    for module, source in modules.items():
        for name in sorted(imported_modules(source, module)):
            top = name.split(".")[0]
            if top in ("strategies", "properties"):
                found.append(f"{module} -> {name}: the engine never imports {top}")
            leaf = name in ("harness", *LEAVES) or any(_inside(name, module) for module in LEAVES)
            if _inside(module, "harness.kernels") and not (
                _inside(name, "harness.kernels") or top in BELOW_EVERYTHING or leaf
            ):
                found.append(f"{module} -> {name}: kernels import only numpy, numba, the standard library and kernels")
            if (
                _inside(module, "harness.algebra")
                and _inside(name, "harness")
                and not (_inside(name, "harness.algebra") or leaf)
            ):
                found.append(f"{module} -> {name}: the algebra imports no higher layer")
            if _inside(name, "harness.cli") and not _inside(module, "harness.cli"):
                found.append(f"{module} -> {name}: only the command line imports harness.cli")
    return found


def test_the_engine_keeps_the_import_contract():
    modules = engine_modules()
    assert "harness.kernels.warmup" in modules and "harness.laws.counting" in modules  # the walk found the tree
    assert violations(modules) == []


@pytest.mark.parametrize(
    "module, planted, rule",
    [
        ("harness.laws.counting", "from strategies.networks import networks\n", "never imports strategies"),
        ("harness.model.data", "import properties.prop_theorem1\n", "never imports properties"),
        ("harness.kernels.polynomial", "from harness.model import losses\n", "kernels import only"),
        ("harness.kernels.polynomial", "def f():\n    import scipy.linalg\n", "kernels import only"),
        ("harness.kernels.warmup", "from harness.dynamics.flow import GradientFlow\n", "kernels import only"),
        ("harness.algebra.modular", "from ..laws import counting\n", "no higher layer"),
        ("harness.dynamics.flow", "from harness.cli import main\n", "only the command line"),
    ],
)
def test_a_planted_forbidden_import_is_reported(module, planted, rule):
    modules = engine_modules()
    modules[module] = modules.get(module, "") + planted
    found = violations(modules)
    assert any(line.startswith(module + " -> ") and rule in line for line in found), found


def test_relative_imports_are_resolved_against_the_importing_package():
    assert "harness.laws.counting" in imported_modules("from ..laws import counting\n", "harness.algebra.modular")
    assert "harness.kernels.loop" in imported_modules("from .loop import run\n", "harness.kernels.tableaux")
