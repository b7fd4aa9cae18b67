"""Hypothesis profiles of flowlaws: ``quick``, ``ci``, ``thorough`` and ``replay``.

They are registered under our own names and always loaded explicitly (Hypothesis silently loads its
built-in ``ci`` profile when a CI variable is set; ours replaces it). No profile has a deadline, because
the first example in a process may wait for Numba. The example database is a plain directory (by default
``.hypothesis/examples`` in the project, or ``FLOWLAWS_EXAMPLE_DB``) that several machines can share.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from harness.errors import InvalidInput

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROFILE_EXAMPLES = {"quick": 8, "ci": 25, "thorough": 300, "replay": 1}
DEFAULT_PROFILE = "ci"


def example_database_path() -> Path:
    return Path(os.environ.get("FLOWLAWS_EXAMPLE_DB", PROJECT_ROOT / ".hypothesis" / "examples"))


def register_profiles() -> None:
    """Register the four profiles (idempotent)."""
    database = DirectoryBasedExampleDatabase(str(example_database_path()))
    common = dict(
        deadline=None,
        database=database,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    for name, examples in PROFILE_EXAMPLES.items():
        extra = {}
        if name == "replay":
            extra = dict(phases=[Phase.explicit, Phase.reuse], verbosity=Verbosity.verbose)
        settings.register_profile(name, max_examples=examples, **common, **extra)


def load_profile(name: str | None = None) -> str:
    """Load ``name`` (or FLOWLAWS_PROFILE, or ``ci``) and return the name loaded."""
    name = name or os.environ.get("FLOWLAWS_PROFILE") or DEFAULT_PROFILE
    if name not in PROFILE_EXAMPLES:
        raise InvalidInput(f"unknown Hypothesis profile {name!r}; allowed: {', '.join(PROFILE_EXAMPLES)}")
    register_profiles()
    settings.load_profile(name)
    return name
