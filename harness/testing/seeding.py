"""Seeding of a campaign's draws: which seed a run uses, and how each test's Hypothesis draws follow from it.

Under the derandomized gate (``ci``) there is no seed and no example database. Under an explorer profile
every test's draws come from ``--flowlaws-seed S`` (drawn and recorded when not given) and the test's node
id (``per_test_seed``), while the example database stays on: Hypothesis's own ``--hypothesis-seed`` also
fixes the draws, but disables the database (Hypothesis sets no database key under a forced seed), so
failures found elsewhere are not replayed and new ones are not saved. How a run was seeded is a
``harness.reporting.runs.Seeding``, recorded in its report.
"""

from __future__ import annotations

import hashlib
import random
import secrets

import pytest

from harness.reporting.runs import Seeding


def hypothesis_seed(value: str | int | None) -> int | str | None:
    """Hypothesis's ``--hypothesis-seed`` as given (an int when it is one), or None."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def choose_seed(
    profile: str,
    *,
    forced: int | str | None,
    given: int | None,
    explorer: bool,
    derandomized: bool,
    worker_seed: int | None,
) -> tuple[int | str | None, Seeding | None]:
    """The run's seed and how it was fixed, or a ``pytest.UsageError`` for options that contradict each other.

    ``forced``: ``--hypothesis-seed``; ``given``: ``--flowlaws-seed``; ``worker_seed``: the seed an xdist
    controller handed this worker (``None`` in the controller or a single process).
    """
    if given is not None and not explorer:
        raise pytest.UsageError(
            f"flowlaws: --flowlaws-seed has no effect under the {profile} profile, which is "
            "derandomized (the gate); use --flowlaws-profile quick or thorough to explore"
        )
    if given is not None and forced is not None:
        raise pytest.UsageError(
            "flowlaws: give --flowlaws-seed (keeps the example database) or --hypothesis-seed (bypasses it), not both"
        )
    if forced is not None:
        return forced, Seeding.HYPOTHESIS_SEED
    if not explorer:
        return None, (Seeding.DERANDOMIZED if derandomized else None)
    if worker_seed is not None:
        return worker_seed, Seeding.FLOWLAWS_SEED
    return (given if given is not None else secrets.randbelow(2**32)), Seeding.FLOWLAWS_SEED


def per_test_seed(seed: int, nodeid: str) -> int:
    """The seed of one test's draws in an explorer run: a function of the run's seed and the node id only.

    Node ids are relative to the rootdir, so the same test on another host or xdist worker, in any order,
    draws the same examples.
    """
    return int.from_bytes(hashlib.sha256(f"{seed}\0{nodeid}".encode()).digest()[:16], "big")


def seed_hypothesis(seed: int) -> int:
    """Make the next @given test of this thread draw from ``Random(seed)``; returns the seed it will use.

    Private API, on purpose. Hypothesis draws an unforced, non-derandomized test's seed from
    ``hypothesis.core.threadlocal._hypothesis_global_random`` (``get_random_for_wrapped_test``). The public
    ways to fix that seed disable the example database: ``--hypothesis-seed`` sets ``global_force_seed``,
    under which ``run_engine`` uses no database key, and ``@seed`` / ``derandomize`` imply database=None.
    Replacing the per-thread Random just before the test keeps the database on. ``tests/test_gate.py`` fails
    loudly if a Hypothesis upgrade changes this, and ``check_seed_reached`` warns at run time.
    """
    import hypothesis.core

    threadlocal = hypothesis.core.threadlocal
    threadlocal._hypothesis_global_random = random.Random(seed)
    return random.Random(seed).getrandbits(128)  # what get_random_for_wrapped_test will draw from it


def check_seed_reached(item, expected: int) -> None:
    """Warn when the seed ``seed_hypothesis`` planted is not the one Hypothesis used for ``item``."""
    # Hypothesis records the seed it drew from the per-thread Random on the wrapped test (None when the
    # test fixed its own with @seed or derandomize, which is the test's choice, not a failure).
    used = getattr(item.obj, "_hypothesis_internal_use_generated_seed", None)
    if used is not None and used != expected:
        item.warn(
            pytest.PytestWarning(
                "flowlaws: --flowlaws-seed did not reach Hypothesis (its private per-thread Random changed?): "
                "this test's draws are not reproducible from the seed; see harness.testing.seeding.seed_hypothesis"
            )
        )


def pin_local_constants() -> None:
    """Stop Hypothesis from drawing the literals of whatever local modules happen to be imported.

    Private API, on purpose. Hypothesis (``providers._get_local_constants``) mixes into its draws the
    constants of every non-site-packages module in ``sys.modules`` at draw time, so the same test with the
    same seed draws differently depending on which tests ran before it in that process, i.e. on
    pytest-xdist's scheduling. The gate must not depend on that, nor must a seeded explorer; our
    strategies name their own edge cases. ``tests/test_gate.py`` pins this.
    """
    from hypothesis.internal.conjecture import providers

    empty = providers.Constants()  # pyright: ignore[reportPrivateImportUsage] - private on purpose (above)
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE.cache.clear()
