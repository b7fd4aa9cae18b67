"""Counting at scale: the memory guard refuses before any work, and the block echelon basis and law gradients
from monomials agree with their direct definitions."""

import numpy as np
import pytest

from harness.algebra import modular
from harness.algebra.modular import PRIME
from harness.errors import InvalidInput
from harness.laws.counting import MEMORY_LIMIT_BYTES, check_memory, count_laws
from harness.laws.published import law_gradients
from harness.model.losses import get_loss
from harness.model.specs import parse_network


def test_memory_guard_accepts_the_benchmark_network_and_refuses_huge_quartic_moments():
    check_memory(parse_network("linear:50,50,50"), get_loss("mse"))
    with pytest.raises(InvalidInput, match=r"linear:20,20,20 under quartic needs about .* GiB"):
        count_laws("linear:20,20,20", "free", "quartic")
    assert MEMORY_LIMIT_BYTES < 24 << 30


def test_block_echelon_basis_rows_are_fully_reduced_after_many_blocks():
    rng = np.random.default_rng(2)
    n, rank = 60, 45
    matrix = modular.matmul(rng.integers(0, PRIME, (120, rank)), rng.integers(0, PRIME, (rank, n)))
    basis = modular.EchelonBasis(n)
    masks = [basis.add(matrix[i : i + 7]) for i in range(0, 120, 7)]  # many small blocks, merged as they come
    mask = np.concatenate(masks)
    assert basis.rank == rank == int(mask.sum())
    assert mask[:rank].all()  # random rows are independent until the rank is reached
    assert np.array_equal(basis.rows[:, basis.pivots], np.eye(rank, dtype=np.int64))
    reduced, pivots = modular.row_echelon(matrix)
    assert sorted(basis.pivots) == pivots.tolist()  # generic rows: both take the first columns as pivots
    assert basis.contains(reduced).all() and not basis.contains(rng.integers(1, PRIME, (1, n))).any()


@pytest.mark.parametrize(
    "spec", ["linear:4,3,2", "deep-linear:2,3,2,2", "poly:2,2,1,k=3", "attention:n=2,d=2,dk=1,dv=1"]
)
def test_law_gradients_from_monomials_match_float_finite_differences(spec):
    network = parse_network(spec)
    theta = np.random.default_rng(1).standard_normal(network.n_params)
    gradients = law_gradients(network, theta, exact=False)
    step = 1e-6
    for j in range(network.n_params):
        shift = np.zeros(network.n_params)
        shift[j] = step
        values_plus, _ = network.known_laws(theta + shift)
        values_minus, _ = network.known_laws(theta - shift)
        np.testing.assert_allclose(gradients[:, j], (values_plus - values_minus) / (2 * step), atol=1e-6)
