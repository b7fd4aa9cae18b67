"""Test summaries: one test's verdict records reduced, in the process that ran it, to JSON-ready data.

Verdicts travel in three steps. (1) Here, ``summarize_test`` reduces the test's verdict records
(``harness.verdicts.property.RECORDER``) and Hypothesis's failure information to one *test summary*:
counts, coverage cells, exploration findings, and the examples worth a report (each distinct inconclusive
example, and the shrunk counterexample of a failure). (2) The pytest plugin ships that summary to the
xdist controller in ``report.user_properties``, where ``harness.reporting.runs`` gathers and tallies the
summaries. (3) ``harness.reporting.folders`` writes the run folder.

Which records count. While Hypothesis shrinks a counterexample it re-runs the check on hundreds of
variants; those are not examples of the campaign. A test's examples are its records up to its first
violation, plus the final replay of the shrunk counterexample (the last violated record matching the
``PropertyViolation`` that Hypothesis raised).

Timings. Durations (any evidence entry named ``seconds`` or ``*_seconds``, at any depth) are split off
here into the example's ``timings``, so that every other file of a run is a function of the records.
"""

from __future__ import annotations

import builtins
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from harness.jsonable import dumps
from harness.verdicts.verdict import Status

SUMMARY_FORMAT = "flowlaws-test-summary/1"
TIMING_KEYS = ("seconds",)  # evidence entries that measure time (and any ``*_seconds``): only in timings.json
_EXCEPTION_GROUP = getattr(builtins, "BaseExceptionGroup", ())  # Python 3.11+ (none to walk before)
_REPRODUCE_FAILURE = re.compile(r"@reproduce_failure\(.*?\)")


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
            for inner in getattr(error, "exceptions", ()):
                walk(inner)
            return
        if isinstance(error, PropertyViolation):
            notes = [str(note) for note in getattr(error, "__notes__", [])]
            decorators = [m.group(0) for note in notes for m in _REPRODUCE_FAILURE.finditer(note)]
            found.append(
                {
                    "property": error.property.id,
                    "scenario_line": str(error.scenario),
                    "notes": notes,
                    "reproduce_failure": decorators[-1] if decorators else None,
                }
            )

    if exception is not None:
        walk(exception)
    return found


def crash_description(exception: BaseException) -> str:
    """One line for a test that crashed (not a violation): the error, and Hypothesis's reproduce line if any."""
    message = str(exception).splitlines()[0] if str(exception) else ""
    text = f"{type(exception).__name__}: {message}"
    decorators = [
        m.group(0) for note in getattr(exception, "__notes__", []) for m in _REPRODUCE_FAILURE.finditer(str(note))
    ]
    return text + (f" (reproduce with {decorators[-1]})" if decorators else "")


def _group_kind(group_spec: str | None) -> str:
    """The coverage label of a group: its catalogue factor names (``cyclic*flip``), or ``none``."""
    if not group_spec:
        return "none"
    from harness.model.groups import parse_group

    return "*".join(factor.name for factor in parse_group(group_spec).factors)


def _loss_class(loss_name: str) -> str:
    from harness.model.losses import get_loss

    return get_loss(loss_name).loss_class.value


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
    module_properties: Sequence[dict] = (),
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
    first_violation = next((i for i, r in enumerate(records) if r["verdict"]["status"] == Status.VIOLATED), None)
    # The first violation is reported through its shrunk form (the final replay), not as found.
    counted = list(records if first_violation is None else records[:first_violation])
    finals: list[tuple[dict, dict]] = []
    for failure in failures:
        final = next(
            (
                r
                for r in reversed(records)
                if r["verdict"]["status"] == Status.VIOLATED
                and r["property"] == failure["property"]
                and r["scenario_line"] == failure["scenario_line"]
            ),
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
        titles.setdefault(
            record["property"],
            {
                "title": record.get("title", ""),
                "statement": record.get("statement", ""),
                "reference": record.get("reference", ""),
                "exploration": bool(record.get("exploration")),
            },
        )

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
        if record["verdict"]["status"] == Status.INCONCLUSIVE:
            key = dumps([record["property"], record["scenario"]])
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
