"""The one JSON rule of flowlaws: how results, evidence and reports become JSON.

``plain(value)`` makes a JSON-ready copy: numpy scalars and arrays become numbers and lists, enums their
value, tuples lists, mapping keys strings, and a non-finite float the string ``"inf"``, ``"-inf"`` or
``"nan"`` (JSON has no such numbers, and ``None`` would lose which one it was). ``dumps`` is ``json.dumps``
of ``plain`` with sorted keys, so equal results give equal text. Every ``to_dict``/``to_json`` in the engine
goes through here; readers turn the three strings back with ``number``.
"""

from __future__ import annotations

import enum
import json
import math
from typing import Any

import numpy as np

NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def plain(value: Any) -> Any:
    """JSON-ready copy of ``value`` (see the module docstring for the rule)."""
    if isinstance(value, dict):
        return {str(k.value if isinstance(k, enum.Enum) else k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def dumps(value: Any, *, indent: int | None = None, sort_keys: bool = True) -> str:
    """``json.dumps`` of ``plain(value)``, keys sorted unless ``sort_keys=False`` (a record that keeps its own
    field order, such as a stored scenario); refuses anything the rule cannot write."""
    return json.dumps(plain(value), indent=indent, sort_keys=sort_keys, allow_nan=False)


def number(value: Any) -> Any:
    """A number read back from JSON: the strings ``"inf"``, ``"-inf"``, ``"nan"`` become floats again."""
    return NON_FINITE.get(value, value) if isinstance(value, str) else value
