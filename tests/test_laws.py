"""Explicit conservation laws (harness/laws.py) on fields built by hand with sympy.

Known answers: free two-layer linear nets have the r(r+1)/2 entries of UᵀU − VᵀV (theory.md O1); the worked
example of DESIGN.md §1 (`linear:3,1,1`, cyclic shift, invariant target, MSE) has u² − ‖v‖² and the rational
law (v₂ − v₃)/(v₁ − v₃); a single field ∇(θ₁θ₂θ₃) has θ₃² − θ₁², θ₂² − θ₁² (O5). Planted wrong laws must be
rejected and dependent laws detected.
"""

import pytest
import sympy

from harness.errors import InvalidInput
from harness.laws.explicit import Law, find_laws, independent, verify_law


def two_layer_symbols(inputs: int, hidden: int, outputs: int):
    """U (outputs × hidden) and V (inputs × hidden) as sympy matrices, and θ = (vec U, vec V)."""
    U = sympy.Matrix(outputs, hidden, lambda a, j: sympy.Symbol(f"u{a}{j}"))
    V = sympy.Matrix(inputs, hidden, lambda k, j: sympy.Symbol(f"v{k}{j}"))
    # sympy's Matrix iterates by the __getitem__ protocol and declares no __iter__ (older sympy lacks Matrix.flat())
    return U, V, list(U) + list(V)  # pyright: ignore[reportArgumentType]


def free_linear_fields(inputs: int, hidden: int, outputs: int):
    """Generators ∇_θ Φ_ak of the entries of Φ = UVᵀ: for free data they span range Jᵀ, the span of F."""
    U, V, theta = two_layer_symbols(inputs, hidden, outputs)
    phi = U * V.T
    fields = [[sympy.diff(phi[a, k], s) for s in theta] for a in range(outputs) for k in range(inputs)]
    return theta, fields


def mse_field(U, V, theta, M, C):
    """X_{M,C}(θ) = −∇L for L = ½ mean ‖UVᵀx − y‖² with moments M = mean xxᵀ and C = mean yxᵀ:
    ∂L/∂U = (UVᵀM − C)V and ∂L/∂V = (MVUᵀ − Cᵀ)U."""
    residual = U * V.T * M - C
    gradient_u = residual * V
    gradient_v = (M * V * U.T - C.T) * U
    by_symbol = {}
    for matrix, gradient in ((U, gradient_u), (V, gradient_v)):
        for entry, value in zip(matrix, gradient):
            by_symbol[entry] = value
    return [sympy.expand(-by_symbol[s]) for s in theta]


def free_mse_fields(inputs: int, hidden: int, outputs: int):
    """X_{M,C} over a basis of all moments: M symmetric inputs × inputs (C = 0), C any (M = 0)."""
    U, V, theta = two_layer_symbols(inputs, hidden, outputs)
    fields = []
    for i in range(inputs):
        for j in range(i, inputs):
            M = sympy.zeros(inputs, inputs)
            M[i, j] = M[j, i] = 1
            fields.append(mse_field(U, V, theta, M, sympy.zeros(outputs, inputs)))
    for a in range(outputs):
        for k in range(inputs):
            C = sympy.zeros(outputs, inputs)
            C[a, k] = 1
            fields.append(mse_field(U, V, theta, sympy.zeros(inputs, inputs), C))
    return theta, fields


def worked_example():
    """linear:3,1,1 under the cyclic shift of the inputs, invariant target, MSE: M = aI + b11ᵀ, C = c1ᵀ."""
    U, V, theta = two_layer_symbols(3, 1, 1)
    moments = [
        (sympy.eye(3), sympy.zeros(1, 3)),
        (sympy.ones(3, 3), sympy.zeros(1, 3)),
        (sympy.zeros(3, 3), sympy.ones(1, 3)),
    ]
    return theta, [mse_field(U, V, theta, M, C) for M, C in moments]


def assert_all_verified(laws, theta, fields):
    for law in laws:
        assert verify_law(law.expression, theta, fields), f"returned law {law} does not verify"
    expressions = [law.expression for law in laws]
    assert independent(expressions, theta) == list(range(len(laws))), f"returned laws {expressions} are dependent"


@pytest.mark.parametrize("inputs, hidden, outputs", [(2, 1, 1), (2, 2, 1), (1, 1, 2), (1, 2, 1), (2, 2, 2)])
def test_free_two_layer_linear_has_the_balancedness_laws(inputs, hidden, outputs):
    theta, fields = free_linear_fields(inputs, hidden, outputs)
    laws = find_laws(theta, fields)
    assert len(laws) == hidden * (hidden + 1) // 2, [str(law) for law in laws]
    assert all(law.kind == "polynomial" and law.degree == 2 for law in laws)
    assert_all_verified(laws, theta, fields)
    U, V, _ = two_layer_symbols(inputs, hidden, outputs)
    balancedness = U.T * U - V.T * V
    entries = [balancedness[i, j] for i in range(hidden) for j in range(i, hidden)]
    # The laws found and the known laws span the same functions: together they are no more independent.
    assert len(independent([law.expression for law in laws] + entries, theta)) == len(laws)


def test_free_linear_with_mse_fields_gives_the_same_count():
    theta, fields = free_mse_fields(2, 2, 1)
    laws = find_laws(theta, fields)
    assert len(laws) == 3, [str(law) for law in laws]
    assert_all_verified(laws, theta, fields)


def test_worked_example_finds_the_rational_law():
    theta, fields = worked_example()
    u, v1, v2, v3 = theta
    laws = find_laws(theta, fields)
    assert [law.kind for law in laws] == ["polynomial", "rational"], [str(law) for law in laws]
    assert sympy.expand(laws[0].expression - (u**2 - v1**2 - v2**2 - v3**2)) == 0
    assert laws[1].degree == 1
    assert_all_verified(laws, theta, fields)
    expected = (v2 - v3) / (v1 - v3)
    assert verify_law(expected, theta, fields)
    # The rational law found is a function of the expected one (a Möbius image of it).
    assert len(independent([expected, laws[1].expression], theta)) == 1
    assert "frac" in laws[1].latex()


def test_worked_example_has_exactly_two_laws_even_with_degree_two_ratios():
    theta, fields = worked_example()
    laws = find_laws(theta, fields, max_degree=2, rational_degree=2)
    assert len(laws) == 2, [str(law) for law in laws]
    assert_all_verified(laws, theta, fields)


def test_worked_example_without_rational_ansatz_misses_the_extra_law():
    theta, fields = worked_example()
    laws = find_laws(theta, fields, rational_degree=0)
    assert [law.kind for law in laws] == ["polynomial"]


def test_non_homogeneous_generators_give_the_same_laws():
    # (a, b, c) = (1, 0, 1), (0, 1, 1), (1, 1, −1) span the same moments; each field mixes degrees 3 and 1.
    U, V, theta = two_layer_symbols(3, 1, 1)
    fields = [
        mse_field(U, V, theta, a * sympy.eye(3) + b * sympy.ones(3, 3), c * sympy.ones(1, 3))
        for a, b, c in [(1, 0, 1), (0, 1, 1), (1, 1, -1)]
    ]
    laws = find_laws(theta, fields)
    assert [law.kind for law in laws] == ["polynomial", "rational"], [str(law) for law in laws]
    assert_all_verified(laws, theta, fields)


def test_single_product_field_has_the_o5_laws():
    x, y, z = theta = sympy.symbols("x y z")
    product = x * y * z
    fields = [[sympy.diff(product, s) for s in theta]]
    laws = find_laws(theta, fields)
    assert len(laws) == 2
    assert len(independent([law.expression for law in laws] + [z**2 - x**2, y**2 - x**2], theta)) == 2
    assert_all_verified(laws, theta, fields)


def test_quadratic_ratio_law_is_found_beside_a_linear_law():
    # X = (Q∇P − P∇Q) × ∇g preserves P/Q and g; one field in R³ has exactly two independent laws.
    x, y, z = theta = sympy.symbols("x y z")
    P, Q, g = x**2 + y * z, y**2 + x * z, x + y + z
    a = [Q * sympy.diff(P, s) - P * sympy.diff(Q, s) for s in theta]
    b = [sympy.diff(g, s) for s in theta]
    field = [
        sympy.expand(a[1] * b[2] - a[2] * b[1]),
        sympy.expand(a[2] * b[0] - a[0] * b[2]),
        sympy.expand(a[0] * b[1] - a[1] * b[0]),
    ]
    laws = find_laws(theta, [field], rational_degree=2)
    assert [law.kind for law in laws] == ["polynomial", "rational"], [str(law) for law in laws]
    assert laws[1].degree == 2
    assert_all_verified(laws, theta, [field])
    assert len(independent([laws[1].expression, P / Q], theta)) == 1


def test_euler_field_has_only_ratio_laws():
    theta = sympy.symbols("a b c d")
    laws = find_laws(theta, [list(theta)])
    assert len(laws) == 3 and all(law.kind == "rational" for law in laws), [str(law) for law in laws]
    assert_all_verified(laws, theta, [list(theta)])


def test_planted_wrong_laws_are_rejected():
    theta, fields = worked_example()
    u, v1, v2, v3 = theta
    assert verify_law(u**2 - v1**2 - v2**2 - v3**2, theta, fields)
    assert not verify_law(u**2 + v1**2 + v2**2 + v3**2, theta, fields)
    assert not verify_law(v2 / v1, theta, fields)
    assert not verify_law((v2 - v3) / (v1 - v2 + v3), theta, fields)
    free_theta, free_fields = free_linear_fields(3, 1, 1)
    _u, w1, w2, _w3 = free_theta
    # The cyclic-symmetry law does not survive free data.
    assert not verify_law((w2 - _w3) / (w1 - _w3), free_theta, free_fields)
    assert not verify_law(w2 / w1, free_theta, free_fields)


def test_independence_detects_dependent_laws():
    theta, _fields = worked_example()
    u, v1, v2, v3 = theta
    h1 = u**2 - v1**2 - v2**2 - v3**2
    h2 = (v2 - v3) / (v1 - v3)
    assert independent([h1, 2 * h1], theta) == [0]
    assert independent([h1, h2, h1 + h2], theta) == [0, 1]
    assert independent([h1, h2 * h1, h2], theta) == [0, 1]
    assert independent([sympy.Integer(3), h2], theta) == [1]


def test_law_value_object():
    x, y = sympy.symbols("x y")
    law = Law(x / y, "rational", 1)
    assert str(law) == "x/y" and law.latex() == r"\frac{x}{y}"
    with pytest.raises(InvalidInput, match="kind"):
        Law(x, "magic", 1)


@pytest.mark.parametrize(
    "symbols, generators, message",
    [
        ([], [[1]], "symbols"),
        (["x"], [[1]], "Symbol"),
        (sympy.symbols("x x"), [[1, 1]], "distinct"),
        (sympy.symbols("x y"), [[1]], "components"),
        (sympy.symbols("x y"), [[sympy.Symbol("z"), 1]], "outside"),
        (sympy.symbols("x y"), [[sympy.sin(sympy.Symbol("x")), 1]], "polynomial"),
    ],
)
def test_bad_input_is_named(symbols, generators, message):
    with pytest.raises(InvalidInput, match=message):
        find_laws(symbols, generators)


def test_bad_degrees_are_named():
    theta, fields = worked_example()
    with pytest.raises(InvalidInput, match="max_degree"):
        find_laws(theta, fields, max_degree=-1)
    with pytest.raises(InvalidInput, match="rational_degree"):
        find_laws(theta, fields, rational_degree=7)
