"""The network's published laws, checked against a field family: exactly modulo p (or in float64).

A family's published laws (``network.known_law_expressions``) are laws of a data class when ∇h·X_w = 0 for
every basis field X_w. That is checked at two random points (Schwartz–Zippel: a non-law passes with
probability at most degree/p; in exact arithmetic against two random elements of F per point, a non-law
passes each with probability 1/p more), with ∇h(θ) computed exactly from the law's monomials (the formula
is run once per network on term lists, ``law_monomials``). The verified laws that are independent at a
random point are a lower bound s of the number of laws, which ``harness.laws.results.certify`` meets with
the Lie rank ρ (ρ + s = D certifies the count).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from harness.algebra import modular
from harness.algebra.modular import PRIME
from harness.laws.fields import FieldFamily, parameter_symbols
from harness.model.family import Network


class _Terms:
    """A polynomial as a list of (coefficient, variables) terms, built by running a law's formula once.

    Sums concatenate and products distribute; like terms are never merged (the gradient scatter adds them),
    so building the 1275 Gram-entry laws of linear:50,50,50 is list work, not dict work.
    """

    __slots__ = ("terms",)

    def __init__(self, terms: list):
        self.terms = terms

    @staticmethod
    def lift(other) -> "_Terms":
        if isinstance(other, _Terms):
            return other
        value = other if isinstance(other, int) else Fraction(other)  # ints stay ints: Fraction products are slow
        return _Terms([(value, ())] if value else [])

    def __add__(self, other):
        return _Terms(self.terms + _Terms.lift(other).terms)

    __radd__ = __add__

    def __neg__(self):
        return _Terms([(-c, v) for c, v in self.terms])

    def __sub__(self, other):
        return self + (-_Terms.lift(other))

    def __rsub__(self, other):
        return _Terms.lift(other) - self

    def __mul__(self, other):
        other = _Terms.lift(other)
        return _Terms([(a * b, u + v) for a, u in self.terms for b, v in other.terms])

    __rmul__ = __mul__


@dataclass(frozen=True)
class LawMonomials:
    """The published laws h_i = Σ_t c_t Π_s θ[v_ts] as flat arrays, one group per degree d:
    (law index (T,), c_t mod p (T,), c_t as float (T,), variables (T, d))."""

    n_laws: int
    groups: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]


_MONOMIAL_CACHE: dict = {}


def law_monomials(network: Network) -> LawMonomials:
    """The monomials of ``network.known_law_expressions`` (computed once per network spec)."""
    key = (str(network), type(network).__qualname__)
    if key not in _MONOMIAL_CACHE:
        symbols = np.empty(network.n_params, dtype=object)
        for i in range(network.n_params):
            symbols[i] = _Terms([(1, (i,))])
        expressions = network.known_law_expressions(symbols)
        by_degree: dict[int, tuple[list, list, list]] = {}
        for law, expression in enumerate(expressions):
            for coefficient, variables in _Terms.lift(expression).terms:
                if coefficient == 0 or not variables:
                    continue  # constants have no gradient
                group = by_degree.setdefault(len(variables), ([], [], []))
                group[0].append(law)
                group[1].append(coefficient)
                group[2].append(variables)
        groups = tuple(
            (
                np.asarray(laws, dtype=np.int64),
                np.array([modular.from_rational(c) for c in coefficients], dtype=np.int64),
                np.array([float(c) for c in coefficients], dtype=np.float64),
                np.asarray(variables, dtype=np.int64).reshape(len(laws), degree),
            )
            for degree, (laws, coefficients, variables) in sorted(by_degree.items())
        )
        _MONOMIAL_CACHE[key] = LawMonomials(len(expressions), groups)
    return _MONOMIAL_CACHE[key]


def law_gradients(network: Network, theta: np.ndarray, exact: bool) -> np.ndarray:
    """∇h(θ) of the network's published laws (rows), exactly mod p or in float64, from their monomials:
    ∂/∂θ_j of c Π_s θ[v_s] is c Π_{q≠s} θ[v_q], summed over the slots s with v_s = j."""
    monomials = law_monomials(network)
    D = network.n_params
    flat = np.zeros(monomials.n_laws * D, dtype=np.int64 if exact else np.float64)
    point = np.mod(np.asarray(theta, dtype=np.int64), PRIME) if exact else np.asarray(theta, dtype=np.float64)
    for laws, residues, floats, variables in monomials.groups:
        scale = residues if exact else floats
        for s in range(variables.shape[1]):
            partial = scale.copy()
            for q in range(variables.shape[1]):
                if q != s:
                    partial = partial * point[variables[:, q]]
                    if exact:
                        partial %= PRIME
            # Residues < 2^26 summed per (law, parameter): int64 holds far more terms than any law has.
            np.add.at(flat, laws * D + variables[:, s], partial)
    rows = flat.reshape(monomials.n_laws, D)
    return np.mod(rows, PRIME) if exact else rows


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
    combinations = np.random.default_rng([seed, 12])
    ok = np.ones(len(names), dtype=bool)
    for _ in range(2):
        theta = family.random_point(rng)
        gradients = law_gradients(network, theta, family.exact)  # the last point also serves independence
        if family.exact:
            # X_w is linear in w, so ∇h·X_c for a random element c = Σ a_w w of the span is Σ a_w ∇h·X_w: it
            # vanishes for a non-law with probability 1/p. Two such fields per point replace all n_fields
            # (3775 at D = 5000, where checking each cost a 1275 × 5000 × 3775 product per point).
            values = family.evaluate_at(family.random_combinations(combinations, 2), theta)
            ok &= ~np.any(modular.matmul(gradients, values.T), axis=1)
        else:
            values = family.evaluate_at(family.basis, theta)
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
