"""Every bad input of ``flowlaws flow`` and ``flowlaws count`` gets one clear error (issue 8, item 6).

Each row is an argv and a fragment of the expected message. In process (``harness.cli.main``): exit code 2,
stderr exactly one line starting ``flowlaws: error:`` that contains the fragment, nothing on stdout, no
traceback, and no file left in the working directory. The inputs that used to hang or eat memory also run in a
subprocess under a timeout, with their peak resident memory measured (at most 500 MB).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.cli import main

FLOW = ["flow", "--arch", "linear:3,2,2", "--loss", "quartic"]
COUNT = ["count", "--arch", "linear:3,1,1", "--loss", "mse"]
PEAK_MEMORY_MB = 500
SUBPROCESS_TIMEOUT = 120  # seconds; a refused input takes about one interpreter start

CASES = {
    # resources: refused before any array is built or any step taken
    "samples-runaway": (
        FLOW + ["--samples", "300000000"],
        "--samples 300000000: 300,000,000 samples of 5 numbers each",
    ),
    "samples-times-group": (FLOW + ["--samples", "1000000", "--group", "cyclic/trivial"], "× 3 group elements"),
    "steps-runaway": (
        FLOW + ["--steps", "1000000000"],
        "--steps 1000000000 is out of range; allowed: an integer from 1 to 10,000,000",
    ),
    "steps-over-budget": (FLOW + ["--steps", "300000"], "--steps 300000 is more than --max-steps 200000"),
    "max-steps-runaway": (FLOW + ["--max-steps", "1000000000"], "--max-steps 1000000000 is out of range"),
    "max-steps-zero": (FLOW + ["--max-steps", "0"], "--max-steps 0 is out of range"),
    # seeds: non-negative integers written in ASCII digits
    "flow-seed-negative": (FLOW + ["--seed", "-1"], "--seed '-1' is not a valid seed; allowed: an integer from 0"),
    "flow-seed-fraction": (FLOW + ["--seed", "1.5"], "--seed '1.5' is not a valid seed"),
    "flow-seed-word": (FLOW + ["--seed", "abc"], "--seed 'abc' is not a valid seed"),
    "flow-seed-underscore": (FLOW + ["--seed", "1_0"], "--seed '1_0' is not a valid seed"),
    "flow-seed-full-width": (FLOW + ["--seed", "１２"], "is not a valid seed"),
    "flow-seed-huge": (FLOW + ["--seed", str(2**64)], "is not a valid seed; allowed: an integer from 0 to 2**64 - 1"),
    "count-seed-negative": (COUNT + ["--seed", "-1"], "--seed '-1' is not a valid seed"),
    "count-seed-fraction": (COUNT + ["--seed", "0.5"], "--seed '0.5' is not a valid seed"),
    # count's other numbers
    "count-depth-negative": (
        COUNT + ["--max-depth", "-1"],
        "--max-depth -1 is out of range; allowed: an integer from 1 to 32",
    ),
    "count-depth-zero": (COUNT + ["--max-depth", "0"], "--max-depth 0 is out of range"),
    "count-depth-huge": (COUNT + ["--max-depth", "100000"], "--max-depth 100000 is out of range"),
    # empty group: an error in both commands (free data = no --group at all)
    "flow-empty-group": (FLOW + ["--group", ""], "--group '' is empty; allowed: a group spec"),
    "flow-blank-group": (FLOW + ["--group", "  "], "is empty"),
    "count-empty-group": (COUNT + ["--group", ""], "--group '' is empty"),
    # tolerances and flow time: positive and finite
    "rtol-nan": (
        FLOW + ["--method", "dp5", "--rtol", "nan"],
        "--rtol 'nan' is not a number; allowed: a positive finite tolerance",
    ),
    "rtol-inf": (FLOW + ["--rtol", "inf"], "--rtol 'inf' is not a number"),
    "rtol-zero": (FLOW + ["--rtol", "0"], "--rtol 0 is out of range"),
    "rtol-negative": (FLOW + ["--rtol=-1e-6"], "--rtol -1e-6 is out of range"),
    "rtol-below-float64": (FLOW + ["--rtol", "1e-20"], "of at least 1e-14"),
    "atol-nan": (FLOW + ["--atol", "nan"], "--atol 'nan' is not a number"),
    "atol-zero": (FLOW + ["--atol", "0"], "--atol 0 is out of range"),
    "atol-overflow": (FLOW + ["--atol", "1e999"], "--atol 1e999 is out of range"),
    "t-nan": (FLOW + ["--t", "nan"], "--t 'nan' is not a number; allowed: a positive finite flow time"),
    "t-inf": (FLOW + ["--t", "inf"], "--t 'inf' is not a number"),
    "t-overflow": (FLOW + ["--t", "1e400"], "--t 1e400 is out of range"),
    "t-zero": (FLOW + ["--t", "0"], "--t 0 is out of range"),
    "t-negative": (FLOW + ["--t", "-3"], "--t -3 is out of range"),
    "samples-zero": (FLOW + ["--samples", "0"], "--samples 0 is out of range; allowed: an integer from 1"),
    "samples-word": (FLOW + ["--samples", "many"], "--samples 'many' is not an integer"),
    # plot files: the format is checked before integrating
    "plot-unknown-extension": (
        FLOW + ["--plot", "x.xyz"],
        "--plot 'x.xyz' has extension 'xyz'; allowed: a file name ending in one of",
    ),
    "plot-no-extension": (FLOW + ["--plot", "figure"], "--plot 'figure' has no extension"),
    "plot-missing-folder": (FLOW + ["--plot", "no-such-folder/x.png"], "cannot write plot file"),
    # the autodiff engine (issue 11): zoo specs, groups that do not fit a torch model, sizes, options
    "count-autodiff-bad-spec": (
        ["count", "--arch", "mlp:2,1", "--loss", "mse", "--method", "autodiff"],
        "mlp needs IN, at least one hidden width and OUT",
    ),
    "count-autodiff-group-misfit": (
        ["count", "--arch", "mlp:3,2,1", "--group", "rot:3", "--loss", "mse"],
        "rot:N acts on coordinate planes and needs an even dimension, got 3",
    ),
    "count-autodiff-token-group": (
        ["count", "--arch", "mlp:3,2,1", "--group", "tokens-cyclic", "--loss", "mse"],
        "permutes token positions and needs an attention network",
    ),
    "count-autodiff-too-large": (["count", "--arch", "mlp:300,300,300", "--loss", "mse"], "handles at most 100,000"),
    "count-autodiff-memory": (["count", "--arch", "mlp:100,200,100", "--loss", "mse"], "GiB"),
    "count-module-and-arch": (
        ["count", "--arch", "mlp:3,2,1", "--module", "net.py:Net", "--loss", "mse"],
        "give exactly one of --arch SPEC or --module PATH.py:CLASS",
    ),
    # loss vs data: a /sign output action turns probability targets into non-probabilities
    "cross-entropy-sign": (
        ["flow", "--arch", "linear:3,2,2", "--loss", "cross-entropy", "--group", "flip/sign"],
        "cross-entropy needs probability targets",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_clear_line_and_leaves_nothing(name, capsys, monkeypatch, tmp_path):
    argv, fragment = CASES[name]
    monkeypatch.chdir(tmp_path)
    code = main(list(argv))
    captured = capsys.readouterr()
    assert code == 2, (name, captured.out, captured.err)
    assert captured.out == ""
    assert captured.err.startswith("flowlaws: error: ") and captured.err.count("\n") == 1, captured.err
    assert fragment in captured.err, captured.err
    assert "Traceback" not in captured.err
    assert list(tmp_path.iterdir()) == []


# --- in a subprocess: no hang, bounded memory -------------------------------------------------------------


def run_measured(arguments: list[str], cwd: Path) -> tuple[int, str, str, float]:
    """Run ``python arguments`` as the only child of a fresh interpreter: its code, stdout, stderr, peak RSS (MB).

    The wrapper is its own process so that RUSAGE_CHILDREN sees this child alone (in the test process it would
    also cover every earlier subprocess of the session).
    """
    wrapper = textwrap.dedent("""
        import resource, subprocess, sys
        child = subprocess.run([sys.executable, *sys.argv[1:]], capture_output=True, text=True)
        sys.stdout.write(child.stdout)
        sys.stderr.write(child.stderr)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
        sys.stderr.write(f"\\nPEAK_RSS_KB {peak}\\n")
        sys.exit(child.returncode)
    """)
    environment = dict(os.environ)
    environment.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".numba_cache"))
    result = subprocess.run(
        [sys.executable, "-c", wrapper, *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=SUBPROCESS_TIMEOUT,
    )
    err, _, peak = result.stderr.rpartition("PEAK_RSS_KB ")
    return result.returncode, result.stdout, err.rstrip("\n"), int(peak) / 1024


HEAVY_CLI_CASES = ["samples-runaway", "samples-times-group", "steps-runaway", "max-steps-runaway"]


@pytest.mark.parametrize("name", HEAVY_CLI_CASES)
def test_runaway_inputs_are_refused_fast_and_small(name, tmp_path):
    argv, fragment = CASES[name]
    code, out, err, peak_mb = run_measured(["-m", "harness.cli", *argv], tmp_path)
    assert code == 2 and out == "", err
    assert err.startswith("flowlaws: error: ") and fragment in err and err.count("\n") == 0, err
    assert peak_mb <= PEAK_MEMORY_MB, f"{name}: peak RSS {peak_mb:.0f} MB"
    assert not any(path.name != ".numba_cache" for path in tmp_path.iterdir())


API_CASES = {
    "integrate-n-save": (
        """
        import numpy as np
        from harness.errors import InvalidInput
        from harness.dynamics.flow import GradientFlow, integrate
        from harness.model.scenario import Scenario
        built = Scenario("linear:3,2,2", "mse").build()
        flow = GradientFlow(built.network, built.loss, built.data)
        try:
            integrate(flow, built.theta0, 1.0, "dp5", n_save=10**9)
        except InvalidInput as error:
            print(error)
        """,
        "n_save=1000000000 would save 1,000,000,001 states of D = 10 numbers",
    ),
    "random-dataset-samples": (
        """
        import numpy as np
        from harness.model.data import random_dataset
        from harness.errors import InvalidInput
        from harness.model.specs import parse_network
        try:
            random_dataset(parse_network("linear:3,2,2"), 300_000_000, np.random.default_rng(0))
        except InvalidInput as error:
            print(error)
        """,
        "n_samples=300000000: 300,000,000 samples",
    ),
    "is-closed-60000": (
        """
        import numpy as np
        from harness.model.data import augment, is_closed, random_dataset
        from harness.model.groups import build_group
        from harness.model.specs import parse_network
        network = parse_network("linear:4,1,1")
        group = build_group("rot:4", network)
        data = augment(random_dataset(network, 15_000, np.random.default_rng(0)), group)
        print(data.n_samples, is_closed(data, group))
        """,
        "60000 True",
    ),
    "count-laws-depth": (
        """
        from harness.laws.counting import count_laws
        from harness.errors import InvalidInput
        try:
            count_laws("linear:3,1,1", max_depth=-1)
        except InvalidInput as error:
            print(error)
        """,
        "max_depth=-1 must be an integer from 1 to 32",
    ),
}


@pytest.mark.parametrize("name", API_CASES)
def test_python_api_guards_are_fast_and_small(name, tmp_path):
    code, expected = API_CASES[name]
    status, out, err, peak_mb = run_measured(["-c", textwrap.dedent(code)], tmp_path)
    assert status == 0, err
    assert expected in out, out
    assert peak_mb <= PEAK_MEMORY_MB, f"{name}: peak RSS {peak_mb:.0f} MB"


# --- --module PATH.py:CLASS (needs H2's harness.model.torch_model.load_module) ------------------------------

MODULES = {
    "net.py": "import torch\nclass Net(torch.nn.Module):\n    input_shape = (3,)\n    def __init__(self):\n"
    "        super().__init__()\n        self.inner = torch.nn.Linear(3, 1, dtype=torch.float64)\n"
    "    def forward(self, x):\n        return self.inner(x)\n",
    "single.py": "import torch\nclass Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.inner = torch.nn.Linear(3, 1)\n    def forward(self, x):\n        return self.inner(x)\n",
    "plain.py": "class Net:\n    input_shape = (3,)\n",
}

MODULE_CASES = {
    "module-missing-file": (["--module", "{dir}/absent.py:Net"], "absent.py"),
    "module-missing-class": (["--module", "{dir}/net.py:Missing"], "Missing"),
    "module-not-a-module": (["--module", "{dir}/plain.py:Net"], "torch.nn.Module"),
    "module-float32": (["--module", "{dir}/single.py:Net", "--input-shape", "3"], "float64"),
    "module-wrong-shape": (["--module", "{dir}/net.py:Net", "--input-shape", "4"], "shape"),
    "module-group-misfit": (["--module", "{dir}/net.py:Net", "--group", "rot:3"], "even dimension"),
}


def _has_load_module() -> bool:
    from harness.model import torch_model

    return hasattr(torch_model, "load_module")


@pytest.mark.skipif(not _has_load_module(), reason="harness.model.torch_model.load_module (H2, issue 11) not here yet")
@pytest.mark.parametrize("name", MODULE_CASES)
def test_bad_module_input_is_one_clear_line(name, capsys, tmp_path_factory):
    folder = tmp_path_factory.mktemp("modules")
    for file_name, text in MODULES.items():
        (folder / file_name).write_text(text)
    argv, fragment = MODULE_CASES[name]
    code = main(["count", *[a.format(dir=folder) for a in argv], "--loss", "mse"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "", (name, captured.out, captured.err)
    assert captured.err.startswith("flowlaws: error: ") and captured.err.count("\n") == 1, captured.err
    assert fragment in captured.err and "Traceback" not in captured.err, captured.err
