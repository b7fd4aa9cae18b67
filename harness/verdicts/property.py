"""What a property is, and how its verdicts reach pytest and the reports.

A property module (``properties/prop_*.py``) defines one ``Property`` (statement, reference, ``check``)
and a thin Hypothesis test that draws scenarios and calls ``enforce(PROPERTY, scenario)``. ``enforce``
records every verdict for the report (holds, violated and inconclusive alike) and fails the test only on a
violation; an inconclusive case is counted and shown, never silently passed or failed.

The recorder is per process: the pytest plugin sets the current test before each test and ships what was
recorded to the xdist controller in ``report.user_properties``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from harness.model.scenario import Scenario
from harness.verdicts.verdict import Status, Verdict


@dataclass(frozen=True)
class Property:
    """A theorem-level claim with the check that decides it on one scenario."""

    id: str
    title: str
    statement: str
    reference: str
    check: Callable[[Scenario], Verdict]
    exploration: bool = False  # records findings instead of passing/failing

    def verdict(self, scenario: Scenario) -> Verdict:
        """Run the check and label the verdict with this property's id."""
        start = time.perf_counter()
        verdict = self.check(scenario)
        evidence = dict(verdict.evidence)
        evidence.setdefault("seconds", round(time.perf_counter() - start, 4))
        return Verdict(verdict.status, verdict.reason, evidence, property_id=self.id)


@dataclass
class Recorder:
    """Verdict records of the running test (one process)."""

    current_test: str | None = None
    records: list[dict] = field(default_factory=list)

    def record(self, prop: Property, scenario: Scenario, verdict: Verdict, events: dict | None = None) -> None:
        self.records.append({
            "test": self.current_test,
            "property": prop.id,
            "title": prop.title,
            "statement": prop.statement,
            "reference": prop.reference,
            "exploration": prop.exploration,
            "scenario": scenario.with_arrays().to_dict() if verdict.status is not Status.HOLDS else scenario.to_dict(),
            "scenario_line": str(scenario),
            "verdict": verdict.to_dict(),
            "events": events or {},
        })

    def take(self) -> list[dict]:
        records, self.records = self.records, []
        return records


RECORDER = Recorder()


class PropertyViolation(AssertionError):
    """A property's check returned ``violated``; the message carries the scenario and the evidence."""

    def __init__(self, prop: Property, scenario: Scenario, verdict: Verdict):
        self.property = prop
        self.scenario = scenario
        self.verdict = verdict
        super().__init__(f"{prop.id} violated on [{scenario}]: {verdict.reason}\nevidence: {verdict.to_json()}")


def enforce(prop: Property, scenario: Scenario, *, events: dict | None = None) -> Verdict:
    """Check ``scenario``, record the verdict, raise ``PropertyViolation`` if it is violated.

    Inside a Hypothesis test the verdict's status is also reported as an ``event`` and the scenario as a
    ``note`` so that statistics and failure output name them.
    """
    verdict = prop.verdict(scenario)
    try:
        from hypothesis import event, note

        note(f"scenario: {scenario}")
        event(f"verdict: {verdict.status.value}")
    except Exception:  # outside a Hypothesis test event/note raise; the verdict still counts
        pass
    RECORDER.record(prop, scenario, verdict, events)
    if verdict.status is Status.VIOLATED:
        raise PropertyViolation(prop, scenario, verdict)
    return verdict
