"""What long commands show while they work, and the hard stop behind ``--timeout``.

``StatusLine`` draws one line on stderr, rewritten in place (``count``: the phase, the bracket level and the
rank of the trace out of D, and the seconds so far), only when stderr is a terminal and the output is not
``--json``. ``hard_stop(seconds)`` is the backstop of a cooperative time budget: a budget is checked between
steps, and if a single step runs ``HARD_STOP_GRACE`` seconds past it, SIGALRM raises ``HardStop`` so that
the command ends instead of hanging.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time

HARD_STOP_GRACE = 30.0  # seconds a single step may run past --timeout before the command is stopped


class HardStop(Exception):
    """A step ran past ``--timeout`` by more than ``HARD_STOP_GRACE``."""


@contextlib.contextmanager
def hard_stop(seconds: float | None):
    if seconds is None or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise HardStop

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class StatusLine:
    """A one-line status on stderr, redrawn at most every 0.2 s (off unless stderr is a terminal)."""

    def __init__(self, enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.started = time.monotonic()
        self.shown = 0.0
        self.width = 0

    def note(self, text: str) -> None:
        if self.enabled:
            self.stream.write(f"flowlaws: {text}\n")
            self.stream.flush()

    def show(self, text: str) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.shown < 0.2:
            return
        self.shown = now
        line = f"{text} ({now - self.started:.0f} s)"
        self.stream.write("\r" + line.ljust(self.width))
        self.width = len(line)
        self.stream.flush()

    def progress(self, phase: str, level: int, rank: int, dimension: int) -> None:
        self.show(f"count: {phase}, level {level}: rank {rank:,} of D = {dimension:,}")

    def close(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
