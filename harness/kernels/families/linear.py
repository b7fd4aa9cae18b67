"""Dense gradient of the two-layer linear family: Φ = U Vᵀ, ∇_U = G V, ∇_V = Gᵀ U.

θ = (U row-major (m × r), V row-major (K × r)); ``shape`` = (m, K, r). No work is needed, except by the tiny
moment field (m, K, r ≤ 4, MSE), which reads zero-padded blocks of the moments (``fill_tiny_moments``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from harness.kernels.families import COUNTED, UNCOUNTED

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


# --- the tiny moment field -------------------------------------------------------------------------------
#
# At D ≈ 12 a gradient is ~160 flops and the loops above, with trip counts of 2 to 4 known only at run time,
# cost four times their arithmetic (loop control, index checks, no overlap between the short dot products).
# For m, K, r ≤ TINY_LANES the whole MSE field θ' = −s·∇L comes instead from one pass over the rows of U in
# scalars: V, M and the rows of Φ, G and ∇V held as 4 × 4 blocks zero-padded beyond (m, K, r), so that every
# product is straight-line code. The sums run in the loops' order (from 0, or from −C, ascending), and a
# padded term adds an exact zero, so the field equals the general path's up to the sign of a zero.

TINY_LANES = 4
TINY_WORK = 2 * TINY_LANES * TINY_LANES  # M (K × K) then C (m × K), each padded to 4 × 4, row-major


def tiny_fits(shape) -> bool:
    """Whether a two-layer network of ``shape`` (m, K, r) takes the tiny moment field."""
    return all(0 < int(size) <= TINY_LANES for size in shape)


@njit(cache=True, **COUNTED)
def fill_tiny_moments(shape, moment_m, moment_c, pad):
    """The zero-padded 4 × 4 blocks of M and C that ``tiny_moment_field`` reads, into ``pad`` (TINY_WORK)."""
    m, n_features = shape[0], shape[1]
    for i in range(TINY_WORK):
        pad[i] = 0.0
    for q in range(n_features):
        for k in range(n_features):
            pad[q * TINY_LANES + k] = moment_m[q, k]
    for a in range(m):
        for k in range(n_features):
            pad[TINY_LANES * TINY_LANES + a * TINY_LANES + k] = moment_c[a, k]


@njit(cache=True, inline="always")
def _entry(theta, start, row, column, rows, columns):
    """θ[start + row·columns + column] inside the rows × columns block, 0 in its padding."""
    return theta[start + row * columns + column] if (row < rows and column < columns) else 0.0


@njit(cache=True, inline="always")
def _store(velocity, start, row, rows, columns, scale, x0, x1, x2, x3):
    """velocity[start + row·columns + j] = scale·x_j for the j < columns of a row inside the block; whether finite."""
    if row >= rows:
        return True
    base = start + row * columns
    velocity[base] = scale * x0
    finite = math.isfinite(velocity[base])
    if columns > 1:
        velocity[base + 1] = scale * x1
        finite = finite and math.isfinite(velocity[base + 1])
    if columns > 2:
        velocity[base + 2] = scale * x2
        finite = finite and math.isfinite(velocity[base + 2])
    if columns > 3:
        velocity[base + 3] = scale * x3
        finite = finite and math.isfinite(velocity[base + 3])
    return finite


@njit(cache=True, **UNCOUNTED)
def tiny_moment_field(theta, shape, sign, pad, velocity):
    """θ' = −s·∇L(θ) for MSE from the moments, m, K, r ≤ 4: G = (U Vᵀ) M − C, ∇U = G V, ∇V = Gᵀ U.

    ``pad`` holds ``fill_tiny_moments``' blocks. Returns whether the field is finite. Row a of U gives row a
    of Φ, G and ∇U at once and adds its rank-one term G[a]ᵀ U[a] to ∇V (the sum over a in ascending order).
    """
    m, n_features, r = shape[0], shape[1], shape[2]
    s = m * r
    lanes, c0 = TINY_LANES, TINY_LANES * TINY_LANES
    v00, v01 = _entry(theta, s, 0, 0, n_features, r), _entry(theta, s, 0, 1, n_features, r)
    v02, v03 = _entry(theta, s, 0, 2, n_features, r), _entry(theta, s, 0, 3, n_features, r)
    v10, v11 = _entry(theta, s, 1, 0, n_features, r), _entry(theta, s, 1, 1, n_features, r)
    v12, v13 = _entry(theta, s, 1, 2, n_features, r), _entry(theta, s, 1, 3, n_features, r)
    v20, v21 = _entry(theta, s, 2, 0, n_features, r), _entry(theta, s, 2, 1, n_features, r)
    v22, v23 = _entry(theta, s, 2, 2, n_features, r), _entry(theta, s, 2, 3, n_features, r)
    v30, v31 = _entry(theta, s, 3, 0, n_features, r), _entry(theta, s, 3, 1, n_features, r)
    v32, v33 = _entry(theta, s, 3, 2, n_features, r), _entry(theta, s, 3, 3, n_features, r)
    m00, m01, m02, m03, m10, m11, m12, m13 = pad[0], pad[1], pad[2], pad[3], pad[4], pad[5], pad[6], pad[7]
    m20, m21, m22, m23, m30, m31, m32, m33 = pad[8], pad[9], pad[10], pad[11], pad[12], pad[13], pad[14], pad[15]
    e00 = e01 = e02 = e03 = e10 = e11 = e12 = e13 = e20 = e21 = e22 = e23 = e30 = e31 = e32 = e33 = 0.0
    finite = True
    for a in range(m):
        u0, u1 = _entry(theta, 0, a, 0, m, r), _entry(theta, 0, a, 1, m, r)
        u2, u3 = _entry(theta, 0, a, 2, m, r), _entry(theta, 0, a, 3, m, r)
        p0 = 0.0 + u0 * v00 + u1 * v01 + u2 * v02 + u3 * v03
        p1 = 0.0 + u0 * v10 + u1 * v11 + u2 * v12 + u3 * v13
        p2 = 0.0 + u0 * v20 + u1 * v21 + u2 * v22 + u3 * v23
        p3 = 0.0 + u0 * v30 + u1 * v31 + u2 * v32 + u3 * v33
        row = c0 + a * lanes
        g0 = -pad[row] + p0 * m00 + p1 * m10 + p2 * m20 + p3 * m30
        g1 = -pad[row + 1] + p0 * m01 + p1 * m11 + p2 * m21 + p3 * m31
        g2 = -pad[row + 2] + p0 * m02 + p1 * m12 + p2 * m22 + p3 * m32
        g3 = -pad[row + 3] + p0 * m03 + p1 * m13 + p2 * m23 + p3 * m33
        d0 = 0.0 + g0 * v00 + g1 * v10 + g2 * v20 + g3 * v30
        d1 = 0.0 + g0 * v01 + g1 * v11 + g2 * v21 + g3 * v31
        d2 = 0.0 + g0 * v02 + g1 * v12 + g2 * v22 + g3 * v32
        d3 = 0.0 + g0 * v03 + g1 * v13 + g2 * v23 + g3 * v33
        finite = _store(velocity, 0, a, m, r, -sign, d0, d1, d2, d3) and finite
        e00, e01, e02, e03 = e00 + g0 * u0, e01 + g0 * u1, e02 + g0 * u2, e03 + g0 * u3
        e10, e11, e12, e13 = e10 + g1 * u0, e11 + g1 * u1, e12 + g1 * u2, e13 + g1 * u3
        e20, e21, e22, e23 = e20 + g2 * u0, e21 + g2 * u1, e22 + g2 * u2, e23 + g2 * u3
        e30, e31, e32, e33 = e30 + g3 * u0, e31 + g3 * u1, e32 + g3 * u2, e33 + g3 * u3
    finite = _store(velocity, s, 0, n_features, r, -sign, e00, e01, e02, e03) and finite
    finite = _store(velocity, s, 1, n_features, r, -sign, e10, e11, e12, e13) and finite
    finite = _store(velocity, s, 2, n_features, r, -sign, e20, e21, e22, e23) and finite
    return _store(velocity, s, 3, n_features, r, -sign, e30, e31, e32, e33) and finite
