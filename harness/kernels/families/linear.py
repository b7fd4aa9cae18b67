"""Dense gradient of the two-layer linear family: Φ = U Vᵀ, ∇_U = G V, ∇_V = Gᵀ U.

θ = (U row-major (m × r), V row-major (K × r)); ``shape`` = (m, K, r). No work is needed.
"""

from __future__ import annotations

from numba import njit

from harness.kernels.families import matmul

STRUCTURE = 1


@njit(cache=True, inline="always")
def _blocks(theta, shape):
    m, n_features, hidden = shape[0], shape[1], shape[2]
    split = m * hidden
    return (
        split,
        theta[:split].reshape(m, hidden),
        theta[split : split + n_features * hidden].reshape(n_features, hidden),
    )


@njit(cache=True)
def forward(theta, shape, table, weights, blas, phi, work):
    """Φ = U Vᵀ into ``phi`` (m, K)."""
    _, u, v = _blocks(theta, shape)
    matmul(u, v.T, phi, blas)


@njit(cache=True)
def backward(theta, shape, table, weights, blas, cotangent, gradient, work):
    """``gradient`` = (vec(G V), vec(Gᵀ U)) for the cotangent G (m, K)."""
    split, u, v = _blocks(theta, shape)
    grad_u = gradient[:split].reshape(u.shape[0], u.shape[1])
    grad_v = gradient[split : split + v.shape[0] * v.shape[1]].reshape(v.shape[0], v.shape[1])
    matmul(cotangent, v, grad_u, blas)
    matmul(cotangent.T, u, grad_v, blas)
