"""Data sets: validation, augmentation closes orbits, MSE moments, targets per loss."""

import numpy as np
import pytest

from harness.data import DataSet, augment, is_closed, moments, random_dataset
from harness.errors import InvalidInput
from harness.groups import build_group
from harness.networks import parse_network


def test_augmentation_is_closed_and_plain_data_is_not():
    rng = np.random.default_rng(0)
    network = parse_network("linear:3,1,1")
    group = build_group("cyclic/trivial", network)
    data = random_dataset(network, 4, rng)
    augmented = augment(data, group)
    assert augmented.n_samples == 12
    assert is_closed(augmented, group)
    assert not is_closed(data, group)


def test_augmented_moments_commute_with_the_action():
    """M = aI + b11ᵀ and C ∝ 1ᵀ for the cyclic shift with invariant targets (DESIGN.md worked example)."""
    rng = np.random.default_rng(1)
    network = parse_network("linear:3,1,1")
    group = build_group("cyclic/trivial", network)
    M, C = moments(network, augment(random_dataset(network, 5, rng), group))
    for g in group.inputs:
        np.testing.assert_allclose(g @ M @ g.T, M, atol=1e-12)
        np.testing.assert_allclose(C @ g.T, C, atol=1e-12)
    assert np.allclose(np.diag(M), M[0, 0]) and np.allclose(C, C[0, 0])


def test_moments_equal_mean_over_rows_for_attention():
    rng = np.random.default_rng(2)
    network = parse_network("attention:n=3,d=2,dk=1,dv=1")
    data = random_dataset(network, 4, rng)
    M, C = moments(network, data)
    psi = network.features(data.x)
    assert psi.shape == (12, 8)
    np.testing.assert_allclose(M, psi.T @ psi / 12)


@pytest.mark.parametrize("loss, check", [
    ("logistic", lambda y: set(np.unique(y)) <= {-1.0, 1.0}),
    ("cross-entropy", lambda y: np.allclose(y.sum(axis=1), 1) and (y >= 0).all()),
])
def test_targets_suit_the_loss(loss, check):
    rng = np.random.default_rng(3)
    network = parse_network("linear:3,2,1" if loss == "logistic" else "linear:3,2,3")
    data = random_dataset(network, 6, rng, loss=loss, targets="teacher")
    assert check(data.y)
    data.check_network(network, loss)


def test_bad_data_get_clear_messages():
    with pytest.raises(InvalidInput, match="x has 3 samples but y has 2"):
        DataSet(np.zeros((3, 2)), np.zeros((2, 1)))
    with pytest.raises(InvalidInput, match="data x contains NaN or inf"):
        DataSet(np.array([[np.nan, 0.0]]), np.zeros((1, 1)))
    with pytest.raises(InvalidInput, match="data y contains NaN or inf"):
        DataSet(np.zeros((1, 2)), np.array([[np.inf]]))
    network = parse_network("linear:3,2,1")
    with pytest.raises(InvalidInput, match="data have 2 inputs and 1 outputs; linear:3,2,1 needs 3 and 1"):
        DataSet(np.zeros((1, 2)), np.zeros((1, 1))).check_network(network)
    with pytest.raises(InvalidInput, match="logistic loss needs labels ±1, got label 0.5"):
        DataSet(np.zeros((1, 3)), np.array([[0.5]])).check_network(network, "logistic")
    with pytest.raises(InvalidInput, match="logistic loss needs a scalar output"):
        DataSet(np.zeros((1, 3)), np.ones((1, 2))).check_network(parse_network("linear:3,2,2"), "logistic")
    with pytest.raises(InvalidInput, match="unknown target kind"):
        random_dataset(network, 3, np.random.default_rng(0), targets="oracle")


def test_augment_checks_dimensions():
    group = build_group("cyclic", parse_network("linear:3,1,1"))
    with pytest.raises(InvalidInput, match="group cyclic/trivial acts on 3 inputs and 1 outputs"):
        augment(DataSet(np.zeros((1, 4)), np.zeros((1, 1))), group)
