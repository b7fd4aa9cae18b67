"""End-to-end tests of ``flowlaws flow`` and ``flowlaws warmup`` through ``harness.cli.main``."""

from __future__ import annotations

import json
import re

import pytest

from harness.cli import main


def run_json(capsys, *arguments):
    code = main(["flow", *arguments, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.mark.parametrize(
    "arch", ["linear:3,2,2", "deep-linear:3,2,2,2", "poly:3,2,1,k=2", "attention:n=3,d=2,dk=2,dv=2"]
)
def test_gauss_flow_keeps_known_laws(capsys, arch):
    report = run_json(capsys, "--arch", arch, "--loss", "logcosh", "--group", "cyclic/trivial", "--method", "gauss")
    assert report["status"] == "ok"
    assert report["largest_law_drift"] < 1e-9
    assert report["loss_end"] < report["loss_start"]
    assert report["n_rhs"] > 0 and report["n_steps"] == 400
    assert report["scenario"]["group"] == "cyclic/trivial" and report["scenario"]["data"] == "augmented"
    assert set(report["law_drift"]) and max(report["law_drift"].values()) == report["largest_law_drift"]


def test_dp5_backward_and_text_output(capsys):
    assert (
        main(
            [
                "flow",
                "--arch",
                "linear:3,2,1",
                "--loss",
                "logistic",
                "--method",
                "dp5",
                "--t",
                "0.2",
                "--backward",
                "--seed",
                "3",
                "--samples",
                "5",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "method dp5, status ok, t reached -0.2 of -0.2" in out
    assert "(UᵀU − VᵀV)[0,0]" in out


def test_plot_is_written(capsys, tmp_path):
    target = tmp_path / "flow.png"
    report = run_json(capsys, "--arch", "linear:2,1,1", "--loss", "mse", "--method", "rk4", "--plot", str(target))
    assert report["plot"] == str(target)
    assert target.stat().st_size > 1000 and target.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "arguments,message",
    [
        (["--arch", "nosuch:3"], "unknown model spec 'nosuch:3'"),
        (["--arch", "linear:3,0,2"], "hidden=0 must be an integer >= 1"),
        (["--arch", "linear:3,2,2", "--loss", "l1"], "unknown loss 'l1'; allowed: mse"),
        (["--arch", "linear:3,2,2", "--group", "cube"], "cube"),
        (["--arch", "linear:3,2,2", "--loss", "logistic"], "logistic loss needs a scalar output"),
        (["--arch", "linear:3,2,2", "--t", "-1"], "--t -1 is out of range; allowed: a positive finite flow time"),
        (["--arch", "linear:3,2,2", "--samples", "0"], "--samples 0 is out of range; allowed: an integer from 1"),
        (["--arch", "linear:3,2,2", "--method", "dp5", "--rtol", "0"], "--rtol 0 is out of range; allowed: a positive"),
        (["--arch", "linear:3,2,2", "--method", "gauss", "--steps", "0"], "--steps 0 is out of range"),
        (["--arch", "linear:3,2,2", "--plot", "/nonexistent-dir/x.png"], "cannot write plot file"),
    ],
)
def test_bad_input_exits_with_code_2_and_one_message(capsys, arguments, message):
    assert main(["flow", *arguments]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flowlaws: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


# --- zoo models and --module: a torch model's flow (SciPy's DOP853 with the torch gradient) -------------------


def test_a_zoo_mlp_flow_keeps_its_rescaling_laws(capsys):
    report = run_json(capsys, "--arch", "mlp:2,3,1", "--t", "2")
    assert report["status"] == "ok" and report["method"] == "dop853" and report["n_params"] == 13
    assert report["scenario"] == {
        "network": "mlp:2,3,1",
        "loss": "mse",
        "group": None,
        "data": "free",
        "n_samples": 8,
        "seed": 0,
    }
    assert len(report["law_drift"]) == 3 and report["largest_law_drift"] < 1e-9
    assert report["loss_end"] < report["loss_start"]


def test_a_zoo_flow_on_augmented_data_in_text_with_dp5(capsys):
    code = main(
        ["flow", "--arch", "mlp:2,2,1,act=linear", "--group", "flip/trivial", "--loss", "logcosh"]
        + ["--method", "dp5", "--samples", "3"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "flow of mlp:2,2,1,act=linear | flip/trivial | augmented | logcosh | N=3 | seed=0" in out
    assert "6 samples" in out and "method dp5, status ok" in out and "(W2ᵀW2 − [W1 b1][W1 b1]ᵀ)[0,1]" in out


def test_a_model_without_published_laws_says_so(capsys):
    assert main(["flow", "--arch", "mlp:2,3,1,act=tanh"]) == 0
    assert "no published conservation law for this model" in capsys.readouterr().out


def test_a_model_flow_that_does_not_finish_is_not_judged(capsys):
    code = main(["flow", "--arch", "mlp:2,3,1", "--t", "50", "--max-steps", "3", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["status"] == "max_steps" and report["largest_law_drift"] is None
    assert set(report["law_drift"]) and all(value is None for value in report["law_drift"].values())


@pytest.mark.parametrize(
    "arguments,message",
    [
        (["--arch", "mlp:3"], "mlp needs IN, at least one hidden width and OUT"),
        (["--arch", "mlp:2,3,1", "--method", "gauss"], "--method gauss cannot integrate the torch model mlp:2,3,1"),
        (["--arch", "mlp:2,3,2", "--loss", "logistic"], "logistic loss needs a scalar output"),
        (["--arch", "mlp:2,3,1", "--group", "swap:0,5"], "swap:0,5 needs two distinct coordinates in 0..1"),
        (["--arch", "mlp:2,3,1", "--group", "tokens-cyclic"], "needs an attention network, not mlp:2,3,1"),
        (["--arch", "mlp:2,3,1", "--module", "net.py:Net"], "give exactly one of --arch SPEC or --module"),
        ([], "give exactly one of --arch SPEC or --module"),
        (["--arch", "mlp:2,3,1", "--input-shape", "2"], "--input-shape goes with --module"),
        (["--arch", "mlp:2,3,1", "--samples", "0"], "--samples 0 is out of range"),
        (["--arch", "mlp:2,3,1", "--rtol", "1e-20"], "--rtol 1e-20 is out of range"),
    ],
)
def test_bad_zoo_input_exits_with_code_2_and_one_message(capsys, arguments, message):
    assert main(["flow", *arguments]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flowlaws: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1


def _has_load_module() -> bool:
    from harness.model import torch_model

    return hasattr(torch_model, "load_module")


MODULE = """
import torch


class Net(torch.nn.Module):
    input_shape = (3,)

    def __init__(self):
        super().__init__()
        self.inner = torch.nn.Linear(3, 2, dtype=torch.float64)
        self.outer = torch.nn.Linear(2, 1, dtype=torch.float64)

    def forward(self, x):
        return self.outer(torch.tanh(self.inner(x)))
"""


@pytest.mark.skipif(not _has_load_module(), reason="harness.model.torch_model.load_module (H2) not merged yet")
def test_a_module_from_a_file_flows(capsys, tmp_path):
    path = tmp_path / "net.py"
    path.write_text(MODULE)
    report = run_json(capsys, "--module", f"{path}:Net", "--t", "0.5")
    assert report["status"] == "ok" and report["n_params"] == 11 and report["law_drift"] == {}
    assert report["loss_end"] < report["loss_start"]
    report = run_json(capsys, "--module", f"{path}:Net", "--input-shape", "3", "--method", "dp5", "--t", "0.2")
    assert report["status"] == "ok" and report["method"] == "dp5"


@pytest.mark.skipif(not _has_load_module(), reason="harness.model.torch_model.load_module (H2) not merged yet")
@pytest.mark.parametrize(
    "target,extra,message",
    [
        ("missing.py:Net", [], "no file"),
        ("{path}:Nope", [], "has no 'Nope'"),
        ("{path}:Net", ["--input-shape", "4"], "4"),
    ],
)
def test_bad_module_input_is_one_clear_error(capsys, tmp_path, target, extra, message):
    path = tmp_path / "net.py"
    path.write_text(MODULE)
    assert main(["flow", "--module", target.format(path=path), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flowlaws: error: ") and message in err and len(err.strip().splitlines()) == 1, err


# --- a failed integration is never reported as conserved -------------------------------------------------

FAILING = {
    "backward-quartic": ["--backward", "--t", "100"],  # step_underflow: the backward quartic flow explodes
    "huge-flow-time": ["--t", "1e300"],  # step_underflow: a step of 1e297 cannot be solved, halving 40 times
    "step-budget": ["--backward", "--t", "100", "--steps", "20", "--max-steps", "30"],  # an honest max_steps hit
}


@pytest.mark.parametrize("name", FAILING)
def test_a_failed_integration_prints_no_drift_and_exits_1(capsys, name):
    code = main(["flow", "--arch", "linear:3,2,2", "--loss", "quartic", *FAILING[name]])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "status ok" not in out and "integration failed: " in out and "stopped at t = " in out
    assert "loss n/a, law drift n/a" in out
    assert "drift of a known law" not in out and not re.search(r"drift[^\n]*\d\.\d+e[+-]\d", out)  # no figure
    assert "(UᵀU − VᵀV)" not in out


@pytest.mark.parametrize("name", FAILING)
def test_a_failed_integration_has_null_drift_and_loss_in_json(capsys, name):
    code = main(["flow", "--arch", "linear:3,2,2", "--loss", "quartic", *FAILING[name], "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["status"] in ("step_underflow", "max_steps") and report["ok"] is False
    assert report["largest_law_drift"] is None and report["loss_start"] is None and report["loss_end"] is None
    assert set(report["law_drift"]) and all(value is None for value in report["law_drift"].values())
    assert report["failure"].startswith(report["status"]) and abs(report["final_time"]) < report["t_final"]


def test_status_names_the_three_failures_of_the_issue(capsys):
    statuses = {}
    for name in ("backward-quartic", "huge-flow-time", "step-budget"):
        main(["flow", "--arch", "linear:3,2,2", "--loss", "quartic", *FAILING[name], "--json"])
        statuses[name] = json.loads(capsys.readouterr().out)["status"]
    assert statuses == {
        "backward-quartic": "step_underflow",
        "huge-flow-time": "step_underflow",
        "step-budget": "max_steps",
    }


def test_a_runaway_step_count_is_refused_up_front(capsys):
    assert main(["flow", "--arch", "linear:3,2,2", "--loss", "quartic", "--steps", "1000000000"]) == 2
    err = capsys.readouterr().err
    assert err == "flowlaws: error: --steps 1000000000 is out of range; allowed: an integer from 1 to 10,000,000\n"
    assert main(["flow", "--arch", "linear:3,2,2", "--steps", "300000"]) == 2
    assert "--steps 300000 is more than --max-steps 200000" in capsys.readouterr().err


def test_a_failed_plot_run_writes_no_plot(capsys, tmp_path):
    target = tmp_path / "flow.png"
    assert (
        main(
            ["flow", "--arch", "linear:3,2,2", "--loss", "quartic", *FAILING["backward-quartic"], "--plot", str(target)]
        )
        == 1
    )
    assert "(no plot written)" in capsys.readouterr().out and not target.exists()


def test_unknown_method_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["flow", "--arch", "linear:3,2,2", "--method", "euler"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'euler'" in capsys.readouterr().err


def test_warmup_command(capsys):
    assert main(["warmup"]) == 0
    assert "Numba kernels ready in" in capsys.readouterr().out


def test_a_registered_method_is_a_choice_with_its_help(capsys):
    """``--method`` reads the registry: a method registered from a test is offered, described and run."""
    from harness.kernels import methods, tableaux

    heun = tableaux.ButcherTableau(name="heun", a=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0, 1], order=2)
    methods.register_method(methods.Method("heun", heun, "Heun's method"))
    try:
        with pytest.raises(SystemExit):
            main(["flow", "--help"])
        flow_help = " ".join(capsys.readouterr().out.split())
        assert (
            "{" + ",".join(methods.METHODS) + "}" in flow_help
            and ",heun}" in flow_help
            and "heun: Heun's method (explicit, order 2," in flow_help
        )
        assert "fixed-step methods (rk4, gauss, heun;" in flow_help
        report = run_json(capsys, "--arch", "linear:3,2,2", "--method", "heun", "--steps", "50")
        assert report["status"] == "ok" and report["n_steps"] == 50
    finally:
        methods.unregister_method("heun")
