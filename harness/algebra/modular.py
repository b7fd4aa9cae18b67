"""Exact linear algebra over the prime field Z/p, vectorised with numpy.

The counting engine evaluates polynomial vector fields with rational coefficients at random points and asks
for ranks. Working modulo one prime p keeps every number a machine integer, and the rank it finds is sound:
for an integer matrix A(θ) evaluated at an integer point, rank_p A(θ) ≤ rank_Q A(θ) ≤ the generic rank, so a
rank mod p is always a lower bound of the generic rank over Q, and by Schwartz–Zippel it equals it except
with probability ≤ degree/p.

p = 67108859 < 2^26, so a product of two residues is < 2^52 and int64 can hold sums of up to 2^11 such
products. Large products are done in float64 instead (40x faster than numpy's integer matmul): one operand
is split into 13-bit halves, so each partial product is < 2^39 and a float64 dot product of up to 2^14 terms
stays exact (< 2^53).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

PRIME = 67108859  # the largest prime below 2^26
_HALF_BITS = 13
_FLOAT_EXACT_TERMS = 1 << 14


def reduce(values) -> np.ndarray:
    """Residues in [0, p) as int64 (accepts any integer array, Python ints or objects)."""
    array = np.asarray(values)
    if array.dtype == object:
        return (
            np.vectorize(lambda v: int(v) % PRIME, otypes=[np.int64])(array) if array.size else array.astype(np.int64)
        )
    return np.mod(array.astype(np.int64, copy=False), PRIME)


def inverse(value: int) -> int:
    """The inverse of a non-zero residue (Fermat)."""
    value = int(value) % PRIME
    if value == 0:
        raise ZeroDivisionError("0 has no inverse modulo p")
    return pow(value, PRIME - 2, PRIME)


def from_rational(value) -> int:
    """The residue of a rational number a/b (b not divisible by p)."""
    value = Fraction(value)
    return value.numerator % PRIME * inverse(value.denominator) % PRIME


def matmul(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """left @ right modulo p for residue matrices (any batch shape numpy's matmul accepts)."""
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    inner = left.shape[-1]
    if inner == 0:
        return np.zeros(
            np.broadcast_shapes(left.shape[:-1] + (1,), right.shape[:-2] + (1, 1))[:-1] + (right.shape[-1],),
            dtype=np.int64,
        )
    if inner > _FLOAT_EXACT_TERMS:
        half = inner // 2
        return (matmul(left[..., :half], right[..., :half, :]) + matmul(left[..., half:], right[..., half:, :])) % PRIME
    high = (left >> _HALF_BITS).astype(np.float64)
    low = (left & ((1 << _HALF_BITS) - 1)).astype(np.float64)
    right_float = right.astype(np.float64)
    high_part = np.mod(high @ right_float, PRIME).astype(np.int64)
    low_part = np.mod(low @ right_float, PRIME).astype(np.int64)
    return (high_part * (1 << _HALF_BITS) + low_part) % PRIME


def row_echelon(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reduced row-echelon form of a residue matrix: (rows of the basis, pivot column of each row)."""
    work = reduce(matrix).copy()
    rows, cols = work.shape
    pivots = []
    r = 0
    for c in range(cols):
        if r == rows:
            break
        nonzero = np.nonzero(work[r:, c])[0]
        if nonzero.size == 0:
            continue
        k = r + nonzero[0]
        if k != r:
            work[[r, k]] = work[[k, r]]
        work[r] = work[r] * inverse(work[r, c]) % PRIME
        factors = work[:, c].copy()
        factors[r] = 0
        hit = np.nonzero(factors)[0]
        if hit.size:
            work[hit] = (work[hit] - np.outer(factors[hit], work[r]) % PRIME) % PRIME
        pivots.append(c)
        r += 1
    return work[:r], np.asarray(pivots, dtype=np.int64)


def rank(matrix: np.ndarray) -> int:
    """rank_p of a residue matrix (a lower bound of the rank over Q of the integer matrix it reduces)."""
    matrix = np.asarray(matrix)
    if matrix.size == 0:
        return 0
    basis = EchelonBasis(matrix.shape[1])
    basis.add(matrix)
    return basis.rank


def nullspace(matrix: np.ndarray) -> np.ndarray:
    """A basis (rows) of {v : matrix @ v = 0 mod p}."""
    matrix = np.asarray(matrix)
    cols = matrix.shape[1]
    reduced, pivots = row_echelon(matrix) if matrix.shape[0] else (np.zeros((0, cols), np.int64), np.zeros(0, np.int64))
    free = [c for c in range(cols) if c not in set(pivots.tolist())]
    kernel = np.zeros((len(free), cols), dtype=np.int64)
    for i, c in enumerate(free):
        kernel[i, c] = 1
        kernel[i, pivots] = (-reduced[:, c]) % PRIME
    return kernel


def solve(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray | None:
    """One solution x of matrix @ x = rhs mod p, or None when the system is inconsistent."""
    matrix = reduce(matrix)
    rhs = reduce(rhs).reshape(-1, 1)
    reduced, pivots = row_echelon(np.concatenate([matrix, rhs], axis=1))
    if pivots.size and pivots[-1] == matrix.shape[1]:
        return None
    solution = np.zeros(matrix.shape[1], dtype=np.int64)
    solution[pivots] = reduced[:, -1]
    return solution


def rational_reconstruction(residue: int, bound: int | None = None) -> Fraction | None:
    """The fraction a/b with |a|, b ≤ bound and a ≡ b·residue (mod p), if one exists (Wang's algorithm)."""
    bound = bound or int((PRIME // 2) ** 0.5)
    r0, r1 = PRIME, int(residue) % PRIME
    s0, s1 = 0, 1
    while r1 > bound:
        q = r0 // r1
        r0, r1 = r1, r0 - q * r1
        s0, s1 = s1, s0 - q * s1
    if s1 == 0 or abs(s1) > bound:
        return None
    return Fraction(r1, s1)


@dataclass
class EchelonBasis:
    """A subspace of (Z/p)^n grown vector by vector, kept in reduced row-echelon form.

    ``add`` returns which of the offered vectors were new (independent of everything before them), so a
    caller can keep exactly the samples that raised the rank.
    """

    _BLOCK = 48

    n_columns: int
    rows: np.ndarray = field(default=None)  # type: ignore[assignment]
    pivots: list = field(default_factory=list)

    def __post_init__(self):
        if self.rows is None:
            self.rows = np.zeros((0, self.n_columns), dtype=np.int64)

    @property
    def rank(self) -> int:
        return len(self.pivots)

    def residual(self, vectors: np.ndarray) -> np.ndarray:
        """vectors minus their component in the span (zero rows are the dependent ones)."""
        vectors = reduce(np.atleast_2d(vectors))
        if not self.pivots:
            return vectors
        return (vectors - matmul(vectors[:, self.pivots], self.rows)) % PRIME

    def contains(self, vectors: np.ndarray) -> np.ndarray:
        return ~np.any(self.residual(vectors), axis=1)

    def add(self, vectors: np.ndarray) -> np.ndarray:
        """Add vectors (rows) in order; returns a boolean mask of those that raised the rank.

        One matmul reduces the whole batch against the basis; the batch is then reduced among itself (small),
        and the old rows are cleared at the new pivot columns with one more matmul.
        """
        vectors = np.atleast_2d(vectors)
        if vectors.shape[0] > self._BLOCK:  # the in-batch reduction is quadratic in the batch: keep batches small
            return np.concatenate(
                [self.add(vectors[i : i + self._BLOCK]) for i in range(0, vectors.shape[0], self._BLOCK)]
            )
        residual = self.residual(vectors)
        new = np.zeros(residual.shape[0], dtype=bool)
        block = np.zeros_like(residual)  # the batch's new rows, in reduced echelon form among themselves
        fresh_pivots: list[int] = []
        for i in range(residual.shape[0]):
            row = residual[i]
            n = len(fresh_pivots)
            if n:
                # Earlier vectors of this batch joined the basis after ``residual`` was computed; at most
                # _BLOCK products of residues per entry, so int64 cannot overflow.
                row = (row - (row[fresh_pivots] @ block[:n]) % PRIME) % PRIME
            nonzero = np.flatnonzero(row)
            if nonzero.size == 0:
                continue
            c = int(nonzero[0])
            row = row * inverse(row[c]) % PRIME
            if n:
                block[:n] = (block[:n] - np.outer(block[:n, c], row) % PRIME) % PRIME
            block[n] = row
            fresh_pivots.append(c)
            new[i] = True
        if fresh_pivots:
            block = block[: len(fresh_pivots)]
            if self.pivots:
                self.rows = (self.rows - matmul(self.rows[:, fresh_pivots], block)) % PRIME
            self.rows = np.concatenate([self.rows, block])
            self.pivots.extend(fresh_pivots)
        return new
