"""Compiled jet products modulo p: a sparse polynomial map Φ and its vector–Jacobian product on jets.

The exact counting engine evaluates X_w(θ̃) = −J(θ̃)ᵀ vec G_w(Φ(θ̃)) at jets θ̃ in nilpotents ε_i (ε_i² = 0,
``harness.algebra.jets``) for thousands of moment tuples w. Through numpy every subset-convolution product
is a full-array temporary followed by ``np.mod``; here each monomial's jet product is formed in registers,
one term at a time, and reduced once per product. The arithmetic is that of ``JetArithmetic(PRIME)``:
residues in [0, p), p < 2^26, so a product of two residues is < 2^52 and a jet coefficient sums at most
2^j ≤ 2^11 such products before its reduction (j ≤ 11 nilpotents; the Lie generation stops at depth 32, but
depths beyond about 8 are out of reach in time anyway, and ``check_jet_size`` refuses larger jets).

Layout: the kernels take jet arrays as (batch, entries, 2^j), the coefficients of one jet contiguous
(``harness.algebra.jets`` keeps them on the leading axis and transposes at the call).
``pairs`` is the subset-convolution table (S, T, S∖T) of ``harness.algebra.jets``. One compilation serves
every family (the arrays' types never change).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from harness.algebra.modular import PRIME

MAX_NILPOTENTS = 11  # 2^11 products of residues < 2^52 stay below 2^63 before a reduction
LIMIT_UNREDUCED = 1 << 11  # how many products < 2^52 an int64 may sum before it must be reduced


def check_jet_size(size: int) -> None:
    if size > 1 << MAX_NILPOTENTS:
        raise ValueError(f"jets with {size} coefficients exceed the compiled kernels' 2^{MAX_NILPOTENTS} (int64)")


@njit(cache=True, inline="always")
def _jet_product(left, right, pairs, out):
    """out = left · right (subset convolution of two jets, residues mod p)."""
    for i in range(out.shape[0]):
        out[i] = 0
    for q in range(pairs.shape[0]):
        out[pairs[q, 0]] += left[pairs[q, 1]] * right[pairs[q, 2]]
    for i in range(out.shape[0]):
        out[i] %= PRIME


@njit(cache=True, inline="always")
def _jet_product_unreduced(left, right, pairs, out):
    """out = left · right without the final reduction (each entry < 2^j · 2^52)."""
    for i in range(out.shape[0]):
        out[i] = 0
    for q in range(pairs.shape[0]):
        out[pairs[q, 0]] += left[pairs[q, 1]] * right[pairs[q, 2]]


@njit(cache=True)
def phi_on_jets(point, variables, coef, out, n_entries, pairs, most_terms_per_entry):
    """Φ(θ̃) mod p for point (B, D, J) → (B, n_entries, J): Σ_t coef_t Π_s θ̃[var_ts] into entry out_t.

    When every entry sums fewer than 2^11 / J unreduced jet products (``most_terms_per_entry``), a term with
    coefficient 1 adds its last product unreduced: one reduction per entry instead of one per term.
    """
    batch, size = point.shape[0], point.shape[2]
    terms, degree = variables.shape[0], variables.shape[1]
    deferred = most_terms_per_entry * size < LIMIT_UNREDUCED
    result = np.zeros((batch, n_entries, size), dtype=np.int64)
    product = np.empty(size, dtype=np.int64)
    scratch = np.empty(size, dtype=np.int64)
    for b in range(batch):
        for t in range(terms):
            c = coef[t]
            target = result[b, out[t]]
            if degree == 1:
                _scaled_add(point[b, variables[t, 0]], c, target)
                continue
            product[:] = point[b, variables[t, 0]]
            for s in range(1, degree - 1):
                _jet_product(product, point[b, variables[t, s]], pairs, scratch)
                product[:] = scratch
            _jet_product_unreduced(product, point[b, variables[t, degree - 1]], pairs, scratch)
            if deferred and c == 1:
                for i in range(size):
                    target[i] += scratch[i]
            else:
                for i in range(size):
                    target[i] += scratch[i] % PRIME * c % PRIME
        for e in range(n_entries):
            for i in range(size):
                result[b, e, i] %= PRIME
    return result


@njit(cache=True, inline="always")
def _scaled_add(jet, c, target):
    for i in range(target.shape[0]):
        target[i] += jet[i] * c % PRIME


@njit(cache=True)
def vjp_plain(theta, cotangent, variables, coef, out, deferred):
    """The jet-free case at one shared θ (D,): J(θ)ᵀ g_b for every row g_b of cotangent (B, m·K) → (B, D).

    A sparse matrix product: the partials c_t Π_{q≠s} θ[v_tq] are formed once; with ``deferred`` (every
    parameter in fewer than 2^11 terms) the products < 2^52 are summed unreduced, reduced once per entry.
    """
    batch, n_params = cotangent.shape[0], theta.shape[0]
    terms, degree = variables.shape[0], variables.shape[1]
    partial = np.empty((terms, degree), dtype=np.int64)
    for t in range(terms):
        for s in range(degree):
            value = coef[t]
            for q in range(degree):
                if q != s:
                    value = value * theta[variables[t, q]] % PRIME
            partial[t, s] = value
    result = np.zeros((batch, n_params), dtype=np.int64)
    for b in range(batch):
        row = result[b]
        for t in range(terms):
            g = cotangent[b, out[t]]
            if deferred:
                for s in range(degree):
                    row[variables[t, s]] += g * partial[t, s]
            else:
                for s in range(degree):
                    row[variables[t, s]] += g * partial[t, s] % PRIME
        for d in range(n_params):
            row[d] %= PRIME
    return result


@njit(cache=True)
def vjp_on_jets(point, cotangent, variables, coef, out, pairs, most_terms_per_parameter):
    """J(θ̃)ᵀ vec G̃ mod p: point (1 or B, D, J), cotangent (B, m·K, J) → (B, D, J).

    Term t sends coef_t G̃[out_t] Π_{q≠s} θ̃[var_tq] to parameter var_ts, for each slot s; the last product of
    each contribution is added unreduced when every parameter sums fewer than 2^11 / J of them.
    """
    batch, size = cotangent.shape[0], cotangent.shape[2]
    shared = point.shape[0] == 1
    n_params = point.shape[1]
    terms, degree = variables.shape[0], variables.shape[1]
    deferred = most_terms_per_parameter * size < LIMIT_UNREDUCED
    result = np.zeros((batch, n_params, size), dtype=np.int64)
    weight = np.empty(size, dtype=np.int64)
    others = np.empty(size, dtype=np.int64)
    scratch = np.empty(size, dtype=np.int64)
    for b in range(batch):
        pb = 0 if shared else b
        for t in range(terms):
            c = coef[t]
            g = cotangent[b, out[t]]
            if c == 1:
                weight[:] = g
            else:
                for i in range(size):
                    weight[i] = g[i] * c % PRIME
            for s in range(degree):
                target = result[b, variables[t, s]]
                others[:] = weight
                last = s - 1 if s == degree - 1 else degree - 1  # the last factor q ≠ s
                if degree == 1:
                    for i in range(size):
                        target[i] += others[i]
                    continue
                for q in range(degree):
                    if q != s and q != last:
                        _jet_product(others, point[pb, variables[t, q]], pairs, scratch)
                        others[:] = scratch
                _jet_product_unreduced(others, point[pb, variables[t, last]], pairs, scratch)
                if deferred:
                    for i in range(size):
                        target[i] += scratch[i]
                else:
                    for i in range(size):
                        target[i] += scratch[i] % PRIME
        for d in range(n_params):
            for i in range(size):
                result[b, d, i] %= PRIME
    return result
