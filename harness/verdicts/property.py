"""What a property is, and how its verdicts reach pytest and the reports.

A property module (``properties/prop_*.py``) defines one ``Property`` (statement, reference, ``check``)
and a thin Hypothesis test that draws scenarios and calls ``enforce(PROPERTY, scenario)``. ``enforce``
records every verdict for the report (holds, violated and inconclusive alike) and fails the test only on a
violation; an inconclusive case is counted and shown, never silently passed or failed.

The recorder is per process: the pytest plugin sets the current test before each test and ships what was
recorded to the xdist controller in ``report.user_properties``.

Planted claims. A property must be able to fail (STYLE.md: every property comes with a planted wrong claim
it refutes). The one seam for that is ``Plant``: a record of what a check should believe instead of the
truth (other laws, another count, the premise skipped...), passed as ``check(scenario, plant=...)``; each
``Property`` lists in ``plants`` the fields its check understands, and ``Property.verdict(scenario, plant)``
refuses a plant the check would silently ignore.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable

from harness.errors import InvalidInput
from harness.model.scenario import Scenario
from harness.verdicts.verdict import Status, Verdict


@dataclass(frozen=True)
class Plant:
    """A planted wrong claim: what a property's check believes instead of the truth, so that a test sees the
    harness refute it. Every field left at its default plants nothing; a property says which it understands.
    """

    laws: tuple[str, ...] | None = None  # the laws claimed (extra laws of Theorems 1, 2), in parameter symbols
    law_values: Callable[[Any], Any] | None = None  # claimed laws as θ ↦ (values, scales) (known laws, Property 2)
    count: int | None = None  # a claimed law count in place of the published or counted one
    field_loss: str | None = None  # the loss whose gradients stand for the class in a formula-free test
    swap_counts: bool = False  # the augmented and free counts exchanged
    plain_data: bool = False  # plain data where the claim is about augmented data
    skip_premise: bool = False  # the theorem's premise left unchecked (e.g. the loss's invariance)

    def planted(self) -> frozenset[str]:
        """The names of the fields this plant sets."""
        return frozenset(f.name for f in fields(self) if getattr(self, f.name) != f.default)

    def __bool__(self) -> bool:
        return bool(self.planted())


NO_PLANT = Plant()


@dataclass(frozen=True)
class Property:
    """A theorem-level claim with the check that decides it on one scenario.

    ``check(scenario)`` returns a ``Verdict``; a property that can be planted (``plants`` non-empty) takes
    ``check(scenario, plant=Plant(...))`` as well, and understands exactly the ``Plant`` fields in ``plants``.
    """

    id: str
    title: str
    statement: str
    reference: str
    check: Callable[..., Verdict]
    exploration: bool = False  # records findings instead of passing/failing
    plants: frozenset[str] = frozenset()  # the Plant fields the check understands
    # A property whose cases are not ``Scenario``s (a zoo model, a claim with sizes) reads its stored case
    # (a report's scenario.json, with its own "format" key) back with this, so that ``flowlaws replay`` works.
    case_from_dict: Callable[[dict], Any] | None = None

    def verdict(self, scenario: Scenario, plant: Plant = NO_PLANT) -> Verdict:
        """Run the check (believing ``plant``, if any) and label the verdict with this property's id."""
        unknown = plant.planted() - self.plants
        if unknown:
            raise InvalidInput(
                f"property {self.id} cannot be planted with {', '.join(sorted(unknown))}; it "
                f"understands {', '.join(sorted(self.plants)) or 'no plant'}"
            )
        start = time.perf_counter()
        verdict = self.check(scenario, plant=plant) if plant else self.check(scenario)
        evidence = dict(verdict.evidence)
        evidence.setdefault("seconds", round(time.perf_counter() - start, 4))
        return Verdict(verdict.status, verdict.reason, evidence, property_id=self.id)


@dataclass
class Recorder:
    """Verdict records of the running test (one process)."""

    current_test: str | None = None
    records: list[dict] = field(default_factory=list)

    def record(self, prop: Property, scenario: Scenario, verdict: Verdict, events: dict | None = None) -> None:
        self.records.append(
            {
                "test": self.current_test,
                "property": prop.id,
                "title": prop.title,
                "statement": prop.statement,
                "reference": prop.reference,
                "exploration": prop.exploration,
                "scenario": scenario.with_arrays().to_dict()
                if verdict.status is not Status.HOLDS
                else scenario.to_dict(),
                "scenario_line": str(scenario),
                "verdict": verdict.to_dict(),
                "events": events or {},
            }
        )

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


def enforce(prop: Property, scenario: Scenario, *, events: dict | None = None, plant: Plant = NO_PLANT) -> Verdict:
    """Check ``scenario``, record the verdict, raise ``PropertyViolation`` if it is violated.

    Inside a Hypothesis test the verdict's status is also reported as an ``event`` and the scenario as a
    ``note`` so that statistics and failure output name them.
    """
    verdict = prop.verdict(scenario, plant)
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
