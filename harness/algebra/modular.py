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
from numba import njit

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
    if isinstance(value, (int, np.integer)):
        return int(value) % PRIME
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
    return matmul_float_right(left, right.astype(np.float64))


def matmul_float_right(left: np.ndarray, right_float: np.ndarray) -> np.ndarray:
    """``matmul`` with the right operand's residues already as float64 (a basis reused for many products);
    the inner dimension must be 1 … 2^14."""
    left = np.asarray(left, dtype=np.int64)
    high = (left >> _HALF_BITS).astype(np.float64)
    low = (left & ((1 << _HALF_BITS) - 1)).astype(np.float64)
    high_part = np.ascontiguousarray(high @ right_float)
    low_part = np.ascontiguousarray(low @ right_float)
    out = np.empty(high_part.shape, dtype=np.int64)
    _combine_halves(high_part.reshape(-1), low_part.reshape(-1), out.reshape(-1))
    return out


@njit(cache=True)
def _combine_halves(high, low, out):
    """out = (high · 2^13 + low) mod p for exact integer-valued float64 products (< 2^53), in one pass."""
    for i in range(out.shape[0]):
        out[i] = ((np.int64(high[i]) % PRIME) * (1 << _HALF_BITS) + np.int64(low[i])) % PRIME


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
    """A subspace of (Z/p)^n grown vector by vector, in echelon form.

    ``add`` returns which of the offered vectors were new (independent of everything before them), so a
    caller can keep exactly the samples that raised the rank.

    The basis is a list of blocks; each block is in reduced row-echelon form among itself and zero at the
    pivot columns of every earlier block (not of later ones). Reducing a vector through the blocks in order
    gives the one vector of v + span that is zero at all pivots (the residual), exactly as a fully reduced
    basis would; but an added block never rewrites the rows before it, which for D = 5000 was a pass over
    an r × n matrix per batch. Small trailing blocks are merged (up to ``_CHUNK`` rows) so a residual takes
    few matrix products. ``rows`` materialises the fully reduced form on demand.
    """

    _BLOCK = 48
    _CHUNK = 512

    n_columns: int
    blocks: list = field(default_factory=list)  # (rows, pivot columns, rows as float64) per block

    @property
    def rank(self) -> int:
        return sum(len(block[1]) for block in self.blocks)

    @property
    def pivots(self) -> list[int]:
        return [int(c) for block in self.blocks for c in block[1]]

    @property
    def rows(self) -> np.ndarray:
        """The basis in reduced row-echelon form (rows in the order of ``pivots``)."""
        if not self.blocks:
            return np.zeros((0, self.n_columns), dtype=np.int64)
        return _fully_reduced(self.blocks)[0]

    def residual(self, vectors: np.ndarray) -> np.ndarray:
        """vectors minus their component in the span (zero rows are the dependent ones)."""
        vectors = reduce(np.atleast_2d(vectors))
        for _, pivots, rows_float in self.blocks:
            vectors = (vectors - matmul_float_right(vectors[:, pivots], rows_float)) % PRIME
        return vectors

    def contains(self, vectors: np.ndarray) -> np.ndarray:
        return ~np.any(self.residual(vectors), axis=1)

    def add(self, vectors: np.ndarray) -> np.ndarray:
        """Add vectors (rows) in order; returns a boolean mask of those that raised the rank.

        The batch is reduced against the basis (one product per block), then among itself (small) into a
        new block.
        """
        vectors = np.atleast_2d(vectors)
        if vectors.shape[0] > self._BLOCK:  # the in-batch reduction is quadratic in the batch: keep batches small
            return np.concatenate(
                [self.add(vectors[i : i + self._BLOCK]) for i in range(0, vectors.shape[0], self._BLOCK)]
            )
        residual = self.residual(vectors)
        new, block, fresh = _reduce_batch(np.ascontiguousarray(residual, dtype=np.int64))
        fresh_pivots = fresh.tolist()
        if fresh_pivots:
            self.blocks.append((block, fresh, block.astype(np.float64)))
            while len(self.blocks) >= 2 and len(self.blocks[-2][1]) + len(self.blocks[-1][1]) <= self._CHUNK:
                self.blocks[-2:] = [_fully_reduced(self.blocks[-2:])]
        return new


@njit(cache=True)
def _reduce_batch(residual):
    """Row reduction of a batch already reduced against the basis: (mask of the rows that were new, the new
    rows in reduced echelon form among themselves, their pivot columns).

    The block is reduced among itself (zero at each other's pivots), so a row's factors are read once from
    the row itself and the ≤ _BLOCK products (< 2^52 each) are summed unreduced: one reduction per entry.
    """
    count, n = residual.shape
    new = np.zeros(count, dtype=np.bool_)
    block = np.zeros((count, n), dtype=np.int64)
    pivots = np.zeros(count, dtype=np.int64)
    row = np.empty(n, dtype=np.int64)
    factors = np.empty(count, dtype=np.int64)
    found = 0
    for i in range(count):
        row[:] = residual[i]
        for k in range(found):
            factors[k] = row[pivots[k]]
        for k in range(found):
            factor = factors[k]
            if factor:
                for j in range(n):
                    row[j] -= factor * block[k, j]
            if k % 1024 == 1023:  # stay far below 2^63 in any batch size
                for j in range(n):
                    row[j] %= PRIME
        c = -1
        for j in range(n):
            row[j] %= PRIME
            if c < 0 and row[j]:
                c = j
        if c < 0:
            continue
        scale = _inverse(row[c])
        for j in range(n):
            row[j] = row[j] * scale % PRIME
        for k in range(found):  # keep the block reduced at the new pivot
            factor = block[k, c]
            if factor:
                for j in range(n):
                    block[k, j] = (block[k, j] - factor * row[j]) % PRIME
        block[found] = row
        pivots[found] = c
        found += 1
        new[i] = True
    return new, block[:found].copy(), pivots[:found].copy()


@njit(cache=True)
def _inverse(value):
    result, base, exponent = 1, value % PRIME, PRIME - 2
    while exponent:
        if exponent & 1:
            result = result * base % PRIME
        base = base * base % PRIME
        exponent >>= 1
    return result


def _fully_reduced(blocks: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One block in reduced row-echelon form from consecutive blocks (each zero at earlier blocks' pivots):
    from the last block back, each earlier block is cleared at the pivots of the (already reduced) later ones."""
    tail_rows, tail_pivots = blocks[-1][0], blocks[-1][1]
    for rows, pivots, _ in reversed(blocks[:-1]):
        rows = (rows - matmul(rows[:, tail_pivots], tail_rows)) % PRIME
        tail_rows = np.concatenate([rows, tail_rows])
        tail_pivots = np.concatenate([pivots, tail_pivots])
    return tail_rows, tail_pivots, tail_rows.astype(np.float64)
