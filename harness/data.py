"""Data sets, augmentation by a group, and the MSE moments (DESIGN.md §1).

A G-augmented data set is closed under (x, y) ↦ (ρ_in(g)x, ρ_out(g)y). ``augment`` returns the orbit of
every sample (|G|·N samples, so that sums over the data set are orbit sums). With MSE the loss depends on the
data only through M = mean ΨΨᵀ and C = mean yΨᵀ over feature rows, which is why MSE flows cost the same for
any N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.errors import InvalidInput
from harness.groups import Group
from harness.losses import Loss, get_loss
from harness.networks import Network

TARGET_KINDS = ("random", "teacher")


@dataclass(frozen=True, eq=False)
class DataSet:
    """Samples x ∈ R^{N×input_dim} with targets y ∈ R^{N×output_dim}, checked finite and consistent."""

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self):
        x = np.array(self.x, dtype=float, copy=True)
        y = np.array(self.y, dtype=float, copy=True)
        if x.ndim != 2 or y.ndim != 2:
            raise InvalidInput(f"data needs 2-D x (N, inputs) and y (N, outputs); got shapes {x.shape} and {y.shape}")
        if x.shape[0] != y.shape[0]:
            raise InvalidInput(f"x has {x.shape[0]} samples but y has {y.shape[0]}; they must match")
        if x.shape[0] == 0:
            raise InvalidInput("a data set needs at least one sample")
        for name, array in (("x", x), ("y", y)):
            if not np.all(np.isfinite(array)):
                raise InvalidInput(f"data {name} contains NaN or inf (first at index {np.argwhere(~np.isfinite(array))[0].tolist()})")
        x.flags.writeable = False
        y.flags.writeable = False
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    @property
    def n_samples(self) -> int:
        return self.x.shape[0]

    def check_network(self, network: Network, loss: Loss | str | None = None) -> None:
        """Raise unless the data fit ``network`` (and ``loss``'s target kind)."""
        if self.x.shape[1] != network.input_dim or self.y.shape[1] != network.output_dim:
            raise InvalidInput(
                f"data have {self.x.shape[1]} inputs and {self.y.shape[1]} outputs; {network} needs "
                f"{network.input_dim} and {network.output_dim}"
            )
        if loss is not None:
            get_loss(loss).check_targets(network.target_rows(self.y), network.n_outputs)


def augment(data: DataSet, group: Group) -> DataSet:
    """The orbit-closed data set {(ρ_in(g)x, ρ_out(g)y) : g ∈ G, (x, y) ∈ data}."""
    if data.x.shape[1] != group.input_dim or data.y.shape[1] != group.output_dim:
        raise InvalidInput(
            f"group {group} acts on {group.input_dim} inputs and {group.output_dim} outputs, but the data have "
            f"{data.x.shape[1]} and {data.y.shape[1]}"
        )
    xs = [data.x @ np.asarray(g, dtype=float).T for g in group.inputs]
    ys = [data.y @ np.asarray(g, dtype=float).T for g in group.outputs]
    return DataSet(np.concatenate(xs), np.concatenate(ys))


def is_closed(data: DataSet, group: Group, tol: float = 1e-9) -> bool:
    """Whether the data set, as a multiset of (x, y), is mapped onto itself by every group element.

    Each moved sample must be matched one-to-one with an original sample within tol·scale (an optimal
    assignment, so that near-duplicate samples cannot be confused by sorting or rounding).
    """
    from scipy.optimize import linear_sum_assignment

    joined = np.concatenate([data.x, data.y], axis=1)
    scale = max(1.0, np.abs(joined).max())
    for g_in, g_out in zip(group.inputs, group.outputs):
        moved = np.concatenate([data.x @ np.asarray(g_in, float).T, data.y @ np.asarray(g_out, float).T], axis=1)
        distance = np.abs(moved[:, None, :] - joined[None, :, :]).max(axis=2)
        rows, cols = linear_sum_assignment(distance)
        if distance[rows, cols].max() > tol * scale:
            return False
    return True


def moments(network: Network, data: DataSet) -> tuple[np.ndarray, np.ndarray]:
    """M = mean_r Ψ_r Ψ_rᵀ ∈ R^{K×K} and C = mean_r y_r Ψ_rᵀ ∈ R^{m×K} over all feature rows."""
    data.check_network(network)
    psi = network.features(data.x)
    y = network.target_rows(data.y)
    return psi.T @ psi / psi.shape[0], y.T @ psi / psi.shape[0]


def random_targets(network: Network, loss: Loss | str, predictions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Targets of the kind ``loss`` needs; from ``predictions`` (a teacher) when given, else random."""
    loss = get_loss(loss)
    rows = predictions.reshape(-1, network.n_outputs)
    if loss.targets == "pm1":
        labels = np.where(rows >= 0, 1.0, -1.0)
    elif loss.targets == "prob":
        shifted = np.exp(rows - rows.max(axis=1, keepdims=True))
        labels = shifted / shifted.sum(axis=1, keepdims=True)
    else:
        labels = rows
    return labels.reshape(predictions.shape)


def random_dataset(network: Network, n_samples: int, rng: np.random.Generator, *, loss: Loss | str = "mse",
                   targets: str = "random", teacher_theta: np.ndarray | None = None,
                   input_scale: float = 1.0, target_scale: float = 1.0) -> DataSet:
    """N Gaussian inputs with random targets, or targets from a teacher network f(θ_teacher, x)."""
    if targets not in TARGET_KINDS:
        raise InvalidInput(f"unknown target kind {targets!r}; allowed: {TARGET_KINDS}")
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise InvalidInput(f"n_samples={n_samples!r} must be a positive integer")
    x = input_scale * rng.standard_normal((n_samples, network.input_dim))
    if targets == "teacher":
        theta = network.random_theta(rng) if teacher_theta is None else np.asarray(teacher_theta, dtype=float)
        raw = network.predict(theta, x)
    else:
        raw = target_scale * rng.standard_normal((n_samples, network.output_dim))
    return DataSet(x, random_targets(network, loss, raw, rng))
