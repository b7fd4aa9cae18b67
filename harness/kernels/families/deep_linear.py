"""Dense gradient of the deep linear family: Φ = W_L ⋯ W_1 by prefix products, ∇W_i = B_{i+1}ᵀ G A_{i−1}ᵀ.

θ = (W_1, …, W_L) row-major, W_i ∈ R^{n_i × n_{i−1}}; ``shape`` = (L, n_0, …, n_L). ``forward`` keeps the prefix
products A_i = W_i ⋯ W_1 (n_i × n_0, i < L) in ``work``; ``backward`` carries S_i = B_{i+1}ᵀ G = W_{i+1}ᵀ S_{i+1}
(n_i × n_0, S_L = G, B_i = W_L ⋯ W_i) down the layers and takes ∇W_i = S_i A_{i−1}ᵀ (A_0 = I, so ∇W_1 = S_1).
"""

from __future__ import annotations

from numba import njit

from harness.kernels.families import matmul

STRUCTURE = 2


def work_length(widths) -> int:
    """Entries of ``work``: the prefixes A_1 … A_{L−1}, then two S buffers of the widest n_i · n_0."""
    n_0 = widths[0]
    prefixes = sum(width * n_0 for width in widths[1:-1])
    return prefixes + 2 * max(width * n_0 for width in widths[1:])


@njit(cache=True, inline="always")
def _weight(theta, shape, i):
    """W_i (1-based) as an (n_i, n_{i−1}) view of θ."""
    offset = 0
    for layer in range(1, i):
        offset += shape[layer + 1] * shape[layer]
    rows, columns = shape[i + 1], shape[i]
    return theta[offset : offset + rows * columns].reshape(rows, columns)


@njit(cache=True, inline="always")
def _prefix(shape, work, i):
    """A_i (1 ≤ i < L) as an (n_i, n_0) view of ``work``."""
    n_0 = shape[1]
    offset = 0
    for layer in range(1, i):
        offset += shape[layer + 1] * n_0
    return work[offset : offset + shape[i + 1] * n_0].reshape(shape[i + 1], n_0)


@njit(cache=True)
def forward(theta, shape, table, weights, blas, phi, work):
    """Φ = W_L ⋯ W_1 into ``phi``, leaving A_1 … A_{L−1} in ``work``."""
    layers = shape[0]
    first = _weight(theta, shape, 1)
    if layers == 1:
        phi[:, :] = first
        return
    previous = _prefix(shape, work, 1)
    previous[:, :] = first
    for i in range(2, layers):
        current = _prefix(shape, work, i)
        matmul(_weight(theta, shape, i), previous, current, blas)
        previous = current
    matmul(_weight(theta, shape, layers), previous, phi, blas)


@njit(cache=True)
def backward(theta, shape, table, weights, blas, cotangent, gradient, work):
    """``gradient`` = (vec ∇W_1, …, vec ∇W_L) for the cotangent G (n_L, n_0), from the prefixes in ``work``."""
    layers, n_0 = shape[0], shape[1]
    widest = 0
    prefixes = 0
    for i in range(1, layers + 1):
        widest = max(widest, shape[i + 1] * n_0)
        if i < layers:
            prefixes += shape[i + 1] * n_0
    buffers = (work[prefixes : prefixes + widest], work[prefixes + widest : prefixes + 2 * widest])
    offset = 0
    for i in range(1, layers):
        offset += shape[i + 1] * shape[i]
    carried = cotangent  # S_L = G
    for i in range(layers, 1, -1):
        rows, columns = shape[i + 1], shape[i]
        grad_w = gradient[offset : offset + rows * columns].reshape(rows, columns)
        matmul(carried, _prefix(shape, work, i - 1).T, grad_w, blas)  # ∇W_i = S_i A_{i−1}ᵀ
        offset -= shape[i] * shape[i - 1]
        if i == 2:  # S_1 = W_2ᵀ S_2 is ∇W_1 itself
            target = gradient[: shape[2] * n_0].reshape(shape[2], n_0)
            matmul(_weight(theta, shape, 2).T, carried, target, blas)
        else:
            target = buffers[i % 2][: columns * n_0].reshape(columns, n_0)
            matmul(_weight(theta, shape, i).T, carried, target, blas)
            carried = target
