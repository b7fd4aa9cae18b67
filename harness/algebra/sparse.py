"""Exact sparse polynomials as dicts {exponent vector α: coefficient} (int or Fraction), and vector fields on them.

A field is a list of D such polynomials (its components); ``lie_derivative`` applies it to a polynomial
(X h = Σ_j X_j ∂h/∂θ_j). This is the arithmetic of the explicit-law search (``harness.laws.explicit``).

Why hand-rolled dicts and not a library ring: the search's hot loop (``add_scaled``: about two thirds of
``find_laws`` on poly:2,2,1,k=3 under swap:0,1) forms θ^β·P_α − θ^α·P_β for many small polynomials and reads
every term straight into sparse matrix rows. On that pattern (300 polynomials of 40 terms in 12 variables,
measured 2026-12-01) sympy.polys.rings took 1.5× the time of these dicts (``mul_monom`` and addition), and
python-flint's ``fmpz_mpoly`` 1.9× (its products are fast, but reading the terms back into Python costs more
than it saves), besides adding a compiled dependency. ``to_sympy`` converts a result for display and
symbolic checks. ``value_mod_p``/``random_powers`` evaluate a polynomial at a random point modulo the one
prime of ``harness.algebra.modular``.
"""

from __future__ import annotations

import random
from fractions import Fraction
from math import gcd, lcm

import sympy

from harness.algebra.modular import PRIME

# Exponent vector α of a monomial θ^α; sparse polynomials are dicts {α: exact coefficient}.
Exponent = tuple


def field_degree(field: list):
    """The common degree δ of all terms of a field, or None when the field is not homogeneous.

    A homogeneous field maps forms of degree a to forms of degree a + δ − 1, which splits the linear systems
    below into independent blocks, one per degree.
    """
    degrees = {sum(monomial) for component in field for monomial in component}
    if len(degrees) > 1:
        return None
    return degrees.pop() if degrees else 0


def add_scaled(target: dict, source: dict, factor, shift: Exponent | None = None) -> None:
    """target += factor · θ^shift · source."""
    for monomial, coefficient in source.items():
        if shift is not None:
            monomial = tuple(a + b for a, b in zip(monomial, shift))
        value = target.get(monomial, 0) + factor * coefficient
        if value:
            target[monomial] = value
        else:
            target.pop(monomial, None)


def lie_derivative_of_monomial(exponent: Exponent, field: list) -> dict:
    """X θ^α = Σ_j α_j θ^{α − e_j} X_j as a sparse polynomial."""
    result: dict = {}
    for j, power in enumerate(exponent):
        if power and field[j]:
            lowered = list(exponent)
            lowered[j] -= 1
            add_scaled(result, field[j], power, tuple(lowered))
    return result


def lie_derivative(polynomial: dict, field: list) -> dict:
    result: dict = {}
    for exponent, coefficient in polynomial.items():
        add_scaled(result, lie_derivative_of_monomial(exponent, field), coefficient)
    return result


def multiply(left: dict, right: dict) -> dict:
    result: dict = {}
    for monomial, coefficient in left.items():
        add_scaled(result, right, coefficient, monomial)
    return result


def to_sympy(polynomial: dict, symbols: tuple) -> sympy.Expr:
    terms = []
    for exponent, coefficient in polynomial.items():
        term = (
            sympy.Rational(coefficient.numerator, coefficient.denominator)
            if isinstance(coefficient, Fraction)
            else sympy.Integer(coefficient)
        )
        for symbol, power in zip(symbols, exponent):
            if power:
                term *= symbol**power
        terms.append(term)
    return sympy.Add(*terms)


def primitive(polynomial: dict) -> dict:
    """Integer coefficients with gcd 1 and a positive leading coefficient (first monomial in lex order)."""
    if not polynomial:
        return {}
    values = [Fraction(c) for c in polynomial.values()]
    common_denominator = lcm(*(value.denominator for value in values))
    integers = {m: int(Fraction(c) * common_denominator) for m, c in polynomial.items()}
    divisor = 0
    for value in integers.values():
        divisor = gcd(divisor, value)
    leading = integers[max(integers)]
    sign = 1 if leading > 0 else -1
    return {m: sign * c // divisor for m, c in integers.items()}


def degree_of(polynomial: dict) -> int:
    return max((sum(m) for m in polynomial), default=0)


def value_mod_p(polynomial: dict, powers: list) -> int:
    """The polynomial at a point modulo PRIME, given powers[j][k] = θ_j^k mod PRIME."""
    total = 0
    for exponent, coefficient in polynomial.items():
        term = coefficient % PRIME
        for j, k in enumerate(exponent):
            if k:
                term = term * powers[j][k] % PRIME
        total += term
    return total % PRIME


def random_powers(rng: random.Random, n_variables: int, max_power: int) -> list:
    powers = []
    for _ in range(n_variables):
        x = rng.randrange(1, PRIME)
        row = [1]
        for _k in range(max_power):
            row.append(row[-1] * x % PRIME)
        powers.append(row)
    return powers
