"""``flowlaws census`` (harness/census): the grid, the resumable parallel runner, timeouts, outputs, formulas."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from harness.census.grid import Setup, build_grid, expand_arch, split_groups
from harness.census.output import Formula, formula_failures, write_outputs
from harness.census.runner import ROWS_FILE, CensusRow, count_row, load_rows, run_census
from harness.errors import InvalidInput


def test_ranges_expand_in_order_and_groups_keep_their_own_commas():
    assert expand_arch("linear:1..2,1,2..3") == ["linear:1,1,2", "linear:1,1,3", "linear:2,1,2", "linear:2,1,3"]
    assert expand_arch("poly:2,1,1,k=2..3") == ["poly:2,1,1,k=2", "poly:2,1,1,k=3"]
    assert split_groups("flip/trivial,swap:0,1/trivial,cyclic/sign,none") == [
        "flip/trivial",
        "swap:0,1/trivial",
        "cyclic/sign",
        None,
    ]


def test_the_grid_is_checked_before_anything_runs():
    setups = build_grid(["linear:1..2,1,1"], "flip/trivial,none", "mse,logcosh", "augmented")
    assert [s.key for s in setups][:2] == [
        "linear:1,1,1 | flip/trivial | augmented | mse | seed=0",
        "linear:1,1,1 | flip/trivial | augmented | logcosh | seed=0",
    ]
    assert len(setups) == 4  # "none" under augmented data is no set-up
    for args, fragment in [
        ((["linear:1..100000,1,1"], None, "mse", "free"), "at most 1000 values"),
        ((["linear:1..999,1..999,1,1"], None, "mse", "free"), "at most 100,000"),
        ((["linear:3..1,1,1"], None, "mse", "free"), "LOW <= HIGH"),
        ((["linear:1,1,1"], None, "nope", "free"), "unknown loss 'nope'"),
        ((["linear:1,1,1"], "flip/trivial,,cyclic", "mse", "augmented"), "empty item"),
        ((["linear:1,1,1"], None, "mse", "sideways"), "sideways"),
    ]:
        with pytest.raises(InvalidInput) as error:
            build_grid(*args)
        assert fragment in str(error.value)


def test_a_row_carries_the_count_and_an_unbuildable_set_up_says_why():
    row = count_row(Setup("linear:3,1,1", "cyclic/trivial", "augmented", "mse"))
    assert (row.status, row.D, row.free_laws, row.laws, row.extra_laws) == ("conclusive", 4, 1, 2, 1)
    assert row.group_order == 3 and row.group_fixed_inputs == 1 and row.sizes == {"n1": 3, "n2": 1, "n3": 1}
    assert (
        row.replay == "flowlaws count --arch linear:3,1,1 --group cyclic/trivial --data augmented --loss mse --seed 0"
    )
    bad = count_row(Setup("linear:1,1,1", "swap:0,1/trivial", "augmented", "mse"))
    assert bad.status == "invalid" and "swap" in bad.reason


def test_a_census_stores_rows_as_they_come_and_a_rerun_computes_only_what_is_missing(tmp_path):
    setups = build_grid(["linear:1..2,1,1..2"], "flip/trivial", "mse", "augmented")
    seen: list[str] = []
    rows = run_census(setups, tmp_path, workers=2, on_row=lambda row: seen.append(row.key))
    assert sorted(seen) == sorted(s.key for s in setups) and len(rows) == len(setups)
    lines = (tmp_path / ROWS_FILE).read_text().splitlines()
    # Drop one row and tear the last line, as a kill mid-write would: only those two run again.
    (tmp_path / ROWS_FILE).write_text("\n".join(lines[1:-1]) + "\n" + lines[-1][:20])
    seen.clear()
    again = run_census(setups, tmp_path, workers=1, on_row=lambda row: seen.append(row.key))
    assert sorted(seen) == sorted([CensusRow.from_dict(json.loads(lines[0])).key, json.loads(lines[-1])["key"]])
    assert {k: r.laws for k, r in again.items()} == {k: r.laws for k, r in rows.items()}


def test_a_set_up_past_its_timeout_is_an_inconclusive_row_never_a_hang(tmp_path):
    slow = Setup("linear:40,40,40", None, "free", "mse")  # about a minute of work
    start = time.monotonic()
    rows = run_census([slow], tmp_path, workers=1, timeout=3)
    assert time.monotonic() - start < 40
    row = rows[slow.key]
    assert row.status == "inconclusive" and row.reason.startswith("timeout: no result within --timeout 3 s")


def test_formulas_are_checked_on_every_conclusive_row_and_bad_ones_refused(tmp_path):
    rows = [count_row(Setup(f"linear:{n},1,1", "cyclic/trivial", "augmented", "mse")) for n in (2, 3)]
    assert [r.laws for r in rows] == [1, 2]  # the computed counts the formulas are held to
    assert formula_failures(Formula("n1 - 1"), rows) == []
    failures = formula_failures(Formula("free"), rows)  # "symmetry adds nothing": refuted at n1 = 3
    assert [(row.arch, value) for row, value in failures] == [("linear:3,1,1", 1)]
    for text, fragment in [("__import__('os')", "only min, max and abs"), ("n1 +", "not an expression"),
                           ("x.y", "Attribute is not allowed")]:  # fmt: skip
        with pytest.raises(InvalidInput) as error:
            Formula(text)
        assert fragment in str(error.value)
    with pytest.raises(InvalidInput, match="unknown variable 'q'"):
        Formula("q").value({"n1": 2})
    summary = write_outputs(tmp_path, rows, [("command", "test")], Formula("free"))
    assert summary["formula"]["failures"][0]["key"].startswith("linear:3,1,1")
    assert {p.name for p in tmp_path.iterdir()} >= {"census.csv", "census.json", "census.html", "census.md"}
    assert "linear:3,1,1 | cyclic/trivial | augmented | mse | seed=0" in (tmp_path / "census.html").read_text()


def test_the_command_line_census_is_killed_and_resumed(tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "harness.cli", "census", "--arch", "linear:1..3,1..2,1..2", "--group",
               "flip/trivial,cyclic/trivial", "--loss", "mse", "--out", str(out), "--workers", "1"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(load_rows(out)) < 2:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    kept = load_rows(out)
    assert 2 <= len(kept) < 24
    result = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert sum(summary["tallies"][k] for k in ("conclusive", "inconclusive", "invalid", "error")) == 24
    assert f"{len(kept)} already in" in result.stderr  # nothing stored was computed again
