"""Truncated jets in nilpotent ε_1, …, ε_j with ε_i² = 0, over Z/p or float64.

A jet is a = Σ_S a_S ε^S over the subsets S ⊆ {1..j}; it is stored as an array whose leading axis has 2^j
entries, entry S (a bit mask) holding a_S, so a whole array of jets is one numpy array. The product is the
subset convolution (ab)_S = Σ_{T ⊆ S} a_T b_{S∖T}; it is exact (no truncation error) because ε_i² = 0.

Why: evaluating a polynomial field Y at the jet θ + εX(θ) gives Y(θ) + ε DY(θ)X(θ), so the Lie bracket
[X, Y](θ) = DY(θ)X(θ) − DX(θ)Y(θ) costs two field evaluations and no symbolic expansion; a bracket of
depth k needs k − 1 nilpotents (one per nesting level), and every coefficient stays exact modulo p.
The newest nilpotent is always the highest bit, so adding one is appending a block of zeros and reading
its coefficient is taking the upper half of the leading axis.

``PolynomialJets`` evaluates a network's sparse polynomial map Φ and its vector–Jacobian product on such jets
(the field family's ``X_w(θ̃) = −J(θ̃)ᵀ vec(Φ(θ̃)M − C)``), for any ``JetArithmetic``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import cast

import numpy as np

from harness.algebra.modular import PRIME


@lru_cache(maxsize=None)
def _convolution_pairs(size: int) -> tuple[tuple[int, int, int], ...]:
    """All (S, T, S∖T) with T ⊆ S ⊆ {bits of size − 1}: 3^j triples."""
    pairs = []
    for whole in range(size):
        part = whole
        while True:
            pairs.append((whole, part, whole ^ part))
            if part == 0:
                break
            part = (part - 1) & whole
    return tuple(pairs)


def n_nilpotents(jet: np.ndarray) -> int:
    size = jet.shape[0]
    j = size.bit_length() - 1
    if size != 1 << j:
        raise ValueError(f"a jet's leading axis must have 2^j entries, got {size}")
    return j


class JetArithmetic:
    """Jet operations over Z/p (``modulus=PRIME``) or over float64 (``modulus=None``)."""

    def __init__(self, modulus: int | None = PRIME):
        self.modulus = modulus

    @property
    def exact(self) -> bool:
        return self.modulus is not None

    @property
    def dtype(self):
        return np.int64 if self.exact else np.float64

    def normalise(self, array: np.ndarray) -> np.ndarray:
        return np.mod(array, cast(int, self.modulus)) if self.exact else array  # exact jets always carry p

    def constant(self, values: np.ndarray, nilpotents: int = 0) -> np.ndarray:
        """The jet with constant part ``values`` and no ε terms."""
        values = np.asarray(values, dtype=self.dtype)
        jet = np.zeros((1 << nilpotents,) + values.shape, dtype=self.dtype)
        jet[0] = values
        return jet

    def multiply(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Elementwise product of two jet arrays with the same number of nilpotents (broadcasting)."""
        size = a.shape[0]
        if b.shape[0] != size:
            raise ValueError(f"jets with {a.shape[0]} and {b.shape[0]} coefficients cannot be multiplied")
        if size == 1:
            return self.normalise(a * b)
        shape = (size,) + np.broadcast_shapes(a.shape[1:], b.shape[1:])
        out = np.zeros(shape, dtype=np.result_type(a, b))
        for whole, part, rest in _convolution_pairs(size):
            out[whole] += a[part] * b[rest]
        return self.normalise(out)

    def scale(self, a: np.ndarray, factor) -> np.ndarray:
        """a times constants (no ε terms) broadcast over the non-jet axes."""
        return self.normalise(a * np.asarray(factor, dtype=self.dtype))

    def negate(self, a: np.ndarray) -> np.ndarray:
        return self.normalise(-a)

    def add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.normalise(a + b)

    def subtract(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.normalise(a - b)

    def with_new_nilpotent(self, point: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """point + ε_new · direction, where point and direction have j nilpotents and ε_new is number j + 1."""
        if direction.shape[0] != point.shape[0]:
            raise ValueError("the direction must be a jet in the same nilpotents as the point")
        shape = (point.shape[0],) + np.broadcast_shapes(point.shape[1:], direction.shape[1:])
        return np.concatenate([np.broadcast_to(point, shape), np.broadcast_to(direction, shape)], axis=0).astype(
            self.dtype, copy=False
        )

    @staticmethod
    def coefficient_of_newest(jet: np.ndarray) -> np.ndarray:
        """The coefficient of the newest nilpotent (a jet in the others)."""
        return jet[jet.shape[0] // 2 :]

    @staticmethod
    def without_newest(jet: np.ndarray) -> np.ndarray:
        """The part free of the newest nilpotent (a jet in the others)."""
        return jet[: jet.shape[0] // 2]


EXACT = JetArithmetic(PRIME)
FLOAT = JetArithmetic(None)


# --- a sparse polynomial map Φ evaluated on jets ---------------------------------------------------------


class _ScatterSum:
    """Sums the last axis of an array into ``size`` bins given by ``targets`` (sorted once, reduceat after)."""

    def __init__(self, targets: np.ndarray, size: int):
        self.order = np.argsort(targets, kind="stable")
        ordered = targets[self.order]
        self.starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        self.bins = ordered[self.starts]
        self.size = size

    def __call__(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(values.shape[:-1] + (self.size,), dtype=values.dtype)
        if self.starts.size:
            out[..., self.bins] = np.add.reduceat(values[..., self.order], self.starts, axis=-1)
        return out


class PolynomialJets:
    """Φ(θ̃) and J(θ̃)ᵀ vec G̃ for jets θ̃, G̃ (leading axis: jet coefficients), from a network's ``PolynomialMap``
    (``network.polynomial``: coefficients, variables and output slots of its monomials)."""

    def __init__(self, poly):
        self.n_params = poly.n_params
        self.shape = poly.shape
        self.out = poly.out
        self.coef = poly.coef
        self.variables = poly.variables
        self.degree = poly.degree
        self._phi_sum = _ScatterSum(self.out, self.shape[0] * self.shape[1])
        self._grad_sum = _ScatterSum(self.variables.T.reshape(-1), self.n_params)

    def _factors(self, arithmetic: JetArithmetic, point: np.ndarray) -> list[np.ndarray]:
        return [point[..., self.variables[:, s]] for s in range(self.degree)]

    def phi(self, arithmetic: JetArithmetic, point: np.ndarray) -> np.ndarray:
        """Φ(θ̃) with shape point.shape[:-1] + (m, K)."""
        factors = self._factors(arithmetic, point)
        product = factors[0]
        for factor in factors[1:]:
            product = arithmetic.multiply(product, factor)
        terms = arithmetic.scale(product, self.coef)
        flat = arithmetic.normalise(self._phi_sum(terms))
        return flat.reshape(flat.shape[:-1] + self.shape)

    def vjp(self, arithmetic: JetArithmetic, point: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        """J(θ̃)ᵀ vec G̃ = Σ_t coef_t G̃[out_t] ∂(Π_s θ̃[var_ts]) (shape: batch + (D,))."""
        factors = self._factors(arithmetic, point)
        flat = cotangent.reshape(cotangent.shape[:-2] + (-1,))
        weight = arithmetic.scale(flat[..., self.out], self.coef)
        # prefix[s] = Π_{q<s} factor_q, suffix[s] = Π_{q>s} factor_q: the product of the others is their product.
        prefix = [None] * self.degree
        suffix = [None] * self.degree
        for s in range(1, self.degree):
            prefix[s] = factors[0] if s == 1 else arithmetic.multiply(prefix[s - 1], factors[s - 1])
        for s in range(self.degree - 2, -1, -1):
            suffix[s] = factors[-1] if s == self.degree - 2 else arithmetic.multiply(suffix[s + 1], factors[s + 1])
        parts = []
        for s in range(self.degree):
            others = (
                prefix[s]
                if suffix[s] is None
                else suffix[s]
                if prefix[s] is None
                else arithmetic.multiply(prefix[s], suffix[s])
            )
            parts.append(arithmetic.multiply(weight, others))
        shape = np.broadcast_shapes(*[p.shape for p in parts])
        contributions = np.concatenate([np.broadcast_to(p, shape) for p in parts], axis=-1)
        return arithmetic.normalise(self._grad_sum(contributions))
