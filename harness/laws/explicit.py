"""Explicit conservation laws of a family of polynomial vector fields (DESIGN.md §2, oracle 2).

A conservation law of the fields X_1, …, X_n on R^D (θ) is a function h with ∇h(θ)·X_i(θ) ≡ 0 for every i.
For MSE the fields are X_{M,C}(θ) = −J(θ)ᵀ vec(Φ(θ)M − C) over a basis of the achievable moments (M, C);
their laws are the laws of every gradient flow of the data class.

Two ansätze, each solved as an exact linear system over Q and then verified symbolically:

* **polynomial laws** h = Σ_α c_α θ^α of degree 1..p: ∇h·X_i = Σ_α c_α (X_i θ^α) is linear in c, so the laws
  are the nullspace of the matrix of coefficients of the polynomials X_i θ^α (one row per generator and
  monomial of the identity, one column per α);
* **rational laws** h = P/Q (DESIGN.md trap (c): the worked example `linear:3,1,1` under `cyclic/trivial`
  has the law (v₂ − v₃)/(v₁ − v₃), which no polynomial ansatz finds). P/Q is conserved iff
  Q·X_iP − P·X_iQ ≡ 0, which is bilinear in (P, Q) but *linear in the bivector* B = p ∧ q of their coefficient
  vectors: Σ_{α<β} B_{αβ} (θ^β X_iθ^α − θ^α X_iθ^β) ≡ 0. The solution space 𝔅 is computed exactly; its
  decomposable elements (rank-2 antisymmetric matrices p qᵀ − q pᵀ) are exactly the rational laws. 𝔅 also
  contains every pair (F₁, F₂) whose ratio is a function of laws already known (g/1, g₁/g₂, (tA)/(tB), …);
  that part 𝔈 is generated explicitly, and only 𝔅 modulo 𝔈 is searched for new laws.

The sparse polynomials live in ``harness.algebra.sparse``, exact linear algebra over Q in
``harness.algebra.rationals`` and the bivector search in ``harness.laws.rational_laws``.

Nothing is returned unverified: every candidate is checked by `verify_law` (the numerator of ∇h·X_i
expands to 0 for every generator) and kept only if its gradient is independent of the laws kept before it
(`independent`, exact rank at a random rational point). A law the ansatz does not contain is missed, never
invented; the counting engine treats the laws found as a lower bound that certifies a count.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction
from math import lcm

import sympy
from sympy import QQ

from harness.algebra.monomials import exponent_vectors
from harness.algebra.rationals import rational_nullspace, rational_rank, to_fraction
from harness.algebra.sparse import (
    add_scaled,
    degree_of,
    field_degree,
    lie_derivative,
    lie_derivative_of_monomial,
    multiply,
    primitive,
    random_powers,
    to_sympy,
    value_mod_p,
)
from harness.errors import InvalidInput
from harness.laws.rational_laws import rational_law_candidates

LAW_KINDS = ("polynomial", "rational")


@dataclass(frozen=True)
class Law:
    """A verified conservation law h(θ): ∇h·X_i ≡ 0 for every generator X_i.

    ``kind`` is 'polynomial' or 'rational' (h = P/Q with Q not constant); ``degree`` is the total degree of a
    polynomial law and max(deg P, deg Q) of a rational one.
    """

    expression: sympy.Expr
    kind: str
    degree: int

    def __post_init__(self):
        if self.kind not in LAW_KINDS:
            raise InvalidInput(f"law kind {self.kind!r} is not one of {LAW_KINDS}")

    def latex(self) -> str:
        return sympy.latex(self.expression)

    def __str__(self) -> str:
        return str(self.expression)


# --------------------------------------------------------------------------------------------------
# Input validation and conversion of the generators to exact sparse polynomials


def _check_symbols(symbols) -> tuple:
    symbols = tuple(symbols)
    if not symbols:
        raise InvalidInput("symbols is empty; give the D parameter symbols θ_1..θ_D")
    for symbol in symbols:
        if not isinstance(symbol, sympy.Symbol):
            raise InvalidInput(f"symbol {symbol!r} is not a sympy Symbol; symbols must be D distinct Symbols")
    if len(set(symbols)) != len(symbols):
        raise InvalidInput(f"symbols {symbols} repeat a name; they must be D distinct Symbols")
    return symbols


def _field_to_sparse(field, index: int, symbols: tuple) -> list:
    """One generator as D integer sparse polynomials (scaled by a positive constant: laws do not change)."""
    try:
        components = list(field)
    except TypeError:
        raise InvalidInput(f"generator {index} is {field!r}; each generator is a list of D expressions") from None
    if len(components) != len(symbols):
        raise InvalidInput(
            f"generator {index} has {len(components)} components but there are {len(symbols)} symbols; they must match"
        )
    rational = []
    for component in components:
        expression = sympy.sympify(component)
        stray = expression.free_symbols - set(symbols)
        if stray:
            raise InvalidInput(
                f"generator {index} contains symbols {sorted(map(str, stray))} outside the parameter symbols; "
                "generators must be polynomials in the parameters with rational coefficients"
            )
        try:
            polynomial = sympy.Poly(expression, *symbols, domain=QQ)
        except (sympy.PolynomialError, sympy.CoercionFailed):
            raise InvalidInput(
                f"generator {index} component {expression} is not a polynomial with rational coefficients"
            ) from None
        rational.append(
            {
                monomial: Fraction(int(c.numerator), int(c.denominator))
                for monomial, c in polynomial.as_dict().items()
                if c
            }
        )
    denominators = [c.denominator for component in rational for c in component.values()]
    scale = lcm(*denominators) if denominators else 1
    return [{monomial: int(c * scale) for monomial, c in component.items()} for component in rational]


def _prepare(symbols, generators) -> tuple:
    symbols = _check_symbols(symbols)
    if isinstance(generators, (str, bytes)):
        raise InvalidInput(f"generators is {generators!r}; give a list of vector fields (lists of D expressions)")
    fields = [_field_to_sparse(field, index, symbols) for index, field in enumerate(generators)]
    return symbols, fields


# --------------------------------------------------------------------------------------------------
# Public checks


def verify_law(expression, symbols, generators) -> bool:
    """Exact check that h = ``expression`` satisfies ∇h·X_i ≡ 0 for every generator X_i.

    For rational h = N/Q the numerator Q·X_iN − N·X_iQ of ∇h·X_i (up to the factor 1/Q²) must expand to the
    zero polynomial. Other expressions fall back to sympy.simplify, which can only fail to recognise a law,
    never accept a false one.
    """
    symbols, fields = _prepare(symbols, generators)
    try:
        expression = sympy.sympify(expression)
    except (sympy.SympifyError, TypeError):
        raise InvalidInput(f"law {expression!r} is not a sympy expression") from None
    stray = expression.free_symbols - set(symbols)
    if stray:
        raise InvalidInput(f"law {expression} contains symbols {sorted(map(str, stray))} outside the parameters")
    numerator, denominator = sympy.fraction(sympy.together(expression))
    try:
        top = sympy.Poly(numerator, *symbols, domain=QQ)
        bottom = sympy.Poly(denominator, *symbols, domain=QQ)
    except (sympy.PolynomialError, sympy.CoercionFailed):
        top = bottom = None
    if top is not None and bottom is not None:
        if bottom.is_zero:
            return False
        top_sparse = {m: to_fraction(c) for m, c in top.as_dict().items()}
        bottom_sparse = {m: to_fraction(c) for m, c in bottom.as_dict().items()}
        for field in fields:
            residual = multiply(bottom_sparse, lie_derivative(top_sparse, field))
            add_scaled(residual, multiply(top_sparse, lie_derivative(bottom_sparse, field)), -1)
            if residual:
                return False
        return True
    for field in fields:
        derivative = sympy.Add(
            *(
                sympy.diff(expression, symbol) * to_sympy(component, symbols)
                for symbol, component in zip(symbols, field)
            )
        )
        if sympy.simplify(derivative) != 0:
            return False
    return True


def _random_point(symbols: tuple, rng: random.Random) -> dict:
    # Rationals with large numerators: a fixed polynomial vanishes at such a point only with tiny probability
    # (Schwartz–Zippel), so a rank deficit there is almost never an accident.
    return {s: sympy.Rational(rng.randint(-(10**6), 10**6), rng.randint(1, 997)) for s in symbols}


def independent(expressions, symbols, seed: int = 0) -> list:
    """Indices of a maximal subset of ``expressions`` with linearly independent gradients, chosen greedily in
    order, by the exact rank of the gradients at a random rational point.

    The rank at one point never exceeds the generic rank, so every subset returned is provably functionally
    independent; an expression is dropped only when the point shows it dependent (wrong only on a
    measure-zero set of points).
    """
    symbols = _check_symbols(symbols)
    expressions = [sympy.sympify(e) for e in expressions]
    rng = random.Random(seed)
    denominators = [sympy.fraction(sympy.together(e))[1] for e in expressions]
    for _attempt in range(20):
        point = _random_point(symbols, rng)
        if all(d.subs(point) != 0 for d in denominators):
            break
    else:
        raise InvalidInput("could not find a point where every expression is defined; are some denominators zero?")
    chosen: list = []
    gradients: list = []
    for index, expression in enumerate(expressions):
        gradient = [Fraction(str(sympy.diff(expression, s).subs(point))) for s in symbols]
        if rational_rank(gradients + [gradient], len(symbols)) > len(gradients):
            chosen.append(index)
            gradients.append(gradient)
    return chosen


# --------------------------------------------------------------------------------------------------
# Polynomial laws


def _polynomial_law_candidates(fields: list, n_variables: int, max_degree: int) -> list:
    """A basis of the polynomial laws of degree 1..max_degree without constant term (sparse polynomials).

    When every field is homogeneous, X_i maps degree-a forms to degree a + δ_i − 1 forms, so each homogeneous
    part of a law is a law: solving degree by degree gives homogeneous, readable laws.
    """
    homogeneous = all(field_degree(field) is not None for field in fields)
    blocks = [[degree] for degree in range(1, max_degree + 1)] if homogeneous else [list(range(1, max_degree + 1))]
    laws = []
    for degrees in blocks:
        basis = [m for degree in degrees for m in exponent_vectors(n_variables, degree)]
        images = [[lie_derivative_of_monomial(exponent, field) for exponent in basis] for field in fields]
        rows: dict = {}
        for per_field in images:
            for column, image in enumerate(per_field):
                for monomial, coefficient in image.items():
                    rows.setdefault((id(per_field), monomial), {})[column] = coefficient
        top_degree = max((degree_of(p) for per_field in images for p in per_field), default=0)

        def sample_rows(count: int, seed: int, images=images, top_degree=top_degree) -> list:
            # One row per (random point, generator): (X_i θ^α)(point) over the columns α.
            rng, samples = random.Random(seed), []
            while images and len(samples) < count:
                powers = random_powers(rng, n_variables, top_degree)
                samples.extend([value_mod_p(image, powers) for image in per_field] for per_field in images)
            return samples

        for vector in rational_nullspace(rows.values(), len(basis), sample_rows):
            polynomial = {basis[j]: c for j, c in enumerate(vector) if c}
            if polynomial:
                laws.append(primitive(polynomial))
    return laws


# --------------------------------------------------------------------------------------------------
# The public search


def find_laws(symbols, generators, *, max_degree: int = 2, rational_degree: int = 1, seed: int = 0) -> list:
    """Verified, functionally independent conservation laws h (∇h·X_i ≡ 0 for every generator X_i).

    Polynomial laws of degree 1..``max_degree`` come first (by degree), then rational laws P/Q with P, Q of
    degree ≤ ``rational_degree`` that are independent of them. Every law is verified exactly; a law outside
    the ansatz is missed, never invented. ``seed`` fixes the random point of the independence test.
    """
    symbols, fields = _prepare(symbols, generators)
    for name, value in (("max_degree", max_degree), ("rational_degree", rational_degree)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidInput(f"{name}={value!r}; it must be an integer >= 0")
    if rational_degree > 3:
        raise InvalidInput(f"rational_degree={rational_degree}; at most 3 is supported (the search grows fast)")
    n_variables = len(symbols)
    laws: list = []

    def keep(candidate: Law) -> bool:
        """Append a verified, independent candidate; True when the candidate is a (verified) law at all."""
        if not verify_law(candidate.expression, symbols, generators):
            return False
        expressions = [law.expression for law in laws] + [candidate.expression]
        if len(independent(expressions, symbols, seed=seed)) == len(expressions):
            laws.append(candidate)
        return True

    one = {tuple([0] * n_variables): 1}
    # Every verified law, dependent or not, becomes an atom that explains bivectors of later blocks.
    atoms: list = []
    for polynomial in _polynomial_law_candidates(fields, n_variables, max_degree):
        if keep(Law(to_sympy(polynomial, symbols), "polynomial", degree_of(polynomial))):
            atoms.append((polynomial, one))
    if rational_degree >= 1 and len(laws) < n_variables:
        for numerator, denominator in rational_law_candidates(fields, n_variables, rational_degree, atoms):
            if degree_of(denominator) == 0 or degree_of(numerator) == 0:
                # P/c or c/Q: the law is the polynomial P (or Q) itself.
                polynomial = numerator if degree_of(denominator) == 0 else denominator
                candidate = Law(to_sympy(polynomial, symbols), "polynomial", degree_of(polynomial))
                atom = (polynomial, one)
            else:
                expression = to_sympy(numerator, symbols) / to_sympy(denominator, symbols)
                candidate = Law(expression, "rational", max(degree_of(numerator), degree_of(denominator)))
                atom = (numerator, denominator)
            if keep(candidate):
                atoms.append(atom)
    return laws
