"""harness.algebra.jets: truncated jets in nilpotents ε_i² = 0, exact and float."""

import numpy as np
import pytest
import sympy

from harness.algebra.jets import EXACT, FLOAT
from harness.algebra.modular import PRIME


def to_sympy(jet, eps):
    total = 0
    for subset in range(jet.shape[0]):
        term = sympy.Integer(int(jet[subset]))
        for bit, e in enumerate(eps):
            if subset >> bit & 1:
                term *= e
        total += term
    return total


def truncate(expression, eps):
    """Set ε_i² = 0 in a polynomial in the ε_i."""
    poly = sympy.Poly(sympy.expand(expression), *eps)
    return sum(c * sympy.prod([e**k for e, k in zip(eps, m)]) for m, c in poly.terms() if max(m) <= 1)


@pytest.mark.parametrize("j", [0, 1, 2, 3])
def test_product_is_the_truncated_polynomial_product(j):
    rng = np.random.default_rng(j)
    eps = sympy.symbols(f"e0:{j}") if j else ()
    a = rng.integers(-9, 10, 1 << j)
    b = rng.integers(-9, 10, 1 << j)
    product = FLOAT.multiply(a.astype(float), b.astype(float))
    expected = truncate(to_sympy(a, eps) * to_sympy(b, eps), eps) if j else a[0] * b[0]
    assert sympy.expand(to_sympy(product.astype(int), eps) - expected) == 0


def test_exact_product_is_commutative_associative_and_matches_float_mod_p():
    rng = np.random.default_rng(7)
    a, b, c = (rng.integers(0, 1000, (8, 5)) for _ in range(3))
    ab = EXACT.multiply(a, b)
    assert np.array_equal(ab, EXACT.multiply(b, a))
    assert np.array_equal(EXACT.multiply(ab, c), EXACT.multiply(a, EXACT.multiply(b, c)))
    assert np.array_equal(ab, np.mod(FLOAT.multiply(a.astype(float), b.astype(float)), PRIME).astype(np.int64))


def test_new_nilpotent_gives_directional_derivative():
    # f(t) = t^3 at t = 2 + ε·5: f = 8 + ε·(3·4·5) = 8 + 60ε.
    point = FLOAT.with_new_nilpotent(np.array([[2.0]]), np.array([[5.0]]))
    cube = FLOAT.multiply(FLOAT.multiply(point, point), point)
    assert FLOAT.without_newest(cube)[0, 0] == 8.0
    assert FLOAT.coefficient_of_newest(cube)[0, 0] == 60.0


def test_mismatched_jets_are_rejected():
    with pytest.raises(ValueError):
        FLOAT.multiply(np.zeros((2, 3)), np.zeros((4, 3)))
