"""``flowlaws count`` end to end: JSON fields, the printed extra law, and exit code 2 on bad input."""

import json

import pytest

from harness.cli import main


def run(capsys, *argv):
    code = main(["count", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["--arch", "linear:2,2,1", "--loss", "mse"], dict(laws=3, free_laws=3, extra_laws=0)),
        (["--arch", "linear:3,2,2", "--loss", "mse"], dict(laws=3, free_laws=3)),
        (
            ["--arch", "linear:3,1,1", "--group", "cyclic/trivial", "--loss", "mse"],
            dict(laws=2, free_laws=1, extra_laws=1),
        ),
        (["--arch", "linear:3,1,1", "--group", "cyclic/trivial", "--loss", "logcosh"], dict(laws=1, free_laws=1)),
        (["--arch", "deep-linear:2,3,2", "--loss", "mse"], dict(laws=6)),
    ],
)
def test_json_known_answers_certified(capsys, argv, expected):
    code, out, _ = run(capsys, *argv, "--json")
    assert code == 0
    data = json.loads(out)
    for key in (
        "arch",
        "group",
        "data",
        "loss",
        "D",
        "laws",
        "free_laws",
        "extra_laws",
        "lie_rank_by_level",
        "certified",
        "method",
        "explicit_laws",
        "seconds",
    ):
        assert key in data
    assert data["certified"] is True
    for key, value in expected.items():
        assert data[key] == value, (key, data)


def test_laws_latex_prints_the_extra_rational_law(capsys):
    code, out, _ = run(
        capsys, "--arch", "linear:3,1,1", "--group", "cyclic/trivial", "--loss", "mse", "--laws", "--latex"
    )
    assert code == 0
    assert "\\frac{V_{00} - V_{20}}{V_{10} - V_{20}}" in out or "\\frac" in out, out
    assert "extra laws" in out and "certified" in out


def test_human_table_for_a_float_group_shows_the_gap(capsys):
    code, out, _ = run(capsys, "--arch", "linear:4,1,1", "--group", "rot:4", "--loss", "mse")
    assert code == 0 and "float-svd" in out and "gap" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--arch", "linear:3", "--loss", "mse"], "linear takes exactly"),
        (["--arch", "linear:3,1,1", "--loss", "nope"], "unknown loss"),
        (["--arch", "linear:3,1,1", "--data", "augmented", "--loss", "mse"], "needs a group"),
        (["--arch", "linear:3,1,1", "--group", "rot:4", "--loss", "mse"], "even dimension"),
        (["--arch", "linear:3,1,1", "--group", "spm:2,1", "--loss", "mse"], "signed permutation of 1..3"),
        (["--arch", "linear:4,1,1", "--group", "rot:3", "--loss", "mse", "--method", "exact"], "float"),
        (["--arch", "linear:4,1,1", "--group", "rot:3", "--loss", "mse", "--laws"], "exact"),
        (["--arch", "linear:3,1,1", "--group", "tokens-cyclic", "--loss", "mse"], "attention"),
        (["--arch", "linear:3,1,1", "--data", "some", "--loss", "mse"], "--data"),
        (["--arch", "linear:3,1,1", "--loss", "mse", "--seed", "-1"], "--seed '-1' is not a valid seed"),
        (["--arch", "linear:3,1,1", "--loss", "mse", "--seed", "1.5"], "--seed '1.5' is not a valid seed"),
        (["--arch", "linear:3,1,1", "--loss", "mse", "--seed", "１"], "is not a valid seed"),
        (["--arch", "linear:3,1,1", "--loss", "mse", "--max-depth", "-1"], "--max-depth -1 is out of range"),
        (["--arch", "linear:3,1,1", "--loss", "mse", "--max-depth", "1_0"], "--max-depth '1_0' is not an integer"),
        (["--arch", "linear:3,1,1", "--loss", "mse", "--group", ""], "--group '' is empty"),
        (["--arch", "mlp:2,1", "--loss", "mse", "--method", "autodiff"], "at least one hidden width"),
        (["--arch", "mlp:3,2,1", "--group", "rot:3", "--loss", "mse"], "rot"),
        (["--arch", "mlp:3,2,1", "--loss", "mse", "--method", "fast"], "--method 'fast' is not one of"),
        (["--arch", "mlp:3,2,1", "--loss", "mse", "--laws"], "explicit laws need the exact engine"),
        (["--arch", "mlp:3,2,1", "--loss", "mse", "--method", "exact"], "is a torch model, not a tensorizable"),
        (["--loss", "mse"], "give exactly one of --arch SPEC or --module"),
        (["--arch", "mlp:3,2,1", "--module", "x.py:Net", "--loss", "mse"], "give exactly one of"),
        (["--arch", "mlp:3,2,1", "--input-shape", "3", "--loss", "mse"], "--input-shape goes with --module"),
        (["--module", "x.py:Net", "--input-shape", "3,a", "--loss", "mse"], "--input-shape '3,a' must be"),
        (["--module", "x.py:Net", "--loss", "mse", "--method", "exact"], "--module is counted by the autodiff"),
    ],
)
def test_bad_input_exits_2_with_one_message(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1, err


# --- the autodiff engine (issue 11): zoo models by default, any tensorizable family on request ----------------


def test_a_two_layer_relu_mlp_with_bias_has_one_law_per_hidden_neuron(capsys):
    """Marcotte, Gribonval, Peyré (NeurIPS 2023), Thm 4.2: one law per hidden neuron (5 here, from the spec)."""
    code, out, _ = run(capsys, "--arch", "mlp:3,5,2", "--loss", "mse", "--json")
    data = json.loads(out)
    assert code == 0 and data["method"] == "autodiff" and data["laws"] == 5 and data["certificate"] == "laws"
    assert data["gap"] >= 1e6 and len(data["singular_values"]) > 0


def test_autodiff_on_a_tensorizable_family_matches_the_exact_count(capsys):
    argv = ["--arch", "linear:3,1,1", "--group", "cyclic/trivial", "--loss", "mse", "--json"]
    exact = json.loads(run(capsys, *argv, "--method", "exact")[1])
    autodiff = json.loads(run(capsys, *argv, "--method", "autodiff")[1])
    assert autodiff["method"] == "autodiff" and exact["method"] == "exact-modular"
    assert autodiff["laws"] == exact["laws"] and autodiff["free_laws"] == exact["free_laws"]


def test_the_autodiff_table_shows_singular_values_and_the_gap(capsys):
    code, out, _ = run(capsys, "--arch", "mlp:2,3,1", "--loss", "logcosh")
    assert code == 0 and "autodiff" in out and "singular values" in out and "spectral gap" in out


def has_load_module() -> bool:
    from harness.model import torch_model

    return hasattr(torch_model, "load_module")


NEEDS_LOAD_MODULE = pytest.mark.skipif(
    not has_load_module(), reason="harness.model.torch_model.load_module (H2's, issue 11) is not in this version"
)


@NEEDS_LOAD_MODULE
def test_a_module_file_is_counted(capsys, tmp_path):
    path = tmp_path / "net.py"
    path.write_text(
        "import torch\n"
        "class Net(torch.nn.Module):\n"
        "    input_shape = (3,)\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.a = torch.nn.Linear(3, 4, dtype=torch.float64)\n"
        "        self.b = torch.nn.Linear(4, 1, dtype=torch.float64)\n"
        "    def forward(self, x):\n"
        "        return self.b(torch.tanh(self.a(x)))\n"
    )
    code, out, _ = run(capsys, "--module", f"{path}:Net", "--loss", "mse", "--json")
    assert code == 0 and json.loads(out)["method"] == "autodiff"
