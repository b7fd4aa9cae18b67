"""Data sets, augmentation by a group, and the MSE moments (DESIGN.md §1).

A G-augmented data set is closed under (x, y) ↦ (ρ_in(g)x, ρ_out(g)y). ``augment`` returns the orbit of
every sample (|G|·N samples, so that sums over the data set are orbit sums). With MSE the loss depends on the
data only through M = mean ΨΨᵀ and C = mean yΨᵀ over feature rows, which is why MSE flows cost the same for
any N.

Sizes are checked before anything is built (``check_data_size``): a data set, its orbit and its feature rows
each stay below ``MAX_DATA_VALUES`` numbers, so a mistyped sample count is one clear error, not a swapped-out
machine.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from harness.errors import InvalidInput
from harness.model.family import Network
from harness.model.groups import Group
from harness.model.losses import Loss, get_loss

if TYPE_CHECKING:
    from harness.model.torch_model import TorchModel


class DataClass(str, enum.Enum):
    """Which data sets a law must be conserved on: every data set, or only the G-augmented ones."""

    FREE = "free"
    AUGMENTED = "augmented"

    def __str__(self) -> str:
        return self.value

    @property
    def message(self) -> str:
        return {
            DataClass.FREE: "free data: any data set (no symmetry assumed)",
            DataClass.AUGMENTED: "G-augmented data: orbit-closed under the group (needs a group)",
        }[self]


class TargetKind(str, enum.Enum):
    """How a drawn data set's targets are made."""

    RANDOM = "random"
    TEACHER = "teacher"

    def __str__(self) -> str:
        return self.value

    @property
    def message(self) -> str:
        return {
            TargetKind.RANDOM: "random targets, independent of the inputs",
            TargetKind.TEACHER: "targets f(θ_teacher, x) of a random teacher network",
        }[self]


DATA_CLASSES = tuple(data_class.value for data_class in DataClass)
TARGET_KINDS = tuple(kind.value for kind in TargetKind)
MAX_DATA_VALUES = 10_000_000  # numbers in one array built from a data set (x and y, or Ψ rows): 80 MB of float64
MAX_SEED = 2**64 - 1
MAX_CLOSURE_PAIRS = 20_000_000  # candidate pairs within tolerance that ``is_closed`` may weigh (memory bound)


def check_data_class(data_class, name: str = "data class") -> str:
    """``data_class`` if it is one of ``DATA_CLASSES`` (free, augmented); else one ``InvalidInput`` naming it."""
    if data_class not in DATA_CLASSES:
        raise InvalidInput(f"{name} {data_class!r} is not one of {DATA_CLASSES}")
    return str(data_class)


def check_seed(seed, name: str = "seed") -> int:
    """A seed as a Python int: an integer from 0 to 2**64 − 1 (NumPy's generators refuse negative seeds)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"{_named(name, seed)} is not a valid seed; allowed: an integer from 0 to 2**64 - 1")
    return int(seed)


def _named(name: str, value) -> str:
    """``--samples 5`` for a command-line option, ``n_samples=5`` for a Python argument."""
    return f"{name} {value!r}" if name.startswith("--") else f"{name}={value!r}"


def values_per_sample(network: Network | TorchModel) -> int:
    """Numbers one sample occupies in the largest array built from it: (x, y), or its feature rows (Ψ, y)."""
    return max(
        network.input_dim + network.output_dim, network.rows_per_sample * (network.n_features + network.n_outputs)
    )


def check_data_size(network: Network | TorchModel, n_samples, group_order: int = 1, *, name: str = "n_samples") -> int:
    """Raise unless n_samples · |G| samples of ``network`` fit in MAX_DATA_VALUES numbers per array."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise InvalidInput(f"{_named(name, n_samples)} must be a positive integer")
    per_sample = values_per_sample(network)
    total = int(n_samples) * int(group_order) * per_sample
    if total > MAX_DATA_VALUES:
        orbit = f" × {group_order} group elements" if group_order > 1 else ""
        allowed = max(MAX_DATA_VALUES // (int(group_order) * per_sample), 0)
        raise InvalidInput(
            f"{_named(name, n_samples)}: {n_samples:,} samples{orbit} of {per_sample} numbers each (inputs, "
            f"targets, feature rows of {network}) make {total:.3g} numbers, above the limit of "
            f"{MAX_DATA_VALUES:,} ({MAX_DATA_VALUES * 8 // 10**6} MB); allowed: at most {allowed:,} samples here"
        )
    return int(n_samples)


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
                raise InvalidInput(
                    f"data {name} contains NaN or inf (first at index {np.argwhere(~np.isfinite(array))[0].tolist()})"
                )
        x.flags.writeable = False
        y.flags.writeable = False
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    @property
    def n_samples(self) -> int:
        return self.x.shape[0]

    def check_network(self, network: Network | TorchModel, loss: Loss | str | None = None) -> None:
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
    total = group.order * data.n_samples * (data.x.shape[1] + data.y.shape[1])
    if total > MAX_DATA_VALUES:
        raise InvalidInput(
            f"augmenting {data.n_samples:,} samples by {group} ({group.order} elements) makes {total:.3g} numbers, "
            f"above the limit of {MAX_DATA_VALUES:,}; allowed: at most "
            f"{MAX_DATA_VALUES // (group.order * (data.x.shape[1] + data.y.shape[1])):,} samples for this group"
        )
    xs = [data.x @ np.asarray(g, dtype=float).T for g in group.inputs]
    ys = [data.y @ np.asarray(g, dtype=float).T for g in group.outputs]
    return DataSet(np.concatenate(xs), np.concatenate(ys))


def is_closed(data: DataSet, group: Group, tol: float = 1e-9) -> bool:
    """Whether the data set, as a multiset of (x, y), is mapped onto itself by every group element.

    Exactly: for every g there is a one-to-one matching of the moved samples (ρ_in(g)x, ρ_out(g)y) with the
    original ones in which every pair is within tol·scale in the max norm (scale = max(1, max |entry|)).
    Near-duplicate samples cannot be confused (it is a matching, not a sort). O(N log N) for data whose samples
    are further apart than the tolerance: repeated samples are merged with their multiplicity, candidate pairs
    come from a k-d tree, and the matching is a maximum flow on those pairs only.
    """
    joined = np.concatenate([data.x, data.y], axis=1)
    scale = max(1.0, float(np.abs(joined).max()))
    radius = float(tol) * scale
    if not (math.isfinite(radius) and radius >= 0):
        raise InvalidInput(f"tol={tol!r} must be a non-negative finite number")
    originals, counts = np.unique(joined, axis=0, return_counts=True)
    tree = None
    for g_in, g_out in zip(group.inputs, group.outputs):
        moved = np.concatenate([data.x @ np.asarray(g_in, float).T, data.y @ np.asarray(g_out, float).T], axis=1)
        images, needs = np.unique(moved, axis=0, return_counts=True)
        if images.shape == originals.shape and np.array_equal(images, originals) and np.array_equal(needs, counts):
            continue  # the same multiset exactly (signed permutations move floats without rounding)
        if tree is None:
            from scipy.spatial import cKDTree  # pyright: ignore[reportAttributeAccessIssue] - scipy's stubs omit it

            tree = cKDTree(originals)
        if not _matched(images, needs, originals, counts, tree, radius):
            return False
    return True


def _matched(images, needs, originals, counts, tree, radius) -> bool:
    """Whether the multiset (images, needs) matches (originals, counts) one-to-one with pairs within radius."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_flow

    k = min(2, len(originals))
    distances, nearest = tree.query(images, k=k, p=np.inf)
    distances, nearest = distances.reshape(len(images), k), nearest.reshape(len(images), k)
    if (distances[:, 0] > radius).any():
        return False
    if k == 1 or (distances[:, 1] > radius).all():
        # every moved sample has exactly one candidate: the matching is forced, compare multiplicities
        arriving = np.bincount(nearest[:, 0], weights=needs, minlength=len(originals))
        return bool(np.array_equal(arriving, counts))
    pairs = tree.query_ball_point(images, r=radius, p=np.inf, return_length=True)
    n_pairs = int(pairs.sum())
    if n_pairs > MAX_CLOSURE_PAIRS:
        raise InvalidInput(
            f"is_closed: {n_pairs:,} sample pairs lie within tol·scale = {radius:.3g} of each other, "
            f"more than {MAX_CLOSURE_PAIRS:,}; the samples are too dense for this tolerance: use a "
            "smaller tol"
        )
    neighbours = tree.query_ball_point(images, r=radius, p=np.inf)
    # Nodes: source 0, images 1..I, originals I+1..I+O, sink I+O+1; capacities are multiplicities.
    n_images, n_originals = len(images), len(originals)
    source, sink = 0, n_images + n_originals + 1
    rows = [np.zeros(n_images, dtype=np.int64)]
    cols = [np.arange(1, n_images + 1)]
    capacity = [needs]
    rows.append(np.repeat(np.arange(1, n_images + 1), pairs))
    cols.append(1 + n_images + np.concatenate([np.asarray(n, dtype=np.int64) for n in neighbours]))
    capacity.append(np.repeat(needs, pairs))
    rows.append(np.arange(n_images + 1, n_images + n_originals + 1))
    cols.append(np.full(n_originals, sink))
    capacity.append(counts)
    graph = csr_matrix(
        (np.concatenate(capacity).astype(np.int32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(sink + 1, sink + 1),
    )
    return int(maximum_flow(graph, source, sink).flow_value) == int(needs.sum())


def moments(network: Network, data: DataSet) -> tuple[np.ndarray, np.ndarray]:
    """M = mean_r Ψ_r Ψ_rᵀ ∈ R^{K×K} and C = mean_r y_r Ψ_rᵀ ∈ R^{m×K} over all feature rows."""
    data.check_network(network)
    check_data_size(network, data.n_samples)
    psi = network.features(data.x)
    y = network.target_rows(data.y)
    return psi.T @ psi / psi.shape[0], y.T @ psi / psi.shape[0]


def random_targets(
    network: Network | TorchModel, loss: Loss | str, predictions: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Targets of the kind ``loss`` needs; from ``predictions`` (a teacher) when given, else random."""
    rows = predictions.reshape(-1, network.n_outputs)
    return get_loss(loss).targets.from_predictions(rows).reshape(predictions.shape)


def random_dataset(
    network: Network | TorchModel,
    n_samples: int,
    rng: np.random.Generator,
    *,
    loss: Loss | str = "mse",
    targets: str = "random",
    teacher_theta: np.ndarray | None = None,
    input_scale: float = 1.0,
    target_scale: float = 1.0,
) -> DataSet:
    """N Gaussian inputs with random targets, or targets from a teacher network f(θ_teacher, x)."""
    if targets not in TARGET_KINDS:
        raise InvalidInput(f"unknown target kind {targets!r}; allowed: {TARGET_KINDS}")
    check_data_size(network, n_samples)
    x = input_scale * rng.standard_normal((n_samples, network.input_dim))
    if targets == TargetKind.TEACHER:
        theta = network.random_theta(rng) if teacher_theta is None else np.asarray(teacher_theta, dtype=float)
        raw = network.predict(theta, x)
    else:
        raw = target_scale * rng.standard_normal((n_samples, network.output_dim))
    return DataSet(x, random_targets(network, loss, raw, rng))
