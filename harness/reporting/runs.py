"""A run's content: the test summaries gathered by the controller, tallied per property, in a fixed order.

Step (2) of a verdict's journey (``harness.reporting.summaries`` has step 1): the controller's
``RunCollector`` receives the test summaries in whatever order xdist's workers finish them; ``build_run``
turns them into a ``RunReport`` (everything ``index.json`` holds) and ``RunTimings`` (``timings.json``).

Same seed, same content: the report is a function of the set of summaries, never of their arrival order;
durations and wall-clock times go to ``RunTimings`` only.
"""

from __future__ import annotations

import enum
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from harness.jsonable import dumps
from harness.reporting.provenance import Provenance
from harness.reporting.summaries import SUMMARY_FORMAT
from harness.verdicts.verdict import Status

RUN_FORMAT = "flowlaws-run/1"
# A run whose checks are mostly inconclusive would otherwise write thousands of folders; the index says
# how many were left out.
MAX_REPORTS_PER_PROPERTY = 100


class Seeding(str, enum.Enum):
    """How a run's draws were fixed (``RunReport.seeding``; ``None`` when unknown, e.g. outside pytest)."""

    FLOWLAWS_SEED = "flowlaws-seed"
    HYPOTHESIS_SEED = "hypothesis-seed"
    DERANDOMIZED = "derandomized"

    def __str__(self) -> str:
        return self.value

    @property
    def message(self) -> str:
        return {
            Seeding.FLOWLAWS_SEED: "an explorer's draws from --flowlaws-seed and each test's node id; the example "
            "database stays on",
            Seeding.HYPOTHESIS_SEED: "Hypothesis's --hypothesis-seed: the example database is bypassed",
            Seeding.DERANDOMIZED: "derandomized (the gate: the same examples every run, no example database)",
        }[self]


class RunOutcome(str, enum.Enum):
    """What a run found, in order of precedence: a violation, then a crashed test, then an interruption."""

    VIOLATED = "violated"
    ERRORS = "errors"
    INTERRUPTED = "interrupted"
    NO_VIOLATION = "no violation"

    def __str__(self) -> str:
        return self.value

    def describe(self, unfinished: int = 0) -> str:
        """The index's ``outcome`` line (an interrupted run says how many tests did not finish)."""
        if self is RunOutcome.INTERRUPTED:
            return f"interrupted ({unfinished} tests did not finish); no violation in the rest"
        return self.value


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
    seeding: Seeding | None = None  # how the draws were fixed (None: unknown, e.g. a report built outside pytest)
    provenance: Provenance | None = None  # the command, versions and git commit (None: not recorded)

    @property
    def totals(self) -> dict:
        return {
            key: sum(getattr(p, key) for p in self.properties)
            for key in ("examples", "holds", "violated", "inconclusive", "errors", "skipped")
        }

    @property
    def outcome_kind(self) -> RunOutcome:
        totals = self.totals
        if totals["violated"]:
            return RunOutcome.VIOLATED
        if totals["errors"]:
            return RunOutcome.ERRORS
        if self.unfinished:
            return RunOutcome.INTERRUPTED
        return RunOutcome.NO_VIOLATION

    @property
    def outcome(self) -> str:
        """The outcome as the index states it (``RunOutcome.describe``)."""
        return self.outcome_kind.describe(len(self.unfinished))

    def to_dict(self) -> dict:
        return {
            "format": RUN_FORMAT,
            "run_id": self.run_id,
            "profile": self.profile,
            "seed": self.seed,
            "seeding": None if self.seeding is None else Seeding(self.seeding).value,
            "provenance": None if self.provenance is None else self.provenance.to_dict(),
            "outcome": self.outcome,
            "totals": self.totals,
            "properties": [p.to_dict() for p in self.properties],
            "coverage": list(self.coverage),
            "findings": self.findings,
            "errors": list(self.errors),
            "unfinished": list(self.unfinished),
            "examples": [
                {k: e[k] for k in ("folder", "property", "nodeid", "scenario_line")}
                | {"also_in": list(e.get("also_in", ()))}
                | {"status": e["verdict"]["status"], "reason": e["verdict"]["reason"]}
                for e in self.examples
            ],
        }


@dataclass(frozen=True)
class RunTimings:
    started: float
    finished: float
    property_seconds: dict
    example_seconds: dict

    def to_dict(self) -> dict:
        return {
            "started_utc": _utc(self.started),
            "finished_utc": _utc(self.finished),
            "seconds": round(self.finished - self.started, 3),
            "properties": {k: round(v, 3) for k, v in sorted(self.property_seconds.items())},
            "examples": {k: v for k, v in sorted(self.example_seconds.items())},
        }


def _utc(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def _row_order(row) -> str:
    return dumps(row)


def build_run(
    collector: RunCollector,
    *,
    run_id: str,
    profile: str,
    seed: int | None,
    started: float,
    finished: float | None = None,
    unfinished=(),
    seeding: Seeding | None = None,
    provenance: Provenance | None = None,
) -> tuple[RunReport, RunTimings]:
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
    property_seconds: defaultdict[str, float] = defaultdict(float)
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
            errors.append(
                {"nodeid": summary["nodeid"], "properties": summary["properties"], "message": summary["error"]}
            )
        for example in summary["examples"]:
            _add_example(examples_by_property[example["property"]], example)

    examples: list[dict] = []
    tallies = []
    example_seconds = {}
    for prop in sorted(tests):
        # Violations first, then by test and scenario: the folders are numbered from the set of examples,
        # not from the order a test happened to draw them in.
        ordered = sorted(
            examples_by_property[prop],
            key=lambda e: (e["verdict"]["status"] != Status.VIOLATED, e["nodeid"], e["scenario_line"]),
        )
        kept = ordered[:MAX_REPORTS_PER_PROPERTY]
        folders = []
        for number, example in enumerate(kept, start=1):
            folder = f"{slug(prop)}-{number}"
            folders.append(folder)
            examples.append({**example, "folder": folder})
            example_seconds[folder] = example.get("timings") or {}
        description = descriptions.get(prop, {})
        tally = counts[prop]
        tallies.append(
            PropertyTally(
                id=prop,
                title=description.get("title", ""),
                reference=description.get("reference", ""),
                exploration=bool(description.get("exploration")),
                tests=tests[prop],
                examples=tally["examples"],
                holds=tally["holds"],
                violated=tally["violated"],
                inconclusive=tally["inconclusive"],
                errors=errors_by_property[prop],
                skipped=skipped[prop],
                reports=tuple(folders),
                reports_left_out=len(ordered) - len(kept),
            )
        )
    cells = []
    for key in sorted(coverage):
        family, group_kind, loss_class = key.split("|")
        tally = coverage[key]
        cells.append(
            {
                "family": family,
                "group_kind": group_kind,
                "loss_class": loss_class,
                "examples": sum(tally.values()),
                **{s.value: tally.get(s.value, 0) for s in Status},
            }
        )
    run = RunReport(
        run_id=run_id,
        profile=profile,
        seed=seed,
        properties=tuple(tallies),
        coverage=tuple(cells),
        # Rows sorted by content: a test's draws may come in another order under xdist than in one
        # process (same set), and the index must not depend on it.
        findings={k: sorted(findings[k], key=_row_order) for k in sorted(findings)},
        errors=tuple(errors),
        examples=tuple(examples),
        unfinished=tuple(sorted(unfinished)),
        seeding=None if seeding is None else Seeding(seeding),
        provenance=provenance,
    )
    timings = RunTimings(
        started, finished if finished is not None else time.time(), dict(property_seconds), example_seconds
    )
    return run, timings


def _add_example(kept: list[dict], example: dict) -> None:
    """Keep ``example`` unless the same scenario with the same verdict is kept already (two tests drew it):
    then the kept one names the other test in ``also_in``, and the reader sees one folder, not two."""
    for other in kept:
        if other["scenario"] == example["scenario"] and other["verdict"]["status"] == example["verdict"]["status"]:
            if example["nodeid"] != other["nodeid"] and example["nodeid"] not in other.setdefault("also_in", []):
                other["also_in"].append(example["nodeid"])
            return
    kept.append(dict(example))


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "property"
