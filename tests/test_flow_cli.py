"""End-to-end tests of ``flowlaws flow`` and ``flowlaws warmup`` through ``harness.cli.main``."""

from __future__ import annotations

import json

import pytest

from harness.cli import main


def run_json(capsys, *arguments):
    code = main(["flow", *arguments, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.mark.parametrize("arch", ["linear:3,2,2", "deep-linear:3,2,2,2", "poly:3,2,1,k=2",
                                  "attention:n=3,d=2,dk=2,dv=2"])
def test_gauss_flow_keeps_known_laws(capsys, arch):
    report = run_json(capsys, "--arch", arch, "--loss", "logcosh", "--group", "cyclic/trivial", "--method", "gauss")
    assert report["status"] == "ok"
    assert report["largest_law_drift"] < 1e-9
    assert report["loss_end"] < report["loss_start"]
    assert report["n_rhs"] > 0 and report["n_steps"] == 400
    assert report["scenario"]["group"] == "cyclic/trivial" and report["scenario"]["data"] == "augmented"
    assert set(report["law_drift"]) and max(report["law_drift"].values()) == report["largest_law_drift"]


def test_dp5_backward_and_text_output(capsys):
    assert main(["flow", "--arch", "linear:3,2,1", "--loss", "logistic", "--method", "dp5", "--t", "0.2",
                 "--backward", "--seed", "3", "--samples", "5"]) == 0
    out = capsys.readouterr().out
    assert "method dp5, status ok, t reached -0.2 of -0.2" in out
    assert "(UᵀU − VᵀV)[0,0]" in out


def test_plot_is_written(capsys, tmp_path):
    target = tmp_path / "flow.png"
    report = run_json(capsys, "--arch", "linear:2,1,1", "--loss", "mse", "--method", "rk4", "--plot", str(target))
    assert report["plot"] == str(target)
    assert target.stat().st_size > 1000 and target.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("arguments,message", [
    (["--arch", "mlp:3"], "unknown network spec 'mlp:3'"),
    (["--arch", "linear:3,0,2"], "hidden=0 must be an integer >= 1"),
    (["--arch", "linear:3,2,2", "--loss", "l1"], "unknown loss 'l1'; allowed: mse"),
    (["--arch", "linear:3,2,2", "--group", "cube"], "cube"),
    (["--arch", "linear:3,2,2", "--loss", "logistic"], "logistic loss needs a scalar output"),
    (["--arch", "linear:3,2,2", "--t", "-1"], "--t -1.0 must be a positive finite flow time"),
    (["--arch", "linear:3,2,2", "--samples", "0"], "--samples 0 must be a positive integer"),
    (["--arch", "linear:3,2,2", "--method", "dp5", "--rtol", "0"], "rtol=0.0 must be a positive finite number"),
    (["--arch", "linear:3,2,2", "--method", "gauss", "--steps", "0"], "steps=0 must be a positive integer"),
    (["--arch", "linear:3,2,2", "--plot", "/nonexistent-dir/x.png"], "cannot write plot file"),
])
def test_bad_input_exits_with_code_2_and_one_message(capsys, arguments, message):
    assert main(["flow", *arguments]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flowlaws: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_method_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["flow", "--arch", "linear:3,2,2", "--method", "euler"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'euler'" in capsys.readouterr().err


def test_warmup_command(capsys):
    assert main(["warmup"]) == 0
    assert "Numba kernels ready in" in capsys.readouterr().out
