"""harness.algebra.modular: exact linear algebra mod p against sympy / Python integers."""

from fractions import Fraction

import numpy as np
import pytest
import sympy

from harness.algebra import modular
from harness.algebra.modular import PRIME


def low_rank(rng, rows, cols, rank):
    return modular.matmul(rng.integers(0, PRIME, (rows, rank)), rng.integers(0, PRIME, (rank, cols)))


@pytest.mark.parametrize("shape", [(3, 5), (40, 30), (7, 1)])
def test_matmul_is_exact(shape):
    rng = np.random.default_rng(1)
    a = rng.integers(0, PRIME, shape)
    b = rng.integers(0, PRIME, (shape[1], 4))
    expected = [
        [sum(int(a[i, k]) * int(b[k, j]) for k in range(shape[1])) % PRIME for j in range(4)] for i in range(shape[0])
    ]
    assert modular.matmul(a, b).tolist() == expected


def test_rank_matches_sympy_on_small_integer_matrices():
    rng = np.random.default_rng(2)
    for rank in range(0, 5):
        matrix = rng.integers(-3, 4, (6, rank)) @ rng.integers(-3, 4, (rank, 7)) if rank else np.zeros((6, 7), int)
        assert modular.rank(modular.reduce(matrix)) == sympy.Matrix(matrix.tolist()).rank()


def test_echelon_basis_marks_exactly_the_independent_rows_in_order():
    rng = np.random.default_rng(3)
    base = rng.integers(0, PRIME, (5, 30))
    rows = np.stack([base[0], base[1], (base[0] + base[1]) % PRIME, base[2], base[2], base[3], base[4]])
    basis = modular.EchelonBasis(30)
    assert basis.add(rows[:3]).tolist() == [True, True, False]
    assert basis.add(rows[3:]).tolist() == [True, False, True, True]
    assert basis.rank == 5
    assert basis.contains(rows).all()
    assert np.array_equal(basis.rows[:, basis.pivots], np.eye(5, dtype=np.int64))


def test_echelon_basis_in_large_batches_agrees_with_row_echelon():
    rng = np.random.default_rng(4)
    matrix = low_rank(rng, 150, 90, 70)
    basis = modular.EchelonBasis(90)
    basis.add(matrix)
    reduced, pivots = modular.row_echelon(matrix)
    assert basis.rank == len(pivots) == 70
    assert basis.contains(reduced).all()


def test_nullspace_and_solve():
    rng = np.random.default_rng(5)
    matrix = low_rank(rng, 8, 12, 5)
    kernel = modular.nullspace(matrix)
    assert kernel.shape == (7, 12)
    assert not np.any(modular.matmul(matrix, kernel.T))
    x = rng.integers(0, PRIME, 12)
    rhs = modular.matmul(matrix, x[:, None])[:, 0]
    solution = modular.solve(matrix, rhs)
    assert solution is not None  # rhs = matrix @ x: the system is consistent
    assert np.array_equal(modular.matmul(matrix, solution[:, None])[:, 0], rhs)
    assert modular.solve(matrix, (rhs + rng.integers(1, PRIME, 8)) % PRIME) is None  # rank 5 < 8 rows


@pytest.mark.parametrize("value", [Fraction(3, 7), Fraction(-22, 5), Fraction(1), Fraction(-1, 1000)])
def test_rational_reconstruction_inverts_from_rational(value):
    assert modular.rational_reconstruction(modular.from_rational(value)) == value


def test_inverse_of_zero_raises():
    with pytest.raises(ZeroDivisionError):
        modular.inverse(0)
