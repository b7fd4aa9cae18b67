"""What would decide an inconclusive example: its reason read as a cause, paired with a command that tries it.

An inconclusive verdict is reported and counted, never turned into a pass; a reader's next question is what
would settle it. Each ``DECIDERS`` entry names a cause by the words its reasons use (the stop reasons of a
count, an integration status, an undecided drift or gap), says in plain words what would decide it, and builds
a command from the scenario that tries exactly that (a deeper bracket level, a larger step budget, a longer
horizon and a tighter tolerance, another random point). Reasons no entry knows get no hint: saying nothing
is better than a wrong suggestion.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Hint:
    """What would decide an inconclusive example, and the command that tries it (None: rerun the property)."""

    cause: str
    decide: str
    command: str | None = None


def _count_command(scenario: dict, *extra: str) -> str:
    parts = ["flowlaws", "count", "--arch", str(scenario.get("network"))]
    if scenario.get("group"):
        parts += ["--group", str(scenario["group"]), "--data", str(scenario.get("data") or "augmented")]
    parts += ["--loss", str(scenario.get("loss")), "--seed", str(scenario.get("seed", 0)), *extra]
    return shlex.join(parts)


def _flow_command(scenario: dict, *extra: str) -> str:
    parts = ["flowlaws", "flow", "--arch", str(scenario.get("network"))]
    if scenario.get("group") and scenario.get("data") == "augmented":
        parts += ["--group", str(scenario["group"])]
    parts += ["--loss", str(scenario.get("loss")), "--samples", str(scenario.get("n_samples", 8))]
    parts += ["--seed", str(scenario.get("seed", 0)), *extra]
    return shlex.join(parts)


def _next_seed(scenario: dict) -> str:
    return str(int(scenario.get("seed") or 0) + 1)


# (words in the reason, cause, what would decide it, the command from the scenario)
DECIDERS: tuple[tuple[tuple[str, ...], str, str, Callable[[dict], str | None]], ...] = (
    (
        ("depth-cap",),
        "the Lie generation reached its deepest bracket level without a closure or a certificate",
        "a deeper bracket level",
        lambda s: _count_command(s, "--max-depth", "16"),
    ),
    (
        ("not-generic",),
        "the sampled θ and data sat at an activation kink every time (the count never crosses one)",
        "another random point and data (a new seed)",
        lambda s: _count_command(s, "--seed", _next_seed(s)),
    ),
    (
        ("timeout",),
        "the time budget ran out before a closure or a certificate",
        "more time, or a smaller network",
        lambda s: _count_command(s, "--timeout", "600"),
    ),
    (
        ("sample-cap",),
        "the sample budget of the Lie generation ran out",
        "a larger sample budget, or a smaller network",
        lambda s: _count_command(s, "--max-depth", "16"),
    ),
    (
        ("points-disagree",),
        "the closure seen at one random point failed at a second one",
        "another pair of random points (a new seed)",
        lambda s: _count_command(s, "--seed", _next_seed(s)),
    ),
    (
        ("leaf at degree",),
        "the points the flows reached did not separate the leaf's equations from noise",
        "more flows and points (rerun the test below with --flowlaws-profile=thorough), or a higher degree",
        lambda s: None,
    ),
    (
        ("no-clear-gap", "no spectral gap", "no clear gap"),
        "a float rank had no singular-value gap clear enough to decide",
        "more sample points or flows (the thorough profile), or exact arithmetic where the group is a signed "
        "permutation",
        lambda s: _count_command(s, "--method", "exact") if s.get("group") else None,
    ),
    (
        ("max_steps", "max-steps"),
        "an integration ran out of steps before the horizon (a stiff or slow flow)",
        "a larger step budget",
        lambda s: _flow_command(s, "--method", "dop853", "--max-steps", "5000000"),
    ),
    (
        ("undecided", "between"),
        "the drift fell between the conserved and the violated thresholds",
        "a tighter tolerance and a longer horizon, so that drift and round-off separate",
        lambda s: _flow_command(s, "--method", "dop853", "--rtol", "1e-13", "--atol", "1e-15", "--t", "10"),
    ),
    (
        ("no known law", "no group", "no natural parameter action", "the only equivariant parameter is 0"),
        "the property does not apply to this set-up",
        "nothing: it is counted as inconclusive so that the coverage shows it",
        lambda s: None,
    ),
)


def hint_for(reason: str, scenario: dict) -> Hint | None:
    """The first ``DECIDERS`` entry whose words occur in ``reason``, as a ``Hint`` for this scenario."""
    text = str(reason).lower()
    for words, cause, decide, command in DECIDERS:
        if any(word in text for word in words):
            return Hint(cause, decide, command(scenario) if scenario.get("network") else None)
    return None
