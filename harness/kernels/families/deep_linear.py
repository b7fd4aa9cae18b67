"""Dense gradient of the deep linear family: Φ = W_L ⋯ W_1 by prefix products, ∇W_i = B_{i+1}ᵀ G A_{i−1}ᵀ.

θ = (W_1, …, W_L) row-major, W_i ∈ R^{n_i × n_{i−1}}; ``shape`` = (L, n_0, …, n_L). ``forward`` keeps the prefix
products A_i = W_i ⋯ W_1 (n_i × n_0, i < L) in ``work``; ``backward`` carries S_i = B_{i+1}ᵀ G = W_{i+1}ᵀ S_{i+1}
(n_i × n_0, S_L = G, B_i = W_L ⋯ W_i) down the layers and takes ∇W_i = S_i A_{i−1}ᵀ (A_0 = I, so ∇W_1 = S_1).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from harness.kernels.families import COUNTED, gemm_loops

STRUCTURE = 2


def work_length(widths) -> int:
    """Entries of ``work``: the prefixes A_1 … A_{L−1}, then two S buffers of the widest n_i · n_0."""
    n_0 = widths[0]
    prefixes = sum(width * n_0 for width in widths[1:-1])
    return prefixes + 2 * max(width * n_0 for width in widths[1:])


@njit(cache=True, inline="always")
def _offset(shape, i):
    """Offset of W_i (1-based) in θ."""
    offset = 0
    for layer in range(1, i):
        offset += shape[layer + 1] * shape[layer]
    return offset


@njit(cache=True, inline="always")
def _prefix_offset(shape, i):
    """Offset of A_i (1 ≤ i < L) in ``work``."""
    offset = 0
    for layer in range(1, i):
        offset += shape[layer + 1] * shape[1]
    return offset


@njit(cache=True, inline="always")
def _weight(theta, shape, i):
    """W_i as an (n_i, n_{i−1}) view of θ (BLAS branch)."""
    offset = _offset(shape, i)
    return theta[offset : offset + shape[i + 1] * shape[i]].reshape(shape[i + 1], shape[i])


@njit(cache=True, inline="always")
def _prefix(shape, work, i):
    """A_i as an (n_i, n_0) view of ``work`` (BLAS branch)."""
    offset = _prefix_offset(shape, i)
    return work[offset : offset + shape[i + 1] * shape[1]].reshape(shape[i + 1], shape[1])


@njit(cache=True, **COUNTED)
def forward(theta, shape, table, weights, blas, phi, work):
    """Φ = W_L ⋯ W_1 into ``phi``, leaving A_1 … A_{L−1} in ``work`` (A_1 = W_1 copied)."""
    layers, n_0 = shape[0], shape[1]
    for p in range(shape[2] * n_0):
        work[p] = theta[p]
    if blas:
        for i in range(2, layers):
            np.dot(_weight(theta, shape, i), _prefix(shape, work, i - 1), _prefix(shape, work, i))
        np.dot(_weight(theta, shape, layers), _prefix(shape, work, layers - 1), phi)
        return
    for i in range(2, layers):  # A_i = W_i A_{i−1}
        rows, inner = shape[i + 1], shape[i]
        previous, offset = _prefix_offset(shape, i - 1), _offset(shape, i)
        gemm_loops(theta, offset, inner, 1, work, previous, n_0, 1, work, _prefix_offset(shape, i), rows, inner, n_0)
    flat = phi.reshape(phi.size)
    rows, inner = shape[layers + 1], shape[layers]
    previous, offset = _prefix_offset(shape, layers - 1), _offset(shape, layers)
    gemm_loops(theta, offset, inner, 1, work, previous, n_0, 1, flat, 0, rows, inner, n_0)


@njit(cache=True, **COUNTED)
def backward(theta, shape, table, weights, blas, cotangent, gradient, work):
    """``gradient`` = (vec ∇W_1, …, vec ∇W_L) for the cotangent G (n_L, n_0), from the prefixes in ``work``."""
    layers, n_0 = shape[0], shape[1]
    widest = 0
    for i in range(1, layers + 1):
        widest = max(widest, shape[i + 1] * n_0)
    spare = (_prefix_offset(shape, layers), _prefix_offset(shape, layers) + widest)  # the two S buffers
    if blas:
        carried = cotangent  # S_L = G
        for i in range(layers, 1, -1):
            rows, columns = shape[i + 1], shape[i]
            offset = _offset(shape, i)
            np.dot(
                carried,
                _prefix(shape, work, i - 1).T,
                gradient[offset : offset + rows * columns].reshape(rows, columns),
            )
            target = spare[i % 2]
            below = gradient[: columns * n_0] if i == 2 else work[target : target + columns * n_0]
            np.dot(_weight(theta, shape, i).T, carried, below.reshape(columns, n_0))  # S_{i−1}; S_1 is ∇W_1
            carried = below.reshape(columns, n_0)
        return
    source, source_offset = cotangent.reshape(cotangent.size), 0  # S_L = G
    for i in range(layers, 1, -1):
        rows, columns = shape[i + 1], shape[i]
        offset = _offset(shape, i)
        # ∇W_i = S_i A_{i−1}ᵀ: A_{i−1}ᵀ[k, j] = A_{i−1}[j, k]
        gemm_loops(
            source,
            source_offset,
            n_0,
            1,
            work,
            _prefix_offset(shape, i - 1),
            1,
            n_0,
            gradient,
            offset,
            rows,
            n_0,
            columns,
        )
        # S_{i−1} = W_iᵀ S_i (n_{i−1} × n_0): W_iᵀ[a, k] = W_i[k, a]; S_1 lands on ∇W_1
        if i == 2:
            gemm_loops(theta, offset, 1, columns, source, source_offset, n_0, 1, gradient, 0, columns, rows, n_0)
        else:
            target = spare[i % 2]
            gemm_loops(theta, offset, 1, columns, source, source_offset, n_0, 1, work, target, columns, rows, n_0)
            source, source_offset = work, target
