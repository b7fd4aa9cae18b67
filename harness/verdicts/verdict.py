"""Verdicts of numerical and exact checks: holds, violated or inconclusive, with the evidence that decided.

A property never turns an inconclusive case into a pass or a counterexample: it returns a ``Verdict``
whose ``status`` says which, whose ``reason`` says why in one line, and whose ``evidence`` carries the
numbers (drifts, ranks, singular values, gaps) that reports and tests read.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from harness.jsonable import dumps, plain


class Status(str, enum.Enum):
    HOLDS = "holds"
    VIOLATED = "violated"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check on one scenario."""

    status: Status
    reason: str
    evidence: dict = field(default_factory=dict)
    property_id: str = ""
    # The (item, verdict) cases that decided a combined verdict (``harness.verdicts.combinators``); never in JSON.
    cases: tuple = field(default=(), compare=False, repr=False)

    @classmethod
    def holds(cls, reason: str, **evidence) -> "Verdict":
        return cls(Status.HOLDS, reason, evidence)

    @classmethod
    def violated(cls, reason: str, **evidence) -> "Verdict":
        return cls(Status.VIOLATED, reason, evidence)

    @classmethod
    def inconclusive(cls, reason: str, **evidence) -> "Verdict":
        return cls(Status.INCONCLUSIVE, reason, evidence)

    @property
    def deciding(self):
        """The item of the first case that decided a combined verdict (None for a verdict of one case)."""
        return self.cases[0][0] if self.cases else None

    @property
    def is_violation(self) -> bool:
        return self.status is Status.VIOLATED

    def to_dict(self) -> dict:
        return {
            "status": self.status.value,
            "reason": self.reason,
            "property": self.property_id,
            "evidence": plain(self.evidence),
        }

    def to_json(self) -> str:
        return dumps(self.to_dict(), indent=2)

    def __str__(self) -> str:
        return f"{self.status.value}: {self.reason}"
