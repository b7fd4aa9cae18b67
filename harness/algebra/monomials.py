"""The one monomial enumerator: monomials of n variables as index multisets or exponent vectors.

A monomial of degree d in x_0..x_(n-1) is a multiset of d variable indices (``index_tuples``: non-decreasing
tuples, e.g. (0, 0, 1) for x_0²x_1) or, equivalently, an exponent vector (``exponent_vectors``: (2, 1) for the
same monomial). Both orders are fixed, so a basis built from them is reproducible: index tuples in
``itertools.combinations_with_replacement`` order, exponent vectors in descending lexicographic order.
"""

from __future__ import annotations

import itertools


def index_tuples(n_vars: int, degree: int) -> list[tuple[int, ...]]:
    """The monomials of exactly ``degree`` as non-decreasing index tuples (x_0²x_1 is (0, 0, 1))."""
    return list(itertools.combinations_with_replacement(range(n_vars), degree))


def index_tuples_up_to(n_vars: int, degree: int) -> list[tuple[int, ...]]:
    """The monomials of degree 0..``degree`` as index tuples, degree by degree (the constant () first)."""
    return [combo for d in range(degree + 1) for combo in index_tuples(n_vars, d)]


def exponent_vectors(n_vars: int, degree: int) -> list[tuple[int, ...]]:
    """The monomials of exactly ``degree`` as exponent vectors, in descending lexicographic order."""
    vectors = []
    for combo in index_tuples(n_vars, degree):
        exponent = [0] * n_vars
        for variable in combo:
            exponent[variable] += 1
        vectors.append(tuple(exponent))
    return sorted(vectors, reverse=True)
