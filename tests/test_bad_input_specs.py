"""Every bad spec, group, scenario, model or replay input gets one clear error (issue 8, item 6; issue 11).

Four tables. ``CLI_CASES``: an argv and a fragment of the expected message, run in process through
``harness.cli.main``: exit code 2, stderr exactly one line starting ``flowlaws: error:`` that contains the
fragment, nothing on stdout, no traceback, nothing left in the working directory. ``REPLAY_CASES``: the text
of a scenario.json handed to ``flowlaws replay``, checked the same way. ``API_CASES``: a Python call that must
raise ``InvalidInput`` with the fragment; ``MODEL_CASES`` likewise for torch models (issue 11: a module that is not a
``torch.nn.Module``, a wrong input shape, a group that does not fit, a non-float64 model, bad zoo specs, bad
``--module`` items). The inputs that used to hang or eat memory run again in a
subprocess, under a timeout, with the child's own peak resident memory (``os.wait4``) at most 500 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.errors import InvalidInput
from harness.model.families.attention import AttentionNetwork
from harness.model.families.deep_linear import DeepLinearNetwork
from harness.model.families.linear import LinearNetwork
from harness.model.families.polynomial import PolynomialNetwork
from harness.model.family import SizeLimits
from harness.model.groups import Group, build_group, parse_group
from harness.model.scenario import Scenario
from harness.model.specs import parse_network

PEAK_MEMORY_MB = 500
SUBPROCESS_TIMEOUT = 60  # seconds; a refused input costs one interpreter start
FLOW = ["flow", "--loss", "mse", "--t", "0.1"]
COUNT = ["count", "--loss", "mse"]
DEEP_26 = "deep-linear:" + ",".join(["2"] * 26)


def _flow(arch: str, *extra: str) -> list[str]:
    return FLOW + ["--arch", arch, *extra]


CLI_CASES = {
    # resource guards on networks: refused from the spec's numbers, before Φ is built
    "poly-degree-1000": (_flow("poly:3,2,1,k=1000"), "activation degree k (k! must fit an int64) 1,000 > limit 20"),
    "poly-degree-70": (_flow("poly:2,1,1,k=70"), "SizeLimits.max_degree"),
    "poly-features": (_flow("poly:30,1,1,k=6"), "features K 1,623,160 > limit 10,000"),
    "deep-linear-26-widths": (_flow(DEEP_26), "weight matrices 25 > limit 16 (SizeLimits.max_layers)"),
    "deep-linear-paths": (_flow("deep-linear:10,10,10,10,10,10,10,10"), "monomial factors of Φ"),
    "attention-huge": (_flow("attention:n=1000,d=50,dk=50,dv=50"), "input or output coordinates per sample 50,000"),
    "attention-tokens": (_flow("attention:n=5000,d=1,dk=1,dv=1"), "tokens n 5,000 > limit 1,000"),
    "linear-3000": (_flow("linear:3000,3000,3000"), "parameters D 18,000,000 > limit 10,000"),
    "count-linear-3000": (COUNT + ["--arch", "linear:3000,3000,3000"], "parameters D 18,000,000"),
    "count-poly-degree": (COUNT + ["--arch", "poly:3,2,1,k=1000"], "SizeLimits.max_degree"),
    # strict network specs
    "full-width-digit": (_flow("linear:３,2,2"), "contains the character '３'; specs use ASCII"),
    "underscore-digits": (_flow("linear:1_0,2,2"), "IN='1_0' in network spec 'linear:1_0,2,2' is not an integer"),
    "leading-zero": (_flow("linear:03,2,2"), "IN='03'"),
    "duplicate-key": (_flow("poly:3,2,1,k=2,k=3"), "gives k= twice"),
    "duplicate-attention-key": (_flow("attention:n=2,n=3,d=2,dk=1,dv=1"), "gives n= twice"),
    "inner-whitespace": (_flow("linear: 3,2,2"), "contains whitespace"),
    "outer-whitespace": (_flow("linear:3,2,2 "), "contains whitespace"),
    "negative-size": (_flow("linear:-3,2,2"), "n_in=-3 must be an integer >= 1"),
    "zero-size": (_flow("linear:3,0,2"), "hidden=0 must be an integer >= 1"),
    "huge-int": (_flow("linear:99999999999999999999,1,1"), "has 20 digits; at most 18"),
    "empty-item": (_flow("linear:3,,2"), "has an empty item"),
    "trailing-comma": (_flow("linear:3,2,2,"), "has an empty item"),
    "decay-nan": (_flow("attention:n=2,d=2,dk=1,dv=1,mask=causal,decay=nan"), "decay='nan'"),
    "decay-full-width": (_flow("attention:n=2,d=2,dk=1,dv=1,mask=causal,decay=０.5"), "contains the character"),
    "unknown-family": (_flow("cnn:3,2,2"), "unknown model spec 'cnn:3,2,2'"),
    # groups
    "empty-group": (_flow("linear:3,2,2", "--group", ""), "--group '' is empty"),
    "rot-rounds-to-identity": (
        _flow("linear:2,1,1", "--group", "rot:99999999999999999999"),
        "has 20 digits; at most 18",
    ),
    "rot-over-order-cap": (
        _flow("linear:2,1,1", "--group", "rot:100000000"),
        "has 100,000,000 elements, more than 5040 elements (order cap)",
    ),
    "sym-large": (_flow("linear:1000,1,1", "--group", "sym"), "has about 10^2567 elements, more than 5040"),
    "count-sym-large": (COUNT + ["--arch", "linear:1000,1,1", "--group", "sym"], "more than 5040 elements"),
    "product-over-order-cap": (
        _flow("linear:8,1,1", "--group", "cyclic*swap:0,1"),
        "more than 5040 elements (order cap)",
    ),
    "group-memory": (_flow("linear:6000,1,1", "--group", "flip"), "more than max_bytes = 256 MiB"),
    "group-full-width": (_flow("linear:2,1,1", "--group", "rot:４"), "contains the character '４'"),
    "group-empty-factor": (_flow("linear:2,1,1", "--group", "flip*"), "has an empty factor"),
    "group-empty-action": (_flow("linear:2,1,1", "--group", "flip/"), "has an empty output action"),
    "group-whitespace": (_flow("linear:2,1,1", "--group", "swap:0, 1"), "contains whitespace"),
    "group-underscore": (_flow("linear:2,1,1", "--group", "rot:1_0"), "is not an integer"),
    "group-rot-zero": (_flow("linear:2,1,1", "--group", "rot:0"), "rot:N needs N >= 1"),
    "group-rot-negative": (_flow("linear:2,1,1", "--group", "rot:-4"), "rot:N needs N >= 1"),
    # cross-entropy × an output action that flips the targets' signs
    "cross-entropy-sign": (
        ["flow", "--arch", "linear:3,2,2", "--loss", "cross-entropy", "--group", "flip/sign"],
        "its /sign output action multiplies y by −1",
    ),
    "cross-entropy-cyclic-sign": (
        ["flow", "--arch", "linear:3,2,2", "--loss", "cross-entropy", "--group", "swap:0,1/sign"],
        "cannot have probability targets",
    ),
    "cross-entropy-rotated": (
        ["flow", "--arch", "linear:2,1,2", "--loss", "cross-entropy", "--group", "rot:4/same"],
        "its /same output action flips the sign of or rotates y",
    ),
}


@pytest.fixture
def clean_cwd(tmp_path, monkeypatch):
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def assert_one_clear_error(code: int, captured, fragment: str, cwd: Path) -> None:
    assert code == 2, (captured.out, captured.err)
    assert captured.out == ""
    assert captured.err.startswith("flowlaws: error: ") and captured.err.count("\n") == 1, captured.err
    assert fragment in captured.err, captured.err
    assert "Traceback" not in captured.err
    assert list(cwd.iterdir()) == []


@pytest.mark.parametrize("name", CLI_CASES)
def test_bad_spec_is_one_clear_line_and_leaves_nothing(name, capsys, clean_cwd):
    argv, fragment = CLI_CASES[name]
    code = main(list(argv))
    assert_one_clear_error(code, capsys.readouterr(), fragment, clean_cwd)


# --- scenario.json for replay ------------------------------------------------------------------------------


def _record(**changes) -> dict:
    record = {**Scenario("linear:2,1,1", "mse").to_dict(), "property": "planted-size"}
    record.update(changes)
    return record


def _text(**changes) -> str:
    return json.dumps(_record(**changes))


def _without(key: str) -> str:
    record = _record()
    del record[key]
    return json.dumps(record)


def _arrays(**changes) -> str:
    arrays = {"x": [[1.0, 0.5]], "y": [[1.0]], "theta0": [0.1, 0.2, 0.3]}
    arrays.update(changes)
    return _text(arrays=arrays)


REPLAY_CASES = {
    "seed-negative": (_text(seed=-1), "seed=-1 is not a valid seed"),
    "seed-fraction": (_text(seed=1.5), "seed=1.5 is not a valid seed"),
    "seed-string": (_text(seed="0"), "seed='0' is not a valid seed"),
    "seed-boolean": (_text(seed=True), "seed=True is not a valid seed"),
    "seed-huge": (_text(seed=2**64), "is not a valid seed; allowed: an integer from 0 to 2**64 - 1"),
    "seed-5000-digits": (
        '{"format": "flowlaws-scenario/1", "network": "linear:2,1,1", "seed": 1' + "0" * 5000 + "}",
        "is corrupted: not valid JSON",
    ),
    "theta-scale-word": (_text(theta_scale="big"), "theta_scale='big' must be a finite number in (0, 1000]"),
    "theta-scale-1e200": (_text(theta_scale=1e200), "theta_scale=1e+200 must be a finite number in (0, 1000]"),
    "theta-scale-zero": (_text(theta_scale=0), "theta_scale=0 must be a finite number"),
    "target-scale-huge": (_text(target_scale=1e300), "target_scale=1e+300"),
    "theta-scale-nan": (_text().replace('"theta_scale": 1.0', '"theta_scale": NaN'), "NaN is not a number JSON allows"),
    "theta-scale-infinity": (_text().replace('"theta_scale": 1.0', '"theta_scale": Infinity'), "Infinity"),
    "n-samples-zero": (_text(n_samples=0), "n_samples=0 must be a positive integer"),
    "n-samples-string": (_text(n_samples="8"), "n_samples='8' must be a positive integer"),
    "n-samples-huge": (_text(n_samples=10**12), "samples of 3 numbers each"),
    "network-number": (_text(network=5), "network=5 must be a network spec"),
    "network-huge": (_text(network="linear:3000,3000,3000"), "parameters D 18,000,000 > limit 10,000"),
    "network-missing": (_without("network"), "scenario record is incomplete: no 'network'"),
    "format-missing": (_without("format"), "not a flowlaws scenario"),
    "group-empty": (_text(group=""), "group spec '' is empty"),
    "group-number": (_text(group=4), "group=4 must be a group spec"),
    "group-rot-huge": (_text(group="rot:999999999999"), "more than 5040 elements (order cap)"),
    "data-unknown": (_text(data="bootstrap"), "data class 'bootstrap' is not one of"),
    "loss-unknown": (_text(loss="nope"), "unknown loss 'nope'"),
    "loss-list": (_text(loss=["mse"]), "loss=['mse'] must be a loss name"),
    "targets-number": (_text(targets=3), "targets=3 is not one of"),
    "unknown-key": (_text(sede=3), "unknown key 'sede' in scenario record"),
    "duplicate-key": (_text()[:-1] + ', "seed": 3}', "duplicate key 'seed'"),
    "property-number": (_text(property=7), "property=7 must be a property id"),
    "deep-nesting": ("[" * 100_000 + "]" * 100_000, "JSON nested deeper than 8"),
    "deep-arrays": (
        _text(arrays={"x": [[[[[[[[[[1.0]]]]]]]]]], "y": [[1.0]], "theta0": [0.0]}),
        "JSON nested deeper than 8",
    ),
    "arrays-ragged": (_arrays(x=[[1.0, 0.5], [1.0]]), "stored array x must be a non-empty list of equally long"),
    "arrays-strings": (_arrays(theta0=["0.1", "0.2", "0.3"]), "stored array theta0 must be a list of numbers"),
    "arrays-missing-theta": (_text(arrays={"x": [[1.0, 0.5]], "y": [[1.0]]}), "exactly x, y and theta0"),
    "arrays-wrong-length": (_arrays(theta0=[0.1]), "theta0 must be 3 finite numbers"),
    "arrays-overflow": (_arrays(theta0=[1e200, 1e200, 1e200]), "overflows float64 at the stored theta0"),
    "not-an-object": ("[1, 2, 3]", "expected a JSON object, got list"),
    "empty-file": ("", "not valid JSON"),
    "cross-entropy-sign": (
        _text(network="linear:3,2,2", loss="cross-entropy", group="flip/sign", data="augmented"),
        "cross-entropy needs probability targets",
    ),
}


@pytest.mark.parametrize("name", REPLAY_CASES)
def test_bad_scenario_file_is_one_clear_line_and_leaves_nothing(name, capsys, clean_cwd, tmp_path):
    text, fragment = REPLAY_CASES[name]
    path = tmp_path / "scenario.json"
    path.write_text(text)
    code = main(["replay", str(path)])
    assert_one_clear_error(code, capsys.readouterr(), fragment, clean_cwd)


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        ("latin-1", '{"format": "flowlaws-scenario/1", "network": "é"}'.encode("latin-1"), "not UTF-8 text (byte 0xe9"),
        ("binary", bytes(range(256)), "not UTF-8 text"),
    ],
)
def test_a_non_utf8_scenario_file_is_one_clear_line(name, content, fragment, capsys, clean_cwd, tmp_path):
    path = tmp_path / "scenario.json"
    path.write_bytes(content)
    assert_one_clear_error(main(["replay", str(path)]), capsys.readouterr(), fragment, clean_cwd)


def test_a_folder_is_not_a_scenario_file(capsys, clean_cwd, tmp_path):
    assert_one_clear_error(main(["replay", str(tmp_path)]), capsys.readouterr(), "not a regular file", clean_cwd)


# --- the Python API ------------------------------------------------------------------------------------------


def _rotation(angle: float) -> np.ndarray:
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


API_CASES = {
    "poly-degree-70": (lambda: parse_network("poly:2,1,1,k=70"), "activation degree k"),
    "spec-not-a-string": (lambda: parse_network(None), "network spec must be a string"),  # pyright: ignore[reportArgumentType]  (the wrong input is the point)
    "spec-bytes": (lambda: parse_network(b"linear:3,2,2"), "network spec must be a string"),  # pyright: ignore[reportArgumentType]  (the wrong input is the point)
    "linear-direct": (lambda: LinearNetwork(3000, 3000, 3000), "parameters D 18,000,000"),
    "deep-linear-direct": (lambda: DeepLinearNetwork((2,) * 26), "weight matrices 25"),
    "deep-linear-list": (lambda: DeepLinearNetwork([2, 2, 2]), "must be a tuple of integers"),  # pyright: ignore[reportArgumentType]  (the wrong input is the point)
    "poly-direct": (lambda: PolynomialNetwork(3, 2, 1, 1000), "activation degree k"),
    "attention-direct": (lambda: AttentionNetwork(1000, 50, 50, 50), "input or output coordinates"),
    "limits-zero": (lambda: SizeLimits(max_params=0), "SizeLimits(max_params=0)"),
    "group-not-a-string": (lambda: parse_group(3), "group spec must be a string"),  # pyright: ignore[reportArgumentType]  (the wrong input is the point)
    "group-none-network": (lambda: build_group("cyclic", None), "needs a network to act on"),  # pyright: ignore[reportArgumentType]  (the wrong input is the point)
    "group-bad-network-spec": (lambda: build_group("cyclic", "linear:0,1,1"), "n_in=0"),
    "group-sym-12": (lambda: build_group("sym", parse_network("linear:12,1,1")), "more than 5040 elements"),
    "group-order-cap-zero": (lambda: build_group("flip", "linear:2,1,1", order_cap=0), "order_cap=0"),
    "group-too-many-factors": (lambda: parse_group("*".join(["flip"] * 17)), "at most 16"),
    "generators-empty": (lambda: Group.from_generators([], []), "need the same positive number"),
    "generators-none": (lambda: Group.from_generators(None, None), "must be a list of square matrices"),
    "generators-0d": (lambda: Group.from_generators([np.array(5.0)], [np.eye(1)]), "has shape (); need a non-empty"),
    "generators-string": (lambda: Group.from_generators(["ab"], [np.eye(1)]), "has entries of type <U2"),
    "generators-string-list": (lambda: Group.from_generators("ab", "ab"), "must be a list of square matrices"),
    "generators-non-square": (lambda: Group.from_generators([np.zeros((2, 3))], [np.eye(1)]), "has shape (2, 3)"),
    "generators-ragged": (lambda: Group.from_generators([[[1, 0], [0]]], [np.eye(1)]), "is not a numeric matrix"),
    "generators-complex": (lambda: Group.from_generators([np.eye(2) * 1j], [np.eye(1)]), "complex128"),
    "generators-mixed-sizes": (
        lambda: Group.from_generators([np.eye(2), np.eye(3)], [np.eye(1)] * 2),
        "need (2, 2) like generator 0",
    ),
    "generators-non-orthogonal": (
        lambda: Group.from_generators([np.diag([2.0, 1.0])], [np.eye(1)]),
        "is not orthogonal",
    ),
    "generators-near-identity": (
        lambda: Group.from_generators([_rotation(1e-8)], [np.eye(1)]),
        "below the closure's resolution 1e-7 but not equal",
    ),
    "generators-irrational-rotation": (
        lambda: Group.from_generators([_rotation(1.0)], [np.eye(1)]),
        "more than 5040 elements (order cap)",
    ),
    "reynolds-side": (lambda: build_group("flip", "linear:2,1,1").reynolds(np.eye(2), left="x"), "each side is"),
    "scenario-seed-negative": (lambda: Scenario("linear:2,1,1", seed=-1), "seed=-1 is not a valid seed"),
    "scenario-seed-float": (lambda: Scenario("linear:2,1,1", seed=2.0), "seed=2.0 is not a valid seed"),  # pyright: ignore[reportArgumentType]  (the wrong input is the point)
    "scenario-seed-bool": (lambda: Scenario("linear:2,1,1", seed=False), "seed=False is not a valid seed"),
    "scenario-empty-group": (lambda: Scenario("linear:2,1,1", group=""), "group spec '' is empty"),
    "scenario-theta-scale": (lambda: Scenario("linear:2,1,1", theta_scale=1e200), "theta_scale=1e+200"),
    "scenario-arrays-kind": (lambda: Scenario("linear:2,1,1", arrays=[1]), "stored arrays must be an object"),  # pyright: ignore[reportArgumentType]  (the wrong input is the point)
    "scenario-samples-huge": (lambda: Scenario("linear:2,1,1", n_samples=10**9).build(), "samples of 3 numbers"),
    "scenario-cross-entropy-sign": (
        lambda: Scenario("linear:3,2,2", "cross-entropy", "swap:0,1/sign", "augmented").build(),
        "/sign output action multiplies y by −1",
    ),
}


def test_cross_entropy_with_a_sign_action_that_is_trivial_is_allowed():
    """A 3-cycle is even: cyclic/sign on 3 coordinates has χ = +1 and leaves probability targets alone."""
    built = Scenario("linear:3,2,2", "cross-entropy", "cyclic/sign", "augmented").build()
    assert built.group is not None  # the scenario names a group
    assert built.group.keeps_probability_vectors() and built.data.n_samples == 3 * 8


@pytest.mark.parametrize("name", API_CASES)
def test_bad_python_call_is_one_invalid_input(name):
    call, fragment = API_CASES[name]
    with pytest.raises(InvalidInput) as error:
        call()
    assert fragment in str(error.value)
    assert "\n" not in str(error.value)


def test_the_limits_are_keywords_that_can_be_raised():
    wide = parse_network("linear:80,80,80", limits=SizeLimits(max_params=20_000))
    assert wide.n_params == 12_800 and wide == LinearNetwork(80, 80, 80, limits=SizeLimits(max_params=20_000))
    with pytest.raises(InvalidInput, match="max_params"):
        parse_network("linear:80,80,80")
    big = build_group("rot:6000", "linear:2,1,1", order_cap=6000)
    assert big.order == 6000


# --- torch models (issue 11): modules, shapes, groups, dtypes, zoo specs ---------------------------------------


def _linear_module(dtype: str = "float64", output: str = "float64"):
    """A torch module x ↦ Wx (3 → 1) with parameters of ``dtype``, returning ``output``."""
    import torch

    class Linear(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = torch.nn.Linear(3, 1, dtype=getattr(torch, dtype))

        def forward(self, x):
            return self.inner(x.to(self.inner.weight.dtype)).to(getattr(torch, output))

    return Linear()


def _module_model(module, shape):
    from harness.model.torch_model import network_from_module

    return network_from_module(module, shape)


def _zoo(spec):
    from harness.model.zoo import parse_model

    return parse_model(spec)


def _group_on(group: str, model_spec: str):
    """``build_group`` on a zoo model (annotated for a ``Network``; a torch model offers the same shapes)."""
    return build_group(group, _zoo(model_spec))  # pyright: ignore[reportArgumentType]


def _load(tmp_text: str, item: str, shape=None):
    import tempfile

    from harness.model.torch_model import load_module

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.py"
        path.write_text(tmp_text)
        return load_module(f"{path}:{item}", shape)


MODEL_CASES = {
    "module-not-a-module": (lambda: _module_model(lambda x: x, (3,)), "needs a torch.nn.Module, got function"),
    "module-wrong-input-shape": (
        lambda: _module_model(_linear_module(), (4,)),
        "fails on a batch of inputs of shape (N, 4)",
    ),
    "module-shape-zero": (lambda: _module_model(_linear_module(), (0,)), "must be a positive integer or a tuple"),
    "module-float32-parameters": (lambda: _module_model(_linear_module("float32"), (3,)), "is torch.float32; flowlaws"),
    "module-float32-output": (lambda: _module_model(_linear_module(output="float32"), (3,)), "returns torch.float32"),
    "group-misfit-rotation": (lambda: _group_on("rot:4", "conv:5,2"), "needs an even dimension, got 5"),
    "group-tokens-on-mlp": (lambda: _group_on("tokens-cyclic", "mlp:3,2,1"), "needs an attention network"),
    "group-same-without-outputs": (lambda: _group_on("cyclic/same", "mlp:3,2,1"), "output action 'same' needs"),
    "group-same-on-attention-d": (
        lambda: _group_on("swap:0,2/same", "softmax-attention:n=2,d=2,dk=1,dv=1"),
        "swap",
    ),
    "zoo-unknown-family": (lambda: _zoo("cnn:4,2"), "unknown model spec 'cnn:4,2'"),
    "zoo-not-a-string": (lambda: _zoo(3), "model spec must be a string"),
    "zoo-conv-filter": (lambda: _zoo("conv:4,2,k=5"), "k=5 is longer than the signal (N=4)"),
    "zoo-rope-odd": (lambda: _zoo("softmax-attention:n=2,d=2,dk=3,dv=1,rope=1"), "dk=3 must be even"),
    "zoo-attention-missing": (lambda: _zoo("softmax-attention:n=2,d=2,dk=1"), "dv= is required"),
    "zoo-moe-sizes": (lambda: _zoo("moe:2,3,1"), "needs 4 sizes IN,H,OUT,E"),
    "zoo-swiglu-act": (lambda: _zoo("swiglu:2,3,1,act=relu"), "unknown item act="),
    "zoo-too-large": (lambda: _zoo("mlp:400,300,1"), "the autodiff engine handles at most 100,000"),
    "load-module-no-colon": (lambda: _load("", ""), "must be PATH.py:CLASS"),
    "load-module-not-a-module": (lambda: _load("class Net:\n    pass\n", "Net"), "not a torch.nn.Module subclass"),
    "load-module-no-class": (lambda: _load("import torch\n", "Net"), "has no 'Net'"),
}


@pytest.mark.parametrize("name", MODEL_CASES)
def test_bad_model_input_is_one_invalid_input(name):
    call, fragment = MODEL_CASES[name]
    with pytest.raises(InvalidInput) as error:
        call()
    assert fragment in str(error.value)
    assert "\n" not in str(error.value)


# --- in a subprocess: no hang, bounded memory ----------------------------------------------------------------

# A child's ru_maxrss starts at its parent's at fork (and survives exec), so the command is started by a small
# wrapper interpreter, not by this large pytest process, and the wrapper reports its children's peak.
_WRAPPER = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[2:], timeout=float(sys.argv[1])).returncode
sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def run_measured(argv: list[str], cwd: Path) -> tuple[int, str, float]:
    """``flowlaws argv`` in a fresh interpreter: exit code, stderr and its peak resident memory in MB."""
    environment = {**os.environ}
    environment.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".numba_cache"))
    try:
        result = subprocess.run(
            [sys.executable, "-c", _WRAPPER, str(SUBPROCESS_TIMEOUT), sys.executable, "-m", "harness.cli", *argv],
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT + 10,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"flowlaws {' '.join(argv)} did not finish within {SUBPROCESS_TIMEOUT} s")
    assert "TimeoutExpired" not in result.stderr, f"flowlaws {' '.join(argv)} did not finish in time"
    return result.returncode, result.stderr, int(result.stdout) / 1024  # ru_maxrss is in KiB on Linux


HEAVY_CASES = [
    "poly-degree-1000",
    "poly-degree-70",
    "deep-linear-26-widths",
    "attention-huge",
    "linear-3000",
    "sym-large",
    "group-memory",
]


def _assert_refused_small(argv, fragment, cwd):
    code, err, peak_mb = run_measured(argv, cwd)
    assert code == 2, err
    assert err.startswith("flowlaws: error: ") and err.count("\n") == 1 and fragment in err, err
    assert "Traceback" not in err
    assert peak_mb <= PEAK_MEMORY_MB, f"{argv}: peak RSS {peak_mb:.0f} MB"
    assert list(cwd.iterdir()) == []
    print(f"flowlaws {' '.join(argv)[:60]}: peak RSS {peak_mb:.0f} MB")


@pytest.mark.parametrize("name", HEAVY_CASES)
def test_runaway_specs_are_refused_fast_and_small(name, tmp_path):
    argv, fragment = CLI_CASES[name]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    _assert_refused_small(argv, fragment, cwd)


def test_replay_of_dev_zero_a_fifo_and_a_huge_file_is_refused_fast_and_small(tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    _assert_refused_small(["replay", "/dev/zero"], "not a regular file", cwd)
    fifo = tmp_path / "scenario.fifo"
    os.mkfifo(fifo)
    _assert_refused_small(["replay", str(fifo)], "not a regular file", cwd)
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.write(b'{"format": "flowlaws-scenario/1", "pad": "')
        handle.write(b"x" * (17 * 2**20))
        handle.write(b'"}')
    _assert_refused_small(["replay", str(huge)], "is larger than 16,777,216 bytes", cwd)
