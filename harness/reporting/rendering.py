"""Rendering: a run's index and each case's page, as a reader sees them, in Markdown and in HTML.

Each page is built once as blocks (``harness.reporting.document``) and written as ``.md`` and ``.html``: the
index (headline with the command, versions and commit; properties; the coverage heatmap; findings with the
rows where augmentation adds a law first and marked; errors; the examples with what would decide each
inconclusive one and their figures as thumbnails) and a case page (verdict, what would decide it, the
evidence that decided — typed records described through ``harness.verdicts.evidence`` and drawn by
``harness.reporting.plots`` —, the shrunk scenario and how to reproduce it, ``Reproduction``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from harness.reporting import document, runs
from harness.reporting.document import Block, Code, Definitions, Figures, Heading, Image, Link, Quote, Table, Text
from harness.reporting.hints import hint_for
from harness.reporting.runs import RunReport, RunTimings, Seeding
from harness.verdicts.evidence import SERIES_KEY, DriftSeries
from harness.verdicts.verdict import Status

SCENARIO_FILE = "scenario.json"


@dataclass(frozen=True)
class Reproduction:
    """How a reader re-runs an example: the replay command and the pytest command with its seed."""

    project_root: Path
    profile: str
    seed: int | None
    seeding: Seeding | None = None

    def replay(self, scenario_path: Path) -> str:
        return f"flowlaws replay {_shown_path(scenario_path, self.project_root)}"

    def pytest(self, nodeid: str) -> str:
        parts = ["python -m pytest", f"'{nodeid}'", "-n 0 -p no:cacheprovider", f"--flowlaws-profile={self.profile}"]
        if self.seed is not None:
            # A test's draws depend only on the seed and its node id, so this one test re-draws the same
            # examples (examples saved in the example database replay first).
            option = "--hypothesis-seed" if self.seeding == Seeding.HYPOTHESIS_SEED else "--flowlaws-seed"
            parts.append(f"{option}={self.seed}")
        return " ".join(parts)


def _shown_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


_SCENARIO_FIELDS = ("network", "group", "data", "loss", "n_samples", "seed", "targets", "theta_scale", "target_scale")


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


def example_blocks(
    example: dict, folder: Path, reproduction: Reproduction, figures: list[str], *, evidence_file: str | None = None
) -> list[Block]:
    """The page of one violated or inconclusive example (``report.md`` and ``report.html``)."""
    verdict = example["verdict"]
    scenario = example["scenario"]
    blocks: list[Block] = [
        Heading(1, f"{example['property']}: {verdict['status']}"),
        Text(example["title"], strong=True),
        Quote(example["statement"]),
        Text(f"Reference: {example['reference']}"),
        Heading(2, "Verdict"),
        Text(f"**{verdict['status']}**: {verdict['reason']}"),
    ]
    hint = hint_for(verdict["reason"], scenario) if verdict["status"] == Status.INCONCLUSIVE.value else None
    if hint is not None:
        blocks += [
            Heading(2, "What would decide it"),
            Text(f"Cause: {hint.cause}. What would decide it: {hint.decide}."),
        ]
        if hint.command:
            blocks += [Text("A command that tries it:"), Code(hint.command)]
    evidence = verdict.get("evidence", {})
    series = DriftSeries.from_evidence(evidence)
    rows, cut = [], False
    for key, value in evidence.items():
        if key == SERIES_KEY and series is not None:  # drawn in drift.png; the table names what is there
            value = series.describe()
        text = _short(value)
        cut = cut or text != _short(value, limit=10**9)
        rows.append((key, text))
    blocks += [Heading(2, "The numbers that decided"), Table(("evidence", "value"), tuple(rows))]
    if evidence_file and cut:
        blocks.append(Text(f"Lists longer than 12 values are cut above; every value is in `{evidence_file}`."))
    blocks += [
        Heading(2, "Scenario (shrunk)"),
        Table(
            ("field", "value"), tuple((key, f"`{scenario.get(key)}`") for key in _SCENARIO_FIELDS if key in scenario)
        ),
        Text(f"One line: `{example['scenario_line']}`"),
    ]
    if example.get("also_in"):
        blocks.append(
            Text(
                "The same scenario, with the same verdict, was also drawn by: "
                + ", ".join(f"`{nodeid}`" for nodeid in example["also_in"])
            )
        )
    if "arrays" in scenario:
        blocks.append(Text("The data set and θ₀ are stored in `scenario.json`, so the replay is exact."))
    blocks += [
        Heading(2, "How to reproduce"),
        Text("Replay the stored scenario through the property's check:"),
        Code(reproduction.replay(folder / SCENARIO_FILE)),
    ]
    if example.get("rerun"):
        blocks += [Text("Re-run the search that found it:"), Code(example["rerun"])]
    else:
        blocks += [
            Text("Re-run the Hypothesis test (same profile and seed):"),
            Code(reproduction.pytest(example["nodeid"])),
        ]
    hypothesis = example.get("hypothesis") or {}
    if hypothesis.get("reproduce_failure"):
        blocks += [
            Text("Or pin the exact example by decorating the test with"),
            Code(hypothesis["reproduce_failure"], "python"),
        ]
    if hypothesis.get("notes"):
        blocks += [Heading(2, "What Hypothesis said"), Code("\n".join(n.rstrip() for n in hypothesis["notes"]))]
    if figures:
        blocks += [Heading(2, "Plots"), Figures(tuple(figures))]
    return blocks


def example_markdown(example: dict, folder: Path, reproduction: Reproduction, figures: list[str], **options) -> str:
    """``report.md`` of one violated or inconclusive example."""
    return document.markdown(example_blocks(example, folder, reproduction, figures, **options))


def example_html(example: dict, folder: Path, reproduction: Reproduction, figures: list[str], **options) -> str:
    """``report.html``: the same page as ``report.md``, with its figures inline."""
    title = f"{example['property']}: {example['verdict']['status']}"
    return document.html(example_blocks(example, folder, reproduction, figures, **options), title)


def _page_link(folder: str) -> Link:
    return Link(folder, f"{folder}/report.md", f"{folder}/report.html")


def _findings_table(findings: list) -> Table:
    """Findings with the rows that matter first: where augmentation adds a law (``extra_laws`` > 0), marked.

    The scenario line names network and group, so separate ``arch``/``group`` columns are left out (the page
    must fit a screen); every other column is kept in full.
    """
    columns: list[str] = []
    for row in findings:
        for key in row.keys() if isinstance(row, dict) else ["finding"]:
            if key not in columns:
                columns.append(key)
    if "scenario" in columns:
        columns = ["scenario"] + [c for c in columns if c not in ("scenario", "arch", "group")]

    def adds(row) -> bool:
        extra = row.get("extra_laws") if isinstance(row, dict) else None
        return isinstance(extra, (int, float)) and not isinstance(extra, bool) and extra > 0

    ordered = sorted(findings, key=lambda row: not adds(row))  # stable: the content order within each part
    rows = tuple(
        tuple(_short(row.get(c, "")) if isinstance(row, dict) else _short(row) for c in columns) for row in ordered
    )
    marks = tuple("adds" if adds(row) else "" for row in ordered)
    header = tuple(columns)
    if any(marks):
        header = ("adds a law", *header)
        rows = tuple(("yes" if mark else "", *row) for mark, row in zip(marks, rows))
    return Table(header, rows, row_classes=marks)


def _heat(cells_text: list[list[str]], counts: list[list[int]]) -> dict[str, tuple[str, ...]]:
    """Per loss-class column, a background whose strength grows with the examples there (0: a coverage gap)."""
    largest = max((c for row in counts for c in row), default=0) or 1
    styles: dict[str, list[str]] = defaultdict(list)
    for row_text, row_counts in zip(cells_text, counts):
        for column, text, count in zip(_LOSS_COLUMNS(), row_text, row_counts):
            if count == 0:
                styles[column].append("background: #f6d5d5")
            else:
                alpha = 0.15 + 0.6 * math.log1p(count) / math.log1p(largest)
                border = "; outline: 2px solid #d4a017" if "inconclusive" in text or "violated" in text else ""
                styles[column].append(f"background: rgba(46, 125, 50, {alpha:.2f}){border}")
    return {column: tuple(values) for column, values in styles.items()}


def _LOSS_COLUMNS() -> tuple[str, ...]:  # noqa: N802  (read lazily: the loss registry imports the kernels)
    from harness.model.losses import LOSS_CLASSES

    return tuple(LOSS_CLASSES)


def _coverage_table(cells) -> Table:
    """One row per (family, group kind), one column per loss class: the gaps of a campaign show as 0."""
    by_row: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for cell in cells:
        by_row[(cell["family"], cell["group_kind"])][cell["loss_class"]] = cell

    def text(cell: dict | None) -> str:
        if cell is None:
            return "0"
        marks = [f"{cell[s]} {s}" for s in (Status.VIOLATED.value, Status.INCONCLUSIVE.value) if cell.get(s)]
        return str(cell["examples"]) + (f" ({', '.join(marks)})" if marks else "")

    loss_classes = _LOSS_COLUMNS()
    keys = sorted(by_row.items())
    texts = [[text(columns.get(loss_class)) for loss_class in loss_classes] for _, columns in keys]
    counts = [[(columns.get(c) or {}).get("examples", 0) for c in loss_classes] for _, columns in keys]
    rows = tuple((family, kind, *row) for ((family, kind), _), row in zip(keys, texts))
    return Table(("family", "group kind", *loss_classes), rows, cell_classes=_heat(texts, counts))


def _examples_table(run: RunReport, figures: dict[str, list[str]]) -> Table:
    rows = []
    classes: list[str] = []
    for e in run.examples:
        status, reason = e["verdict"]["status"], e["verdict"]["reason"]
        hint = hint_for(reason, e["scenario"]) if status == Status.INCONCLUSIVE.value else None
        link = _page_link(e["folder"])
        thumbs = tuple(Image(f"{e['folder']}/{name}", name, link) for name in figures.get(e["folder"], ()))
        scenario = e["scenario_line"] + (
            f" (also drawn by {len(e['also_in'])} other test(s))" if e.get("also_in") else ""
        )
        rows.append((link, status, reason, hint.decide if hint else "", scenario, thumbs or ""))
        classes.append(status)
    return Table(
        ("report", "status", "reason", "what would decide it", "scenario", "figures"),
        tuple(rows),
        cell_classes={"status": tuple(classes)},
    )


def index_blocks(run: RunReport, timings: RunTimings, figures: dict[str, list[str]] | None = None) -> list[Block]:
    """The run's index page (``index.md`` and ``index.html``): headline, then the tables."""
    figures = figures or {}
    blocks: list[Block] = [Heading(1, f"flowlaws run {run.run_id}"), Definitions(tuple(_headline(run, timings)))]
    blocks += [
        Heading(2, "Properties"),
        Table(
            ("property", "title", "tests", "examples", "holds", "violated", "inconclusive", "errors", "skipped"),
            tuple(
                (
                    p.id,
                    p.title,
                    *(str(getattr(p, k)) for k in ("tests", "examples", "holds", "violated")),
                    str(p.inconclusive),
                    str(p.errors),
                    str(p.skipped),
                )
                for p in run.properties
            ),
        ),
        Heading(2, "Coverage: examples per family × group kind (rows) × loss class (columns)"),
        _coverage_table(run.coverage),
    ]
    for prop, findings in run.findings.items():
        blocks += [Heading(2, f"Findings of {prop}"), _findings_table(findings)]
    if run.errors:
        blocks += [
            Heading(2, "Errors (tests that crashed rather than returning a verdict)"),
            Table(("test", "message"), tuple((e["nodeid"], e["message"]) for e in run.errors)),
        ]
    if run.unfinished:
        blocks += [
            Heading(2, "Unfinished (the run was interrupted while these ran or waited)"),
            Table(("test",), tuple((nodeid,) for nodeid in run.unfinished)),
        ]
    blocks += [Heading(2, "Counterexamples and inconclusive examples"), _examples_table(run, figures)]
    return blocks


def _headline(run: RunReport, timings: RunTimings) -> list[tuple[str, str]]:
    totals = run.totals
    rows = [
        ("run", run.run_id),
        ("outcome", run.outcome),
        ("profile", run.profile),
        ("seed", _seed_text(run)),
    ]
    if run.provenance is not None:
        rows += run.provenance.rows()
    rows += [
        (
            "examples",
            (
                f"{totals['examples']} ({totals['holds']} holds, {totals['violated']} violated, "
                f"{totals['inconclusive']} inconclusive)"
            ),
        ),
        ("timings", "timings.json (kept out of every other file, so that a seed gives the same content)"),
    ]
    if left_out := sum(p.reports_left_out for p in run.properties):
        rows.append(("left out", f"{left_out} example folders beyond {runs.MAX_REPORTS_PER_PROPERTY} per property"))
    return rows


def _seed_text(run: RunReport) -> str:
    if run.seeding == Seeding.DERANDOMIZED:
        return "none: derandomized (the gate draws the same examples every run)"
    if run.seed is None:
        return "random"
    if run.seeding == Seeding.HYPOTHESIS_SEED:
        return f"{run.seed} (--hypothesis-seed: the example database was bypassed)"
    return f"{run.seed} (--flowlaws-seed={run.seed})"


def index_markdown(run: RunReport, timings: RunTimings, figures: dict[str, list[str]] | None = None) -> str:
    return document.markdown(index_blocks(run, timings, figures))


def index_html(run: RunReport, timings: RunTimings, figures: dict[str, list[str]] | None = None) -> str:
    """A self-contained HTML page with the same content as ``index.md``, linking each case's ``report.html``."""
    return document.html(index_blocks(run, timings, figures), f"flowlaws run {run.run_id}")
