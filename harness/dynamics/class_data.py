"""Data sets that stand for a class at θ₀, and the formula-free check that a leaf walk's did (oracle 3, DESIGN.md §2).

**Which data sets stand for the class.** The count the leaf is compared with is about *every* data set of the
class (free, or G-augmented), so the walk must not explore a sub-class with more laws. Polynomial losses
(MSE, quartic) are walked with Gaussian data: their fields are polynomial in the moments of the data, and
generic Gaussian data sets span every moment the class has. A non-polynomial ℓ must be walked where ℓ' is
far from *affine over the residuals of one orbit*: with small residuals an analytic ℓ (and huber exactly)
is MSE, whose augmented class can have extra laws; with predictions that do not vary across an orbit and
large targets, ℓ' is (nearly) constant on every orbit (huber's linear regime exactly), so the fields are
again those of orbit-invariant moments. Either way the walk would see laws the class does not have (the
false counterexample ``poly:2,1,1,k=2 | rot:3/trivial | augmented | huber | N=1 | seed=0``: θ₀ was small, so
all predictions were ≈ 0 and every orbit's residuals were equal). So every data set of a non-polynomial
walk has inputs scaled so that the predictions at θ₀, and the targets, have a size drawn log-uniformly
around ``LeafWalk.regime`` (4: huber's δ and the bends of logcosh, cauchy and pseudo-huber are at 1):
residuals of one orbit then differ by several δ and straddle the bends.

That the walked data sets do stand for the class is also *checked*, formula-free (``walk_span``): the
gradients at θ₀ of the walk's data sets must span as much as those of a broad reference sample of the
class (inputs and targets from 1/4 to 8 times their unit size, random and teacher targets). Equal
pointwise spans at θ₀ are equal near θ₀ (the walk's span is at most the class's, and rank is lower
semicontinuous), hence the same distribution, the same Lie algebra and the same leaf. A walk that spans
less explored a sub-class, and its extra equations are not evidence against the count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from harness.algebra.spectral import SpectralGap
from harness.errors import InvalidInput
from harness.model import numpy_reference
from harness.model.data import DataSet, augment, random_dataset
from harness.model.family import Network
from harness.model.groups import Group
from harness.model.losses import Loss, get_loss

if TYPE_CHECKING:
    from harness.dynamics.leaf import LeafPoints


def representative_dataset(
    network: Network,
    loss: Loss,
    data_class: str,
    group: Group | None,
    rng: np.random.Generator,
    theta0: np.ndarray,
    *,
    samples: int,
    regime: float = 4.0,
) -> DataSet:
    """A data set of the class that stands for it at θ₀ (module docstring): Gaussian for polynomial losses;
    for a non-polynomial ℓ, predictions f(θ₀, x) and real targets of a size log-uniform in
    [regime/2, 2·regime], so that ℓ' is neither affine nor constant over the residuals of one orbit."""
    input_scale, target_scale = 1.0, 1.0
    if not loss.is_polynomial:
        size = regime * float(np.exp(rng.uniform(-math.log(2.0), math.log(2.0))))
        input_scale = _input_scale_for_predictions(network, theta0, size, rng)
        if loss.targets == "real":
            target_scale = size
    base = random_dataset(network, samples, rng, loss=loss, input_scale=input_scale, target_scale=target_scale)
    return _of_class(base, data_class, group)


REFERENCE_SCALES = (0.25, 8.0)  # the reference sample's input and target sizes, relative to their unit size


def reference_dataset(
    network: Network,
    loss: Loss,
    data_class: str,
    group: Group | None,
    rng: np.random.Generator,
    samples: int,
    theta0: np.ndarray,
) -> DataSet:
    """A data set of the class drawn broadly: prediction and target sizes log-uniform in REFERENCE_SCALES
    (independently), random or teacher targets. It is the yardstick of ``walk_span``, not a walk's data."""
    low, high = (math.log(v) for v in REFERENCE_SCALES)
    input_scale = _input_scale_for_predictions(network, theta0, float(np.exp(rng.uniform(low, high))), rng)
    target_scale = float(np.exp(rng.uniform(low, high)))
    targets = "teacher" if rng.random() < 0.25 else "random"
    base = random_dataset(
        network, samples, rng, loss=loss, targets=targets, input_scale=input_scale, target_scale=target_scale
    )
    return _of_class(base, data_class, group)


def _of_class(base: DataSet, data_class: str, group: Group | None) -> DataSet:
    """``base`` itself (free data) or its orbit under G (augmented data)."""
    if data_class != "augmented":
        return base
    if group is None:
        raise InvalidInput("data class 'augmented' needs a group")
    return augment(base, group)


def _input_scale_for_predictions(network: Network, theta0: np.ndarray, size: float, rng: np.random.Generator) -> float:
    """s with RMS f(θ₀, s·x) ≈ size for Gaussian x: Ψ is homogeneous in x, of a degree measured here."""
    probe = np.random.default_rng(int(rng.integers(2**32))).standard_normal((16, network.input_dim))
    base = np.sqrt(np.mean(network.predict(theta0, probe) ** 2))
    doubled = np.sqrt(np.mean(network.predict(theta0, 2 * probe) ** 2))
    if not (base > 0 and np.isfinite(base) and doubled > 0):
        return 1.0
    degree = max(1, int(round(math.log2(doubled / base))))
    return float((size / base) ** (1.0 / degree))


def loss_gradient(network: Network, loss: Loss, data: DataSet) -> Callable[[np.ndarray], np.ndarray]:
    """θ ↦ ∇L(θ) = J(θ)ᵀ vec(G), G = mean_r ∇_f ℓ(Φ(θ)Ψ_r, y_r) Ψ_rᵀ, in NumPy (used to size the legs)."""
    psi = network.features(data.x)
    targets = network.target_rows(data.y)
    return lambda theta: numpy_reference.loss_gradient(network, loss, psi, targets, theta)


# --- do the walked data sets stand for the class? ----------------------------------------------------------


@dataclass(frozen=True)
class WalkSpan:
    """Pointwise span at θ₀ of the walk's fields against a broad reference sample of the class.

    ``walk_rank`` is the dimension of span{∇L_data(θ₀)} over the walk's data sets, ``class_rank`` that over
    the walk's and the reference sample's together (a lower bound of the class's span at θ₀), both read at
    the largest spectral gap. ``represents`` is True when both gaps are clear and the ranks are equal (the
    walk's fields span the class's distribution near θ₀, so the walked leaf is the class's leaf), False
    when the walk clearly spans less (it explored a sub-class), None when a gap is not clear.
    """

    walk_rank: int
    class_rank: int
    walk_gap: SpectralGap
    class_gap: SpectralGap
    n_walk_sets: int
    n_reference_sets: int
    walk_singular_values: tuple[float, ...] = ()
    class_singular_values: tuple[float, ...] = ()

    @property
    def represents(self) -> bool | None:
        if not (self.walk_gap.clear and self.class_gap.clear):
            return None
        return self.walk_rank >= self.class_rank

    @property
    def reason(self) -> str:
        if self.represents is None:
            which = "walk" if not self.walk_gap.clear else "class reference"
            gap = self.walk_gap if not self.walk_gap.clear else self.class_gap
            return f"pointwise span of the {which} data sets at θ₀: {gap.reason}"
        if self.represents:
            return f"the walk's {self.n_walk_sets} data sets span the class's {self.class_rank} directions at θ₀"
        return (
            f"the walk's {self.n_walk_sets} data sets span {self.walk_rank} directions at θ₀, the class at least "
            f"{self.class_rank}: the walk explored a sub-class"
        )

    @property
    def evidence(self) -> dict:
        return {
            "walk_rank": self.walk_rank,
            "class_rank": self.class_rank,
            "represents": self.represents,
            "walk_gap": self.walk_gap.ratio,
            "class_gap": self.class_gap.ratio,
            "n_walk_sets": self.n_walk_sets,
            "n_reference_sets": self.n_reference_sets,
            "walk_singular_values": list(self.walk_singular_values),
            "class_singular_values": list(self.class_singular_values),
        }


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1)
    keep = np.isfinite(norms) & (norms > 0)
    return rows[keep] / norms[keep, None]


def walk_span(
    leaf: LeafPoints,
    network: Network,
    loss: Loss | str,
    data_class: str,
    group: Group | None,
    *,
    seed: int = 0,
    reference_sets: int | None = None,
    samples: int = 3,
    gap_threshold: float = 1e3,
    floor: float = 1e-10,
) -> WalkSpan:
    """Whether the walk's data sets stand for the class at θ₀ (``WalkSpan``), formula-free.

    The reference sample has ``reference_sets`` (default 2D + 10) data sets of ``reference_dataset``; gradients
    are normalised to unit length before the SVD, and ``floor`` (relative) is the level below which a singular
    value counts as zero (the gradients are exact up to round-off).
    """
    loss = get_loss(loss)
    theta0 = leaf.theta0
    rng = np.random.default_rng([seed, 29])
    count = 2 * network.n_params + 10 if reference_sets is None else reference_sets
    reference = np.array(
        [
            loss_gradient(network, loss, reference_dataset(network, loss, data_class, group, rng, samples, theta0))(
                theta0
            )
            for _ in range(count)
        ]
    )
    walked = _unit_rows(leaf.data_gradients if leaf.data_gradients is not None else np.empty((0, theta0.size)))
    union = np.concatenate([walked, _unit_rows(reference)])

    def spectrum(rows):
        if rows.shape[0] == 0:
            return np.zeros(0)
        values = np.linalg.svd(rows, compute_uv=False)
        return values / values[0]

    walk_values, class_values = spectrum(walked), spectrum(union)
    walk_gap = SpectralGap.of(walk_values, threshold=gap_threshold, floor=floor, unique=True)
    class_gap = SpectralGap.of(class_values, threshold=gap_threshold, floor=floor, unique=True)
    return WalkSpan(
        walk_gap.rank,
        class_gap.rank,
        walk_gap,
        class_gap,
        int(walked.shape[0]),
        count,
        tuple(float(v) for v in walk_values[: network.n_params]),
        tuple(float(v) for v in class_values[: network.n_params]),
    )
