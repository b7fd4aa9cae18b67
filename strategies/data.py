"""Hypothesis strategies for data sets {(x_i, y_i)} and parameter points θ ∈ R^D.

``datasets(network, group, loss)`` draws N samples with bounded finite inputs and targets of the kind the
loss takes (reals; labels ±1 as the sign of a drawn real; probability rows as the softmax of drawn reals,
through ``harness.model.data.random_targets``), then, with a group, the G-augmented data set (the orbit of every
sample, |G|·N samples), which is closed under (x, y) ↦ (ρ_in(g)x, ρ_out(g)y). N shrinks toward 1 and the
drawn values toward 0.

``thetas(network)`` draws θ from a seed: θ = scale·z with z ~ N(0, I) clipped to [−4, 4]. A Gaussian point
is generic with probability one (the law counts hold at generic points), which entries shrunk toward 0
would not be; the seed keeps the example small to store and replay.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

from harness.errors import InvalidInput
from harness.model.data import DataSet, augment, random_targets
from harness.model.family import Network
from harness.model.groups import Group, build_group
from harness.model.losses import TargetDomain, get_loss
from strategies.groups import check_network_argument
from strategies.losses import loss_fits
from strategies.networks import check_integer_argument, draw_labelled

SEEDS = st.integers(0, 2**32 - 1)
THETA_CLIP = 4.0


def _check_positive_number(function: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InvalidArgument(f"{function}({name}={value!r}): {name} must be a finite number > 0")
    return float(value)


def _bounded_array(shape: tuple[int, int], bound: float) -> st.SearchStrategy[np.ndarray]:
    elements = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def _datasets(
    draw, network: Network, group: Group | None, loss: str, min_samples: int, max_samples: int, bound: float
) -> DataSet:
    n_samples = draw_labelled(draw, st.integers(min_samples, max_samples), "samples N")
    x = draw_labelled(draw, _bounded_array((n_samples, network.input_dim), bound), "inputs x")
    raw = draw_labelled(draw, _bounded_array((n_samples, network.output_dim), bound), "raw targets")
    # random_targets turns reals into the loss's target kind (sign, softmax) deterministically.
    y = random_targets(network, loss, raw, np.random.default_rng(0))
    data = DataSet(x, y)
    if group is not None:
        data = augment(data, group)
    event(f"data: {'augmented' if group is not None else 'free'}")
    return data


def datasets(
    network, group=None, loss="mse", *, min_samples: int = 1, max_samples: int = 8, bound: float = 2.0
) -> st.SearchStrategy[DataSet]:
    """Data sets for ``network``: N in [min_samples, max_samples] samples, |x|, |y| <= ``bound``.

    With ``group`` (a spec or a built ``Group``) the data set is G-augmented (|G|·N samples); targets suit
    ``loss`` (``Loss.targets``), including after the group's output action.
    """
    function = "datasets"
    network = check_network_argument(function, network)
    try:
        loss_object = get_loss(loss)
    except InvalidInput as error:
        raise InvalidArgument(f"datasets(loss={loss!r}): {error}") from None
    min_samples = check_integer_argument(function, "min_samples", min_samples, 1)
    max_samples = check_integer_argument(function, "max_samples", max_samples, min_samples)
    bound = _check_positive_number(function, "bound", bound)
    if group is not None:
        try:
            group = group if isinstance(group, Group) else build_group(group, network)
            group.check_network(network)
        except InvalidInput as error:
            raise InvalidArgument(f"datasets(group={str(group)!r}): {error}") from None
        if loss_object.targets is TargetDomain.PROBABILITIES and not all(
            (np.asarray(g) >= 0).all() for g in group.outputs
        ):
            raise InvalidArgument(
                f"datasets(group={group.spec!r}, loss={loss!r}): the group's output action flips signs, which turns "
                "probability targets into non-probabilities; use output action trivial or a plain permutation"
            )
    if not loss_fits(loss_object, network):
        wanted = "m = 1 output per row" if loss_object.targets is TargetDomain.LABELS else "m >= 2 outputs per row"
        raise InvalidArgument(
            f"datasets(network={str(network)!r}, loss={loss!r}): {loss} needs {wanted}; the network has m = "
            f"{network.n_outputs}"
        )
    return _datasets(network, group, loss_object.name, min_samples, max_samples, bound)


@st.composite
def _thetas(draw, network: Network, scale: float) -> np.ndarray:
    seed = draw_labelled(draw, SEEDS, "theta seed")
    z = np.random.default_rng(seed).standard_normal(network.n_params)
    theta = scale * np.clip(z, -THETA_CLIP, THETA_CLIP)
    note(f"theta: {theta.tolist()!r}")
    return theta


def thetas(network, *, scale: float = 1.0) -> st.SearchStrategy[np.ndarray]:
    """Generic points θ ∈ R^D of ``network``: θ = scale·clip(z, −4, 4), z ~ N(0, I) from a drawn seed."""
    network = check_network_argument("thetas", network)
    scale = _check_positive_number("thetas", "scale", scale)
    return _thetas(network, scale)


__all__ = ["SEEDS", "datasets", "thetas"]
