"""harness.laws.fields: exact features, moment spans and the fields X_w against the plain float definitions."""

import numpy as np
import pytest
import sympy

from harness.algebra import modular
from harness.algebra.modular import PRIME
from harness.errors import InvalidInput
from harness.laws.fields import (
    build_field_family,
    exact_features,
    output_gradient_family,
    point_tuples,
)
from harness.model.data import DataSet, moments
from harness.model.groups import build_group
from harness.model.losses import get_loss
from harness.model.specs import parse_network

NETWORKS = [
    "linear:3,2,2",
    "deep-linear:2,3,2",
    "poly:2,2,1,k=3",
    "attention:n=3,d=2,dk=1,dv=2",
    "attention:n=3,d=2,dk=1,dv=1,mask=causal,decay=0.5",
]


@pytest.mark.parametrize("spec", NETWORKS)
def test_exact_features_agree_with_network_features(spec):
    network = parse_network(spec)
    x = np.random.default_rng(0).integers(-3, 4, (4, network.input_dim))
    expected = network.features(x.astype(float)).reshape(4, network.rows_per_sample, -1)
    exact = exact_features(network, x, None)
    assert np.array_equal(exact.astype(float), expected)
    residues = np.vectorize(modular.from_rational, otypes=[np.int64])(exact)
    assert np.array_equal(exact_features(network, x, PRIME), residues)


@pytest.mark.parametrize("spec", NETWORKS[:4])
def test_mse_field_is_minus_the_loss_gradient(spec):
    """X_w(θ) for the tuple of a data set is −∇L (sum over rows) computed the ordinary way."""
    network = parse_network(spec)
    rng = np.random.default_rng(1)
    family = build_field_family(network, "mse", "free", exact=False, seed=1)
    data = DataSet(rng.standard_normal((3, network.input_dim)), rng.standard_normal((3, network.output_dim)))
    M, C = moments(network, data)
    rows = 3 * network.rows_per_sample
    w = np.concatenate([(M * rows).reshape(-1), (C * rows).reshape(-1)])[None, :]
    theta = rng.standard_normal(network.n_params)
    expected = -network.polynomial.vjp(theta, network.phi(theta) @ M * rows - C * rows)
    assert np.allclose(family.evaluate_at(w, theta)[0], expected, atol=1e-10)


def test_quartic_field_is_minus_the_quartic_loss_gradient():
    network = parse_network("linear:2,2,2")
    rng = np.random.default_rng(2)
    family = build_field_family(network, "quartic", "free", exact=False, seed=2)
    x, y = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    psi = network.features(x)
    w = point_tuples("quartic", psi[:, None, :], y[:, None, :], None).sum(axis=0)[None, :]
    theta = rng.standard_normal(network.n_params)
    grads = get_loss("quartic").gradient(psi @ network.phi(theta).T, y)
    expected = -network.polynomial.vjp(theta, grads.T @ psi)
    assert np.allclose(family.evaluate_at(w, theta)[0], expected, atol=1e-9)


def test_exact_evaluation_matches_float_at_integer_points():
    network = parse_network("poly:2,2,1,k=2")
    family = build_field_family(network, "mse", "free", seed=3)
    rng = np.random.default_rng(3)
    theta = rng.integers(-3, 4, network.n_params)
    tuples = family.exact_tuples().astype(float)
    K = network.n_features
    floats = np.stack(
        [
            -network.polynomial.vjp(
                theta.astype(float),
                network.phi(theta.astype(float)) @ t[: K * K].reshape(K, K) - t[K * K :].reshape(1, K),
            )
            for t in tuples
        ]
    )
    exact = family.evaluate_at(family.basis, theta)
    assert np.array_equal(exact, np.mod(np.rint(floats).astype(np.int64), PRIME))


def test_free_moment_span_dimension_linear():
    # Free data: M ranges over symmetric K×K matrices and C over all m×K matrices.
    family = build_field_family(parse_network("linear:4,2,3"), "mse", "free")
    assert family.n_fields == 4 * 5 // 2 + 3 * 4


def test_cyclic_trivial_moment_span_is_the_worked_example():
    # DESIGN.md: M = aI + b11ᵀ and C ∝ 1ᵀ: three generators.
    network = parse_network("linear:3,1,1")
    family = build_field_family(network, "mse", "augmented", build_group("cyclic/trivial", network))
    assert family.n_fields == 3
    tuples = family.exact_tuples()
    for row in tuples:
        M = np.array(row[:9], dtype=object).reshape(3, 3)
        C = np.array(row[9:], dtype=object)
        assert M[0, 0] == M[1, 1] == M[2, 2] and len({M[0, 1], M[0, 2], M[1, 2]}) == 1
        assert C[0] == C[1] == C[2]


def test_float_family_matches_exact_span_dimension():
    network = parse_network("linear:4,1,2")
    group = build_group("swap:0,1/sign", network)
    exact = build_field_family(network, "mse", "augmented", group)
    floating = build_field_family(network, "mse", "augmented", group, exact=False)
    assert exact.n_fields == floating.n_fields
    gap = floating.moment_gap
    assert gap is not None and gap.ratio is not None and gap.ratio > 1e6


def test_sympy_generators_agree_with_modular_evaluation():
    network = parse_network("linear:3,1,1")
    family = build_field_family(network, "mse", "augmented", build_group("cyclic/trivial", network))
    symbols, generators = family.sympy_generators()
    theta = [2, -1, 3, 5]
    values = family.evaluate_at(family.basis, np.array(theta))
    point = dict(zip(symbols, theta))
    for generator, row in zip(generators, values):
        assert [int(sympy.sympify(e).subs(point)) % PRIME for e in generator] == row.tolist()


def test_output_gradient_family_is_j_transpose():
    network = parse_network("linear:2,2,1")
    family = output_gradient_family(network, np.eye(1, dtype=np.int64), exact=False)
    theta = np.random.default_rng(4).standard_normal(network.n_params)
    jacobian = network.polynomial.jacobian(theta)
    assert np.allclose(family.evaluate_at(family.basis, theta), jacobian)


def test_explicit_fields_need_an_exact_family():
    network = parse_network("linear:2,1,1")
    family = build_field_family(network, "mse", "augmented", build_group("rot:3", network), exact=False)
    with pytest.raises(InvalidInput, match="exact"):
        family.sympy_generators()


def test_bad_classes_are_rejected():
    network = parse_network("linear:2,1,1")
    with pytest.raises(InvalidInput, match="needs a group"):
        build_field_family(network, "mse", "augmented", None)
    with pytest.raises(InvalidInput, match="float action"):
        build_field_family(network, "mse", "augmented", build_group("rot:3", network))
    with pytest.raises(InvalidInput, match="moment kind"):
        build_field_family(network, "logcosh", "free")
