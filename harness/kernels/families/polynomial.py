"""Dense Φ(θ) and J(θ)ᵀ vec(G) of the polynomial family f(x) = Σ_j u_j (v_jᵀx)^k (harness.model.families.polynomial).

On the basis of degree-k monomials x^α (α a multiset of k input indices, F = C(n+k−1, k) of them),

    Φ = U P,   P[j, α] = mult(α) Π_s V[α_s, j]        (U: m × r, V: n × r, P: r × F),

so the forward pass gathers P once (r·F·k products) and is then one GEMM, and the backward pass is

    ∇U = G Pᵀ,   W = Uᵀ G,   ∇V[i, j] = Σ_α W[j, α] mult(α) Σ_s [α_s = i] Π_{t≠s} V[α_t, j],

two GEMMs and one pass over the multisets with prefix/suffix products (no division, so exact zeros in V are
harmless). P and W are stored transposed (F × r, rows contiguous in j), which makes every inner loop contiguous
and lets ``np.dot`` take Pᵀ as an F-ordered view. This is the moments-basis form: the per-sample form
(U (Vᵀx)^k) would need the raw inputs x, which the kernels' problem does not carry (it holds Ψ(x) = (x^α)_α).

Problem arrays: ``shape`` = (n, r, m, k, F), ``table`` = the multisets (F × k int64, ``network.exponents``
order), ``weights`` = mult(α) (F float64). θ = U row-major then V row-major.
"""

from __future__ import annotations

import numpy as np
from numba import njit

STRUCTURE = 3


def work_length(n_in: int, hidden: int, n_out: int, k: int, n_features: int) -> int:
    """Floats of scratch forward/backward use: Pᵀ and Wᵀ (F × r each), k prefix rows and one suffix row (r each)."""
    return 2 * n_features * hidden + (k + 1) * hidden


@njit(cache=True)
def forward(theta, shape, table, weights, blas, phi, work):
    """Φ(θ) = U P written into phi (m × F); leaves Pᵀ in work[:F·r] for ``backward``."""
    r, m, k, n_features = shape[1], shape[2], shape[3], shape[4]
    v_offset = m * r
    pt = work[: n_features * r]
    for alpha in range(n_features):
        row = alpha * r
        weight = weights[alpha]
        for j in range(r):
            pt[row + j] = weight
        for s in range(k):
            base = v_offset + table[alpha, s] * r
            for j in range(r):
                pt[row + j] *= theta[base + j]
    if blas == 1:
        np.dot(theta[:v_offset].reshape(m, r), pt.reshape(n_features, r).T, phi)
        return
    for a in range(m):
        for alpha in range(n_features):
            total = 0.0
            for j in range(r):
                total += theta[a * r + j] * pt[alpha * r + j]
            phi[a, alpha] = total


@njit(cache=True)
def backward(theta, shape, table, weights, blas, cotangent, gradient, work):
    """gradient = J(θ)ᵀ vec(G) (overwritten), G = cotangent (m × F); reads the Pᵀ ``forward`` left in work."""
    n, r, m, k, n_features = shape[0], shape[1], shape[2], shape[3], shape[4]
    v_offset = m * r
    size = n_features * r
    pt = work[:size]
    wt = work[size : 2 * size]  # Wᵀ = Gᵀ U, row α scaled by mult(α) below
    prefix = work[2 * size : 2 * size + k * r]  # row s: mult(α) W[j, α] Π_{t<s} V[α_t, j]
    suffix = work[2 * size + k * r : 2 * size + (k + 1) * r]  # Π_{t>s} V[α_t, j]
    if blas == 1:
        u = theta[:v_offset].reshape(m, r)
        np.dot(cotangent, pt.reshape(n_features, r), gradient[:v_offset].reshape(m, r))
        np.dot(cotangent.T, u, wt.reshape(n_features, r))
    else:
        for p in range(v_offset):
            gradient[p] = 0.0
        for p in range(size):
            wt[p] = 0.0
        for a in range(m):
            for alpha in range(n_features):
                g = cotangent[a, alpha]
                for j in range(r):
                    gradient[a * r + j] += g * pt[alpha * r + j]
                    wt[alpha * r + j] += g * theta[a * r + j]
    for p in range(v_offset, v_offset + n * r):
        gradient[p] = 0.0
    for alpha in range(n_features):
        weight = weights[alpha]
        for j in range(r):
            prefix[j] = weight * wt[alpha * r + j]
            suffix[j] = 1.0
        for s in range(1, k):
            base = v_offset + table[alpha, s - 1] * r
            for j in range(r):
                prefix[s * r + j] = prefix[(s - 1) * r + j] * theta[base + j]
        for s in range(k - 1, -1, -1):
            base = v_offset + table[alpha, s] * r
            for j in range(r):
                gradient[base + j] += prefix[s * r + j] * suffix[j]
                suffix[j] *= theta[base + j]
