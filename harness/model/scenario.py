"""Scenarios: everything a check needs, named by spec strings and reproducible from a seed.

A scenario is a network, an optional group, a data class (free or G-augmented), a loss, and the arrays
drawn from ``seed`` (data set, θ₀). ``Scenario.build()`` makes the objects; ``to_json``/``from_json``
store the spec strings *and* the arrays, so a stored scenario replays exactly even if the drawing code
changes later.

Every field is checked when the scenario is made, and a stored file is read with bounds (size, nesting,
duplicate or unknown keys, types) before any of it is used: a bad scenario is one ``InvalidInput``.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from harness.errors import InvalidInput
from harness.jsonable import dumps
from harness.model.data import (
    DATA_CLASSES,
    TARGET_KINDS,
    DataClass,
    DataSet,
    TargetKind,
    augment,
    check_data_size,
    check_seed,
    random_dataset,
)
from harness.model.family import Network
from harness.model.groups import Group, GroupSpec, build_group, parse_group
from harness.model.losses import Loss, TargetDomain, get_loss
from harness.model.specs import parse_network

SCENARIO_FORMAT = "flowlaws-scenario/1"
MAX_THETA_SCALE = 1e3  # θ₀ ~ N(0, s²): beyond this Φ(θ₀) ~ s^degree leaves float64's comfortable range
MAX_TARGET_SCALE = 1e6
MAX_FILE_BYTES = 16 * 2**20  # a scenario.json with its arrays is kilobytes; more is not a scenario
MAX_JSON_DEPTH = 8  # record → arrays → x → row → number is depth 4
RECORD_KEYS = (
    "format",
    "network",
    "group",
    "data",
    "loss",
    "n_samples",
    "seed",
    "targets",
    "theta_scale",
    "target_scale",
    "arrays",
    "property",
)
REQUIRED_KEYS = ("format", "network")


def _check_scale(name: str, value, maximum: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not (math.isfinite(value) and 0 < value <= maximum)
    ):
        raise InvalidInput(f"{name}={value!r:.60} must be a finite number in (0, {maximum:g}]")
    return float(value)


def _check_array(name: str, value, ndim: int) -> np.ndarray:
    """A stored array: ``ndim``-dimensional, real numbers only (no strings, booleans or ragged rows)."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, RecursionError):
        array = None
    if array is None or array.dtype.kind not in "iuf" or array.ndim != ndim or 0 in array.shape:
        shape = "a list of numbers" if ndim == 1 else "a non-empty list of equally long lists of numbers"
        raise InvalidInput(f"stored array {name} must be {shape}")
    return array.astype(float)


@dataclass(frozen=True)
class Built:
    """The objects of a scenario: network, group (or None), loss, (augmented) data set and θ₀."""

    network: Network
    group: Group | None
    loss: Loss
    data: DataSet
    theta0: np.ndarray


@dataclass(frozen=True)
class Scenario:
    network: str
    loss: str = "mse"
    group: str | None = None
    data: str = "free"
    n_samples: int = 8
    seed: int = 0
    targets: str = "random"
    theta_scale: float = 1.0
    target_scale: float = 1.0  # random targets ~ N(0, target_scale²): far from ℓ's quadratic regime when large
    arrays: dict | None = field(default=None, compare=False, repr=False)  # x, y, theta0 when stored

    def __post_init__(self):
        if not isinstance(self.network, (str, Network)):
            raise InvalidInput(f"network={self.network!r:.60} must be a network spec such as linear:3,2,2")
        object.__setattr__(self, "network", str(parse_network(self.network)))
        if not isinstance(self.loss, (str, Loss)):
            raise InvalidInput(f"loss={self.loss!r:.60} must be a loss name such as mse")
        object.__setattr__(self, "loss", get_loss(self.loss).name)
        if self.group is not None:
            if not isinstance(self.group, (str, GroupSpec)):
                raise InvalidInput(f"group={self.group!r:.60} must be a group spec such as cyclic/trivial, or None")
            object.__setattr__(self, "group", str(parse_group(self.group)))  # '' is refused: free data is None
        if not isinstance(self.data, str) or self.data not in DATA_CLASSES:
            raise InvalidInput(f"data class {self.data!r:.60} is not one of {DATA_CLASSES}")
        object.__setattr__(self, "data", DataClass(self.data).value)  # the plain string, also for a member
        if self.data == DataClass.AUGMENTED and not self.group:
            raise InvalidInput("data class 'augmented' needs a group (e.g. --group cyclic/trivial)")
        if isinstance(self.n_samples, bool) or not isinstance(self.n_samples, (int, np.integer)) or self.n_samples < 1:
            raise InvalidInput(f"n_samples={self.n_samples!r:.60} must be a positive integer")
        object.__setattr__(self, "n_samples", int(self.n_samples))  # its size against the network: at build
        object.__setattr__(self, "seed", check_seed(self.seed))
        if not isinstance(self.targets, str) or self.targets not in TARGET_KINDS:
            raise InvalidInput(f"targets={self.targets!r:.60} is not one of {TARGET_KINDS}")
        object.__setattr__(self, "targets", TargetKind(self.targets).value)
        object.__setattr__(self, "theta_scale", _check_scale("theta_scale", self.theta_scale, MAX_THETA_SCALE))
        object.__setattr__(self, "target_scale", _check_scale("target_scale", self.target_scale, MAX_TARGET_SCALE))
        if self.arrays is not None:
            if not isinstance(self.arrays, dict) or set(self.arrays) != {"x", "y", "theta0"}:
                keys = sorted(self.arrays) if isinstance(self.arrays, dict) else type(self.arrays).__name__
                raise InvalidInput(f"stored arrays must be an object with exactly x, y and theta0; got {keys}")
            _check_array("x", self.arrays["x"], 2)
            _check_array("y", self.arrays["y"], 2)
            _check_array("theta0", self.arrays["theta0"], 1)

    def __str__(self) -> str:
        parts = [self.network, self.group or "-", self.data, self.loss, f"N={self.n_samples}", f"seed={self.seed}"]
        return " | ".join(parts)

    @cached_property
    def built(self) -> Built:
        return self.build()

    def build(self) -> Built:
        """Make the network, group, loss, data set and θ₀ (from the stored arrays if any, else the seed).

        Refused before drawing: a data set beyond ``harness.model.data.check_data_size`` (samples × |G| × numbers
        per sample), and cross-entropy on augmented data whose group moves probability targets out of the
        simplex.
        """
        network = parse_network(self.network)
        group = build_group(self.group, network) if self.group else None
        loss = get_loss(self.loss)
        if (
            group is not None
            and self.data == DataClass.AUGMENTED
            and loss.targets is TargetDomain.PROBABILITIES
            and not group.keeps_probability_vectors()
        ):
            actions = {factor.output for factor in parse_group(group.spec).factors}
            why = (
                "its /sign output action multiplies y by −1 (the sign character of g) for some elements g"
                if "sign" in actions
                else "its /same output action flips the sign of or rotates y for some g"
            )
            raise InvalidInput(
                f"loss {loss} needs probability targets (non-negative rows summing to 1), but on group {group.spec} "
                f"{why}, so the augmented data set cannot have probability targets; use output action /trivial, "
                "/same of a plain permutation group, or a loss without probability targets"
            )
        if self.arrays is not None:
            data = DataSet(_check_array("x", self.arrays["x"], 2), _check_array("y", self.arrays["y"], 2))
            theta0 = _check_array("theta0", self.arrays["theta0"], 1)
        else:
            copies = group.order if group is not None and self.data == DataClass.AUGMENTED else 1
            check_data_size(network, self.n_samples, copies)
            rng = np.random.default_rng(self.seed)
            base = random_dataset(
                network, self.n_samples, rng, loss=loss, targets=self.targets, target_scale=self.target_scale
            )
            # __post_init__ refused augmented data without a group
            data = augment(base, group) if self.data == DataClass.AUGMENTED and group is not None else base
            theta0 = network.random_theta(rng, self.theta_scale)
        data.check_network(network, loss)
        if theta0.shape != (network.n_params,) or not np.all(np.isfinite(theta0)):
            raise InvalidInput(f"theta0 must be {network.n_params} finite numbers for {network}")
        with np.errstate(all="ignore"):
            predictions = network.predict(theta0, data.x)
        if not np.all(np.isfinite(predictions)):
            blamed = "the stored theta0" if self.arrays is not None else f"theta_scale={self.theta_scale!r}"
            raise InvalidInput(
                f"scenario {self}: f(θ₀, x) overflows float64 at {blamed}; use a smaller θ₀ (theta_scale)"
            )
        return Built(network, group, loss, data, theta0)

    def with_arrays(self) -> "Scenario":
        """The same scenario with its drawn arrays stored, for exact replay."""
        built = self.build()
        return replace(
            self, arrays={"x": built.data.x.tolist(), "y": built.data.y.tolist(), "theta0": built.theta0.tolist()}
        )

    def to_dict(self) -> dict:
        record = {
            "format": SCENARIO_FORMAT,
            "network": self.network,
            "group": self.group,
            "data": self.data,
            "loss": self.loss,
            "n_samples": self.n_samples,
            "seed": self.seed,
            "targets": self.targets,
            "theta_scale": self.theta_scale,
            "target_scale": self.target_scale,
        }
        if self.arrays is not None:
            record["arrays"] = self.arrays
        return record

    def to_json(self) -> str:
        return dumps(self.to_dict(), indent=1, sort_keys=False)

    @classmethod
    def from_dict(cls, record: dict) -> "Scenario":
        """The scenario of a stored record (``to_dict``'s keys, plus the judging ``property``); strict.

        Unknown keys are refused (a misspelt key would otherwise fall back to its default silently);
        ``format`` and ``network`` are required, every other field defaults as in ``Scenario``.
        """
        if not isinstance(record, dict) or record.get("format") != SCENARIO_FORMAT:
            raise InvalidInput(f"not a flowlaws scenario (expected format {SCENARIO_FORMAT!r})")
        unknown = [key for key in record if key not in RECORD_KEYS]
        if unknown:
            raise InvalidInput(f"unknown key {unknown[0]!r:.60} in scenario record; allowed: {', '.join(RECORD_KEYS)}")
        missing = [key for key in REQUIRED_KEYS if key not in record]
        if missing:
            raise InvalidInput(f"scenario record is incomplete: no {missing[0]!r}")
        if "property" in record and not isinstance(record["property"], str):
            raise InvalidInput(f"property={record['property']!r:.60} must be a property id (a string)")
        return cls(**{k: v for k, v in record.items() if k not in ("format", "property")})

    @classmethod
    def load(cls, path: str | Path) -> "Scenario":
        """Read a stored scenario.json; a missing, unreadable or corrupted file is one clear InvalidInput."""
        record = read_record(path)
        try:
            return cls.from_dict(record)
        except InvalidInput as error:
            raise InvalidInput(f"scenario file {str(path)!r} is corrupted: {error}") from None


def read_record(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES, max_depth: int = MAX_JSON_DEPTH) -> dict:
    """The JSON object stored at ``path``, read with bounds: a regular file of at most ``max_bytes`` bytes,
    UTF-8, strict JSON (no NaN, no duplicate keys) nested at most ``max_depth`` deep."""
    shown = str(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the fstat below then refuses it.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError, TypeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InvalidInput(f"cannot read scenario file {shown!r}: {reason}") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise InvalidInput(f"cannot read scenario file {shown!r}: not a regular file (a device, pipe or folder)")
    with os.fdopen(descriptor, "rb") as handle:
        try:
            content = handle.read(max_bytes + 1)
        except OSError as error:
            raise InvalidInput(f"cannot read scenario file {shown!r}: {error.strerror}") from None
    if len(content) > max_bytes:
        raise InvalidInput(f"scenario file {shown!r} is larger than {max_bytes:,} bytes; not a scenario.json")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"scenario file {shown!r} is corrupted: not UTF-8 text (byte {content[error.start]:#04x} at offset "
            f"{error.start})"
        ) from None
    try:
        record = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"scenario file {shown!r} is corrupted: not valid JSON ({error.msg} at line {error.lineno})"
        ) from None
    except RecursionError:
        raise InvalidInput(f"scenario file {shown!r} is corrupted: JSON nested deeper than {max_depth}") from None
    except (ValueError, InvalidInput) as error:  # e.g. an integer of more than 4300 digits
        raise InvalidInput(f"scenario file {shown!r} is corrupted: not valid JSON ({error})") from None
    if _depth(record) > max_depth:
        raise InvalidInput(f"scenario file {shown!r} is corrupted: JSON nested deeper than {max_depth}")
    if not isinstance(record, dict):
        raise InvalidInput(f"scenario file {shown!r} is corrupted: expected a JSON object, got {type(record).__name__}")
    return record


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    record = {}
    for key, value in pairs:
        if key in record:
            raise InvalidInput(f"duplicate key {key!r:.60}")
        record[key] = value
    return record


def _no_constant(name: str):
    raise InvalidInput(f"{name} is not a number JSON allows")


def _depth(value) -> int:
    """Nesting depth of a parsed JSON value (containers only), without recursion."""
    if not isinstance(value, (dict, list)):
        return 0
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest
