"""The one spectral-gap rule: where a float spectrum drops, and whether the drop is clear enough to set a rank.

A float matrix has no rank, only singular values σ₁ ≥ σ₂ ≥ …; flowlaws reads a rank off them at the largest
ratio σ_k/σ_(k+1). Values are taken relative to σ₁ and raised to a ``floor`` (the noise level: machine
epsilon for a matrix evaluated at one point, the data's noise for a sampled leaf) so that ratios among noise
are 1 and cannot win; one floor value is appended so that "no small value at all" (full rank) is a candidate
too. The rank is the k of the largest ratio (the first one on a tie).

Whether the gap sets the rank is ``SpectralGap.clear``: the ratio reaches ``threshold``, and, where the
caller asks for a ``unique`` gap, no other ratio does (two gaps mean the floor is not where the noise is).
The counting engine uses ``GAP_THRESHOLD`` = 1e6 at the epsilon floor (a largest ratio suffices there);
``SpectralGap.as_gap()`` is the ``Gap`` record a count and its verdicts carry as evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from harness.jsonable import number, plain

GAP_THRESHOLD = 1e6  # a float rank is accepted only when σ_r / σ_{r+1} is at least this
ROUNDING_FLOOR = 2.2e-16  # float64 machine epsilon: relative singular values below it are rounding noise


@dataclass(frozen=True)
class Gap:
    """The spectral gap that set a numerical rank: σ_index / σ_(index+1) = ``ratio`` against ``threshold``.

    ``index`` is the rank (the number of singular values above the gap); ``ratio`` is ``None`` when there was
    no gap to measure (rank 0 or full rank); ``floor`` and ``runner_up`` are the noise floor and the second
    largest ratio, where the rule that decided reports them.
    """

    index: int
    ratio: float | None
    threshold: float
    floor: float | None = None
    runner_up: float | None = None

    def to_dict(self) -> dict:
        record: dict[str, Any] = {"index": self.index, "ratio": self.ratio, "threshold": self.threshold}
        if self.floor is not None or self.runner_up is not None:
            record.update(floor=self.floor, runner_up=self.runner_up)
        return plain(record)

    @classmethod
    def from_dict(cls, record: Any) -> Gap | None:
        if not isinstance(record, Mapping) or "index" not in record:
            return None
        return cls(
            int(record["index"]),
            number(record.get("ratio")),
            float(number(record.get("threshold", 0.0))),
            number(record.get("floor")),
            number(record.get("runner_up")),
        )


@dataclass(frozen=True)
class SpectralGap:
    """The largest ratio σ_k/σ_(k+1) of a spectrum clipped below at ``floor`` (relative to σ₁), and its k.

    ``rank`` is k, the number of values above the gap (0 and ratio ∞ for an empty or zero spectrum);
    ``runner_up`` is the second largest ratio (1.0 when there is none).
    """

    rank: int
    ratio: float
    threshold: float
    floor: float
    runner_up: float = 1.0
    unique: bool = False

    @classmethod
    def of(
        cls, values, *, threshold: float = GAP_THRESHOLD, floor: float = ROUNDING_FLOOR, unique: bool = False
    ) -> SpectralGap:
        values = np.sort(np.abs(np.asarray(values, dtype=float)))[::-1]
        if values.size == 0 or values[0] == 0.0:
            return cls(0, math.inf, threshold, floor, unique=unique)
        clipped = np.append(np.maximum(values / values[0], floor), floor)
        ratios = clipped[:-1] / clipped[1:]
        order = np.argsort(-ratios, kind="stable")  # the first k on a tie
        runner_up = float(ratios[order[1]]) if ratios.size > 1 else 1.0
        return cls(int(order[0]) + 1, float(ratios[order[0]]), threshold, floor, runner_up, unique)

    @property
    def clear(self) -> bool:
        """The ratio reaches the threshold (and, for a ``unique`` gap, the runner-up does not)."""
        return self.ratio >= self.threshold and not (self.unique and self.runner_up >= self.threshold)

    @property
    def reason(self) -> str:
        """Why the gap is not clear ('' if it is)."""
        if self.ratio < self.threshold:
            return f"no spectral gap: largest σ_k/σ_(k+1) = {self.ratio:.3g} < {self.threshold:g} at k = {self.rank}"
        if not self.clear:
            return (
                f"two spectral gaps: {self.ratio:.3g} at k = {self.rank} and {self.runner_up:.3g}, both above "
                f"{self.threshold:g}; the noise is not at the floor {self.floor:g}"
            )
        return ""

    def as_gap(self) -> Gap:
        """The evidence record: the rank set, the ratio and the threshold it was held against."""
        return Gap(self.rank, self.ratio, self.threshold)
