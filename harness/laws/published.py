"""The network's published laws, checked against a field family: exactly modulo p (or in float64).

A family's published laws (``network.known_law_expressions``) are laws of a data class when ∇h·X_w = 0 for
every basis field X_w. That is checked at two random points (Schwartz–Zippel: a non-law passes with
probability at most degree/p), with ∇h(θ) computed exactly by running the law's formula on dual numbers.
The verified laws that are independent at a random point are a lower bound s of the number of laws, which
``harness.laws.results.certify`` meets with the Lie rank ρ (ρ + s = D certifies the count).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from harness.algebra import modular
from harness.algebra.modular import PRIME
from harness.laws.fields import FieldFamily, parameter_symbols
from harness.model.family import Network


class _Dual:
    """A number with its gradient with respect to θ (a sparse dict index → value), mod p or in float.

    Running a published law's formula on these gives h(θ) and ∇h(θ) exactly; the gradients of the laws
    (Gram differences of blocks) are sparse, so dicts keep this fast even for D = 800.
    """

    __slots__ = ("value", "grad", "modulus")

    def __init__(self, value, grad, modulus):
        self.value, self.grad, self.modulus = value, grad, modulus

    def _lift(self, other):
        if isinstance(other, _Dual):
            return other
        if self.modulus is not None:
            return _Dual(modular.from_rational(Fraction(other)), {}, self.modulus)
        return _Dual(float(other), {}, None)

    def _reduce(self, value):
        return value % self.modulus if self.modulus is not None else value

    def _combine(self, value, first, first_factor, second, second_factor):
        grad = {}
        for source, factor in ((first, first_factor), (second, second_factor)):
            if factor == 0:
                continue
            for index, entry in source.items():
                grad[index] = grad.get(index, 0) + factor * entry
        if self.modulus is not None:
            grad = {index: entry % self.modulus for index, entry in grad.items()}
        return _Dual(self._reduce(value), grad, self.modulus)

    def __add__(self, other):
        other = self._lift(other)
        return self._combine(self.value + other.value, self.grad, 1, other.grad, 1)

    __radd__ = __add__

    def __neg__(self):
        return self._combine(-self.value, self.grad, -1, {}, 0)

    def __sub__(self, other):
        other = self._lift(other)
        return self._combine(self.value - other.value, self.grad, 1, other.grad, -1)

    def __rsub__(self, other):
        return self._lift(other) - self

    def __mul__(self, other):
        other = self._lift(other)
        return self._combine(self.value * other.value, self.grad, other.value, other.grad, self.value)

    __rmul__ = __mul__


_GRADIENT_CACHE: dict = {}


def law_gradients(network: Network, theta: np.ndarray, exact: bool) -> np.ndarray:
    """∇h(θ) of the network's published laws (rows), exactly mod p or in float64."""
    key = (str(network), type(network).__qualname__, exact, np.asarray(theta).tobytes())
    if key not in _GRADIENT_CACHE:
        if len(_GRADIENT_CACHE) > 16:  # the free and augmented checks of one count share their points
            _GRADIENT_CACHE.clear()
        _GRADIENT_CACHE[key] = _law_gradients(network, theta, exact)
    return _GRADIENT_CACHE[key].copy()


def _law_gradients(network: Network, theta: np.ndarray, exact: bool) -> np.ndarray:
    D = network.n_params
    modulus = PRIME if exact else None
    dtype = np.int64 if exact else float
    duals = np.empty(D, dtype=object)
    for i in range(D):
        duals[i] = _Dual(int(theta[i]) % PRIME if exact else float(theta[i]), {i: 1}, modulus)
    rows = []
    for expression in network.known_law_expressions(duals):
        row = np.zeros(D, dtype=dtype)
        if isinstance(expression, _Dual) and expression.grad:
            indices = np.fromiter(expression.grad.keys(), dtype=np.int64)
            row[indices] = np.fromiter(expression.grad.values(), dtype=dtype)
        rows.append(row)
    return np.stack(rows) if rows else np.zeros((0, D), dtype=dtype)


@dataclass(frozen=True)
class VerifiedLaws:
    """The published laws that are laws of the family (∇h·X_w = 0 for every basis w at two random points),
    and a maximal independent subset of them (rank of their gradients at a random point)."""

    names: tuple[str, ...]
    verified: tuple[int, ...]
    independent: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.independent)


def verify_published_laws(family: FieldFamily, *, seed: int = 0, rejected_tolerance: float = 1e-9) -> VerifiedLaws:
    """Check the network's published laws against every generator of ``family``."""
    network = family.network
    names = tuple(network.known_law_names())
    if not names or family.n_fields == 0:
        return VerifiedLaws(names, tuple(range(len(names))), ())
    rng = np.random.default_rng([seed, 11])
    ok = np.ones(len(names), dtype=bool)
    for _ in range(2):
        theta = family.random_point(rng)
        gradients = law_gradients(network, theta, family.exact)  # the last point also serves independence
        values = family.evaluate_at(family.basis, theta)
        if family.exact:
            ok &= ~np.any(modular.matmul(gradients, values.T), axis=1)
        else:
            products = np.abs(gradients @ values.T)
            scale = np.linalg.norm(gradients, axis=1)[:, None] * np.linalg.norm(values, axis=1)[None, :]
            ok &= np.all(products <= rejected_tolerance * np.maximum(scale, 1e-300), axis=1)
    verified = np.flatnonzero(ok)
    gradients = gradients[verified]
    if family.exact:
        mask = modular.EchelonBasis(network.n_params).add(gradients)
        independent = verified[mask]
    else:
        independent = verified[_float_independent(gradients)]
    return VerifiedLaws(names, tuple(int(i) for i in verified), tuple(int(i) for i in independent))


def _float_independent(rows: np.ndarray) -> np.ndarray:
    mask = np.zeros(rows.shape[0], dtype=bool)
    chosen = []
    for i, row in enumerate(rows):
        trial = np.array(chosen + [row])
        s = np.linalg.svd(trial / np.linalg.norm(trial, axis=1, keepdims=True), compute_uv=False)
        if s[-1] > 1e-8:
            chosen.append(row)
            mask[i] = True
    return mask


def published_law_texts(network: Network, known: VerifiedLaws) -> tuple[list[str], list[str]]:
    if network.n_params > 64:
        names = [known.names[i] for i in known.independent]
        return names, names
    import sympy

    expressions = network.known_law_expressions(np.array(parameter_symbols(network), dtype=object))
    chosen = [sympy.expand(expressions[i]) for i in known.independent]
    return [str(e) for e in chosen], [sympy.latex(e) for e in chosen]
