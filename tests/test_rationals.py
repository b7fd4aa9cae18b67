"""harness.algebra.rationals: exact nullspaces over Q, and the modular shortcut on the one prime of modular.py."""

import random
from fractions import Fraction
from math import isqrt

from harness.algebra import modular
from harness.algebra.rationals import nullspace_modular, rational_nullspace, rational_rank, row_basis


def _sampler(rows, n_columns):
    """Random integer combinations of the exact rows, reduced mod the one prime (what the law search feeds in)."""

    def sample_rows(count, seed):
        rng = random.Random(seed)
        out = []
        for _ in range(count):
            weights = [rng.randrange(1, 1000) for _ in rows]
            out.append(
                [
                    sum(modular.from_rational(w * row.get(j, 0)) for w, row in zip(weights, rows)) % modular.PRIME
                    for j in range(n_columns)
                ]
            )
        return out

    return sample_rows


def _is_kernel(rows, vectors):
    return all(sum(v * vector[j] for j, v in row.items()) == 0 for row in rows for vector in vectors)


def test_the_modular_route_finds_the_exact_nullspace():
    rows = [{0: 1, 1: -2}, {2: 1, 3: Fraction(1, 3)}]
    basis = nullspace_modular(_sampler(rows, 4), rows, 4)
    assert basis is not None and len(basis) == 2 and _is_kernel(rows, basis)
    assert rational_rank(basis, 4) == 2
    assert basis == rational_nullspace(rows, 4, _sampler(rows, 4))


def test_coefficients_beyond_the_reconstruction_bound_fall_back_to_exact_elimination():
    bound = isqrt(modular.PRIME // 2)
    rows = [{0: 1, 1: -(bound + 1) * 7}]  # the kernel vector needs a numerator above the bound of the one prime
    assert nullspace_modular(_sampler(rows, 2), rows, 2) is None
    exact = rational_nullspace(rows, 2, _sampler(rows, 2))
    assert len(exact) == 1 and _is_kernel(rows, exact)


def test_row_basis_is_reduced_echelon():
    rows, pivots = row_basis([[2, 4, 0], [1, 2, 1]], 3)
    assert pivots == (0, 2) and rows == [[1, 2, 0], [0, 0, 1]]
