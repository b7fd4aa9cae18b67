"""Rational laws h = P/Q from the bivector system (DESIGN.md trap (c)); the candidates ``find_laws`` verifies.

P/Q is conserved by X iff Q·XP − P·XQ ≡ 0, which is linear in the bivector B = p ∧ q of the coefficient vectors
of P and Q: Σ_{α<β} B_{αβ} (θ^β Xθ^α − θ^α Xθ^β) ≡ 0. The solution space 𝔅 is computed exactly
(``harness.algebra.rationals``); its decomposable elements are the rational laws. 𝔅 also contains every pair
whose ratio is a function of laws already known; that part 𝔈 is generated explicitly (``_explained_bivectors``)
and only 𝔅 modulo 𝔈 is searched (``_decompose``). Nothing here is verified: ``harness.laws.explicit`` checks
every candidate exactly before it is a law.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from fractions import Fraction

from sympy import QQ
from sympy.polys.matrices import DomainMatrix

from harness.algebra.modular import PRIME
from harness.algebra.monomials import exponent_vectors, index_tuples
from harness.algebra.rationals import (
    dense_rows,
    domain_matrix,
    rational_nullspace,
    rational_rank,
    reduce_against,
    row_basis,
)
from harness.algebra.sparse import (
    add_scaled,
    degree_of,
    field_degree,
    lie_derivative,
    lie_derivative_of_monomial,
    multiply,
    primitive,
    random_powers,
    value_mod_p,
)


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
                        product = multiply(product, numerator)
                    for _ in range(k - m):
                        product = multiply(product, denominator)
                if degree_of(product) <= rational_degree:
                    products.append(product)
            for first, second in itertools.combinations(products, 2):
                room = rational_degree - max(degree_of(first), degree_of(second))
                shifts = [m for d in range(room + 1) for m in monomials_by_degree[d]]
                for s_index, s in enumerate(shifts):
                    for t in shifts[s_index:]:
                        terms = [(multiply({s: 1}, first), multiply({t: 1}, second))]
                        if s != t:
                            terms.append((multiply({t: 1}, first), multiply({s: 1}, second)))
                        if any(not set(f) <= wanted or not set(g) <= wanted for f, g in terms):
                            continue
                        if block_degree is not None and any(
                            degree_of(f) + degree_of(g) != block_degree for f, g in terms
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
        transposed = domain_matrix([reduce_against(row, explained_rows, explained_pivots) for row in identity], n)
        projection = transposed.transpose()
        return cls(projection, DomainMatrix.eye(n, QQ) - projection)


def _decompose(matrix: DomainMatrix, splitting: _Splitting) -> tuple | None:
    """(P, Q) with matrix = p qᵀ − q pᵀ + J, J ∈ Λ²U; None if the part of the matrix outside Λ²U has no such form.

    R A Rᵀ = P̃ Q̃ᵀ − Q̃ P̃ᵀ must have rank 2 (P̃ = R p, Q̃ = R q); the mixed part R A (I − R)ᵀ = P̃ u'ᵀ − Q̃ uᵀ then
    gives the U-components u, u' of P and Q linearly, since J contributes nothing to either part.
    """
    n = matrix.shape[0]
    left = splitting.onto_complement * matrix
    inner = dense_rows(left * splitting.onto_complement.transpose())
    inner_rows, _ = row_basis(inner, n)
    if len(inner_rows) != 2:
        return None
    # Row space of the rank-2 antisymmetric matrix, then the scale κ with inner = κ (c₁c₂ᵀ − c₂c₁ᵀ).
    first, second = inner_rows
    scale = next(
        (
            inner[i][j] / (first[i] * second[j] - second[i] * first[j])
            for i in range(n)
            for j in range(n)
            if first[i] * second[j] - second[i] * first[j]
        ),
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
    mixed = dense_rows(left * splitting.onto_explained.transpose())
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


def rational_law_candidates(fields: list, n_variables: int, rational_degree: int, atoms: list):
    """Candidate pairs (P, Q) of sparse polynomials of degree ≤ rational_degree (unverified), block by block.

    ``atoms`` is read afresh for every block, so laws the caller verifies and appends explain the next blocks.
    """
    basis = [m for degree in range(rational_degree + 1) for m in exponent_vectors(n_variables, degree)]
    n = len(basis)
    index_of = {m: i for i, m in enumerate(basis)}
    homogeneous = all(field_degree(field) is not None for field in fields)
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
    images = {(index,): [lie_derivative_of_monomial(m, field) for m in basis] for index, field in enumerate(fields)}
    frontier = dict(images)
    for _length in range(2, WORD_LENGTH + 1):
        frontier = {
            (index,) + word: [lie_derivative(polynomial, field) for polynomial in polynomials]
            for word, polynomials in frontier.items()
            for index, field in enumerate(fields)
        }
        images.update(frontier)
    top_degree = max((degree_of(p) for polynomials in images.values() for p in polynomials), default=0)
    top_degree = max(top_degree, rational_degree)
    for block_degree, block_pairs in block_list:
        rows: dict = {}
        for column, (i, j) in enumerate(block_pairs):
            for word, polynomials in images.items():
                # (X_w θ^α) θ^β − (X_w θ^β) θ^α for the pair α = basis[i], β = basis[j].
                term: dict = {}
                add_scaled(term, polynomials[i], 1, basis[j])
                add_scaled(term, polynomials[j], -1, basis[i])
                for monomial, coefficient in term.items():
                    rows.setdefault((word, monomial), {})[column] = coefficient

        def sample_rows(count: int, seed: int, block_pairs=block_pairs) -> list:
            # One row per (random point, word w): (X_w θ^α) θ^β − (X_w θ^β) θ^α at the point, over the pairs.
            rng, samples = random.Random(seed), []
            while len(samples) < count:
                powers = random_powers(rng, n_variables, top_degree)
                monomial_values = [value_mod_p({m: 1}, powers) for m in basis]
                for polynomials in images.values():
                    values = [value_mod_p(p, powers) for p in polynomials]
                    samples.append(
                        [
                            (values[i] * monomial_values[j] - values[j] * monomial_values[i]) % PRIME
                            for i, j in block_pairs
                        ]
                    )
            return samples

        solutions = rational_nullspace(rows.values(), len(block_pairs), sample_rows)
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
        explained_rank = rational_rank(explained_vectors, len(block_pairs))
        if explained_rank >= len(solutions):
            continue  # every solution is explained by the laws already known
        # Basis vectors of 𝔅 that enlarge span(𝔈): the new part, one representative per new dimension.
        new, current, current_rank = [], list(explained_vectors), explained_rank
        for vector, bivector in zip(solutions, bivectors):
            if rational_rank(current + [vector], len(block_pairs)) > current_rank:
                current.append(vector)
                current_rank += 1
                new.append(bivector)
        factor_vectors = []
        for f in factors:
            vector = [Fraction(0)] * n
            for monomial, value in f.items():
                vector[index_of[monomial]] = Fraction(value)
            factor_vectors.append(vector)
        explained_rows, explained_pivots = row_basis(factor_vectors, n)
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
    rows, _ = row_basis(vectors, n)
    if len(rows) != 2:
        return numerator, denominator
    first, second = ({basis[k]: v for k, v in enumerate(row) if v} for row in rows)
    return primitive(first), primitive(second)
