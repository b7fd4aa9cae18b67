"""harness.algebra.monomials: the one monomial enumerator, in both encodings."""

from math import comb

import pytest

from harness.algebra.monomials import exponent_vectors, index_tuples, index_tuples_up_to


def test_index_tuples_are_multisets_in_a_fixed_order():
    assert index_tuples(2, 3) == [(0, 0, 0), (0, 0, 1), (0, 1, 1), (1, 1, 1)]
    assert index_tuples(3, 0) == [()]


def test_up_to_a_degree_goes_degree_by_degree():
    assert index_tuples_up_to(2, 2) == [(), (0,), (1,), (0, 0), (0, 1), (1, 1)]


@pytest.mark.parametrize("n, d", [(1, 3), (3, 2), (4, 3)])
def test_counts_and_encodings_agree(n, d):
    vectors = exponent_vectors(n, d)
    assert len(vectors) == len(index_tuples(n, d)) == comb(n + d - 1, d)
    assert all(sum(v) == d and len(v) == n for v in vectors)
    assert vectors == sorted(set(vectors), reverse=True)
    assert {tuple(t.count(i) for i in range(n)) for t in index_tuples(n, d)} == set(vectors)


def test_exponent_vectors_descend_lexicographically():
    assert exponent_vectors(2, 2) == [(2, 0), (1, 1), (0, 2)]
