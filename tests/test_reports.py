"""Tests of harness/reporting (summaries, runs, folders, rendering, plots): what is reported, atomic writing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.errors import InvalidInput
from harness.model.scenario import Scenario
from harness.reporting import folders, rendering, runs, summaries
from harness.verdicts.property import Property, PropertyViolation, Recorder
from harness.verdicts.verdict import Verdict

SERIES = {"times": [0.0, 0.5, 1.0], "drift": {"h": [0.0, 1e-3, 2e-3]}, "error": [0.0, 1e-9, 2e-9]}
SPECTRUM = {"singular_values": [3.0, 1.0, 1e-12], "gap": {"index": 2, "ratio": 1e12, "threshold": 1e6}}


def _verdict_for(scenario: Scenario) -> Verdict:
    """A planted claim 'D < 4' that is inconclusive at D = 3."""
    d = scenario.build().network.n_params
    if d >= 4:
        return Verdict.violated(f"D = {d}", D=d, series=SERIES, **SPECTRUM)
    if d == 3:
        return Verdict.inconclusive("D = 3 is undecided", D=d)
    return Verdict.holds("small", D=d, findings=[{"network": scenario.network, "D": d}])


PROP = Property("planted-small", "Networks are small", "D < 4", "nowhere", _verdict_for)
EXPLORER = Property(
    "explore-sizes",
    "Sizes",
    "what D is",
    "nowhere",
    lambda s: Verdict.holds("seen", findings=[{"network": s.network}]),
    exploration=True,
)


def _records(*networks: str, prop: Property = PROP) -> list[dict]:
    recorder = Recorder(current_test="t::x")
    for network in networks:
        scenario = Scenario(network)
        recorder.record(prop, scenario, prop.verdict(scenario))
    return recorder.take()


def _violation(network: str) -> PropertyViolation:
    scenario = Scenario(network)
    error = PropertyViolation(PROP, scenario, PROP.verdict(scenario))
    error.add_note("Falsifying example: test_x(scenario=...)")
    error.add_note(
        "You can reproduce this example by temporarily adding "
        "@reproduce_failure('6.155.2', b'AAEC') as a decorator on your test case"
    )
    return error


def test_summary_counts_generation_and_the_shrunk_counterexample_only():
    # Generation: holds (D=2), inconclusive (D=3), the first violation (linear:3,1,1, D=4). Shrinking: more
    # variants, violated and not. Hypothesis's final replay: the shrunk counterexample linear:1,2,1 (D=4).
    records = _records(
        "linear:1,1,1", "linear:2,1,1", "linear:3,1,1", "linear:4,1,1", "linear:2,1,1", "linear:1,2,1", "linear:1,2,1"
    )
    summary = summaries.summarize_test("t::x", records, outcome="failed", exception=_violation("linear:1,2,1"))
    assert summary["counts"] == {"planted-small": {"examples": 3, "holds": 1, "inconclusive": 1, "violated": 1}}
    statuses = [(e["verdict"]["status"], e["scenario"]["network"]) for e in summary["examples"]]
    assert statuses == [("inconclusive", "linear:2,1,1"), ("violated", "linear:1,2,1")]
    final = summary["examples"][-1]
    assert final["hypothesis"]["reproduce_failure"] == "@reproduce_failure('6.155.2', b'AAEC')"
    assert any("Falsifying example" in note for note in final["hypothesis"]["notes"])
    assert final["scenario"]["property"] == "planted-small" and "arrays" in final["scenario"]
    assert "seconds" not in final["verdict"]["evidence"]  # timings stay out of the content files
    assert summary["error"] is None
    json.dumps(summary)  # travels to the xdist controller as plain data


def test_summary_of_a_crash_names_the_error_and_of_an_exploration_keeps_findings():
    crashed = summaries.summarize_test(
        "t::y",
        [],
        module_properties=[{"id": "planted-small", "title": "T"}],
        outcome="failed",
        error_text="ValueError: boom",
    )
    assert crashed["properties"] == ["planted-small"] and crashed["error"] == "ValueError: boom"
    explored = summaries.summarize_test("t::z", _records("linear:1,1,1", "linear:2,1,1", prop=EXPLORER))
    assert explored["findings"] == {"explore-sizes": [{"network": "linear:1,1,1"}, {"network": "linear:2,1,1"}]}


def test_coverage_key_uses_family_group_factor_names_and_loss_class():
    assert (
        summaries.coverage_key({"network": "linear:3,1,1", "group": "cyclic/trivial*flip/sign", "loss": "logcosh"})
        == "linear|cyclic*flip|analytic"
    )
    assert summaries.coverage_key({"network": "poly:2,1,1,k=2", "group": None, "loss": "mse"}) == "poly|none|quadratic"


def _collector() -> runs.RunCollector:
    collector = runs.RunCollector()
    records = _records("linear:1,1,1", "linear:2,1,1", "linear:3,1,1", "linear:1,2,1")
    collector.add(
        summaries.summarize_test("b::x", records, outcome="failed", exception=_violation("linear:1,2,1")), 1.5
    )
    collector.add(summaries.summarize_test("a::x", _records("linear:1,1,1", prop=EXPLORER)), 0.5)
    return collector


def test_build_run_tallies_properties_coverage_findings_in_a_deterministic_order():
    run, timings = runs.build_run(_collector(), run_id="r", profile="quick", seed=3, started=0.0, finished=2.0)
    tallies = {p.id: p for p in run.properties}
    assert [p.id for p in run.properties] == ["explore-sizes", "planted-small"]
    small = tallies["planted-small"]
    assert (small.examples, small.holds, small.violated, small.inconclusive) == (3, 1, 1, 1)
    assert small.reports == ("planted-small-1", "planted-small-2")  # the violation first
    assert run.examples[0]["verdict"]["status"] == "violated"
    assert run.outcome == "violated"
    assert {c["family"] for c in run.coverage} == {"linear"}
    assert run.findings == {"explore-sizes": [{"network": "linear:1,1,1"}]}
    assert timings.property_seconds == {"planted-small": 1.5, "explore-sizes": 0.5}
    shuffled = runs.RunCollector(list(reversed(_collector().summaries)), _collector().durations)
    again, _ = runs.build_run(shuffled, run_id="r", profile="quick", seed=3, started=0.0, finished=2.0)
    assert again.to_dict() == run.to_dict()  # xdist arrival order does not matter


def test_write_run_writes_replayable_examples_plots_and_indexes(tmp_path):
    run, timings = runs.build_run(_collector(), run_id="r", profile="quick", seed=3, started=0.0, finished=2.0)
    folder = folders.write_run(run, timings, tmp_path / "reports", project_root=tmp_path)
    assert folder == tmp_path / "reports" / "r"
    violated = folder / "planted-small-1"
    assert sorted(p.name for p in violated.iterdir()) == [
        "drift.png",
        "evidence.json",
        "report.html",
        "report.md",
        "scenario.json",
        "spectrum.png",
    ]
    stored = json.loads((violated / "scenario.json").read_text())
    assert stored["property"] == "planted-small"
    replayed = Scenario.from_dict(stored)
    assert PROP.verdict(replayed).status.value == "violated"
    text = (violated / "report.md").read_text()
    for expected in (
        "D < 4",
        "nowhere",
        "**violated**: D = 4",
        "`linear:1,2,1`",
        "flowlaws replay reports/r/planted-small-1/scenario.json",
        "--flowlaws-profile=quick --flowlaws-seed=3",
        "@reproduce_failure('6.155.2', b'AAEC')",
    ):
        assert expected in text
    assert not (folder / "planted-small-2" / "drift.png").exists()  # that evidence has no series
    index = json.loads((folder / "index.json").read_text())
    assert index["totals"]["violated"] == 1 and index["run_id"] == "r"
    html = (folder / "index.html").read_text()
    assert "<table>" in html and "Coverage" in html and "Findings of explore-sizes" in html
    assert "planted-small-1/report.html" in html and "planted-small-1/report.md" not in html
    assert "<img class='thumb' src='planted-small-1/drift.png'" in html  # the figures as thumbnails
    page = (violated / "report.html").read_text()
    assert "<img src='drift.png'" in page and "<img src='spectrum.png'" in page  # figures inline
    assert "![" not in page and "**" not in page and "| ---" not in page  # no Markdown shown raw
    assert "<strong>violated</strong>: D = 4" in page
    index_md = (folder / "index.md").read_text()
    assert "planted-small-1/report.md" in index_md
    assert "| linear | none | 4 (1 violated, 1 inconclusive) | 0 | 0 | 0 |" in index_md  # coverage, gaps as 0
    assert folders.latest_run(tmp_path / "reports") == folder.resolve()


def test_a_second_run_with_the_same_id_never_replaces_the_first(tmp_path):
    run, timings = runs.build_run(_collector(), run_id="r", profile="quick", seed=3, started=0.0, finished=2.0)
    first = folders.write_run(run, timings, tmp_path, plots=False)
    before = (first / "index.json").read_text()
    second = folders.write_run(run, timings, tmp_path, plots=False)
    assert second.name == "r-2" and (first / "index.json").read_text() == before
    assert folders.latest_run(tmp_path) == second.resolve()


def test_a_failure_while_writing_leaves_nothing_half_written(tmp_path, monkeypatch):
    run, timings = runs.build_run(_collector(), run_id="r", profile="quick", seed=3, started=0.0, finished=2.0)
    earlier = folders.write_run(run, timings, tmp_path, plots=False)

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(folders, "index_html", broken)
    with pytest.raises(OSError):
        folders.write_run(run, timings, tmp_path, plots=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "r"]  # no new folder, no temporary left
    assert folders.latest_run(tmp_path) == earlier.resolve()


def test_a_report_folder_that_is_not_writable_is_one_clear_error_and_nothing_is_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(InvalidInput, match="not writable"):
        folders.check_writable(blocker / "reports")
    assert sorted(os.listdir(tmp_path)) == ["a-file"]


def test_latest_falls_back_to_a_text_file_when_symlinks_fail(tmp_path, monkeypatch):
    (tmp_path / "run-a").mkdir()

    def no_symlinks(*args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    folders.point_latest(tmp_path, tmp_path / "run-a")
    assert (tmp_path / "latest").read_text().strip() == "run-a"
    assert folders.latest_run(tmp_path) == tmp_path / "run-a"


def test_plots_draw_only_what_the_evidence_has(tmp_path):
    from harness.reporting.plots import plots_for_evidence

    assert plots_for_evidence({"D": 3}, tmp_path) == []
    assert plots_for_evidence({"series": SERIES, **SPECTRUM}, tmp_path) == ["drift.png", "spectrum.png"]
    assert (tmp_path / "drift.png").read_bytes()[:4] == b"\x89PNG"
    first = (tmp_path / "spectrum.png").read_bytes()
    plots_for_evidence(SPECTRUM, tmp_path)
    assert (tmp_path / "spectrum.png").read_bytes() == first  # same evidence, same bytes


def test_evidence_rendering_cuts_long_lists():
    assert rendering._short(list(range(20))).endswith("… (20 values)]")


def test_example_folders_beyond_the_cap_are_left_out_and_said_so(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "MAX_REPORTS_PER_PROPERTY", 1)
    run, timings = runs.build_run(_collector(), run_id="r", profile="quick", seed=3, started=0.0, finished=2.0)
    small = next(p for p in run.properties if p.id == "planted-small")
    assert small.reports == ("planted-small-1",) and small.reports_left_out == 1
    assert "1 example folders beyond 1 per property" in rendering.index_markdown(run, timings)


def test_a_crash_is_described_with_hypothesis_reproduce_line():
    error = ValueError("boom\nmore")
    error.add_note(
        "You can reproduce this example by temporarily adding @reproduce_failure('6.155.2', b'AA==') as a"
        " decorator on your test case"
    )
    assert (
        summaries.crash_description(error) == "ValueError: boom (reproduce with @reproduce_failure('6.155.2', b'AA=='))"
    )


def test_a_hypothesis_seed_run_says_so_in_its_reproduction_line():
    run, _ = runs.build_run(
        _collector(),
        run_id="r",
        profile="quick",
        seed=3,
        started=0.0,
        finished=2.0,
        seeding=runs.Seeding.HYPOTHESIS_SEED,
    )
    line = rendering.Reproduction(Path("/p"), run.profile, run.seed, run.seeding).pytest("a::x")
    assert line.endswith("--flowlaws-profile=quick --hypothesis-seed=3")
    assert run.to_dict()["seeding"] == "hypothesis-seed"
    gate, timings = runs.build_run(
        _collector(), run_id="g", profile="ci", seed=None, started=0.0, finished=2.0, seeding=runs.Seeding.DERANDOMIZED
    )
    assert "derandomized" in rendering.index_markdown(gate, timings)
    assert "seed" not in rendering.Reproduction(Path("/p"), "ci", None, runs.Seeding.DERANDOMIZED).pytest("a::x")


TIMED = Property(
    "timed",
    "Timed",
    "-",
    "nowhere",
    lambda s: Verdict.inconclusive(
        "undecided",
        D=2,
        count_seconds=0.123,
        seconds=4.5,
        leaf={"seconds": 1.25, "rank": 1},
        findings=[{"network": s.network, "solve_seconds": 0.5}],
    ),
)


def test_timings_are_only_in_timings_json(tmp_path):
    """``seconds`` and ``*_seconds`` entries, at any depth, leave every file but timings.json."""
    summary = summaries.summarize_test("t::timed", _records("linear:1,1,1", prop=TIMED))
    collector = runs.RunCollector()
    collector.add(summary, 1.0)
    written = []
    for name, (started, finished) in (("one", (0.0, 2.0)), ("two", (100.0, 250.0))):
        run, timings = runs.build_run(
            collector,
            run_id="r",
            profile="quick",
            seed=3,
            started=started,
            finished=finished,
            seeding=runs.Seeding.FLOWLAWS_SEED,
        )
        written.append(
            folders.write_run(run, timings, tmp_path / name / "reports", project_root=tmp_path / name, plots=False)
        )
    files = {}
    for folder in written:
        files[folder] = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        for name, data in files[folder].items():
            if name != "timings.json":
                assert b"seconds" not in data and b"0.123" not in data and b"1.25" not in data, name
    timings_json = json.loads(files[written[0]].pop("timings.json"))
    assert timings_json["examples"]["timed-1"] == {
        "count_seconds": 0.123,
        "seconds": 4.5,
        "leaf.seconds": 1.25,
        "findings.0.solve_seconds": 0.5,
    }
    files[written[1]].pop("timings.json")
    assert files[written[0]] == files[written[1]]  # different clocks, byte-identical content


def test_run_outcome_precedence_and_the_index_line():
    run, _ = runs.build_run(_collector(), run_id="r", profile="quick", seed=3, started=0.0, finished=2.0)
    assert run.outcome_kind is runs.RunOutcome.VIOLATED and run.to_dict()["outcome"] == "violated"
    clean = runs.RunCollector()
    clean.add(summaries.summarize_test("c::x", _records("linear:1,1,1")), 0.1)
    calm, _ = runs.build_run(clean, run_id="c", profile="quick", seed=3, started=0.0, finished=1.0)
    assert calm.outcome_kind is runs.RunOutcome.NO_VIOLATION and calm.outcome == "no violation"
    cut, _ = runs.build_run(
        clean, run_id="c", profile="quick", seed=3, started=0.0, finished=1.0, unfinished=["c::y", "c::z"]
    )
    assert cut.outcome_kind is runs.RunOutcome.INTERRUPTED
    assert cut.outcome == "interrupted (2 tests did not finish); no violation in the rest"
    assert [member.value for member in runs.RunOutcome] == ["violated", "errors", "interrupted", "no violation"]


def test_seeding_is_typed_and_written_as_its_value():
    run, _ = runs.build_run(
        _collector(),
        run_id="r",
        profile="quick",
        seed=3,
        started=0.0,
        finished=2.0,
        seeding="hypothesis-seed",  # pyright: ignore[reportArgumentType]  (a plain string is the point: it is typed on the way in)
    )
    assert run.seeding is runs.Seeding.HYPOTHESIS_SEED and run.to_dict()["seeding"] == "hypothesis-seed"
    assert json.loads(json.dumps(run.to_dict()))["seeding"] == "hypothesis-seed"
    assert all(member.message for member in runs.Seeding)
    with pytest.raises(ValueError):
        runs.build_run(_collector(), run_id="r", profile="quick", seed=3, started=0.0, seeding="lucky")  # pyright: ignore[reportArgumentType]  (the wrong input is the point)


def test_a_report_describes_a_drift_series_through_its_typed_record(tmp_path):
    from harness.verdicts.evidence import DriftSeries

    run, timings = runs.build_run(_collector(), run_id="r", profile="quick", seed=3, started=0.0, finished=2.0)
    folder = folders.write_run(run, timings, tmp_path / "reports", project_root=tmp_path, plots=False)
    text = (folder / "planted-small-1" / "report.md").read_text()
    described = DriftSeries.from_evidence({"series": SERIES})
    assert described is not None
    assert f"| series | {described.describe()} |" in text
    assert "| series | 3 times; drift of: h; integrator error: yes (see drift.png) |" in text


def test_the_same_scenario_drawn_by_two_tests_is_one_folder_naming_both():
    collector = runs.RunCollector()
    for nodeid in ("a::x", "b::x"):
        collector.add(summaries.summarize_test(nodeid, _records("linear:2,1,1"), outcome="passed"), 0.1)
    run, _ = runs.build_run(collector, run_id="r", profile="quick", seed=3, started=0.0, finished=1.0)
    assert len(run.examples) == 1 and run.examples[0]["nodeid"] == "a::x"
    assert run.examples[0]["also_in"] == ["b::x"]
    assert run.to_dict()["examples"][0]["also_in"] == ["b::x"]


def test_findings_put_the_rows_where_augmentation_adds_a_law_first_and_mark_them():
    findings = [
        {"scenario": "s1", "arch": "linear:1,1,1", "free_laws": 1, "augmented_laws": 1, "extra_laws": 0},
        {"scenario": "s2", "arch": "deep-linear:2,1,2", "free_laws": 1, "augmented_laws": 2, "extra_laws": 1},
    ]
    table = rendering._findings_table(findings)
    assert table.header[:2] == ("adds a law", "scenario") and "arch" not in table.header
    assert [row[1] for row in table.rows] == ["s2", "s1"] and table.row_classes == ("adds", "")
    page = rendering.document.html([table], "t")
    assert "<tr class='adds'>" in page


def test_an_inconclusive_example_says_what_would_decide_it_with_a_command_that_tries_it():
    from harness.reporting.hints import hint_for

    scenario = {"network": "linear:3,1,1", "group": "cyclic/trivial", "data": "augmented", "loss": "mse", "seed": 4}
    hint = hint_for("augmented count inconclusive (depth-cap)", scenario)
    assert hint is not None and hint.decide == "a deeper bracket level"
    assert hint.command == (
        "flowlaws count --arch linear:3,1,1 --group cyclic/trivial --data augmented --loss mse --seed 4 --max-depth 16"
    )
    steps = hint_for("integration did not finish: {'dp5': max_steps}", {**scenario, "n_samples": 2})
    assert steps is not None and "--max-steps 5000000" in str(steps.command)
    assert hint_for("a reason nobody wrote a hint for", scenario) is None  # no hint rather than a wrong one


def test_the_headline_names_the_command_the_versions_and_the_commit(tmp_path):
    from harness.reporting import provenance

    record = provenance.collect(Path(__file__).resolve().parents[1], "flowlaws run --profile quick")
    assert set(record.versions) == {"python", "flowlaws", "hypothesis", "numba", "numpy", "torch"}
    assert provenance.git_commit(tmp_path) is None  # not a checkout: said, not guessed
    run, timings = runs.build_run(
        _collector(), run_id="r", profile="quick", seed=3, started=0.0, finished=2.0, provenance=record
    )
    page = rendering.index_html(run, timings)
    assert "flowlaws run --profile quick" in page and "hypothesis " + record.versions["hypothesis"] in page
    assert json.loads(json.dumps(run.to_dict()))["provenance"]["command"] == "flowlaws run --profile quick"


def test_a_spectrum_whose_gap_did_not_decide_is_drawn_as_undecided(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    from harness.reporting import plots

    titles = []
    original = Axes.set_title
    monkeypatch.setattr(Axes, "set_title", lambda self, text, *a, **k: (titles.append(text), original(self, text))[1])
    undecided = {"singular_values": [1.0, 0.5, 1e-3], "gap": {"index": 2, "ratio": 500.0, "threshold": 1e6}}
    plots.plots_for_evidence(undecided, tmp_path)
    plots.plots_for_evidence(SPECTRUM, tmp_path)
    assert "undecided" in titles[0] and "decided the rank" in titles[1] and "undecided" not in titles[1]
