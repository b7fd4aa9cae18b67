"""Option values given as text (the commands' options, pytest's ``--flowlaws-seed``), parsed strictly: a bad one
is one ``InvalidInput`` line.

argparse's own ``type=`` errors print the usage block as well, and Python's ``int``/``float`` accept more than
a user means (full-width digits, ``1_0``, ``nan``, ``inf``). These parsers take the option's raw text and name
the option, the value and what is allowed.
"""

from __future__ import annotations

import math
import re

from harness.errors import InvalidInput
from harness.model.data import MAX_SEED

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def integer_option(name: str, text: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``text`` as an integer in [minimum, maximum] (ASCII digits only)."""
    allowed = f"an integer from {minimum:,}" + (f" to {maximum:,}" if maximum is not None else " up")
    if not isinstance(text, str) or not _INTEGER.fullmatch(text.strip()):
        raise InvalidInput(f"{name} {text!r} is not an integer; allowed: {allowed}")
    value = int(text.strip())
    if value < minimum or (maximum is not None and value > maximum):
        raise InvalidInput(f"{name} {text.strip()} is out of range; allowed: {allowed}")
    return value


def seed_option(name: str, text: str) -> int:
    """A seed: an integer from 0 to 2**64 − 1 (negative seeds are refused by NumPy)."""
    if not isinstance(text, str) or not _INTEGER.fullmatch(text.strip()) or not 0 <= int(text.strip()) <= MAX_SEED:
        raise InvalidInput(f"{name} {text!r} is not a valid seed; allowed: an integer from 0 to 2**64 - 1")
    return int(text.strip())


def positive_number_option(name: str, text: str, *, what: str = "number", minimum: float | None = None) -> float:
    """``text`` as a positive finite float (decimal notation, ASCII digits; no nan or inf), at least ``minimum``."""
    allowed = f"a positive finite {what}" + (f" of at least {minimum:g}" if minimum is not None else "")
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text.strip()):
        raise InvalidInput(f"{name} {text!r} is not a number; allowed: {allowed}")
    value = float(text.strip())
    if not (math.isfinite(value) and value > 0) or (minimum is not None and value < minimum):
        raise InvalidInput(f"{name} {text.strip()} is out of range; allowed: {allowed}")
    return value
