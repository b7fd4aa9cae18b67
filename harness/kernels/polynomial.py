"""Sparse polynomial maps Φ: R^D → R^{m×K} with integer coefficients.

Every tensorizable network in flowlaws stores its parameter tensor Φ(θ) in this one format:

    Φ_p(θ) = Σ_{t : out[t] = p} coef[t] · Π_s θ[variables[t, s]]        (p = a·K + k, flat row-major)

All monomials of one network have the same degree (linear nets 2, deep linear nets L, polynomial nets
k + 1, attention 3), so ``variables`` is a dense (T, degree) table. Integer coefficients keep the map
exact: the counting engine evaluates it modulo a prime, the integrators in float64, and sympy
symbolically, all from the same three arrays. Because the format does not depend on the family, one
Numba kernel serves every network (no compilation per family or per example).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit


@dataclass(frozen=True, eq=False)
class PolynomialMap:
    """Φ(θ) ∈ R^{m×K} as T monomials of a common degree, with integer coefficients."""

    n_params: int
    shape: tuple[int, int]
    out: np.ndarray  # int64 (T,): flat index a*K + k of the entry each monomial contributes to
    coef: np.ndarray  # int64 (T,)
    variables: np.ndarray  # int64 (T, degree)

    @property
    def degree(self) -> int:
        return int(self.variables.shape[1])

    @property
    def n_monomials(self) -> int:
        return int(self.out.shape[0])

    def evaluate(self, theta: np.ndarray) -> np.ndarray:
        """Φ(θ) as an (m, K) array; θ may be float or object (sympy) valued."""
        theta = np.asarray(theta)
        terms = self.coef.astype(theta.dtype) if theta.dtype != object else self.coef.astype(object)
        terms = terms * np.prod(theta[self.variables], axis=1)
        flat = np.zeros(self.shape[0] * self.shape[1], dtype=terms.dtype)
        np.add.at(flat, self.out, terms)
        return flat.reshape(self.shape)

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        """J(θ) = DΦ(θ) as an (m·K, D) float array (row p is ∇Φ_p)."""
        theta = np.asarray(theta, dtype=float)
        jac = np.zeros((self.shape[0] * self.shape[1], self.n_params))
        for s in range(self.degree):
            others = np.delete(self.variables, s, axis=1)
            partial = self.coef * np.prod(theta[others], axis=1)
            np.add.at(jac, (self.out, self.variables[:, s]), partial)
        return jac

    def vjp(self, theta: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        """J(θ)ᵀ vec(G) for G ∈ R^{m×K}: the gradient a loss with ∂L/∂Φ = G sends back to θ."""
        return phi_vjp_kernel(
            np.ascontiguousarray(theta, dtype=np.float64),
            self.out,
            self.coef.astype(np.float64),
            self.variables,
            np.ascontiguousarray(np.asarray(cotangent, dtype=np.float64).reshape(-1)),
        )

    def as_kernel_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The (out, float coefficients, variables) triple the Numba kernels take."""
        return self.out, self.coef.astype(np.float64), self.variables


@njit(cache=True, inline="always")
def phi_into(theta, out, coef, variables, phi):
    """Φ(θ) flattened into ``phi``: Σ_t coef[t] Π_s θ[variables[t, s]] accumulated into entry out[t]."""
    for p in range(phi.shape[0]):
        phi[p] = 0.0
    degree = variables.shape[1]
    for t in range(out.shape[0]):
        term = coef[t]
        for s in range(degree):
            term *= theta[variables[t, s]]
        phi[out[t]] += term


@njit(cache=True)
def phi_kernel(theta, out, coef, variables, n_entries):
    """Φ(θ) flattened (allocates; the integrators' right-hand side calls ``phi_into`` on its own buffer)."""
    phi = np.empty(n_entries)
    phi_into(theta, out, coef, variables, phi)
    return phi


@njit(cache=True)
def phi_vjp_kernel(theta, out, coef, variables, cotangent):
    """J(θ)ᵀ g as a new array (``add_phi_vjp`` into zeros)."""
    grad = np.zeros(theta.shape[0])
    add_phi_vjp(theta, out, coef, variables, cotangent, grad)
    return grad


@njit(cache=True)
def add_phi_vjp(theta, out, coef, variables, cotangent, grad):
    """grad += J(θ)ᵀ g: each monomial sends g[out] · coef · (the product of the other factors) to each factor.

    The one sparse vector–Jacobian product of flowlaws: ``Polynomial.vjp`` and the integrators' right-hand side
    (``harness.kernels.problem``) both call it. Two-factor monomials (linear and one-hidden-layer deep-linear
    networks) are unrolled; the arithmetic is the same as the general loop's.
    """
    degree = variables.shape[1]
    for t in range(out.shape[0]):
        weight = coef[t] * cotangent[out[t]]
        if weight == 0.0:
            continue
        if degree == 2:
            first = variables[t, 0]
            second = variables[t, 1]
            grad[first] += weight * theta[second]
            grad[second] += weight * theta[first]
            continue
        for s in range(degree):
            partial = weight
            for q in range(degree):
                if q != s:
                    partial *= theta[variables[t, q]]
            grad[variables[t, s]] += partial
