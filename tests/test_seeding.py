"""harness/testing/seeding.py: which seed a run uses, and how a test's seed follows from it."""

from __future__ import annotations

import pytest

from harness.reporting.runs import Seeding
from harness.testing import seeding


def _choose(**changes):
    arguments = dict(forced=None, given=None, explorer=True, derandomized=False, worker_seed=None)
    return seeding.choose_seed("quick", **{**arguments, **changes})


def test_explorer_seed_given_drawn_or_handed_to_a_worker():
    assert _choose(given=7) == (7, Seeding.FLOWLAWS_SEED)
    assert _choose(worker_seed=9) == (9, Seeding.FLOWLAWS_SEED)  # the controller's seed wins in a worker
    drawn, how = _choose()
    assert how is Seeding.FLOWLAWS_SEED and isinstance(drawn, int) and 0 <= drawn < 2**32


def test_forced_seed_and_the_gate():
    assert _choose(forced=5) == (5, Seeding.HYPOTHESIS_SEED)
    assert _choose(explorer=False, derandomized=True) == (None, Seeding.DERANDOMIZED)
    assert _choose(explorer=False) == (None, None)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(given=3, explorer=False), "has no effect under the quick profile"),
        (dict(given=3, forced=4), "not both"),
    ],
)
def test_contradicting_seed_options_are_a_usage_error(changes, message):
    with pytest.raises(pytest.UsageError, match=message):
        _choose(**changes)


def test_hypothesis_seed_text_becomes_an_int_when_it_is_one():
    assert seeding.hypothesis_seed(None) is None
    assert seeding.hypothesis_seed("12") == 12 and seeding.hypothesis_seed("abc") == "abc"
