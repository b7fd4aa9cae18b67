"""A count's time budget and progress: ``Budget(seconds, progress)``, checked where a count can stop soundly.

A Lie generation checks ``expired()`` between samples and levels; when the budget is spent it stops with
``StopReason.TIMEOUT`` and keeps the ranks it reached as evidence (an inconclusive count, never a guess and
never a hang). ``report`` hands each step to ``progress`` (the CLI draws it as a status line): the phase, the
bracket level and the rank of the trace so far out of D.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Budget:
    """Seconds allowed from creation (None: no limit) and a progress callback (None: silent)."""

    seconds: float | None = None
    progress: Callable[[str, int, int, int], None] | None = None  # (phase, level, rank, D)
    started: float = field(default_factory=time.monotonic)

    def expired(self) -> bool:
        return self.seconds is not None and time.monotonic() - self.started > self.seconds

    def report(self, phase: str, level: int, rank: int, dimension: int) -> None:
        if self.progress is not None:
            self.progress(phase, level, rank, dimension)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


UNLIMITED = Budget()
