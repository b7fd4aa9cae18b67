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

from harness.algebra import jet_kernels, modular
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
        self._residue_coef = np.mod(np.asarray(self.coef, dtype=np.int64), PRIME)
        # How many products < 2^52 one entry of Φ or of the gradient sums (the kernels' unreduced-sum rule).
        self._most_per_parameter = int(np.bincount(self.variables.reshape(-1), minlength=1).max(initial=0))
        self._most_per_entry = int(np.bincount(self.out, minlength=1).max(initial=0))

    def _pairs(self, size: int) -> np.ndarray:
        jet_kernels.check_jet_size(size)
        return np.asarray(_convolution_pairs(size), dtype=np.int64).reshape(-1, 3)

    def _factors(self, arithmetic: JetArithmetic, point: np.ndarray) -> list[np.ndarray]:
        return [point[..., self.variables[:, s]] for s in range(self.degree)]

    def phi(self, arithmetic: JetArithmetic, point: np.ndarray) -> np.ndarray:
        """Φ(θ̃) with shape point.shape[:-1] + (m, K)."""
        if arithmetic.exact:  # compiled, one monomial at a time (harness.algebra.jet_kernels)
            size = point.shape[0]
            flat_point = point.reshape(size, -1, point.shape[-1]).transpose(1, 2, 0)
            values = jet_kernels.phi_on_jets(
                np.ascontiguousarray(flat_point, dtype=np.int64),
                self.variables,
                self._residue_coef,
                self.out,
                self.shape[0] * self.shape[1],
                self._pairs(size),
                self._most_per_entry,
            )
            return values.transpose(2, 0, 1).reshape(point.shape[:-1] + self.shape)
        factors = self._factors(arithmetic, point)
        product = factors[0]
        for factor in factors[1:]:
            product = arithmetic.multiply(product, factor)
        terms = arithmetic.scale(product, self.coef)
        flat = arithmetic.normalise(self._phi_sum(terms))
        return flat.reshape(flat.shape[:-1] + self.shape)

    def vjp(self, arithmetic: JetArithmetic, point: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        """J(θ̃)ᵀ vec G̃ = Σ_t coef_t G̃[out_t] ∂(Π_s θ̃[var_ts]) (shape: batch + (D,))."""
        if arithmetic.exact:
            return self._vjp_exact(point, cotangent)
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

    def _vjp_exact(self, point: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        size = point.shape[0]
        batch = np.broadcast_shapes(point.shape[1:-1], cotangent.shape[1:-2])
        entries = cotangent.shape[-2] * cotangent.shape[-1]
        flat_cotangent = np.broadcast_to(cotangent, (size,) + batch + cotangent.shape[-2:]).reshape(size, -1, entries)
        if size == 1 and int(np.prod(point.shape[1:-1], dtype=np.int64)) == 1:  # one plain θ: a sparse product
            theta = np.ascontiguousarray(point.reshape(-1), dtype=np.int64)
            values = jet_kernels.vjp_plain(
                theta,
                np.ascontiguousarray(flat_cotangent[0], dtype=np.int64),
                self.variables,
                self._residue_coef,
                self.out,
                self._most_per_parameter < jet_kernels.LIMIT_UNREDUCED,
            )
            return values.reshape((1,) + batch + (self.n_params,))
        if int(np.prod(point.shape[1:-1], dtype=np.int64)) == 1:
            flat_point = point.reshape(size, 1, point.shape[-1])
        else:
            flat_point = np.broadcast_to(point, (size,) + batch + point.shape[-1:]).reshape(size, -1, point.shape[-1])
        values = jet_kernels.vjp_on_jets(
            np.ascontiguousarray(flat_point.transpose(1, 2, 0), dtype=np.int64),
            np.ascontiguousarray(flat_cotangent.transpose(1, 2, 0), dtype=np.int64),
            self.variables,
            self._residue_coef,
            self.out,
            self._pairs(size),
            self._most_per_parameter,
        )
        return values.transpose(2, 0, 1).reshape((size,) + batch + (self.n_params,))


class MatrixProductJets(PolynomialJets):
    """Φ = A Bᵀ for two blocks of θ (A: (m, r), B: (K, r)), evaluated by matrix
    products on jets: Φ̃_S = Σ_{T⊆S} A_T B_{S∖T}ᵀ, ∇_A = G̃ B̃, ∇_B = G̃ᵀ Ã (subset convolutions of matrices).

    Exact arithmetic only (float jets keep the monomial path): the products go through ``modular.matmul``
    (float64 BLAS on split residues), the same residues as the monomial sums, many times faster for the
    two-layer linear family, whose monomials are exactly the entries of these products.
    """

    def __init__(self, poly, left: tuple[int, int, int], right: tuple[int, int]):
        """``left`` = (offset, m, r) of A, ``right`` = (offset, K) of B (B has the same r columns)."""
        super().__init__(poly)
        self.left, self.right = left, right

    def _blocks(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (a, m, r), (b, k) = self.left, self.right
        return (
            point[..., a : a + m * r].reshape(point.shape[:-1] + (m, r)),
            point[..., b : b + k * r].reshape(point.shape[:-1] + (k, r)),
        )

    @staticmethod
    def _convolve(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Σ_{T⊆S} left_T @ right_{S∖T} for every S, mod p (jet axis first, matrices last)."""
        size = left.shape[0]
        pairs = np.asarray(_convolution_pairs(size), dtype=np.int64).reshape(-1, 3)
        products = modular.matmul(left[pairs[:, 1]], right[pairs[:, 2]])
        starts = np.flatnonzero(np.r_[True, pairs[1:, 0] != pairs[:-1, 0]])  # pairs come grouped by S
        return np.mod(np.add.reduceat(products, starts, axis=0), PRIME)

    def phi(self, arithmetic: JetArithmetic, point: np.ndarray) -> np.ndarray:
        if not arithmetic.exact:
            return super().phi(arithmetic, point)
        first, second = self._blocks(np.asarray(point, dtype=np.int64))
        return self._convolve(first, np.swapaxes(second, -1, -2))

    def vjp(self, arithmetic: JetArithmetic, point: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        if not arithmetic.exact:
            return super().vjp(arithmetic, point, cotangent)
        first, second = self._blocks(np.asarray(point, dtype=np.int64))
        cotangent = np.asarray(cotangent, dtype=np.int64)
        grad_first = self._convolve(cotangent, second)  # G̃ B̃: (…, m, r)
        grad_second = self._convolve(np.swapaxes(cotangent, -1, -2), first)  # G̃ᵀ Ã: (…, K, r)
        batch = np.broadcast_shapes(grad_first.shape[:-2], grad_second.shape[:-2])
        result = np.zeros(batch + (self.n_params,), dtype=np.int64)
        (a, m, r), (b, k) = self.left, self.right
        result[..., a : a + m * r] = np.broadcast_to(grad_first, batch + (m, r)).reshape(batch + (m * r,))
        result[..., b : b + k * r] = np.broadcast_to(grad_second, batch + (k, r)).reshape(batch + (k * r,))
        return result


def jets_of(network) -> PolynomialJets:
    """Jet evaluation of a network's Φ: matrix products for the two-layer linear family (Φ = U Vᵀ, blocks
    U (m, r) then V (K, r)), its monomials (``network.polynomial``) otherwise."""
    if network.family != "linear":
        return PolynomialJets(network.polynomial)
    U, V = network.blocks
    return MatrixProductJets(network.polynomial, (U.offset, U.shape[0], U.shape[1]), (V.offset, V.shape[0]))
