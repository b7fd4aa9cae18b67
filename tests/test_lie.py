"""harness.laws.lie: jet brackets (antisymmetry, Jacobi, finite differences) and sound stopping."""

import numpy as np
import pytest

from harness.algebra.jets import EXACT, FLOAT
from harness.laws.fields import build_field_family
from harness.laws.lie import Bracket, Generator, generate_lie_algebra, values_at
from harness.model.groups import build_group
from harness.model.specs import parse_network

CASES = [
    ("linear:3,2,2", None),
    ("poly:2,2,1,k=2", None),
    ("attention:n=2,d=2,dk=1,dv=1", None),
    ("linear:3,1,1", "cyclic/trivial"),
]


def exact_modulus() -> int:
    """p, the modulus of the exact jets (EXACT always carries it)."""
    assert EXACT.modulus is not None
    return EXACT.modulus


def family_for(spec, group, exact=True, loss="mse"):
    network = parse_network(spec)
    if group is None:
        return build_field_family(network, loss, "free", exact=exact)
    return build_field_family(network, loss, "augmented", build_group(group, network), exact=exact)


def three_fields(family, rng):
    return [Generator(family, family.random_combinations(rng, 1)) for _ in range(3)]


@pytest.mark.parametrize("spec,group", CASES)
def test_bracket_is_antisymmetric_and_satisfies_jacobi_exactly(spec, group):
    family = family_for(spec, group)
    rng = np.random.default_rng(0)
    X, Y, Z = three_fields(family, rng)
    theta = family.random_point(rng)
    xy = values_at(Bracket(X, Y, EXACT), theta, EXACT)
    yx = values_at(Bracket(Y, X, EXACT), theta, EXACT)
    assert np.any(xy) or spec == "linear:3,1,1"
    assert np.array_equal((xy + yx) % exact_modulus(), np.zeros_like(xy))
    jacobi = (
        sum(
            values_at(Bracket(A, Bracket(B, C, EXACT), EXACT), theta, EXACT)
            for A, B, C in ((X, Y, Z), (Y, Z, X), (Z, X, Y))
        )
        % exact_modulus()
    )
    assert not np.any(jacobi)


@pytest.mark.parametrize("spec,group", CASES[:3])
def test_jet_bracket_matches_central_finite_differences(spec, group):
    family = family_for(spec, group, exact=False)
    rng = np.random.default_rng(1)
    X, Y, _ = three_fields(family, rng)
    theta = 0.5 * rng.standard_normal(family.n_params)
    x, y = values_at(X, theta, FLOAT)[0], values_at(Y, theta, FLOAT)[0]
    h = 1e-5
    dy_x = (values_at(Y, theta + h * x, FLOAT) - values_at(Y, theta - h * x, FLOAT))[0] / (2 * h)
    dx_y = (values_at(X, theta + h * y, FLOAT) - values_at(X, theta - h * y, FLOAT))[0] / (2 * h)
    bracket = values_at(Bracket(X, Y, FLOAT), theta, FLOAT)[0]
    scale = np.abs(dy_x).max() + np.abs(dx_y).max()
    assert np.abs(bracket - (dy_x - dx_y)).max() <= 1e-6 * scale, (bracket, dy_x - dx_y)


def test_exact_and_float_brackets_agree_at_integer_points():
    exact = family_for("linear:3,2,2", None)
    floating = build_field_family(exact.network, "mse", "free", exact=False)
    # Same moment tuples in both arithmetics: small integer tuples from the exact family.
    tuples = exact.exact_tuples()[:3].astype(np.int64)
    theta = np.array([1, -2, 0, 3, 1, 1, -1, 2, 0, 1])
    X, Y = (Generator(exact, tuples[i : i + 1]) for i in range(2))
    Xf, Yf = (Generator(floating, tuples[i : i + 1].astype(float)) for i in range(2))
    e = values_at(Bracket(X, Y, EXACT), theta, EXACT)
    f = values_at(Bracket(Xf, Yf, FLOAT), theta.astype(float), FLOAT)
    assert np.array_equal(e, np.mod(np.rint(f).astype(np.int64), exact_modulus()))


@pytest.mark.parametrize(
    "spec,group,ranks,laws",
    [
        ("linear:2,2,1", None, (2, 3), 3),
        ("deep-linear:2,3,2", None, (4, 6), 6),
        ("linear:3,1,1", "cyclic/trivial", (2, 2), 2),
        ("linear:4,4,4", "cyclic/trivial", None, 10),
    ],
)
def test_generation_closes_soundly(spec, group, ranks, laws):
    family = family_for(spec, group)
    result = generate_lie_algebra(family, seed=2)
    assert result.stop_reason == "involutive" and result.second_point_rank == result.rank
    assert family.n_params - result.rank == laws
    if ranks is not None:
        assert result.rank_by_level[: len(ranks)] == ranks


def test_ranks_catch_up_at_depth_three():
    # Trap (a): level 1 and 2 are below the final rank; stopping early would invent laws.
    result = generate_lie_algebra(family_for("linear:4,4,4", "cyclic/trivial"), seed=0)
    assert len(result.rank_by_level) >= 4
    assert result.rank_by_level[0] < result.rank_by_level[1] < result.rank_by_level[2] == result.rank


def test_depth_cap_is_inconclusive_not_a_count():
    result = generate_lie_algebra(family_for("linear:2,2,1", None), max_depth=1)
    assert result.stop_reason == "depth-cap" and not result.conclusive


def test_certificate_stops_at_the_target_rank():
    result = generate_lie_algebra(family_for("linear:2,2,1", None), target_rank=3)
    assert result.stop_reason == "certificate" and result.rank == 3


def test_float_generation_agrees_with_exact():
    for spec, group in CASES:
        exact = generate_lie_algebra(family_for(spec, group))
        floating = generate_lie_algebra(family_for(spec, group, exact=False))
        gap = floating.gap
        assert floating.rank == exact.rank and gap is not None and gap.ratio is not None and gap.ratio > 1e6, (
            spec,
            floating,
        )


def test_trace_matrix_at_spans_the_counted_lie_algebra_and_classifies_fields():
    """Lie(F_MSE-aug)(θ) at a float θ has the exact count's dimension with a clear gap; an augmented MSE gradient
    is tangent to it, a plain one is not (the formula-free drift test, ``harness.laws.extra.leaf_tangency``)."""
    from harness.algebra.spectral import GAP_THRESHOLD, SpectralGap
    from harness.dynamics.flow import GradientFlow
    from harness.laws.counting import count_laws
    from harness.laws.extra import leaf_tangency
    from harness.laws.fields import build_field_family
    from harness.laws.lie import trace_matrix_at
    from harness.model.losses import get_loss
    from harness.model.scenario import Scenario

    built = Scenario("linear:5,1,1", "mse", "cyclic/trivial", "augmented", n_samples=3, seed=1).build()
    network, group = built.network, built.group
    count = count_laws(network, "augmented", "mse", group, seed=1, find_explicit=False)
    assert count.laws is not None, count
    family = build_field_family(network, "mse", "augmented", group, seed=1).as_float()
    singular = np.linalg.svd(trace_matrix_at(family, built.theta0, depth=2, seed=1), compute_uv=False)
    measured = SpectralGap.of(singular)
    rank, gap = measured.rank, measured.ratio
    assert (rank, count.laws) == (network.n_params - count.laws, 3) and gap >= GAP_THRESHOLD
    augmented = -GradientFlow(network, get_loss("mse"), built.data).gradient(built.theta0)
    tangent = leaf_tangency(network, group, count, [augmented], built.theta0, seed=1)
    assert tangent.outcome == "tangent" and tangent.residuals[0] < 1e-9, tangent.reason
    plain = Scenario("linear:5,1,1", "mse", "cyclic/trivial", "free", n_samples=3, seed=1).build()
    moved = leaf_tangency(
        network,
        group,
        count,
        [-GradientFlow(network, get_loss("mse"), plain.data).gradient(built.theta0)],
        built.theta0,
        seed=1,
    )
    assert moved.outcome == "outside" and moved.moved == 1, moved.reason


def test_leaf_tangency_is_inconclusive_without_a_gap_at_the_counted_rank():
    from dataclasses import replace

    from harness.laws.counting import count_laws
    from harness.laws.extra import leaf_tangency
    from harness.model.scenario import Scenario

    built = Scenario("linear:3,1,1", "mse", "cyclic/trivial", "augmented", n_samples=3, seed=1).build()
    count = count_laws(built.network, "augmented", "mse", built.group, seed=1, find_explicit=False)
    assert count.laws is not None, count
    wrong = replace(count, laws=count.laws - 1)  # a wrong rank r must not be forced onto the spectrum
    result = leaf_tangency(built.network, built.group, wrong, [np.ones(built.network.n_params)], built.theta0)
    assert result.outcome == "inconclusive" and "no gap" in result.reason
