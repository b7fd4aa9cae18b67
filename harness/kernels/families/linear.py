"""Dense gradient of the two-layer linear family: Φ = U Vᵀ, ∇_U = G V, ∇_V = Gᵀ U.

θ = (U row-major (m × r), V row-major (K × r)); ``shape`` = (m, K, r). No work is needed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from harness.kernels.families import COUNTED

STRUCTURE = 1


@njit(cache=True, **COUNTED)
def _forward_blas(theta, m, n_features, hidden, phi):
    split = m * hidden
    np.dot(
        theta[:split].reshape(m, hidden), theta[split : split + n_features * hidden].reshape(n_features, hidden).T, phi
    )


@njit(cache=True, **COUNTED)
def _backward_blas(theta, m, n_features, hidden, cotangent, gradient):
    split, end = m * hidden, (m + n_features) * hidden
    u, v = theta[:split].reshape(m, hidden), theta[split:end].reshape(n_features, hidden)
    np.dot(cotangent, v, gradient[:split].reshape(m, hidden))
    np.dot(cotangent.T, u, gradient[split:end].reshape(n_features, hidden))


@njit(cache=True, **COUNTED)
def forward(theta, shape, table, weights, blas, phi, work):
    """Φ = U Vᵀ into ``phi`` (m, K)."""
    m, n_features, hidden = shape[0], shape[1], shape[2]
    split = m * hidden
    if blas:
        _forward_blas(theta, m, n_features, hidden, phi)
        return
    for a in range(m):  # rows of U and V are contiguous: a dot product along each pair
        for k in range(n_features):
            total = 0.0
            for j in range(hidden):
                total += theta[a * hidden + j] * theta[split + k * hidden + j]
            phi[a, k] = total


@njit(cache=True, **COUNTED)
def backward(theta, shape, table, weights, blas, cotangent, gradient, work):
    """``gradient`` = (vec(G V), vec(Gᵀ U)) for the cotangent G (m, K)."""
    m, n_features, hidden = shape[0], shape[1], shape[2]
    split = m * hidden
    if blas:
        _backward_blas(theta, m, n_features, hidden, cotangent, gradient)
        return
    for i in range(split + n_features * hidden):
        gradient[i] = 0.0
    for a in range(m):  # innermost loops along the rows of U and V (contiguous)
        for k in range(n_features):
            weight = cotangent[a, k]
            for j in range(hidden):
                gradient[a * hidden + j] += weight * theta[split + k * hidden + j]
                gradient[split + k * hidden + j] += weight * theta[a * hidden + j]
