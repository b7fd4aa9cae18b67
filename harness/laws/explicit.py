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

Nothing is returned unverified: every candidate is checked by `verify_law` (the numerator of ∇h·X_i
expands to 0 for every generator) and kept only if its gradient is independent of the laws kept before it
(`independent`, exact rank at a random rational point). A law the ansatz does not contain is missed, never
invented; the counting engine treats the laws found as a lower bound that certifies a count.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from fractions import Fraction
from math import gcd, lcm
from typing import Iterable, Sequence

import numpy as np
import sympy
from sympy import QQ
from sympy.polys.matrices import DomainMatrix

from harness.algebra import modular
from harness.algebra.modular import PRIME
from harness.algebra.monomials import exponent_vectors, index_tuples
from harness.errors import InvalidInput

LAW_KINDS = ("polynomial", "rational")

# Exponent vector α of a monomial θ^α; sparse polynomials are dicts {α: exact coefficient}.
Exponent = tuple


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
        rational.append({monomial: Fraction(int(c.numerator), int(c.denominator))
                         for monomial, c in polynomial.as_dict().items() if c})
    denominators = [c.denominator for component in rational for c in component.values()]
    scale = lcm(*denominators) if denominators else 1
    return [{monomial: int(c * scale) for monomial, c in component.items()} for component in rational]


def _prepare(symbols, generators) -> tuple:
    symbols = _check_symbols(symbols)
    if isinstance(generators, (str, bytes)):
        raise InvalidInput(f"generators is {generators!r}; give a list of vector fields (lists of D expressions)")
    fields = [_field_to_sparse(field, index, symbols) for index, field in enumerate(generators)]
    return symbols, fields


def _field_degree(field: list):
    """The common degree δ of all terms of a field, or None when the field is not homogeneous.

    A homogeneous field maps forms of degree a to forms of degree a + δ − 1, which splits the linear systems
    below into independent blocks, one per degree.
    """
    degrees = {sum(monomial) for component in field for monomial in component}
    if len(degrees) > 1:
        return None
    return degrees.pop() if degrees else 0


# --------------------------------------------------------------------------------------------------
# Sparse polynomial arithmetic (exact) and monomial bases


def _add_scaled(target: dict, source: dict, factor, shift: Exponent = None) -> None:
    """target += factor · θ^shift · source."""
    for monomial, coefficient in source.items():
        if shift is not None:
            monomial = tuple(a + b for a, b in zip(monomial, shift))
        value = target.get(monomial, 0) + factor * coefficient
        if value:
            target[monomial] = value
        else:
            target.pop(monomial, None)


def _lie_derivative_of_monomial(exponent: Exponent, field: list) -> dict:
    """X θ^α = Σ_j α_j θ^{α − e_j} X_j as a sparse polynomial."""
    result: dict = {}
    for j, power in enumerate(exponent):
        if power and field[j]:
            lowered = list(exponent)
            lowered[j] -= 1
            _add_scaled(result, field[j], power, tuple(lowered))
    return result


def _lie_derivative(polynomial: dict, field: list) -> dict:
    result: dict = {}
    for exponent, coefficient in polynomial.items():
        _add_scaled(result, _lie_derivative_of_monomial(exponent, field), coefficient)
    return result


def _multiply(left: dict, right: dict) -> dict:
    result: dict = {}
    for monomial, coefficient in left.items():
        _add_scaled(result, right, coefficient, monomial)
    return result


def _to_sympy(polynomial: dict, symbols: tuple) -> sympy.Expr:
    terms = []
    for exponent, coefficient in polynomial.items():
        term = sympy.Rational(coefficient.numerator, coefficient.denominator) if isinstance(coefficient, Fraction) \
            else sympy.Integer(coefficient)
        for symbol, power in zip(symbols, exponent):
            if power:
                term *= symbol**power
        terms.append(term)
    return sympy.Add(*terms)


def _primitive(polynomial: dict) -> dict:
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


def _degree(polynomial: dict) -> int:
    return max((sum(m) for m in polynomial), default=0)


# --------------------------------------------------------------------------------------------------
# Exact linear algebra over Q (sympy DomainMatrix, sparse)


def _to_fraction(value) -> Fraction:
    return Fraction(int(value.numerator), int(value.denominator))


def _nullspace(rows: Iterable[dict], n_columns: int, sample_rows=None) -> list:
    """Basis of {c ∈ Q^n : Σ_j row[j] c_j = 0 for every row}, each vector a list of Fractions.

    With ``sample_rows`` (random evaluations of the same conditions) the modular route is tried first.
    """
    rows = list(rows)
    if sample_rows is not None and n_columns:
        basis = _nullspace_modular(sample_rows, rows, n_columns)
        if basis is not None:
            return basis
    sparse = {}
    for row in rows:
        entries = {j: QQ(v.numerator, v.denominator) if isinstance(v, Fraction) else QQ(v)
                   for j, v in row.items() if v}
        if entries:
            sparse[len(sparse)] = entries
    if not sparse:
        return [[Fraction(int(i == j)) for j in range(n_columns)] for i in range(n_columns)]
    matrix = DomainMatrix(sparse, (len(sparse), n_columns), QQ)
    return [[_to_fraction(v) for v in vector] for vector in matrix.nullspace().to_list()]


def _nullspace_modular(sample_rows, exact_rows: list, n_columns: int):
    """The exact nullspace by way of random evaluations modulo a prime, or None when that route fails.

    ``sample_rows(count, seed)`` gives ≥ count conditions as integer rows evaluated at random points (mod
    PRIME). Rows from one point are strongly correlated, so batches are added until a whole batch leaves the
    rank unchanged. The nullspace modulo p contains the reduction of the true one; its echelon basis is lifted
    to Q by rational reconstruction and each vector is checked against every exact row. If all pass, they are
    nullity_p independent vectors of the true nullspace, whose dimension is at most nullity_p: the basis is
    exact. Any failure (too few points, large coefficients) sends the caller to exact elimination.
    """
    batch = max(n_columns // 2, 16)
    reduced = np.zeros((0, n_columns), dtype=np.int64)
    pivots = np.zeros(0, dtype=np.int64)
    for attempt in range(1, 13):
        samples = np.asarray(sample_rows(batch, attempt), dtype=np.int64).reshape(-1, n_columns)
        previous_rank = len(pivots)
        reduced, pivots = modular.row_echelon(np.vstack([reduced, samples]))
        if len(pivots) == n_columns or (len(pivots) == previous_rank and attempt > 1):
            break
    pivot_set = set(pivots)
    basis = []
    for free in range(n_columns):
        if free in pivot_set:
            continue
        vector = [Fraction(0)] * n_columns
        vector[free] = Fraction(1)
        for row, pivot in enumerate(pivots):
            value = modular.rational_reconstruction(-int(reduced[row, free]))
            if value is None:
                return None
            vector[pivot] = value
        basis.append(vector)
    for vector in basis:
        support = {j: v for j, v in enumerate(vector) if v}
        for row in exact_rows:
            if sum((v * support[j] for j, v in row.items() if j in support), Fraction(0)):
                return None
    return basis


def _matrix(vectors: Sequence[Sequence], n_columns: int) -> DomainMatrix:
    sparse = {}
    for i, vector in enumerate(vectors):
        entries = {j: QQ(Fraction(v).numerator, Fraction(v).denominator) for j, v in enumerate(vector) if v}
        if entries:
            sparse[i] = entries
    return DomainMatrix(sparse, (max(len(vectors), 1), n_columns), QQ)


def _dense(matrix: DomainMatrix) -> list:
    return [[_to_fraction(v) for v in row] for row in matrix.to_list()]


def _rank(vectors: Sequence[Sequence], n_columns: int) -> int:
    if not vectors:
        return 0
    return _matrix(vectors, n_columns).rank()


def _row_basis(vectors: Sequence[Sequence], n_columns: int) -> tuple:
    """Reduced row echelon basis of span(vectors) and its pivot columns."""
    if not vectors:
        return [], ()
    reduced, pivots = _matrix(vectors, n_columns).rref()
    rows = [[_to_fraction(v) for v in row] for row in reduced.to_list()[: len(pivots)]]
    return rows, tuple(pivots)


def _reduce(vector: Sequence, basis_rows: Sequence, pivots: Sequence) -> list:
    """vector minus its component along span(basis_rows): zero at every pivot column (projection onto the
    coordinate complement of the span)."""
    reduced = [Fraction(v) for v in vector]
    for row, pivot in zip(basis_rows, pivots):
        factor = reduced[pivot]
        if factor:
            reduced = [a - factor * b for a, b in zip(reduced, row)]
    return reduced


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
    if top is not None:
        if bottom.is_zero:
            return False
        top_sparse = {m: _to_fraction(c) for m, c in top.as_dict().items()}
        bottom_sparse = {m: _to_fraction(c) for m, c in bottom.as_dict().items()}
        for field in fields:
            residual = _multiply(bottom_sparse, _lie_derivative(top_sparse, field))
            _add_scaled(residual, _multiply(top_sparse, _lie_derivative(bottom_sparse, field)), -1)
            if residual:
                return False
        return True
    for field in fields:
        derivative = sum(
            sympy.diff(expression, symbol) * _to_sympy(component, symbols)
            for symbol, component in zip(symbols, field)
        )
        if sympy.simplify(derivative) != 0:
            return False
    return True


def _random_point(symbols: tuple, rng: random.Random) -> dict:
    # Rationals with large numerators: a fixed polynomial vanishes at such a point only with tiny probability
    # (Schwartz–Zippel), so a rank deficit there is almost never an accident.
    return {s: sympy.Rational(rng.randint(-10**6, 10**6), rng.randint(1, 997)) for s in symbols}


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
        if _rank(gradients + [gradient], len(symbols)) > len(gradients):
            chosen.append(index)
            gradients.append(gradient)
    return chosen


# --------------------------------------------------------------------------------------------------
# Polynomial laws


def _value_modular(polynomial: dict, powers: list) -> int:
    """The polynomial at a point modulo PRIME, given powers[j][k] = θ_j^k mod PRIME."""
    total = 0
    for exponent, coefficient in polynomial.items():
        term = coefficient % PRIME
        for j, k in enumerate(exponent):
            if k:
                term = term * powers[j][k] % PRIME
        total += term
    return total % PRIME


def _random_powers(rng: random.Random, n_variables: int, max_power: int) -> list:
    powers = []
    for _ in range(n_variables):
        x = rng.randrange(1, PRIME)
        row = [1]
        for _k in range(max_power):
            row.append(row[-1] * x % PRIME)
        powers.append(row)
    return powers


def _polynomial_law_candidates(fields: list, n_variables: int, max_degree: int) -> list:
    """A basis of the polynomial laws of degree 1..max_degree without constant term (sparse polynomials).

    When every field is homogeneous, X_i maps degree-a forms to degree a + δ_i − 1 forms, so each homogeneous
    part of a law is a law: solving degree by degree gives homogeneous, readable laws.
    """
    homogeneous = all(_field_degree(field) is not None for field in fields)
    blocks = [[degree] for degree in range(1, max_degree + 1)] if homogeneous else [list(range(1, max_degree + 1))]
    laws = []
    for degrees in blocks:
        basis = [m for degree in degrees for m in exponent_vectors(n_variables, degree)]
        images = [[_lie_derivative_of_monomial(exponent, field) for exponent in basis] for field in fields]
        rows: dict = {}
        for per_field in images:
            for column, image in enumerate(per_field):
                for monomial, coefficient in image.items():
                    rows.setdefault((id(per_field), monomial), {})[column] = coefficient
        top_degree = max((_degree(p) for per_field in images for p in per_field), default=0)

        def sample_rows(count: int, seed: int, images=images, top_degree=top_degree) -> list:
            # One row per (random point, generator): (X_i θ^α)(point) over the columns α.
            rng, samples = random.Random(seed), []
            while images and len(samples) < count:
                powers = _random_powers(rng, n_variables, top_degree)
                samples.extend([_value_modular(image, powers) for image in per_field] for per_field in images)
            return samples

        for vector in _nullspace(rows.values(), len(basis), sample_rows):
            polynomial = {basis[j]: c for j, c in enumerate(vector) if c}
            if polynomial:
                laws.append(_primitive(polynomial))
    return laws


# --------------------------------------------------------------------------------------------------
# Rational laws: the bivector system


def _wedge(first: dict, second: dict, index_of: dict, n: int) -> dict:
    """Coordinates of f₁ ∧ f₂ on the pairs (α, β), α < β: f₁[α] f₂[β] − f₁[β] f₂[α]."""
    result: dict = {}
    for a, x in first.items():
        i = index_of[a]
        for b, y in second.items():
            j = index_of[b]
            if i == j:
                continue
            key, sign = ((i, j), 1) if i < j else ((j, i), -1)
            value = result.get(key, 0) + sign * x * y
            if value:
                result[key] = value
            else:
                result.pop(key, None)
    return result


def _explained_bivectors(atoms: list, basis: list, block_degree, rational_degree: int) -> tuple:
    """Bivectors F₁ ∧ F₂ whose ratio F₁/F₂ is a function of the laws already known, and the polynomials F used.

    Each known law is an atom (N, Q) (a polynomial law g is (g, 1)). For a vector K of pencil degrees, the
    products F_μ = Π N_j^{μ_j} Q_j^{K_j − μ_j} (μ ≤ K) all have ratios in Q(h_1, …); multiplying both by the same
    polynomial t keeps the ratio, and polarising in t gives (sF_a)∧(s'F_b) + (s'F_a)∧(sF_b) for monomials s, s'.
    """
    n_variables = len(basis[0])
    monomials_by_degree = {d: exponent_vectors(n_variables, d) for d in range(rational_degree + 1)}
    wanted = set(basis)
    elements, factors = [], []
    for total in range(1, rational_degree + 1):
        for combination in index_tuples(len(atoms), total):
            powers = [combination.count(j) for j in range(len(atoms))]
            products = []
            for mu in itertools.product(*(range(k + 1) for k in powers)):
                product = {tuple([0] * n_variables): 1}
                for j, (k, m) in enumerate(zip(powers, mu)):
                    numerator, denominator = atoms[j]
                    for _ in range(m):
                        product = _multiply(product, numerator)
                    for _ in range(k - m):
                        product = _multiply(product, denominator)
                if _degree(product) <= rational_degree:
                    products.append(product)
            for first, second in itertools.combinations(products, 2):
                room = rational_degree - max(_degree(first), _degree(second))
                shifts = [m for d in range(room + 1) for m in monomials_by_degree[d]]
                for s_index, s in enumerate(shifts):
                    for t in shifts[s_index:]:
                        terms = [(_multiply({s: 1}, first), _multiply({t: 1}, second))]
                        if s != t:
                            terms.append((_multiply({t: 1}, first), _multiply({s: 1}, second)))
                        if any(not set(f) <= wanted or not set(g) <= wanted for f, g in terms):
                            continue
                        if block_degree is not None and any(
                            _degree(f) + _degree(g) != block_degree for f, g in terms
                        ):
                            continue
                        elements.append(terms)
                        for f, g in terms:
                            factors.extend((f, g))
    return elements, factors


def _antisymmetric(bivector: dict, n: int) -> DomainMatrix:
    sparse: dict = {}
    for (i, j), value in bivector.items():
        value = Fraction(value)
        sparse.setdefault(i, {})[j] = QQ(value.numerator, value.denominator)
        sparse.setdefault(j, {})[i] = QQ(-value.numerator, value.denominator)
    return DomainMatrix(sparse, (n, n), QQ)


@dataclass(frozen=True)
class _Splitting:
    """P_e = C ⊕ U with U the span of the polynomials the known laws explain and C a coordinate complement:
    ``onto_complement`` is the projection R onto C along U, ``onto_explained`` is I − R."""

    onto_complement: DomainMatrix
    onto_explained: DomainMatrix

    @classmethod
    def build(cls, explained_rows: list, explained_pivots: tuple, n: int) -> "_Splitting":
        identity = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
        # Row j of the reduced identity is R e_j written as a row, so the stacked rows form Rᵀ.
        transposed = _matrix([_reduce(row, explained_rows, explained_pivots) for row in identity], n)
        projection = transposed.transpose()
        return cls(projection, DomainMatrix.eye(n, QQ) - projection)


def _decompose(matrix: DomainMatrix, splitting: _Splitting) -> tuple | None:
    """(P, Q) with matrix = p qᵀ − q pᵀ + J, J ∈ Λ²U; None if the part of the matrix outside Λ²U has no such form.

    R A Rᵀ = P̃ Q̃ᵀ − Q̃ P̃ᵀ must have rank 2 (P̃ = R p, Q̃ = R q); the mixed part R A (I − R)ᵀ = P̃ u'ᵀ − Q̃ uᵀ then
    gives the U-components u, u' of P and Q linearly, since J contributes nothing to either part.
    """
    n = matrix.shape[0]
    left = splitting.onto_complement * matrix
    inner = _dense(left * splitting.onto_complement.transpose())
    inner_rows, _ = _row_basis(inner, n)
    if len(inner_rows) != 2:
        return None
    # Row space of the rank-2 antisymmetric matrix, then the scale κ with inner = κ (c₁c₂ᵀ − c₂c₁ᵀ).
    first, second = inner_rows
    scale = next(
        (inner[i][j] / (first[i] * second[j] - second[i] * first[j])
         for i in range(n) for j in range(n) if first[i] * second[j] - second[i] * first[j]),
        None,
    )
    if scale is None:
        return None
    p_tilde = [scale * v for v in first]
    q_tilde = second
    # Dual vectors w₁, w₂ on span(P̃, Q̃): w₁·P̃ = 1, w₁·Q̃ = 0, w₂·P̃ = 0, w₂·Q̃ = 1, supported on two columns.
    i, j = next(
        (i, j) for i, j in itertools.combinations(range(n), 2) if p_tilde[i] * q_tilde[j] - p_tilde[j] * q_tilde[i]
    )
    determinant = p_tilde[i] * q_tilde[j] - p_tilde[j] * q_tilde[i]
    mixed = _dense(left * splitting.onto_explained.transpose())
    row_i, row_j = mixed[i], mixed[j]
    u_prime = [(q_tilde[j] * a - q_tilde[i] * b) / determinant for a, b in zip(row_i, row_j)]
    u = [-(-p_tilde[j] * a + p_tilde[i] * b) / determinant for a, b in zip(row_i, row_j)]
    numerator = [a + b for a, b in zip(p_tilde, u)]
    denominator = [a + b for a, b in zip(q_tilde, u_prime)]
    return numerator, denominator


# Beyond this many new dimensions the pairwise trials (quadratic in their number) are skipped.
PAIRWISE_TRIAL_LIMIT = 12


def _pencil_candidates(vectors: list, n: int, splitting: _Splitting) -> list:
    """Pairs (P, Q) read off bivectors of 𝔅 outside 𝔈: each basis element, then sums and differences of two."""
    matrices = [_antisymmetric(v, n) for v in vectors]
    trials = list(matrices)
    if len(matrices) <= PAIRWISE_TRIAL_LIMIT:
        for a, b in itertools.combinations(matrices, 2):
            trials.extend((a + b, a - b))
    no_splitting = _Splitting(DomainMatrix.eye(n, QQ), DomainMatrix.zeros((n, n), QQ))
    pairs = []
    for matrix in trials:
        for candidate_splitting in (no_splitting, splitting):
            pair = _decompose(matrix, candidate_splitting)
            if pair is not None:
                pairs.append(pair)
    return pairs


# Longest word w of the identities Σ B_αβ (X_w θ^α) θ^β ≡ 0 imposed on the bivectors. Length 1 is the law
# condition itself; it also admits annihilating 1-forms that are not closed (for free two-layer nets the
# hidden-unit rotations u₁∧u₂ + v₁∧v₂ + …). A law bivector makes G(θ, θ') = Σ B_αβ θ^α θ'^β vanish whenever θ
# and θ' lie on one leaf, so every iterated derivative in θ vanishes on the diagonal: length 2 removes most of
# that junk, and any remainder only costs candidates that fail verification.
WORD_LENGTH = 2


def _rational_law_candidates(fields: list, n_variables: int, rational_degree: int, atoms: list):
    """Candidate pairs (P, Q) of sparse polynomials of degree ≤ rational_degree (unverified), block by block.

    ``atoms`` is read afresh for every block, so laws the caller verifies and appends explain the next blocks.
    """
    basis = [m for degree in range(rational_degree + 1) for m in exponent_vectors(n_variables, degree)]
    n = len(basis)
    index_of = {m: i for i, m in enumerate(basis)}
    homogeneous = all(_field_degree(field) is not None for field in fields)
    pairs = list(itertools.combinations(range(n), 2))
    if homogeneous:
        # Forms of degrees a and b only meet forms of the same total a + b: one block per total degree.
        blocks = {}
        for i, j in pairs:
            blocks.setdefault(sum(basis[i]) + sum(basis[j]), []).append((i, j))
        block_list = sorted(blocks.items())
    else:
        block_list = [(None, pairs)]
    # X_w θ^α for the words w = (i_1, …, i_k), k ≤ WORD_LENGTH, X_w = X_{i_1} ∘ ⋯ ∘ X_{i_k}.
    images = {(index,): [_lie_derivative_of_monomial(m, field) for m in basis] for index, field in enumerate(fields)}
    frontier = dict(images)
    for _length in range(2, WORD_LENGTH + 1):
        frontier = {
            (index,) + word: [_lie_derivative(polynomial, field) for polynomial in polynomials]
            for word, polynomials in frontier.items()
            for index, field in enumerate(fields)
        }
        images.update(frontier)
    top_degree = max((_degree(p) for polynomials in images.values() for p in polynomials), default=0)
    top_degree = max(top_degree, rational_degree)
    for block_degree, block_pairs in block_list:
        rows: dict = {}
        for column, (i, j) in enumerate(block_pairs):
            for word, polynomials in images.items():
                # (X_w θ^α) θ^β − (X_w θ^β) θ^α for the pair α = basis[i], β = basis[j].
                term: dict = {}
                _add_scaled(term, polynomials[i], 1, basis[j])
                _add_scaled(term, polynomials[j], -1, basis[i])
                for monomial, coefficient in term.items():
                    rows.setdefault((word, monomial), {})[column] = coefficient
        def sample_rows(count: int, seed: int, block_pairs=block_pairs) -> list:
            # One row per (random point, word w): (X_w θ^α) θ^β − (X_w θ^β) θ^α at the point, over the pairs.
            rng, samples = random.Random(seed), []
            while len(samples) < count:
                powers = _random_powers(rng, n_variables, top_degree)
                monomial_values = [_value_modular({m: 1}, powers) for m in basis]
                for polynomials in images.values():
                    values = [_value_modular(p, powers) for p in polynomials]
                    samples.append([
                        (values[i] * monomial_values[j] - values[j] * monomial_values[i]) % PRIME
                        for i, j in block_pairs
                    ])
            return samples

        solutions = _nullspace(rows.values(), len(block_pairs), sample_rows)
        if not solutions:
            continue
        bivectors = [{block_pairs[c]: v for c, v in enumerate(vector) if v} for vector in solutions]
        elements, factors = _explained_bivectors(atoms, basis, block_degree, rational_degree)
        column_of = {pair: c for c, pair in enumerate(block_pairs)}
        explained_vectors = []
        for terms in elements:
            total: dict = {}
            for f, g in terms:
                for key, value in _wedge(f, g, index_of, n).items():
                    total[key] = total.get(key, 0) + value
            vector = [Fraction(0)] * len(block_pairs)
            for key, value in total.items():
                vector[column_of[key]] = Fraction(value)
            explained_vectors.append(vector)
        explained_rank = _rank(explained_vectors, len(block_pairs))
        if explained_rank >= len(solutions):
            continue  # every solution is explained by the laws already known
        # Basis vectors of 𝔅 that enlarge span(𝔈): the new part, one representative per new dimension.
        new, current, current_rank = [], list(explained_vectors), explained_rank
        for vector, bivector in zip(solutions, bivectors):
            if _rank(current + [vector], len(block_pairs)) > current_rank:
                current.append(vector)
                current_rank += 1
                new.append(bivector)
        factor_vectors = []
        for f in factors:
            vector = [Fraction(0)] * n
            for monomial, value in f.items():
                vector[index_of[monomial]] = Fraction(value)
            factor_vectors.append(vector)
        explained_rows, explained_pivots = _row_basis(factor_vectors, n)
        splitting = _Splitting.build(explained_rows, explained_pivots, n)
        for p_vector, q_vector in _pencil_candidates(new, n, splitting):
            numerator = {basis[k]: v for k, v in enumerate(p_vector) if v}
            denominator = {basis[k]: v for k, v in enumerate(q_vector) if v}
            if numerator and denominator:
                yield _readable_pencil(numerator, denominator, basis, index_of)


def _readable_pencil(numerator: dict, denominator: dict, basis: list, index_of: dict) -> tuple:
    """The same law up to a Möbius map, written with the echelon basis of span(P, Q): sparser and canonical."""
    n = len(basis)
    vectors = []
    for polynomial in (numerator, denominator):
        vector = [Fraction(0)] * n
        for monomial, value in polynomial.items():
            vector[index_of[monomial]] = Fraction(value)
        vectors.append(vector)
    rows, _ = _row_basis(vectors, n)
    if len(rows) != 2:
        return numerator, denominator
    first, second = ({basis[k]: v for k, v in enumerate(row) if v} for row in rows)
    return _primitive(first), _primitive(second)


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
        if keep(Law(_to_sympy(polynomial, symbols), "polynomial", _degree(polynomial))):
            atoms.append((polynomial, one))
    if rational_degree >= 1 and len(laws) < n_variables:
        for numerator, denominator in _rational_law_candidates(fields, n_variables, rational_degree, atoms):
            if _degree(denominator) == 0 or _degree(numerator) == 0:
                # P/c or c/Q: the law is the polynomial P (or Q) itself.
                polynomial = numerator if _degree(denominator) == 0 else denominator
                candidate = Law(_to_sympy(polynomial, symbols), "polynomial", _degree(polynomial))
                atom = (polynomial, one)
            else:
                expression = _to_sympy(numerator, symbols) / _to_sympy(denominator, symbols)
                candidate = Law(expression, "rational", max(_degree(numerator), _degree(denominator)))
                atom = (numerator, denominator)
            if keep(candidate):
                atoms.append(atom)
    return laws
