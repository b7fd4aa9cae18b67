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
    ],
)
def test_bad_input_exits_2_with_one_message(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1, err
