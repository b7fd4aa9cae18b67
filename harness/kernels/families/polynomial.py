"""Dense Φ(θ) and J(θ)ᵀ vec(G) of the polynomial family f(x) = Σ_j u_j (v_jᵀx)^k (harness.model.families.polynomial).

On the basis of degree-k monomials x^α (α a multiset of k input indices, F = C(n+k−1, k) of them),

    Φ = U P,   P[j, α] = mult(α) Π_s V[α_s, j]        (U: m × r, V: n × r, P: r × F),

so the forward pass gathers P once and is then one GEMM, and the backward pass is

    ∇U = G Pᵀ,   W = Uᵀ G,   ∇V[i, j] = Σ_α W[j, α] mult(α) Σ_s [α_s = i] Π_{t≠s} V[α_t, j],

two GEMMs and one reverse sweep for ∇V. The products Π_s V[α_s, ·] share their prefixes: the multisets, in
``network.exponents`` (lexicographic) order, are the leaves of a prefix tree met depth first, so each prefix
product is one r-vector product computed when its node is entered (Σ_l C(n+l−1, l) nodes instead of k·F), and
∇V is reverse-mode over the same tree: a node's adjoint is complete when the walk leaves its subtree, and is then
sent to its parent (no division, so exact zeros in V are harmless). The walk reuses what α shares with the
row before it, so any row order gives the same numbers; the lexicographic order enters each node once. P and W are stored transposed (F × r, rows
contiguous in j) so that every inner loop is contiguous and ``np.dot`` takes Pᵀ as an F-ordered view; every
array is read through 2-D row-major views of θ and work, whose row loops LLVM vectorizes (flat offsets it did not).

This is the moments-basis form: the per-sample form (U (Vᵀx)^k) would need the raw inputs x, which the kernels'
problem does not carry (it holds Ψ(x) = (x^α)_α).

Problem arrays: ``shape`` = (n, r, m, k, F), ``table`` = the multisets (F × k int64, ``network.exponents``
order, each non-decreasing), ``weights`` = mult(α) (F float64). θ = U row-major then V row-major.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from harness.kernels.families import COUNTED

STRUCTURE = 3


def work_length(n_in: int, hidden: int, n_out: int, k: int, n_features: int) -> int:
    """Floats of scratch: Pᵀ and Wᵀ (F × r each), and the walk's prefix products and adjoints (k rows of r each)."""
    return 2 * n_features * hidden + 2 * k * hidden


@njit(cache=True, inline="always")
def _first_change(table, alpha, k):
    """The first position where multiset α differs from α − 1 (0 for the first): the depth the walk goes back to."""
    if alpha == 0:
        return 0
    for s in range(k):
        if table[alpha, s] != table[alpha - 1, s]:
            return s
    return k - 1  # equal rows do not occur in a valid table; recompute the last level regardless


@njit(cache=True, inline="always")
def _enter(v, table, alpha, start, k, r, prefix):
    """prefix[l] = Π_{s<l} V[α_s] for l = start+1 .. k−1 (prefix[0] is all ones)."""
    for s in range(start, k - 1):
        i = table[alpha, s]
        for j in range(r):
            prefix[s + 1, j] = prefix[s, j] * v[i, j]


@njit(cache=True, inline="always")
def _leave(v, grad_v, table, alpha, level, r, prefix, adjoint):
    """Send the finished adjoint of node α[:level] to ∇V[α_{level−1}] and to its parent's adjoint; reset it."""
    i = table[alpha, level - 1]
    if level > 1:
        for j in range(r):
            grad_v[i, j] += adjoint[level, j] * prefix[level - 1, j]
            adjoint[level - 1, j] += adjoint[level, j] * v[i, j]
            adjoint[level, j] = 0.0
    else:
        for j in range(r):
            grad_v[i, j] += adjoint[level, j]  # the prefix of a first-level node is the empty product
            adjoint[level, j] = 0.0


@njit(cache=True, inline="always")
def _views(theta, shape, work):
    """U, V (θ) and Pᵀ, Wᵀ, prefix, adjoint (work) as 2-D row-major views."""
    n, r, m, k, n_features = shape[0], shape[1], shape[2], shape[3], shape[4]
    v_offset, size = m * r, n_features * r
    u = theta[:v_offset].reshape(m, r)
    v = theta[v_offset : v_offset + n * r].reshape(n, r)
    pt = work[:size].reshape(n_features, r)
    wt = work[size : 2 * size].reshape(n_features, r)
    prefix = work[2 * size : 2 * size + k * r].reshape(k, r)  # row l: Π_{s<l} V[α_s] of the current α
    adjoint = work[2 * size + k * r : 2 * size + 2 * k * r].reshape(k, r)  # row l ≥ 1: adjoint of node α[:l]
    return u, v, pt, wt, prefix, adjoint


@njit(cache=True, **COUNTED)
def forward(theta, shape, table, weights, blas, phi, work):
    """Φ(θ) = U P written into phi (m × F); leaves Pᵀ in work[:F·r] for ``backward``."""
    r, m, k, n_features = shape[1], shape[2], shape[3], shape[4]
    u, v, pt, _, prefix, _ = _views(theta, shape, work)
    prefix[0, :] = 1.0
    for alpha in range(n_features):
        _enter(v, table, alpha, _first_change(table, alpha, k), k, r, prefix)
        i = table[alpha, k - 1]
        weight = weights[alpha]
        for j in range(r):
            pt[alpha, j] = weight * (prefix[k - 1, j] * v[i, j])
    if blas == 1:
        np.dot(u, pt.T, phi)
        return
    for a in range(m):
        for alpha in range(n_features):
            total = 0.0
            for j in range(r):
                total += u[a, j] * pt[alpha, j]
            phi[a, alpha] = total


@njit(cache=True, **COUNTED)
def backward(theta, shape, table, weights, blas, cotangent, gradient, work):
    """gradient = J(θ)ᵀ vec(G) (overwritten), G = cotangent (m × F); reads the Pᵀ ``forward`` left in work."""
    n, r, m, k, n_features = shape[0], shape[1], shape[2], shape[3], shape[4]
    u, v, pt, wt, prefix, adjoint = _views(theta, shape, work)  # Wᵀ = Gᵀ U
    grad_u = gradient[: m * r].reshape(m, r)
    grad_v = gradient[m * r : m * r + n * r].reshape(n, r)
    if blas == 1:
        np.dot(cotangent, pt, grad_u)
        np.dot(cotangent.T, u, wt)
    else:
        grad_u[:] = 0.0
        wt[:] = 0.0
        for a in range(m):
            for alpha in range(n_features):
                g = cotangent[a, alpha]
                for j in range(r):
                    grad_u[a, j] += g * pt[alpha, j]
                    wt[alpha, j] += g * u[a, j]
    grad_v[:] = 0.0
    prefix[0, :] = 1.0
    adjoint[:] = 0.0
    for alpha in range(n_features):
        start = _first_change(table, alpha, k)
        for level in range(k - 1, start, -1):
            _leave(v, grad_v, table, alpha - 1, level, r, prefix, adjoint)
        _enter(v, table, alpha, start, k, r, prefix)
        # the leaf α: adjoint mult(α) W[:, α], sent straight to ∇V[α_{k−1}] and to its parent
        i = table[alpha, k - 1]
        weight = weights[alpha]
        for j in range(r):
            leaf = weight * wt[alpha, j]
            grad_v[i, j] += leaf * prefix[k - 1, j]
            adjoint[k - 1, j] += leaf * v[i, j]
    for level in range(k - 1, 0, -1):
        _leave(v, grad_v, table, n_features - 1, level, r, prefix, adjoint)
