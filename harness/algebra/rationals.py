"""Exact linear algebra over Q on lists of Fractions (sympy ``DomainMatrix`` underneath), with a modular shortcut.

``rational_nullspace`` solves a sparse homogeneous system exactly; given random evaluations of the same
conditions it first tries the modular route (``nullspace_modular``: elimination modulo the one prime of
``harness.algebra.modular``, rational reconstruction, and an exact check of every lifted vector against
every exact row), and falls back to exact elimination when that route cannot prove its answer.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable, Sequence

import numpy as np
from sympy import QQ
from sympy.polys.matrices import DomainMatrix

from harness.algebra import modular


def to_fraction(value) -> Fraction:
    return Fraction(int(value.numerator), int(value.denominator))


def rational_nullspace(rows: Iterable[dict], n_columns: int, sample_rows=None) -> list:
    """Basis of {c ∈ Q^n : Σ_j row[j] c_j = 0 for every row}, each vector a list of Fractions.

    With ``sample_rows`` (random evaluations of the same conditions) the modular route is tried first.
    """
    rows = list(rows)
    if sample_rows is not None and n_columns:
        basis = nullspace_modular(sample_rows, rows, n_columns)
        if basis is not None:
            return basis
    sparse = {}
    for row in rows:
        entries = {j: QQ(v.numerator, v.denominator) if isinstance(v, Fraction) else QQ(v) for j, v in row.items() if v}
        if entries:
            sparse[len(sparse)] = entries
    if not sparse:
        return [[Fraction(int(i == j)) for j in range(n_columns)] for i in range(n_columns)]
    matrix = DomainMatrix(sparse, (len(sparse), n_columns), QQ)
    return [[to_fraction(v) for v in vector] for vector in matrix.nullspace().to_list()]


def nullspace_modular(sample_rows, exact_rows: list, n_columns: int):
    """The exact nullspace by way of random evaluations modulo a prime, or None when that route fails.

    ``sample_rows(count, seed)`` gives ≥ count conditions as integer rows evaluated at random points (mod
    PRIME). Rows from one point are strongly correlated, so batches are added until a whole batch leaves the
    rank unchanged. The nullspace modulo p contains the reduction of the true one; its echelon basis is lifted
    to Q by rational reconstruction and each vector is checked against every exact row. If all pass, they are
    nullity_p independent vectors of the true nullspace, whose dimension is at most nullity_p: the basis is
    exact. Any failure (too few points, large coefficients) sends the caller to exact elimination.
    """
    batch = max(n_columns // 2, 16)
    reduced = np.zeros((0, n_columns), dtype=np.int64)
    pivots = np.zeros(0, dtype=np.int64)
    for attempt in range(1, 13):
        samples = np.asarray(sample_rows(batch, attempt), dtype=np.int64).reshape(-1, n_columns)
        previous_rank = len(pivots)
        reduced, pivots = modular.row_echelon(np.vstack([reduced, samples]))
        if len(pivots) == n_columns or (len(pivots) == previous_rank and attempt > 1):
            break
    pivot_set = set(pivots)
    basis = []
    for free in range(n_columns):
        if free in pivot_set:
            continue
        vector = [Fraction(0)] * n_columns
        vector[free] = Fraction(1)
        for row, pivot in enumerate(pivots):
            value = modular.rational_reconstruction(-int(reduced[row, free]))
            if value is None:
                return None
            vector[pivot] = value
        basis.append(vector)
    for vector in basis:
        support = {j: v for j, v in enumerate(vector) if v}
        for row in exact_rows:
            if sum((v * support[j] for j, v in row.items() if j in support), Fraction(0)):
                return None
    return basis


def domain_matrix(vectors: Sequence[Sequence], n_columns: int) -> DomainMatrix:
    sparse = {}
    for i, vector in enumerate(vectors):
        entries = {j: QQ(Fraction(v).numerator, Fraction(v).denominator) for j, v in enumerate(vector) if v}
        if entries:
            sparse[i] = entries
    return DomainMatrix(sparse, (max(len(vectors), 1), n_columns), QQ)


def dense_rows(matrix: DomainMatrix) -> list:
    return [[to_fraction(v) for v in row] for row in matrix.to_list()]


def rational_rank(vectors: Sequence[Sequence], n_columns: int) -> int:
    if not vectors:
        return 0
    return domain_matrix(vectors, n_columns).rank()


def row_basis(vectors: Sequence[Sequence], n_columns: int) -> tuple:
    """Reduced row echelon basis of span(vectors) and its pivot columns."""
    if not vectors:
        return [], ()
    reduced, pivots = domain_matrix(vectors, n_columns).rref()
    rows = [[to_fraction(v) for v in row] for row in reduced.to_list()[: len(pivots)]]
    return rows, tuple(pivots)


def reduce_against(vector: Sequence, basis_rows: Sequence, pivots: Sequence) -> list:
    """vector minus its component along span(basis_rows): zero at every pivot column (projection onto the
    coordinate complement of the span)."""
    reduced = [Fraction(v) for v in vector]
    for row, pivot in zip(basis_rows, pivots):
        factor = reduced[pivot]
        if factor:
            reduced = [a - factor * b for a, b in zip(reduced, row)]
    return reduced
