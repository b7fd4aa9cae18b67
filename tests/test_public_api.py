"""The public API (``harness.__all__``): every name resolves, the README lists exactly these names, the
docstring's example runs, and importing ``harness`` alone still changes nothing in the process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import harness

README = Path(__file__).resolve().parents[1] / "README.md"


def test_all_lists_exactly_the_lazily_loaded_names():
    assert set(harness.__all__) == set(harness._PUBLIC) | {"__version__"}


def test_every_public_name_resolves_to_an_object_of_that_name():
    for name in harness.__all__:
        value = getattr(harness, name)
        assert value is not None, name
        if name != "__version__":
            assert getattr(value, "__name__", name) == name, (name, value)


def test_an_unknown_name_is_an_attribute_error_naming_it():
    try:
        harness.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("harness.no_such_name resolved")


def test_the_readme_lists_the_public_api_exactly():
    text = README.read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([A-Za-z_]+)`", section, re.M))
    assert listed == set(harness.__all__) - {"__version__"}


def test_the_docstring_example_counts_the_cyclic_laws():
    from harness import build_group, count_laws, parse_network

    net = parse_network("linear:3,1,1")
    count = count_laws(net, "augmented", "mse", build_group("cyclic/trivial", net))
    free = count_laws(net, "free", "mse")
    # The independent oracle: D − rank of the Lie algebra, which the count reports level by level.
    assert count.laws == count.D - count.lie_rank_by_level[-1]
    assert count.laws is not None and free.laws is not None
    assert count.laws > free.laws  # Theorem 2's phenomenon on the README's example: augmentation adds a law


def test_importing_harness_and_reading_its_names_list_has_no_side_effects():
    code = (
        "import os, sys; before = dict(os.environ); import harness; names = harness.__all__; dir(harness); "
        "assert dict(os.environ) == before; assert 'numba' not in sys.modules and 'numpy' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_first_public_name_configures_the_process_before_numba_loads(tmp_path):
    code = (
        "import os, sys; os.environ.pop('NUMBA_CACHE_DIR', None); import harness; harness.parse_network; "
        "import numba; assert os.environ['NUMBA_CACHE_DIR'].endswith('.numba_cache'); "
        "assert os.environ['NUMBA_NUM_THREADS'] == '1'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
