"""Dense Φ(θ) and J(θ)ᵀ vec(G) of lightning self-attention (harness.model.families.attention).

Φ ∈ R^{dv × d³} with Φ[c, (a·d + b)·d + e] = A[a, b] W_V[e, c], A = W_Q W_Kᵀ: row c of Φ, read as a
d² × d matrix, is the outer product vec(A) W_V[:, c]ᵀ. The mask and decay enter Ψ only, so they do not appear
here. With G_c the same d² × d view of row c of G,

    ∇A = Σ_c G_c W_V[:, c],   ∇W_V[:, c] = G_cᵀ vec(A),   ∇W_Q = ∇A W_K,   ∇W_K = ∇Aᵀ W_Q.

The hand-loop branch reads G once (both sums fused per row of G_c); the BLAS branch makes the same products
two matrix–vector calls per c and two GEMMs. Φ and G hold dv·d³ entries against D = d(2dk + dv) parameters,
so this family is bound by memory traffic on Φ and G, not by flops.

Problem arrays: ``shape`` = (d, dk, dv); ``table`` and ``weights`` are unused (dummies).
θ = W_Q (d × dk), W_K (d × dk), W_V (d × dv), each row-major.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from harness.kernels.families import COUNTED

STRUCTURE = 4


def work_length(d: int, dk: int, dv: int) -> int:
    """Floats of scratch: A and ∇A (d² each), W_Vᵀ and ∇W_Vᵀ (dv·d each), one d² matrix–vector result."""
    return 3 * d * d + 2 * dv * d


@njit(cache=True, **COUNTED)
def forward(theta, shape, table, weights, blas, phi, work):
    """Φ(θ) written into phi (dv × d³); leaves A = W_Q W_Kᵀ and W_Vᵀ in work for ``backward``."""
    d, dk, dv = shape[0], shape[1], shape[2]
    dd = d * d
    k_offset, v_offset = d * dk, 2 * d * dk
    a_flat = work[:dd]
    vt = work[dd : dd + dv * d]  # W_Vᵀ, rows contiguous
    for e in range(d):
        for c in range(dv):
            vt[c * d + e] = theta[v_offset + e * dv + c]
    if blas == 1:
        np.dot(theta[:k_offset].reshape(d, dk), theta[k_offset:v_offset].reshape(d, dk).T, a_flat.reshape(d, d))
    else:
        for a in range(d):
            for b in range(d):
                total = 0.0
                for h in range(dk):
                    total += theta[a * dk + h] * theta[k_offset + b * dk + h]
                a_flat[a * d + b] = total
    for c in range(dv):
        row, column = phi[c], vt[c * d : (c + 1) * d]
        for ab in range(dd):
            weight = a_flat[ab]
            block = row[ab * d : (ab + 1) * d]
            for e in range(d):
                block[e] = weight * column[e]


@njit(cache=True, **COUNTED)
def backward(theta, shape, table, weights, blas, cotangent, gradient, work):
    """gradient = J(θ)ᵀ vec(G) (overwritten), G = cotangent (dv × d³); reads A and W_Vᵀ ``forward`` left in work."""
    d, dk, dv = shape[0], shape[1], shape[2]
    dd = d * d
    k_offset, v_offset = d * dk, 2 * d * dk
    a_flat = work[:dd]
    vt = work[dd : dd + dv * d]
    grad_a = work[dd + dv * d : 2 * dd + dv * d]
    grad_vt = work[2 * dd + dv * d : 2 * dd + 2 * dv * d]
    for p in range(dd):
        grad_a[p] = 0.0
    if blas == 1:
        column = work[2 * dd + 2 * dv * d : 3 * dd + 2 * dv * d]
        flat = cotangent.reshape(dv * dd * d)
        for c in range(dv):
            block = flat[c * dd * d : (c + 1) * dd * d].reshape(dd, d)
            np.dot(block, vt[c * d : (c + 1) * d], column)
            for p in range(dd):
                grad_a[p] += column[p]
            np.dot(block.T, a_flat, grad_vt[c * d : (c + 1) * d])
    else:
        for p in range(dv * d):
            grad_vt[p] = 0.0
        for c in range(dv):
            row, column, grad_column = cotangent[c], vt[c * d : (c + 1) * d], grad_vt[c * d : (c + 1) * d]
            for ab in range(dd):
                weight = a_flat[ab]
                block = row[ab * d : (ab + 1) * d]
                total = 0.0
                for e in range(d):
                    total += block[e] * column[e]
                    grad_column[e] += weight * block[e]
                grad_a[ab] += total
    for e in range(d):
        for c in range(dv):
            gradient[v_offset + e * dv + c] = grad_vt[c * d + e]
    if blas == 1:
        grad_a2 = grad_a.reshape(d, d)
        np.dot(grad_a2, theta[k_offset:v_offset].reshape(d, dk), gradient[:k_offset].reshape(d, dk))
        np.dot(grad_a2.T, theta[:k_offset].reshape(d, dk), gradient[k_offset:v_offset].reshape(d, dk))
        return
    for p in range(v_offset):
        gradient[p] = 0.0
    for a in range(d):
        for b in range(d):
            g = grad_a[a * d + b]
            for h in range(dk):
                gradient[a * dk + h] += g * theta[k_offset + b * dk + h]
                gradient[k_offset + b * dk + h] += g * theta[a * dk + h]
