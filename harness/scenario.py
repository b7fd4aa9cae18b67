"""Scenarios: everything a check needs, named by spec strings and reproducible from a seed.

A scenario is a network, an optional group, a data class (free or G-augmented), a loss, and the arrays
drawn from ``seed`` (data set, θ₀). ``Scenario.build()`` makes the objects; ``to_json``/``from_json``
store the spec strings *and* the arrays, so a stored scenario replays exactly even if the drawing code
changes later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from harness.data import DataSet, augment, random_dataset
from harness.errors import InvalidInput
from harness.groups import Group, build_group
from harness.losses import Loss, get_loss
from harness.networks import Network, parse_network

DATA_CLASSES = ("free", "augmented")
SCENARIO_FORMAT = "flowlaws-scenario/1"


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
        if self.data not in DATA_CLASSES:
            raise InvalidInput(f"data class {self.data!r} is not one of {DATA_CLASSES}")
        if self.data == "augmented" and not self.group:
            raise InvalidInput("data class 'augmented' needs a group (e.g. --group cyclic/trivial)")
        object.__setattr__(self, "network", str(parse_network(self.network)))
        if self.group:
            from harness.groups import parse_group

            object.__setattr__(self, "group", str(parse_group(self.group)))
        get_loss(self.loss)

    def __str__(self) -> str:
        parts = [self.network, self.group or "-", self.data, self.loss, f"N={self.n_samples}", f"seed={self.seed}"]
        return " | ".join(parts)

    @cached_property
    def built(self) -> Built:
        return self.build()

    def build(self) -> Built:
        """Make the network, group, loss, data set and θ₀ (from the stored arrays if any, else the seed)."""
        network = parse_network(self.network)
        group = build_group(self.group, network) if self.group else None
        loss = get_loss(self.loss)
        if self.arrays is not None:
            data = DataSet(np.asarray(self.arrays["x"]), np.asarray(self.arrays["y"]))
            theta0 = np.asarray(self.arrays["theta0"], dtype=float)
        else:
            rng = np.random.default_rng(self.seed)
            base = random_dataset(network, self.n_samples, rng, loss=loss, targets=self.targets,
                                  target_scale=self.target_scale)
            data = augment(base, group) if self.data == "augmented" else base
            theta0 = network.random_theta(rng, self.theta_scale)
        data.check_network(network, loss)
        if theta0.shape != (network.n_params,) or not np.all(np.isfinite(theta0)):
            raise InvalidInput(f"theta0 must be {network.n_params} finite numbers for {network}")
        return Built(network, group, loss, data, theta0)

    def with_arrays(self) -> "Scenario":
        """The same scenario with its drawn arrays stored, for exact replay."""
        built = self.build()
        return replace(self, arrays={"x": built.data.x.tolist(), "y": built.data.y.tolist(),
                                     "theta0": built.theta0.tolist()})

    def to_dict(self) -> dict:
        record = {"format": SCENARIO_FORMAT, "network": self.network, "group": self.group, "data": self.data,
                  "loss": self.loss, "n_samples": self.n_samples, "seed": self.seed, "targets": self.targets,
                  "theta_scale": self.theta_scale, "target_scale": self.target_scale}
        if self.arrays is not None:
            record["arrays"] = self.arrays
        return record

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, record: dict) -> "Scenario":
        if not isinstance(record, dict) or record.get("format") != SCENARIO_FORMAT:
            raise InvalidInput(f"not a flowlaws scenario (expected format {SCENARIO_FORMAT!r})")
        known = {"network", "group", "data", "loss", "n_samples", "seed", "targets", "theta_scale", "target_scale",
                 "arrays"}
        try:
            return cls(**{k: v for k, v in record.items() if k in known})
        except TypeError as error:
            raise InvalidInput(f"scenario record is incomplete or malformed: {error}") from None

    @classmethod
    def load(cls, path: str | Path) -> "Scenario":
        """Read a stored scenario.json; a missing, unreadable or corrupted file is one clear InvalidInput."""
        try:
            record = json.loads(Path(path).read_text())
        except OSError as error:
            raise InvalidInput(f"cannot read scenario file {str(path)!r}: {error.strerror}") from None
        except json.JSONDecodeError as error:
            raise InvalidInput(f"scenario file {str(path)!r} is not valid JSON ({error.msg} at line {error.lineno})") from None
        return cls.from_dict(record)
