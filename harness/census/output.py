"""A census's results as files a reader opens: CSV and JSON tables and an HTML page; conjectured formulas.

The page (``census.html``, with ``census.md`` beside it, both from ``harness.reporting.document``) shows the
headline, a heatmap of extra laws over the grid (a row per network, a column per group × loss × data
class; ``?`` where the count was inconclusive, ``–`` where the set-up was invalid), the set-ups where
augmentation adds laws with the command that replays each, and, with ``--formula``, the rows where the
formula fails.

``Formula('2*n2 + order')`` is a conjectured count: an arithmetic expression (``+ - * / // % **``,
parentheses, ``min``, ``max``, ``abs``) in a row's variables — the spec's numbers (``n1``, ``n2``, … by
position, and ``KEY=`` items by name, e.g. ``k``), ``D``, ``free`` (free-data laws), ``order`` (|G|) and
``fixed`` (the input dimensions every group element fixes); it is parsed once (a bad name or construct is one
clear error) and compared with every conclusive row's ``laws``.
"""

from __future__ import annotations

import ast
import csv
import json
import math
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.census.runner import CensusRow
from harness.errors import InvalidInput
from harness.reporting import document
from harness.reporting.document import Block, Code, Definitions, Heading, Table, Text

CSV_COLUMNS = (
    "arch", "group", "data", "loss", "seed", "status", "D", "laws", "free_laws", "extra_laws", "certificate",
    "stop_reason", "method", "group_order", "group_fixed_inputs", "seconds", "reason", "replay",
)  # fmt: skip
_OPERATORS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}  # fmt: skip
_FUNCTIONS = {"min": min, "max": max, "abs": abs}


@dataclass(frozen=True)
class Formula:
    """A conjectured count as an expression in a row's variables (see the module docstring)."""

    text: str

    def __post_init__(self):
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError as error:
            raise InvalidInput(f"--formula {self.text!r} is not an expression: {error.msg}") from None
        for node in ast.walk(tree):
            allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.USub, ast.UAdd, ast.Constant, ast.Name, ast.Call,
                       ast.Load, *_OPERATORS)  # fmt: skip
            if not isinstance(node, allowed):
                raise InvalidInput(
                    f"--formula {self.text!r}: {type(node).__name__} is not allowed; use numbers, variables, "
                    "+ - * / // % ** and min, max, abs"
                )
            if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
                raise InvalidInput(f"--formula {self.text!r}: only min, max and abs may be called")
            if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
                raise InvalidInput(f"--formula {self.text!r}: {node.value!r} is not a number")

    def value(self, variables: dict) -> float:
        def evaluate(node) -> Any:
            if isinstance(node, ast.Expression):
                return evaluate(node.body)
            if isinstance(node, ast.Constant):
                return node.value
            if isinstance(node, ast.Name):
                if node.id in _FUNCTIONS:
                    return _FUNCTIONS[node.id]
                if node.id not in variables or variables[node.id] is None:
                    known = ", ".join(sorted(k for k, v in variables.items() if v is not None))
                    raise InvalidInput(f"--formula {self.text!r}: unknown variable {node.id!r}; this row has {known}")
                return variables[node.id]
            if isinstance(node, ast.UnaryOp):
                return -evaluate(node.operand) if isinstance(node.op, ast.USub) else evaluate(node.operand)
            if isinstance(node, ast.BinOp):
                return _OPERATORS[type(node.op)](evaluate(node.left), evaluate(node.right))
            assert isinstance(node, ast.Call)
            return evaluate(node.func)(*(evaluate(argument) for argument in node.args))

        return evaluate(ast.parse(self.text, mode="eval"))


def row_variables(row: CensusRow) -> dict:
    return {**row.sizes, "D": row.D, "free": row.free_laws, "order": row.group_order or 1,
            "fixed": row.group_fixed_inputs}  # fmt: skip


def formula_failures(formula: Formula, rows: list[CensusRow]) -> list[tuple[CensusRow, float]]:
    """Conclusive rows where the formula's value differs from the computed count, with that value."""
    failures = []
    for row in rows:
        if row.status != "conclusive" or row.laws is None:
            continue
        try:
            value = formula.value(row_variables(row))
        except ZeroDivisionError:
            value = math.nan
        if not (isinstance(value, (int, float)) and math.isclose(value, row.laws, abs_tol=1e-9)):
            failures.append((row, value))
    return failures


def tallies(rows: list[CensusRow]) -> dict[str, int]:
    counts = {status: 0 for status in ("conclusive", "inconclusive", "invalid", "error")}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    counts["adds laws"] = sum(1 for row in rows if (row.extra_laws or 0) > 0)
    return counts


def _cell(row: CensusRow | None) -> str:
    if row is None:
        return ""
    if row.status == "conclusive":
        return str(row.extra_laws) if row.extra_laws is not None else str(row.laws)
    return "?" if row.status == "inconclusive" else "–"


def _heat(row: CensusRow | None, largest: int) -> str:
    if row is None or row.status != "conclusive":
        return "background: #fff3c4" if row is not None and row.status == "inconclusive" else ""
    extra = row.extra_laws or 0
    if extra <= 0:
        return "background: #eef3ee"
    return f"background: rgba(214, 100, 20, {0.25 + 0.6 * extra / max(largest, 1):.2f})"


def page_blocks(rows: list[CensusRow], headline: list[tuple[str, str]], formula: Formula | None) -> list[Block]:
    columns = sorted({(r.group or "none", r.loss, r.data) for r in rows})
    archs = list(dict.fromkeys(r.arch for r in rows))
    by_cell = {(r.arch, (r.group or "none", r.loss, r.data)): r for r in rows}
    largest = max((r.extra_laws or 0 for r in rows), default=0)
    header = ("network", "D", *(" · ".join(c) for c in columns))
    table_rows, styles = [], {name: [] for name in header[2:]}
    for arch in archs:
        cells = [by_cell.get((arch, c)) for c in columns]
        dims = {r.D for r in cells if r is not None and r.D is not None}
        table_rows.append((arch, str(dims.pop()) if len(dims) == 1 else "", *(_cell(c) for c in cells)))
        for name, row in zip(header[2:], cells):
            styles[name].append(_heat(row, largest))
    blocks: list[Block] = [
        Heading(1, "flowlaws census"),
        Definitions(tuple(headline)),
        Heading(2, "Extra laws over the grid (augmented − free; ? inconclusive, – invalid)"),
        Table(header, tuple(table_rows), cell_classes={k: tuple(v) for k, v in styles.items()}),
    ]
    adding = sorted((r for r in rows if (r.extra_laws or 0) > 0), key=lambda r: (-(r.extra_laws or 0), r.key))
    blocks += [
        Heading(2, f"Set-ups where augmentation adds laws ({len(adding)})"),
        Table(
            ("set-up", "D", "free", "augmented", "extra", "certificate", "replay"),
            tuple(
                (r.key, str(r.D), str(r.free_laws), str(r.laws), str(r.extra_laws), str(r.certificate), f"`{r.replay}`")
                for r in adding
            ),  # fmt: skip
            row_classes=tuple("adds" for _ in adding),
        ),
    ]
    undecided = [r for r in rows if r.status in ("inconclusive", "error")]
    blocks += [
        Heading(2, f"Inconclusive and failed set-ups ({len(undecided)})"),
        Table(
            ("set-up", "status", "reason", "replay"),
            tuple((r.key, r.status, r.reason, f"`{r.replay}`") for r in undecided),
        ),
    ]
    if formula is not None:
        failures = formula_failures(formula, rows)
        blocks += [
            Heading(
                2, f"Formula {formula.text}: fails on {len(failures)} of {tallies(rows)['conclusive']} conclusive rows"
            ),
            Table(
                ("set-up", "counted", "formula", "variables"),
                tuple(
                    (r.key, str(r.laws), f"{v:g}", ", ".join(f"{k}={x}" for k, x in row_variables(r).items()))
                    for r, v in failures
                ),  # fmt: skip
            ),
        ]
    blocks += [Heading(2, "Files"), Code("census.csv  census.json  census.jsonl (the resumable store)")]
    return blocks


def write_outputs(folder: Path, rows: list[CensusRow], headline: list[tuple[str, str]], formula: Formula | None):
    """``census.csv``, ``census.json``, ``census.md`` and ``census.html`` from the rows (rewritten each time)."""
    with (folder / "census.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            record = row.to_dict()
            writer.writerow(["" if record.get(c) is None else record.get(c) for c in CSV_COLUMNS])
    summary = {"headline": dict(headline), "tallies": tallies(rows), "rows": [r.to_dict() for r in rows]}
    if formula is not None:
        summary["formula"] = {
            "text": formula.text,
            "failures": [
                {"key": r.key, "counted": r.laws, "formula": v if math.isfinite(v) else None}
                for r, v in formula_failures(formula, rows)
            ],
        }
    (folder / "census.json").write_text(json.dumps(summary, indent=1, allow_nan=False, default=str) + "\n")
    blocks = page_blocks(rows, headline, formula)
    (folder / "census.md").write_text(document.markdown(blocks))
    (folder / "census.html").write_text(document.html(blocks, "flowlaws census"))
    return summary


__all__ = ["Formula", "Text", "formula_failures", "page_blocks", "tallies", "write_outputs"]
