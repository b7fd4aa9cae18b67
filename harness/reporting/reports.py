"""Counterexample reports: what a campaign found, written so that a researcher can read it and replay it.

Verdicts travel in three steps. (1) In the process that ran a test, ``summarize_test`` reduces the
test's verdict records (``harness.verdicts.property.RECORDER``) and Hypothesis's failure information to one
JSON-ready *test summary*: counts, coverage cells, exploration findings, and the examples worth a report
(each distinct inconclusive example, and the shrunk counterexample of a failure). (2) The pytest plugin
ships that summary to the xdist controller in ``report.user_properties``; the controller's
``RunCollector`` gathers them. (3) ``write_run`` writes ``reports/<run-id>/`` atomically (a hidden
temporary folder renamed into place) and points ``reports/latest`` at it; earlier runs are never touched.

Which records count. While Hypothesis shrinks a counterexample it re-runs the check on hundreds of
variants; those are not examples of the campaign. A test's examples are its records up to its first
violation, plus the final replay of the shrunk counterexample (the last violated record matching the
``PropertyViolation`` that Hypothesis raised).

Same seed, same content: every file except ``timings.json`` is a function of the records, and the
records of a test are a function of the run's seed (with an empty example database). Durations and
wall-clock times (any evidence entry named ``seconds`` or ``*_seconds``, at any depth, and the run's own
clock) go to ``timings.json`` only; the index pages link to it.
"""

from __future__ import annotations

import builtins
import html
import json
import os
import re
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import InvalidInput

RUN_FORMAT = "flowlaws-run/1"
SUMMARY_FORMAT = "flowlaws-test-summary/1"
STATUSES = ("holds", "violated", "inconclusive")
# A run whose checks are mostly inconclusive would otherwise write thousands of folders; the index says
# how many were left out.
MAX_REPORTS_PER_PROPERTY = 100
TIMING_KEYS = ("seconds",)  # evidence entries that measure time (and any ``*_seconds``): only in timings.json
_EXCEPTION_GROUP = getattr(builtins, "BaseExceptionGroup", ())  # Python 3.11+ (none to walk before)
_REPRODUCE_FAILURE = re.compile(r"@reproduce_failure\(.*?\)")


# --------------------------------------------------------------------------------------------------
# Step 1: one test's records → a JSON-ready summary (runs in the worker)
# --------------------------------------------------------------------------------------------------


def failure_information(exception: BaseException | None) -> list[dict]:
    """Hypothesis's own account of each property violation inside ``exception`` (groups are walked).

    Each entry: ``property``, ``scenario_line`` (which record is the shrunk counterexample), ``notes``
    (PEP 678 notes Hypothesis attached: the failing example, explanations, the reproduce line) and
    ``reproduce_failure`` (the ``@reproduce_failure(...)`` decorator from those notes, if printed).
    """
    from harness.verdicts.property import PropertyViolation

    found: list[dict] = []

    def walk(error: BaseException) -> None:
        if isinstance(error, _EXCEPTION_GROUP):
            for inner in error.exceptions:
                walk(inner)
            return
        if isinstance(error, PropertyViolation):
            notes = [str(note) for note in getattr(error, "__notes__", [])]
            decorators = [m.group(0) for note in notes for m in _REPRODUCE_FAILURE.finditer(note)]
            found.append({
                "property": error.property.id,
                "scenario_line": str(error.scenario),
                "notes": notes,
                "reproduce_failure": decorators[-1] if decorators else None,
            })

    if exception is not None:
        walk(exception)
    return found


def crash_description(exception: BaseException) -> str:
    """One line for a test that crashed (not a violation): the error, and Hypothesis's reproduce line if any."""
    message = str(exception).splitlines()[0] if str(exception) else ""
    text = f"{type(exception).__name__}: {message}"
    decorators = [m.group(0) for note in getattr(exception, "__notes__", []) for m in _REPRODUCE_FAILURE.finditer(str(note))]
    return text + (f" (reproduce with {decorators[-1]})" if decorators else "")


def _group_kind(group_spec: str | None) -> str:
    """The coverage label of a group: its catalogue factor names (``cyclic*flip``), or ``none``."""
    if not group_spec:
        return "none"
    from harness.model.groups import parse_group

    return "*".join(factor.name for factor in parse_group(group_spec).factors)


def _loss_class(loss_name: str) -> str:
    from harness.model.losses import get_loss

    return get_loss(loss_name).loss_class


def coverage_key(scenario: dict) -> str:
    """``family|group kind|loss class`` of a scenario record."""
    family = str(scenario.get("network", "?")).split(":")[0]
    return "|".join((family, _group_kind(scenario.get("group")), _loss_class(scenario.get("loss", "mse"))))


def is_timing_key(key) -> bool:
    """Whether an evidence entry measures time: ``seconds`` or ``<anything>_seconds``."""
    return isinstance(key, str) and (key in TIMING_KEYS or key.endswith("_seconds"))


def _without_timings(evidence):
    """Evidence with every timing entry removed, at any depth (they go to ``timings.json``)."""
    if isinstance(evidence, dict):
        return {key: _without_timings(value) for key, value in evidence.items() if not is_timing_key(key)}
    if isinstance(evidence, list):
        return [_without_timings(value) for value in evidence]
    return evidence


def _timings_of(evidence, prefix: str = "") -> dict:
    """The timing entries ``_without_timings`` removes, by dotted path (``count_seconds``, ``leaf.seconds``)."""
    found = {}
    if isinstance(evidence, dict):
        for key, value in evidence.items():
            path = f"{prefix}{key}"
            if is_timing_key(key) and isinstance(value, (int, float)):
                found[path] = value
            else:
                found.update(_timings_of(value, f"{path}."))
    elif isinstance(evidence, list):
        for number, value in enumerate(evidence):
            found.update(_timings_of(value, f"{prefix}{number}."))
    return found


def summarize_test(
    nodeid: str,
    records: list[dict],
    *,
    module_properties: list[dict] = (),
    outcome: str = "passed",
    exception: BaseException | None = None,
    error_text: str | None = None,
) -> dict:
    """Reduce one test's verdict records and failure to the summary the controller aggregates.

    ``module_properties`` describe the ``PROPERTY`` objects of the test's module (id, title, statement,
    reference, exploration), so a property whose test crashed before any verdict still appears in the
    index; ``exception`` is what the test raised (a ``PropertyViolation``, or a group of them, from
    Hypothesis's final replay of the shrunk example).
    """
    failures = failure_information(exception)
    first_violation = next((i for i, r in enumerate(records) if r["verdict"]["status"] == "violated"), None)
    # The first violation is reported through its shrunk form (the final replay), not as found.
    counted = list(records if first_violation is None else records[:first_violation])
    finals: list[tuple[dict, dict]] = []
    for failure in failures:
        final = next(
            (r for r in reversed(records)
             if r["verdict"]["status"] == "violated" and r["property"] == failure["property"]
             and r["scenario_line"] == failure["scenario_line"]),
            None,
        )
        if final is not None and all(final is not chosen for chosen, _ in finals):
            finals.append((final, failure))
    if first_violation is not None and not finals:
        # A violation without Hypothesis's final replay (e.g. a plain test calling enforce): report it as is.
        finals.append((records[first_violation], {"notes": [], "reproduce_failure": None}))

    counts: dict[str, Counter] = defaultdict(Counter)
    coverage: dict[str, Counter] = defaultdict(Counter)
    findings: dict[str, list] = defaultdict(list)
    examples: list[dict] = []
    seen_inconclusive: set[str] = set()
    titles: dict[str, dict] = {}

    def describe(record: dict) -> None:
        titles.setdefault(record["property"], {
            "title": record.get("title", ""), "statement": record.get("statement", ""),
            "reference": record.get("reference", ""), "exploration": bool(record.get("exploration")),
        })

    def count(record: dict) -> None:
        status = record["verdict"]["status"]
        counts[record["property"]]["examples"] += 1
        counts[record["property"]][status] += 1
        coverage[coverage_key(record["scenario"])][status] += 1
        if record.get("exploration"):
            rows = _without_timings(record["verdict"].get("evidence", {}).get("findings") or [])
            findings[record["property"]].extend(rows if isinstance(rows, list) else [rows])

    for description in module_properties:
        titles[description["id"]] = {k: description.get(k, "") for k in ("title", "statement", "reference")}
        titles[description["id"]]["exploration"] = bool(description.get("exploration"))
    for record in counted:
        describe(record)
        count(record)
        if record["verdict"]["status"] == "inconclusive":
            key = json.dumps([record["property"], record["scenario"]], sort_keys=True)
            if key not in seen_inconclusive:
                seen_inconclusive.add(key)
                examples.append(_example(nodeid, record, None))
    for final, failure in finals:
        describe(final)
        count(final)
        examples.append(_example(nodeid, final, failure))

    return {
        "format": SUMMARY_FORMAT,
        "nodeid": nodeid,
        "outcome": outcome,
        "properties": sorted(set(titles) | set(counts)),
        "descriptions": titles,
        "counts": {prop: dict(c) for prop, c in counts.items()},
        "coverage": {key: dict(c) for key, c in coverage.items()},
        "findings": dict(findings),
        "examples": examples,
        "shrink_records": len(records) - len(counted) - len(finals),
        "error": error_text if (outcome == "failed" and not finals) else None,
    }


def _example(nodeid: str, record: dict, failure: dict | None) -> dict:
    verdict = dict(record["verdict"])
    evidence = verdict.get("evidence", {})
    verdict["evidence"] = _without_timings(evidence)
    return {
        "nodeid": nodeid,
        "property": record["property"],
        "title": record.get("title", ""),
        "statement": record.get("statement", ""),
        "reference": record.get("reference", ""),
        "scenario": {**record["scenario"], "property": record["property"]},
        "scenario_line": record["scenario_line"],
        "verdict": verdict,
        "events": record.get("events", {}),
        "hypothesis": failure,
        "timings": _timings_of(evidence),
    }


# --------------------------------------------------------------------------------------------------
# Step 2: the controller gathers test summaries
# --------------------------------------------------------------------------------------------------


@dataclass
class RunCollector:
    """Test summaries of one run, in arrival order (sorted when the run is built)."""

    summaries: list[dict] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)

    def add(self, summary: dict, seconds: float = 0.0) -> None:
        if summary.get("format") != SUMMARY_FORMAT:
            return
        self.summaries.append(summary)
        self.durations[summary["nodeid"]] = self.durations.get(summary["nodeid"], 0.0) + float(seconds or 0.0)

    @property
    def has_verdicts(self) -> bool:
        return bool(self.summaries)


@dataclass(frozen=True)
class PropertyTally:
    """One property's line in the index: how many examples, and how they came out."""

    id: str
    title: str
    reference: str
    exploration: bool
    tests: int
    examples: int
    holds: int
    violated: int
    inconclusive: int
    errors: int
    skipped: int
    reports: tuple[str, ...]
    reports_left_out: int

    def to_dict(self) -> dict:
        return {**self.__dict__, "reports": list(self.reports)}


@dataclass(frozen=True)
class RunReport:
    """Everything ``index.json`` holds (content only; timings live in ``RunTimings``)."""

    run_id: str
    profile: str
    seed: int | None
    properties: tuple[PropertyTally, ...]
    coverage: tuple[dict, ...]
    findings: dict
    errors: tuple[dict, ...]
    examples: tuple[dict, ...]  # each with its folder name
    unfinished: tuple[str, ...] = ()  # collected tests that never finished (an interrupted run)
    # How the draws were fixed: "flowlaws-seed" (explorer, example database on), "hypothesis-seed" (database
    # bypassed), "derandomized" (the gate), or None (unknown: e.g. a report built outside pytest).
    seeding: str | None = None

    @property
    def totals(self) -> dict:
        return {key: sum(getattr(p, key) for p in self.properties)
                for key in ("examples", "holds", "violated", "inconclusive", "errors", "skipped")}

    @property
    def outcome(self) -> str:
        totals = self.totals
        if totals["violated"]:
            return "violated"
        if totals["errors"]:
            return "errors"
        if self.unfinished:
            return f"interrupted ({len(self.unfinished)} tests did not finish); no violation in the rest"
        return "no violation"

    def to_dict(self) -> dict:
        return {
            "format": RUN_FORMAT, "run_id": self.run_id, "profile": self.profile, "seed": self.seed,
            "seeding": self.seeding, "outcome": self.outcome, "totals": self.totals,
            "properties": [p.to_dict() for p in self.properties],
            "coverage": list(self.coverage), "findings": self.findings, "errors": list(self.errors),
            "unfinished": list(self.unfinished),
            "examples": [{k: e[k] for k in ("folder", "property", "nodeid", "scenario_line")}
                         | {"status": e["verdict"]["status"], "reason": e["verdict"]["reason"]}
                         for e in self.examples],
        }


@dataclass(frozen=True)
class RunTimings:
    started: float
    finished: float
    property_seconds: dict
    example_seconds: dict

    def to_dict(self) -> dict:
        return {"started_utc": _utc(self.started), "finished_utc": _utc(self.finished),
                "seconds": round(self.finished - self.started, 3),
                "properties": {k: round(v, 3) for k, v in sorted(self.property_seconds.items())},
                "examples": {k: v for k, v in sorted(self.example_seconds.items())}}


def _utc(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def _row_order(row) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def build_run(collector: RunCollector, *, run_id: str, profile: str, seed: int | None,
              started: float, finished: float | None = None, unfinished=(),
              seeding: str | None = None) -> tuple[RunReport, RunTimings]:
    """Aggregate the test summaries into the run's content and its timings (deterministic order).

    ``unfinished``: node ids of collected tests that never finished (the run was interrupted).
    """
    summaries = sorted(collector.summaries, key=lambda s: s["nodeid"])
    descriptions: dict[str, dict] = {}
    counts: dict[str, Counter] = defaultdict(Counter)
    tests: Counter = Counter()
    errors_by_property: Counter = Counter()
    skipped: Counter = Counter()
    coverage: dict[str, Counter] = defaultdict(Counter)
    findings: dict[str, list] = defaultdict(list)
    errors: list[dict] = []
    examples_by_property: dict[str, list] = defaultdict(list)
    property_seconds: Counter = Counter()
    for summary in summaries:
        for prop, description in summary["descriptions"].items():
            descriptions.setdefault(prop, description)
        for prop in summary["properties"]:
            tests[prop] += 1
            property_seconds[prop] += collector.durations.get(summary["nodeid"], 0.0) / len(summary["properties"])
            if summary["outcome"] == "skipped":
                skipped[prop] += 1
            if summary["error"]:
                errors_by_property[prop] += 1
        for prop, tally in summary["counts"].items():
            counts[prop].update(tally)
        for key, tally in summary["coverage"].items():
            coverage[key].update(tally)
        for prop, rows in summary["findings"].items():
            for row in rows:
                if row not in findings[prop]:
                    findings[prop].append(row)
        if summary["error"]:
            errors.append({"nodeid": summary["nodeid"], "properties": summary["properties"],
                           "message": summary["error"]})
        for example in summary["examples"]:
            examples_by_property[example["property"]].append(example)

    examples: list[dict] = []
    tallies = []
    example_seconds = {}
    for prop in sorted(tests):
        # Violations first, then by test and scenario: the folders are numbered from the set of examples,
        # not from the order a test happened to draw them in.
        ordered = sorted(examples_by_property[prop],
                         key=lambda e: (e["verdict"]["status"] != "violated", e["nodeid"], e["scenario_line"]))
        kept = ordered[:MAX_REPORTS_PER_PROPERTY]
        folders = []
        for number, example in enumerate(kept, start=1):
            folder = f"{_slug(prop)}-{number}"
            folders.append(folder)
            examples.append({**example, "folder": folder})
            example_seconds[folder] = example.get("timings") or {}
        description = descriptions.get(prop, {})
        tally = counts[prop]
        tallies.append(PropertyTally(
            id=prop, title=description.get("title", ""), reference=description.get("reference", ""),
            exploration=bool(description.get("exploration")), tests=tests[prop],
            examples=tally["examples"], holds=tally["holds"], violated=tally["violated"],
            inconclusive=tally["inconclusive"], errors=errors_by_property[prop], skipped=skipped[prop],
            reports=tuple(folders), reports_left_out=len(ordered) - len(kept),
        ))
    cells = []
    for key in sorted(coverage):
        family, group_kind, loss_class = key.split("|")
        tally = coverage[key]
        cells.append({"family": family, "group_kind": group_kind, "loss_class": loss_class,
                      "examples": sum(tally.values()), **{s: tally.get(s, 0) for s in STATUSES}})
    run = RunReport(run_id=run_id, profile=profile, seed=seed, properties=tuple(tallies), coverage=tuple(cells),
                    # Rows sorted by content: a test's draws may come in another order under xdist than in one
                    # process (same set), and the index must not depend on it.
                    findings={k: sorted(findings[k], key=_row_order) for k in sorted(findings)}, errors=tuple(errors),
                    examples=tuple(examples), unfinished=tuple(sorted(unfinished)), seeding=seeding)
    timings = RunTimings(started, finished if finished is not None else time.time(), dict(property_seconds),
                         example_seconds)
    return run, timings


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "property"


# --------------------------------------------------------------------------------------------------
# Step 3: writing, atomically
# --------------------------------------------------------------------------------------------------


def check_writable(report_dir: str | Path) -> Path:
    """Raise ``InvalidInput`` unless a run folder can be created under ``report_dir`` (nothing is left)."""
    report_dir = Path(report_dir).absolute()
    existing = report_dir
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidInput(f"report folder {str(report_dir)!r} is not writable: {str(existing)!r} is not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".flowlaws-probe-", dir=existing)
        os.rmdir(probe)
    except OSError as error:
        raise InvalidInput(f"report folder {str(report_dir)!r} is not writable: {error.strerror}") from None
    return report_dir


@dataclass(frozen=True)
class Reproduction:
    """How a reader re-runs an example: the replay command and the pytest command with its seed."""

    project_root: Path
    profile: str
    seed: int | None
    seeding: str | None = None

    def replay(self, scenario_path: Path) -> str:
        return f"flowlaws replay {_shown_path(scenario_path, self.project_root)}"

    def pytest(self, nodeid: str) -> str:
        parts = ["python -m pytest", f"'{nodeid}'", "-n 0 -p no:cacheprovider", f"--flowlaws-profile={self.profile}"]
        if self.seed is not None:
            # A test's draws depend only on the seed and its node id, so this one test re-draws the same
            # examples (examples saved in the example database replay first).
            option = "--hypothesis-seed" if self.seeding == "hypothesis-seed" else "--flowlaws-seed"
            parts.append(f"{option}={self.seed}")
        return " ".join(parts)


def _shown_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def write_run(run: RunReport, timings: RunTimings, report_dir: str | Path, *,
              project_root: str | Path | None = None, plots: bool = True) -> Path:
    """Write ``report_dir/<run-id>/`` atomically and point ``report_dir/latest`` at it.

    Everything is written into a hidden temporary folder first and renamed into place, so a killed run
    leaves either nothing or a complete folder; an existing folder of the same name is never replaced
    (a suffix ``-2``, ``-3``… is added). Returns the run folder.
    """
    report_dir = check_writable(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    project_root = Path(project_root or Path.cwd())
    final = _free_name(report_dir, _slug(run.run_id))  # a run id never names a path outside report_dir
    staging = Path(tempfile.mkdtemp(prefix=f".incomplete-{final.name}-", dir=report_dir))
    try:
        reproduction = Reproduction(project_root, run.profile, run.seed, run.seeding)
        for example in run.examples:
            _write_example(staging / example["folder"], final / example["folder"], example, reproduction, plots)
        (staging / "index.json").write_text(json.dumps(run.to_dict(), indent=1, sort_keys=True) + "\n")
        (staging / "timings.json").write_text(json.dumps(timings.to_dict(), indent=1, sort_keys=True) + "\n")
        (staging / "index.md").write_text(index_markdown(run, timings))
        (staging / "index.html").write_text(index_html(run, timings))
        staging.chmod(0o755)
        while True:
            try:
                os.rename(staging, final)  # fails if a non-empty folder of that name appeared meanwhile
                break
            except OSError:
                if not final.exists():
                    raise
                final = _free_name(report_dir, _slug(run.run_id))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    point_latest(report_dir, final)
    return final


def _free_name(report_dir: Path, run_id: str) -> Path:
    candidate, suffix = report_dir / run_id, 1
    while candidate.exists() or candidate.is_symlink():
        suffix += 1
        candidate = report_dir / f"{run_id}-{suffix}"
    return candidate


def point_latest(report_dir: Path, run_folder: Path) -> None:
    """``report_dir/latest`` → the newest run: a relative symlink, or a text file naming it."""
    latest = report_dir / "latest"
    temporary = report_dir / f".latest-{os.getpid()}"
    try:
        if temporary.is_symlink() or temporary.exists():
            temporary.unlink()
        os.symlink(run_folder.name, temporary)
    except OSError:
        temporary.write_text(run_folder.name + "\n")
    if latest.is_dir() and not latest.is_symlink():
        shutil.rmtree(temporary, ignore_errors=True)  # someone's folder named "latest": never replace it
        return
    os.replace(temporary, latest)


def latest_run(report_dir: str | Path) -> Path | None:
    """The run folder ``report_dir/latest`` points to (symlink or text file), if any."""
    latest = Path(report_dir) / "latest"
    if latest.is_symlink():
        return latest.resolve()
    if latest.is_file():
        return Path(report_dir) / latest.read_text().strip()
    return None


def _write_example(folder: Path, final_folder: Path, example: dict, reproduction: Reproduction, plots: bool) -> None:
    folder.mkdir()
    (folder / "scenario.json").write_text(json.dumps(example["scenario"], indent=1) + "\n")
    figures = []
    if plots:
        from harness.reporting.plots import plots_for_evidence

        figures = plots_for_evidence(example["verdict"].get("evidence", {}), folder)
    (folder / "report.md").write_text(example_markdown(example, final_folder, reproduction, figures))


# --------------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------------

_SCENARIO_FIELDS = ("network", "group", "data", "loss", "n_samples", "seed", "targets", "theta_scale")


def _short(value, limit: int = 12) -> str:
    """A table-friendly rendering of an evidence value (long lists are cut, with their length)."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        if len(value) > limit:
            return "[" + ", ".join(_short(v) for v in value[:limit]) + f", … ({len(value)} values)]"
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v, 4)}" for k, v in value.items()) + "}"
    return str(value)


def example_markdown(example: dict, folder: Path, reproduction: Reproduction, figures: list[str]) -> str:
    """``report.md`` of one violated or inconclusive example."""
    verdict = example["verdict"]
    scenario = example["scenario"]
    lines = [
        f"# {example['property']}: {verdict['status']}",
        "",
        f"**{example['title']}**",
        "",
        f"> {example['statement']}",
        "",
        f"Reference: {example['reference']}",
        "",
        "## Verdict",
        "",
        f"**{verdict['status']}**: {verdict['reason']}",
        "",
        "## The numbers that decided",
        "",
        "| evidence | value |",
        "|---|---|",
    ]
    for key, value in verdict.get("evidence", {}).items():
        if key == "series" and isinstance(value, dict):  # drawn in drift.png; the table names what is there
            value = (f"{len(value.get('times', []))} times; drift of: {', '.join(value.get('drift', {}))}; "
                     f"integrator error: {'yes' if value.get('error') else 'no'} (see drift.png)")
        lines.append(f"| {key} | {_md_cell(_short(value))} |")
    lines += ["", "## Scenario (shrunk)", "", "| field | value |", "|---|---|"]
    for key in _SCENARIO_FIELDS:
        lines.append(f"| {key} | `{scenario.get(key)}` |")
    lines += ["", f"One line: `{example['scenario_line']}`", ""]
    if "arrays" in scenario:
        lines += ["The data set and θ₀ are stored in `scenario.json`, so the replay is exact.", ""]
    lines += [
        "## How to reproduce",
        "",
        "Replay the stored scenario through the property's check:",
        "",
        "```",
        reproduction.replay(folder / "scenario.json"),
        "```",
        "",
    ]
    if example.get("rerun"):
        lines += ["Re-run the search that found it:", "", "```", example["rerun"], "```", ""]
    else:
        lines += ["Re-run the Hypothesis test (same profile and seed):", "", "```",
                  reproduction.pytest(example["nodeid"]), "```", ""]
    hypothesis = example.get("hypothesis") or {}
    if hypothesis.get("reproduce_failure"):
        lines += ["Or pin the exact example by decorating the test with", "", "```python",
                  hypothesis["reproduce_failure"], "```", ""]
    if hypothesis.get("notes"):
        lines += ["## What Hypothesis said", "", "```"] + [n.rstrip() for n in hypothesis["notes"]] + ["```", ""]
    if figures:
        lines += ["## Plots", ""] + [f"![{name}]({name})" for name in figures] + [""]
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table_rows(run: RunReport, timings: RunTimings) -> dict[str, tuple[list[str], list[list[str]]]]:
    """The index's tables as (header, rows) of plain strings, shared by the Markdown and HTML renderings."""
    tables = {}
    header = ["property", "title", "tests", "examples", "holds", "violated", "inconclusive", "errors", "skipped"]
    rows = [[p.id, p.title, str(p.tests), str(p.examples), str(p.holds), str(p.violated), str(p.inconclusive),
             str(p.errors), str(p.skipped)]
            for p in run.properties]
    tables["Properties"] = (header, rows)
    tables["Coverage: examples per family × group kind (rows) × loss class (columns)"] = _coverage_pivot(run.coverage)
    for prop, findings in run.findings.items():
        columns: list[str] = []
        for row in findings:
            for key in (row.keys() if isinstance(row, dict) else ["finding"]):
                if key not in columns:
                    columns.append(key)
        rows = [[_short(row.get(c, "")) if isinstance(row, dict) else _short(row) for c in columns] for row in findings]
        tables[f"Findings of {prop}"] = (columns, rows)
    if run.errors:
        tables["Errors (tests that crashed rather than returning a verdict)"] = (
            ["test", "message"], [[e["nodeid"], e["message"]] for e in run.errors])
    if run.unfinished:
        tables["Unfinished (the run was interrupted while these ran or waited)"] = (
            ["test"], [[nodeid] for nodeid in run.unfinished])
    rows = [[e["folder"], e["verdict"]["status"], e["verdict"]["reason"], e["scenario_line"]] for e in run.examples]
    tables["Counterexamples and inconclusive examples"] = (["report", "status", "reason", "scenario"], rows)
    return tables


def _coverage_pivot(cells) -> tuple[list[str], list[list[str]]]:
    """One row per (family, group kind), one column per loss class: the gaps of a campaign show as 0."""
    from harness.model.losses import LOSS_CLASSES

    by_row: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for cell in cells:
        by_row[(cell["family"], cell["group_kind"])][cell["loss_class"]] = cell

    def text(cell: dict | None) -> str:
        if cell is None:
            return "0"
        marks = [f"{cell[s]} {s}" for s in ("violated", "inconclusive") if cell.get(s)]
        return str(cell["examples"]) + (f" ({', '.join(marks)})" if marks else "")

    rows = [[family, kind] + [text(columns.get(loss_class)) for loss_class in LOSS_CLASSES]
            for (family, kind), columns in sorted(by_row.items())]
    return ["family", "group kind", *LOSS_CLASSES], rows


def _headline(run: RunReport, timings: RunTimings) -> list[tuple[str, str]]:
    totals = run.totals
    return [
        ("run", run.run_id), ("outcome", run.outcome), ("profile", run.profile),
        ("seed", _seed_text(run)),
        ("examples", (f"{totals['examples']} ({totals['holds']} holds, {totals['violated']} violated, "
                      f"{totals['inconclusive']} inconclusive)")),
        ("timings", "timings.json (kept out of every other file, so that a seed gives the same content)"),
    ] + ([("left out", f"{left_out} example folders beyond {MAX_REPORTS_PER_PROPERTY} per property")]
         if (left_out := sum(p.reports_left_out for p in run.properties)) else [])


def _seed_text(run: RunReport) -> str:
    if run.seeding == "derandomized":
        return "none: derandomized (the gate draws the same examples every run)"
    if run.seed is None:
        return "random"
    if run.seeding == "hypothesis-seed":
        return f"{run.seed} (--hypothesis-seed: the example database was bypassed)"
    return f"{run.seed} (--flowlaws-seed={run.seed})"


def index_markdown(run: RunReport, timings: RunTimings) -> str:
    lines = [f"# flowlaws run {run.run_id}", ""]
    lines += [f"- **{key}**: {value}" for key, value in _headline(run, timings)]
    lines.append("")
    for title, (header, rows) in _table_rows(run, timings).items():
        lines += [f"## {title}", ""]
        if not rows:
            lines += ["(none)", ""]
            continue
        if title.startswith("Counterexamples"):
            rows = [[f"[{r[0]}]({r[0]}/report.md)"] + r[1:] for r in rows]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #eef; }
td.violated { background: #fdd; } td.inconclusive { background: #ffd; } td.holds { background: #dfd; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dt { font-weight: bold; }
"""


def index_html(run: RunReport, timings: RunTimings) -> str:
    """A self-contained HTML page with the same tables as ``index.md``."""
    escape = html.escape
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             f"<title>flowlaws run {escape(run.run_id)}</title><style>{_CSS}</style></head><body>",
             f"<h1>flowlaws run {escape(run.run_id)}</h1>", "<dl>"]
    parts += [f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in _headline(run, timings)]
    parts.append("</dl>")
    for title, (header, rows) in _table_rows(run, timings).items():
        parts.append(f"<h2>{escape(title)}</h2>")
        if not rows:
            parts.append("<p>(none)</p>")
            continue
        parts.append("<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr></thead><tbody>")
        for row in rows:
            cells = []
            for column, cell in zip(header, row):
                css = f" class='{cell}'" if column == "status" and cell in STATUSES else ""
                text = escape(cell)
                if column == "report":
                    text = f"<a href='{escape(cell)}/report.md'>{text}</a>"
                cells.append(f"<td{css}>{text}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
