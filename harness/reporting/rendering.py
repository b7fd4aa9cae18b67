"""Rendering: a run's ``index.md`` and ``index.html`` and a case folder's ``report.md``, as a reader sees them.

The index pages show the same tables (``_table_rows``: properties, coverage pivot, findings, errors,
unfinished tests, reported examples) in Markdown and in self-contained HTML. A case's ``report.md`` gives the
verdict, the evidence that decided (typed records are described through ``harness.verdicts.evidence``, and
drawn by ``harness.reporting.plots``), the shrunk scenario and how to reproduce it (``Reproduction``).
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from harness.reporting import runs
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
    evidence = verdict.get("evidence", {})
    series = DriftSeries.from_evidence(evidence)
    for key, value in evidence.items():
        if key == SERIES_KEY and series is not None:  # drawn in drift.png; the table names what is there
            value = series.describe()
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
        reproduction.replay(folder / SCENARIO_FILE),
        "```",
        "",
    ]
    if example.get("rerun"):
        lines += ["Re-run the search that found it:", "", "```", example["rerun"], "```", ""]
    else:
        lines += [
            "Re-run the Hypothesis test (same profile and seed):",
            "",
            "```",
            reproduction.pytest(example["nodeid"]),
            "```",
            "",
        ]
    hypothesis = example.get("hypothesis") or {}
    if hypothesis.get("reproduce_failure"):
        lines += [
            "Or pin the exact example by decorating the test with",
            "",
            "```python",
            hypothesis["reproduce_failure"],
            "```",
            "",
        ]
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
    rows = [
        [
            p.id,
            p.title,
            str(p.tests),
            str(p.examples),
            str(p.holds),
            str(p.violated),
            str(p.inconclusive),
            str(p.errors),
            str(p.skipped),
        ]
        for p in run.properties
    ]
    tables["Properties"] = (header, rows)
    tables["Coverage: examples per family × group kind (rows) × loss class (columns)"] = _coverage_pivot(run.coverage)
    for prop, findings in run.findings.items():
        columns: list[str] = []
        for row in findings:
            for key in row.keys() if isinstance(row, dict) else ["finding"]:
                if key not in columns:
                    columns.append(key)
        rows = [[_short(row.get(c, "")) if isinstance(row, dict) else _short(row) for c in columns] for row in findings]
        tables[f"Findings of {prop}"] = (columns, rows)
    if run.errors:
        tables["Errors (tests that crashed rather than returning a verdict)"] = (
            ["test", "message"],
            [[e["nodeid"], e["message"]] for e in run.errors],
        )
    if run.unfinished:
        tables["Unfinished (the run was interrupted while these ran or waited)"] = (
            ["test"],
            [[nodeid] for nodeid in run.unfinished],
        )
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
        marks = [f"{cell[s]} {s}" for s in (Status.VIOLATED.value, Status.INCONCLUSIVE.value) if cell.get(s)]
        return str(cell["examples"]) + (f" ({', '.join(marks)})" if marks else "")

    rows = [
        [family, kind] + [text(columns.get(loss_class)) for loss_class in LOSS_CLASSES]
        for (family, kind), columns in sorted(by_row.items())
    ]
    return ["family", "group kind", *LOSS_CLASSES], rows


def _headline(run: RunReport, timings: RunTimings) -> list[tuple[str, str]]:
    totals = run.totals
    return [
        ("run", run.run_id),
        ("outcome", run.outcome),
        ("profile", run.profile),
        ("seed", _seed_text(run)),
        (
            "examples",
            (
                f"{totals['examples']} ({totals['holds']} holds, {totals['violated']} violated, "
                f"{totals['inconclusive']} inconclusive)"
            ),
        ),
        ("timings", "timings.json (kept out of every other file, so that a seed gives the same content)"),
    ] + (
        [("left out", f"{left_out} example folders beyond {runs.MAX_REPORTS_PER_PROPERTY} per property")]
        if (left_out := sum(p.reports_left_out for p in run.properties))
        else []
    )


def _seed_text(run: RunReport) -> str:
    if run.seeding == Seeding.DERANDOMIZED:
        return "none: derandomized (the gate draws the same examples every run)"
    if run.seed is None:
        return "random"
    if run.seeding == Seeding.HYPOTHESIS_SEED:
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


_STATUS_VALUES = tuple(status.value for status in Status)
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
    parts = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        f"<title>flowlaws run {escape(run.run_id)}</title><style>{_CSS}</style></head><body>",
        f"<h1>flowlaws run {escape(run.run_id)}</h1>",
        "<dl>",
    ]
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
                css = f" class='{cell}'" if column == "status" and cell in _STATUS_VALUES else ""
                text = escape(cell)
                if column == "report":
                    text = f"<a href='{escape(cell)}/report.md'>{text}</a>"
                cells.append(f"<td{css}>{text}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
