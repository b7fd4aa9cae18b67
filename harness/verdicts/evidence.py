"""Typed evidence: the records a verdict carries that reports, replays and plots read.

A verdict's ``evidence`` is a mapping from names to JSON-ready values (``harness.jsonable``). Two kinds of
evidence are read back by the reporting side and drawn, so their layout is written once, here:

- ``DriftSeries``, under the key ``"series"``: the drift of each law along a flow against the integrator's
  own error estimate (``drift.png``);
- ``Spectrum``, under the keys ``"singular_values"`` and ``"gap"``: the singular values of the matrix whose
  rank decided and the ``Gap`` that set the rank (``spectrum.png``; the record is the spectral-gap rule's
  own, ``harness.algebra.spectral.Gap``).

Producers put a record into a verdict with ``**record.as_evidence()``; readers get it back with
``DriftSeries.from_evidence(evidence)`` / ``Spectrum.from_evidence(evidence)`` (``None`` when absent or
malformed), whether the evidence is a fresh verdict's or one read from a report's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from harness.algebra.spectral import Gap
from harness.jsonable import number, plain

SERIES_KEY = "series"
SINGULAR_VALUES_KEY = "singular_values"
GAP_KEY = "gap"


@dataclass(frozen=True)
class Spectrum:
    """Singular values σ₁ ≥ σ₂ ≥ … of the matrix whose rank decided, and the gap that decided it."""

    singular_values: tuple[float, ...]
    gap: Gap | None = None

    def as_evidence(self) -> dict:
        return {
            SINGULAR_VALUES_KEY: [float(v) for v in self.singular_values],
            GAP_KEY: None if self.gap is None else self.gap.to_dict(),
        }

    @classmethod
    def from_evidence(cls, evidence: Mapping) -> Spectrum | None:
        values = evidence.get(SINGULAR_VALUES_KEY)
        if not isinstance(values, (list, tuple)) or not values:
            return None
        return cls(tuple(float(number(v)) for v in values), Gap.from_dict(evidence.get(GAP_KEY)))


@dataclass(frozen=True)
class DriftSeries:
    """Drift |h(θ(t)) − h(θ₀)| of each named law at ``times``, beside the integrator's error estimate."""

    times: tuple[float, ...]
    drift: Mapping[str, tuple[float, ...]]
    error: tuple[float, ...] = ()
    error_label: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # further keys a producer records beside the curves

    def as_evidence(self) -> dict:
        record: dict[str, Any] = {
            "times": list(self.times),
            "drift": {k: list(v) for k, v in self.drift.items()},
            "error": list(self.error),
        }
        if self.error_label is not None:
            record["error_label"] = self.error_label
        record.update(self.extra)
        return {SERIES_KEY: plain(record)}

    @classmethod
    def from_evidence(cls, evidence: Mapping) -> DriftSeries | None:
        series = evidence.get(SERIES_KEY)
        if not isinstance(series, Mapping) or not series.get("times") or not isinstance(series.get("drift"), Mapping):
            return None
        known = {"times", "drift", "error", "error_label"}
        return cls(
            tuple(float(number(t)) for t in series["times"]),
            {str(k): tuple(float(number(x)) for x in v) for k, v in series["drift"].items()},
            tuple(float(number(e)) for e in series.get("error") or ()),
            series.get("error_label"),
            {k: v for k, v in series.items() if k not in known},
        )

    def describe(self) -> str:
        """One line for a report's evidence table (the curves themselves are drawn in drift.png)."""
        return (
            f"{len(self.times)} times; drift of: {', '.join(self.drift)}; "
            f"integrator error: {'yes' if self.error else 'no'} (see drift.png)"
        )
