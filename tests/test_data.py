"""Data sets: validation, augmentation closes orbits, MSE moments, targets per loss."""

import numpy as np
import pytest

from harness.errors import InvalidInput
from harness.model.data import (
    DATA_CLASSES,
    TARGET_KINDS,
    DataClass,
    DataSet,
    TargetKind,
    augment,
    check_data_size,
    check_seed,
    is_closed,
    moments,
    random_dataset,
    values_per_sample,
)
from harness.model.groups import build_group
from harness.model.scenario import Scenario
from harness.model.specs import parse_network


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


@pytest.mark.parametrize(
    "loss, check",
    [
        ("logistic", lambda y: set(np.unique(y)) <= {-1.0, 1.0}),
        ("cross-entropy", lambda y: np.allclose(y.sum(axis=1), 1) and (y >= 0).all()),
    ],
)
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


# --- is_closed: exact semantics (a one-to-one matching within tol·scale), O(N log N) ------------------------


def closed_by_assignment(data, group, tol=1e-9):
    """The reference: for each g, a one-to-one matching of moved with original samples within tol·scale exists
    (brute force over the dense distance matrix, bottleneck check by thresholding)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    joined = np.concatenate([data.x, data.y], axis=1)
    scale = max(1.0, np.abs(joined).max())
    for g_in, g_out in zip(group.inputs, group.outputs):
        moved = np.concatenate([data.x @ g_in.T, data.y @ g_out.T], axis=1)
        near = np.abs(moved[:, None, :] - joined[None, :, :]).max(axis=2) <= tol * scale
        matching = maximum_bipartite_matching(csr_matrix(near.astype(np.int8)), perm_type="column")
        if (matching < 0).any():
            return False
    return True


def test_repeated_samples_count_with_multiplicity():
    network = parse_network("linear:3,1,1")
    group = build_group("cyclic/trivial", network)
    base = random_dataset(network, 3, np.random.default_rng(4))
    twice = DataSet(np.concatenate([base.x, base.x]), np.concatenate([base.y, base.y]))
    assert is_closed(augment(twice, group), group)
    orbit = augment(base, group)
    lopsided = DataSet(np.concatenate([orbit.x, base.x[:1]]), np.concatenate([orbit.y, base.y[:1]]))
    assert not is_closed(lopsided, group)  # one sample twice, its images once: not a multiset orbit


def test_two_moved_samples_cannot_share_one_original():
    """Near-duplicates: (a, a+ε) moved onto (a, a) is a match only if the matching is one-to-one."""
    group = build_group("flip/trivial", parse_network("linear:2,1,1"))
    a = np.array([0.3, -0.7])
    x = np.array([a, -a, -a + [1e-12, 0.0], a + [1e-12, 0.0]])
    assert is_closed(DataSet(x, np.zeros((4, 1))), group)
    x_bad = np.array([a, -a, -a, a + [1e-3, 0.0]])
    assert not is_closed(DataSet(x_bad, np.zeros((4, 1))), group)


def test_tolerance_boundary_is_in_the_max_norm():
    group = build_group("flip/trivial", parse_network("linear:2,1,1"))
    x = np.array([[1.0, 2.0], [-1.0, -2.0 + 1.9e-9]])  # scale = 2: tol·scale = 2e-9
    assert is_closed(DataSet(x, np.zeros((2, 1))), group)
    assert not is_closed(DataSet(x, np.zeros((2, 1))), group, tol=0.9e-9)


@pytest.mark.parametrize(
    "spec,group_spec", [("linear:3,1,1", "cyclic/trivial"), ("linear:4,1,1", "rot:4"), ("linear:3,2,1", "flip/sign")]
)
def test_is_closed_agrees_with_the_brute_force_matching(spec, group_spec):
    network = parse_network(spec)
    group = build_group(group_spec, network)
    rng = np.random.default_rng(5)
    for trial in range(20):
        data = augment(random_dataset(network, 1 + trial % 4, rng), group)
        x, y = data.x.copy(), data.y.copy()
        if trial % 3 == 1:  # drop a sample
            x, y = x[1:], y[1:]
        elif trial % 3 == 2:  # nudge one sample by about the tolerance
            x[0, 0] += rng.choice([0.5e-9, 5e-9])
        candidate = DataSet(x, y)
        assert is_closed(candidate, group) == closed_by_assignment(candidate, group), trial


def test_is_closed_on_60000_samples_is_fast_and_small():
    import time

    network = parse_network("linear:4,1,1")
    group = build_group("rot:4", network)
    data = augment(random_dataset(network, 15_000, np.random.default_rng(6)), group)
    assert data.n_samples == 60_000
    start = time.perf_counter()
    assert is_closed(data, group)
    assert not is_closed(DataSet(data.x[1:], data.y[1:]), group)
    assert time.perf_counter() - start < 30  # the dense 60 000² distance matrix would need 29 GB


# --- size guards and seeds ---------------------------------------------------------------------------------


def test_sample_counts_are_bounded_before_any_array_is_built():
    network = parse_network("linear:3,2,2")
    with pytest.raises(
        InvalidInput,
        match=r"n_samples=300000000: 300,000,000 samples of 5 numbers each .* above "
        r"the limit of 10,000,000 \(80 MB\); allowed: at most 2,000,000 samples",
    ):
        random_dataset(network, 300_000_000, np.random.default_rng(0))
    with pytest.raises(InvalidInput, match=r"--samples 900000: 900,000 samples × 3 group elements"):
        check_data_size(network, 900_000, 3, name="--samples")
    assert check_data_size(network, 600_000, 3) == 600_000
    for bad in (0, -1, 2.5, True, "8"):
        with pytest.raises(InvalidInput, match="must be a positive integer"):
            check_data_size(network, bad)


def test_feature_rows_count_in_the_size_guard():
    network = parse_network("poly:3,2,1,k=3")  # K = 10 monomials of degree 3 per sample
    assert values_per_sample(network) == network.n_features + network.n_outputs
    attention = parse_network("attention:n=3,d=2,dk=1,dv=1")
    assert values_per_sample(attention) == attention.rows_per_sample * (attention.n_features + attention.n_outputs)


def test_augmentation_is_bounded():
    network = parse_network("linear:3,1,1")
    group = build_group("cyclic/trivial", network)
    data = DataSet(np.zeros((1_000_000, 3)), np.zeros((1_000_000, 1)))
    with pytest.raises(InvalidInput, match=r"augmenting 1,000,000 samples by cyclic/trivial \(3 elements\)"):
        augment(data, group)


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, "3", True, None])
def test_bad_seeds_are_refused(seed):
    with pytest.raises(InvalidInput, match=r"is not a valid seed; allowed: an integer from 0 to 2\*\*64 - 1"):
        check_seed(seed)


def test_good_seeds_pass():
    assert check_seed(0) == 0 and check_seed(np.int64(7)) == 7 and check_seed(2**64 - 1) == 2**64 - 1


def test_data_class_and_target_kind_are_enums_with_the_stored_values():
    assert DATA_CLASSES == ("free", "augmented") and TARGET_KINDS == ("random", "teacher")
    assert all(member.message for member in (*DataClass, *TargetKind))
    assert f"{DataClass.AUGMENTED}" == "augmented" and TargetKind("teacher") is TargetKind.TEACHER
    # A scenario given members stores the plain strings, so its line and JSON are as before.
    scenario = Scenario("linear:2,1,1", group="flip/trivial", data=DataClass.AUGMENTED, targets=TargetKind.TEACHER)
    assert type(scenario.data) is str and type(scenario.targets) is str
    assert str(scenario) == "linear:2,1,1 | flip/trivial | augmented | mse | N=8 | seed=0"
    assert '"data": "augmented"' in scenario.to_json() and '"targets": "teacher"' in scenario.to_json()
    with pytest.raises(InvalidInput, match="data class"):
        Scenario("linear:2,1,1", data="everything")
