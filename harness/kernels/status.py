"""How an integration ended: the integer codes the Numba time loop returns, and their named, explained form.

The loop (``harness.kernels.integrators``) returns a small integer, because a compiled kernel cannot return
a Python enum; ``IntegrationStatus.of(code)`` turns it into the str enum every caller sees. A run never hangs
and never returns NaN silently: anything but ``ok`` means the states stop at the last save time reached.
"""

from __future__ import annotations

import enum

STATUS_OK = 0
STATUS_MAX_STEPS = 1
STATUS_BLOW_UP = 2
STATUS_STEP_UNDERFLOW = 3
STATUS_NONFINITE = 4


class IntegrationStatus(str, enum.Enum):
    """The fate of one integration; the value is the name used in JSON, reports and messages (as before)."""

    OK = "ok"
    MAX_STEPS = "max_steps"
    BLOW_UP = "blow_up"
    STEP_UNDERFLOW = "step_underflow"
    NONFINITE = "nonfinite"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def code(self) -> int:
        """The integer the time loop returns for this status."""
        return _CODES[self]

    @property
    def meaning(self) -> str:
        """What the status means, for messages."""
        return _MEANINGS[self]

    @classmethod
    def of(cls, code: int) -> IntegrationStatus:
        """The status the time loop reported as ``code``."""
        return _BY_CODE[int(code)]


_CODES = {
    IntegrationStatus.OK: STATUS_OK,
    IntegrationStatus.MAX_STEPS: STATUS_MAX_STEPS,
    IntegrationStatus.BLOW_UP: STATUS_BLOW_UP,
    IntegrationStatus.STEP_UNDERFLOW: STATUS_STEP_UNDERFLOW,
    IntegrationStatus.NONFINITE: STATUS_NONFINITE,
}
_BY_CODE = {code: status for status, code in _CODES.items()}
_MEANINGS = {
    IntegrationStatus.OK: "the run reached the final time",
    IntegrationStatus.MAX_STEPS: "the step budget (max_steps) ran out before the final time",
    IntegrationStatus.BLOW_UP: "the parameters left the blow-up bound (max |θ| too large)",
    IntegrationStatus.STEP_UNDERFLOW: "the step size needed fell below round-off of t (a stiff or exploding flow, or "
    "a flow time too large for float64 steps)",
    IntegrationStatus.NONFINITE: "the gradient became NaN or infinite",
}
# The names in code order (the order the kernels have always used).
STATUS_NAMES = tuple(_BY_CODE[code].value for code in sorted(_BY_CODE))
