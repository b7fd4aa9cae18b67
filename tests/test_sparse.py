"""harness.algebra.sparse: exact sparse polynomials {exponent: coefficient} and vector fields acting on them."""

import random
from fractions import Fraction

import sympy

from harness.algebra import modular
from harness.algebra.sparse import (
    add_scaled,
    degree_of,
    field_degree,
    lie_derivative,
    multiply,
    primitive,
    random_powers,
    to_sympy,
    value_mod_p,
)

x, y = sympy.symbols("x y")


def test_arithmetic_agrees_with_sympy():
    p = {(1, 0): 2, (0, 2): -1}  # 2x − y²
    q = {(1, 1): Fraction(1, 2)}  # xy/2
    assert sympy.expand(to_sympy(multiply(p, q), (x, y)) - (2 * x - y**2) * x * y / 2) == 0
    target = dict(p)
    add_scaled(target, p, -1)
    assert target == {}  # cancelled terms are removed, not kept as zeros
    assert degree_of(multiply(p, q)) == 4


def test_lie_derivative_is_the_field_applied_to_the_polynomial():
    field = [{(0, 1): 1}, {(1, 0): -1}]  # X = (y, −x): rotations, which conserve x² + y²
    assert lie_derivative({(2, 0): 1, (0, 2): 1}, field) == {}
    assert lie_derivative({(1, 0): 1}, field) == {(0, 1): 1}
    assert field_degree(field) == 1 and field_degree([{(0, 0): 1}, {(1, 1): 1}]) is None


def test_primitive_has_coprime_integer_coefficients_and_a_positive_leading_term():
    assert primitive({(1, 0): Fraction(-2, 3), (0, 1): Fraction(4, 3)}) == {(1, 0): 1, (0, 1): -2}


def test_modular_values_match_exact_ones():
    powers = random_powers(random.Random(1), 2, 3)
    p = {(2, 1): 3, (0, 0): -5}
    a, b = powers[0][1], powers[1][1]
    assert value_mod_p(p, powers) == (3 * a * a * b - 5) % modular.PRIME
