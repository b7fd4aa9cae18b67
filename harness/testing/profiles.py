"""Hypothesis profiles of flowlaws: the gate ``ci`` and the explorers ``quick`` and ``thorough`` (and ``replay``).

Two kinds of run, on purpose (DESIGN.md §3):

- the **gate** ``ci`` (pytest's default, README's test command, CI) is derandomized: every run draws the
  same examples, whatever the machine, the day or pytest-xdist's scheduling, so CI cannot go red at random.
  ``derandomize=True`` implies ``database=None`` in Hypothesis: the gate neither reads nor writes the example
  database, and every counterexample worth keeping is an explicit ``@example`` or a regression test;
- the **explorers** ``quick`` and ``thorough`` (``flowlaws run``, ``pytest --flowlaws-profile thorough``)
  draw fresh examples and read and write the shared example database, a plain directory
  (``harness.environment.example_database_dir()``: ``FLOWLAWS_EXAMPLE_DB``, else
  ``<project>/.hypothesis/examples``) that several machines can share, so a failure found anywhere replays
  first everywhere. Their draws are reproducible from the plugin's ``--flowlaws-seed``, which, unlike
  ``--hypothesis-seed``, keeps the database on;
- ``replay`` runs only explicit and saved examples.

They are registered under our own names and always loaded explicitly (Hypothesis silently loads its
built-in ``ci`` profile when a CI variable is set; ours replaces it). No profile has a deadline, because
the first example in a process may wait for Numba.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from harness.errors import InvalidInput

PROFILE_EXAMPLES = {"quick": 8, "ci": 25, "thorough": 300, "replay": 1}
GATE_PROFILES = ("ci",)  # derandomized, no example database
EXPLORER_PROFILES = ("quick", "thorough")  # fresh draws, the shared example database
DEFAULT_PROFILE = "ci"


def example_database_path() -> Path:
    """The example database folder the explorer profiles use (see ``harness.environment``)."""
    from harness.environment import example_database_dir

    return example_database_dir()


def register_profiles(database_path: str | Path | None = None) -> None:
    """Register the four profiles (idempotent); the explorers' database is ``database_path`` or the default."""
    database = DirectoryBasedExampleDatabase(str(database_path or example_database_path()))
    common = {
        "deadline": None,
        "print_blob": True,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    }
    for name, examples in PROFILE_EXAMPLES.items():
        if name in GATE_PROFILES:
            extra = {"derandomize": True, "database": None}
        elif name == "replay":
            extra = {"database": database, "phases": [Phase.explicit, Phase.reuse], "verbosity": Verbosity.verbose}
        else:
            extra = {"database": database}
        # An explicit parent: register_profile otherwise inherits from the profile loaded now, which under a CI
        # variable is Hypothesis's own derandomized ``ci`` and would turn the explorers into gates.
        settings.register_profile(
            name, parent=settings.get_profile("default"), max_examples=examples, **common, **extra
        )


def is_explorer(profile_settings: settings | None = None) -> bool:
    """Whether the settings in force (default: the loaded profile) draw fresh, seedable examples."""
    current = profile_settings if profile_settings is not None else settings()
    return not current.derandomize and Phase.generate in current.phases


def load_profile(name: str | None = None, database_path: str | Path | None = None) -> str:
    """Load ``name`` (or FLOWLAWS_PROFILE, or ``ci``) and return the name loaded."""
    name = name or os.environ.get("FLOWLAWS_PROFILE") or DEFAULT_PROFILE
    if name not in PROFILE_EXAMPLES:
        raise InvalidInput(f"unknown Hypothesis profile {name!r}; allowed: {', '.join(PROFILE_EXAMPLES)}")
    register_profiles(database_path)
    settings.load_profile(name)
    return name


def database_problem(database) -> str | None:
    """Why ``database`` (a settings' example database) cannot keep examples, or None when it can.

    Hypothesis swallows every OSError of a ``DirectoryBasedExampleDatabase`` (a read-only or broken folder
    silently keeps nothing), so the plugin asks once, before the run, and says so in one warning line.
    """
    if not isinstance(database, DirectoryBasedExampleDatabase):
        return None
    path = Path(database.path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(prefix=".flowlaws-probe-", dir=path):
            pass
        os.listdir(path)
    except OSError as error:
        return (
            f"the example database at {path} is not usable ({error.strerror or error}): "
            "failures found in this run will not be saved or replayed"
        )
    return None
