"""A census grid: network specs with size ranges, lists of groups, losses and data classes, as set-ups.

``linear:1..4,1..3,1..3`` stands for every ``linear:a,b,c`` with 1 ≤ a ≤ 4, 1 ≤ b, c ≤ 3 (a range is
``LOW..HIGH`` in any positional or ``KEY=VALUE`` item); several ``--arch`` options add their grids. A group
list is comma-separated, and since a group's own arguments use commas too (``swap:0,1/trivial``) an item that
starts with a digit continues the group before it. The grid is the product of networks × groups × losses ×
data classes; its size is checked before anything runs (``MAX_SETUPS``). A set-up that cannot be built
(``swap:0,1`` on one input) is not dropped: it becomes a row that says why, so the census stays complete.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from harness.errors import InvalidInput
from harness.model.data import DATA_CLASSES, check_data_class
from harness.model.losses import get_loss

MAX_SETUPS = 100_000  # rows of one census (each a count): more is a typo in a range, not a plan
MAX_RANGE = 1_000  # values of one LOW..HIGH range
_RANGE = re.compile(r"(-?[0-9]+)\.\.(-?[0-9]+)")


@dataclass(frozen=True)
class Setup:
    """One cell of the census: a network spec, a group spec (None: free data), a data class, a loss, a seed."""

    arch: str
    group: str | None
    data: str
    loss: str
    seed: int = 0

    @property
    def key(self) -> str:
        """The row's identity in the census table (a re-run skips every key already stored)."""
        return f"{self.arch} | {self.group or '-'} | {self.data} | {self.loss} | seed={self.seed}"

    def replay(self) -> str:
        """The ``flowlaws count`` command that computes this row alone."""
        group = f" --group {self.group}" if self.group else ""
        return f"flowlaws count --arch {self.arch}{group} --data {self.data} --loss {self.loss} --seed {self.seed}"


def expand_arch(pattern: str) -> list[str]:
    """Every spec of ``pattern``, its ``LOW..HIGH`` ranges expanded (in order: the last item varies fastest)."""
    if not isinstance(pattern, str) or ":" not in pattern:
        raise InvalidInput(f"--arch {pattern!r} is not FAMILY:ITEMS, e.g. linear:1..4,1..3,1..3")
    family, body = pattern.split(":", 1)
    choices = []
    for item in body.split(","):
        key, equals, value = item.rpartition("=") if "=" in item else ("", "", item)
        match = _RANGE.fullmatch(value)
        if match is None:
            choices.append([item])
            continue
        low, high = int(match.group(1)), int(match.group(2))
        if low > high or high - low + 1 > MAX_RANGE:
            raise InvalidInput(
                f"range {value!r} in --arch {pattern!r} must be LOW..HIGH with LOW <= HIGH and at most "
                f"{MAX_RANGE} values"
            )
        choices.append([f"{key}{equals}{n}" for n in range(low, high + 1)])
    return [f"{family}:{','.join(items)}" for items in itertools.product(*choices)]


def split_groups(text: str) -> list[str | None]:
    """``flip/trivial,swap:0,1/trivial`` → the two group specs; ``none`` or ``-`` means free data (None)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("--group '' is empty; give group specs such as flip/trivial,cyclic/trivial (or none)")
    groups: list[str] = []
    for item in text.split(","):
        if item and (item[0].isdigit() or item[0] == "-") and groups:
            groups[-1] += "," + item  # an argument of the group before: swap:0,1
        elif item:
            groups.append(item)
        else:
            raise InvalidInput(f"--group {text!r} has an empty item (two commas in a row, or one at an end)")
    return [None if group in ("none", "-") else group for group in groups]


def _split_names(text: str, what: str) -> list[str]:
    names = [name for name in str(text).split(",")]
    if not all(names):
        raise InvalidInput(f"--{what} {text!r} has an empty item; give names separated by commas")
    return names


def build_grid(archs: list[str], groups: str | None, losses: str, data: str, seeds: int = 1) -> list[Setup]:
    """The census's set-ups, in a fixed order; sizes, names and the grid's size are checked first."""
    specs = [spec for pattern in archs for spec in expand_arch(pattern)]
    group_specs = split_groups(groups) if groups else [None]
    loss_names = _split_names(losses, "loss")
    for name in loss_names:
        get_loss(name)
    data_classes = _split_names(data, "data")
    for name in data_classes:
        check_data_class(name, "--data")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= 1000:
        raise InvalidInput(f"--seeds {seeds!r} must be an integer from 1 to 1000")
    total = len(specs) * len(group_specs) * len(loss_names) * len(data_classes) * seeds
    if total > MAX_SETUPS:
        raise InvalidInput(
            f"the census grid has {total:,} set-ups ({len(specs):,} networks × {len(group_specs)} groups × "
            f"{len(loss_names)} losses × {len(data_classes)} data classes × {seeds} seeds); at most "
            f"{MAX_SETUPS:,} are allowed"
        )
    setups: dict[Setup, None] = {}  # ordered and without repeats (free data ignores the group list)
    for spec, group, loss, data_class, seed in itertools.product(
        specs, group_specs, loss_names, data_classes, range(seeds)
    ):
        if data_class == "augmented" and group is None:
            continue  # free data is the group "none" under any class
        if data_class == "free":
            group = None
        setups.setdefault(Setup(spec, group, data_class, loss, seed))
    return list(setups)


__all__ = ["DATA_CLASSES", "MAX_SETUPS", "Setup", "build_grid", "expand_arch", "split_groups"]
