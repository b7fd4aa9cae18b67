"""harness.dynamics.leaf, class_data and vanishing (oracle 3) and property 6: monomials, the spectral-gap rule,
synthetic leaves, the worked example, blown-up legs, bad input, and a planted wrong count that property 6 must refute."""

import math
from typing import NotRequired, TypedDict

import numpy as np
import pytest

from harness.algebra.monomials import index_tuples_up_to
from harness.algebra.spectral import SpectralGap
from harness.dynamics.class_data import loss_gradient, walk_span
from harness.dynamics.leaf import (
    LeafPoints,
    LeafWalk,
    LegResult,
    class_dataset,
    collect_leaf_points,
    leaf_equations,
    scipy_leg,
)
from harness.dynamics.vanishing import (
    monomial_gradients,
    monomial_matrix,
    vanishing_polynomials,
)
from harness.errors import InvalidInput
from harness.model.data import is_closed
from harness.model.family import Network
from harness.model.groups import Group, build_group
from harness.model.losses import get_loss
from harness.model.scenario import Scenario
from harness.model.specs import parse_network
from harness.verdicts.verdict import Status
from properties.prop_leaf_equations import PROPERTY, leaf_agreement_verdict, leaf_equations_check

WORKED = "linear:3,1,1"
WORKED_GROUP = "cyclic/trivial"


def _leaf(points: np.ndarray) -> LeafPoints:
    return LeafPoints(points[0], points, {"ok": 1}, 0)


# --- monomials -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_vars, degree", [(1, 1), (3, 2), (4, 3), (8, 2)])
def test_monomial_basis_has_all_monomials_up_to_the_degree(n_vars, degree):
    exponents = index_tuples_up_to(n_vars, degree)
    assert len(exponents) == math.comb(n_vars + degree, degree)
    assert exponents[0] == ()  # the constant comes first
    assert len(set(exponents)) == len(exponents)


def test_monomial_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    exponents = index_tuples_up_to(3, 3)
    point = rng.standard_normal(3)
    analytic = monomial_gradients(point, exponents)
    step = 1e-6
    for i in range(3):
        shift = np.zeros(3)
        shift[i] = step
        numeric = monomial_matrix((point + shift)[None], exponents) - monomial_matrix((point - shift)[None], exponents)
        np.testing.assert_allclose(analytic[:, i], numeric[0] / (2 * step), atol=1e-8)


# --- the largest-gap rule -------------------------------------------------------------------------------------


def test_gap_finds_the_null_values():
    gap = SpectralGap.of([1.0, 0.3, 0.01, 1e-14, 1e-15], threshold=1e3, floor=1e-11, unique=True)
    assert gap.rank == 3 and gap.clear
    assert gap.ratio == pytest.approx(0.01 / 1e-11)


def test_gap_allows_no_small_value_at_all():
    gap = SpectralGap.of([1.0, 0.5, 0.2], threshold=1e3, floor=1e-11, unique=True)
    assert gap.rank == 3 and gap.clear


def test_a_smooth_decay_has_no_clear_gap():
    gap = SpectralGap.of(10.0 ** -np.arange(13), threshold=1e3, floor=1e-11, unique=True)
    assert not gap.clear and gap.ratio == pytest.approx(10.0)


# --- synthetic leaves with known equations ------------------------------------------------------------------


def test_points_on_a_cylinder_satisfy_one_quadric():
    rng = np.random.default_rng(1)
    angle, height = rng.uniform(0, 2 * np.pi, 80), rng.standard_normal(80)
    points = np.stack([np.cos(angle), np.sin(angle), height], axis=1)
    result = vanishing_polynomials(_leaf(points), degree=2)
    assert result.conclusive and result.n_vanishing == 1 and result.laws_seen == 1


def test_products_of_a_linear_equation_do_not_inflate_the_count():
    rng = np.random.default_rng(2)
    plane = rng.standard_normal((60, 2))
    points = np.stack([plane[:, 0], plane[:, 1], 2 * plane[:, 0] - plane[:, 1] + 0.5], axis=1)
    result = vanishing_polynomials(_leaf(points), degree=2)
    # ℓ, ℓx, ℓy, ℓz vanish (4 polynomials) but their gradients at θ₀ are multiples of ∇ℓ: one law.
    assert result.n_vanishing == 4 and result.laws_seen == 1


def test_generic_points_satisfy_no_equation():
    points = np.random.default_rng(3).standard_normal((60, 3))
    result = vanishing_polynomials(_leaf(points), degree=2)
    assert result.conclusive and result.laws_seen == 0


def test_two_clear_gaps_are_ambiguous_not_a_guess():
    # Null values at 1e-6 (an integration far less accurate than the floor says) next to a real gap.
    gap = SpectralGap.of([1.0, 0.3, 1e-2, 1e-6, 1e-6], threshold=1e3, floor=1e-11, unique=True)
    assert not gap.clear and "two spectral gaps" in gap.reason


def test_points_off_the_quadric_by_more_than_the_floor_satisfy_no_equation():
    # The floor is the noise level: points 1e-2 off the cylinder do not satisfy its equation to that level.
    rng = np.random.default_rng(4)
    angle, height = rng.uniform(0, 2 * np.pi, 80), rng.standard_normal(80)
    points = np.stack([np.cos(angle), np.sin(angle), height], axis=1) + 1e-2 * rng.standard_normal((80, 3))
    result = vanishing_polynomials(_leaf(points), degree=2)
    assert result.conclusive and result.laws_seen == 0
    # Told that the noise is 1e-3, the same points have no clear gap: inconclusive, never a guess.
    noisier_floor = vanishing_polynomials(_leaf(points), degree=2, noise_floor=1e-3)
    assert noisier_floor.status == "inconclusive" and "no spectral gap" in noisier_floor.reason


def test_too_little_motion_is_inconclusive():
    points = 1.0 + 1e-6 * np.random.default_rng(5).standard_normal((60, 3))
    result = vanishing_polynomials(_leaf(points), degree=2)
    assert result.status == "inconclusive" and "too little motion" in result.reason


def test_too_few_points_is_inconclusive():
    points = np.random.default_rng(6).standard_normal((12, 3))
    result = vanishing_polynomials(_leaf(points), degree=2)
    assert result.status == "inconclusive" and "too few points" in result.reason


# --- the worked example of DESIGN.md -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def worked():
    network = parse_network(WORKED)
    return network, build_group(WORKED_GROUP, network), network.random_theta(np.random.default_rng(7))


@pytest.mark.parametrize(
    "loss, data_class, laws", [("mse", "augmented", 2), ("logcosh", "augmented", 1), ("mse", "free", 1)]
)
def test_worked_example_laws_seen_by_the_integrators(worked, loss, data_class, laws):
    network, group, theta0 = worked
    result = leaf_equations(network, loss, data_class, group, theta0, seed=1)
    assert result.conclusive, result.reason
    assert result.laws_seen == laws
    assert result.gap is not None and result.gap.ratio >= 1e4  # a clear decision, far above the threshold
    evidence = result.evidence
    assert isinstance(evidence["singular_values"], list) and len(evidence["singular_values"]) == result.n_monomials
    assert set(evidence["gap"]) >= {"index", "ratio", "threshold"}


def test_scipy_reference_integrator_sees_the_same_leaf(worked):
    network, group, theta0 = worked
    result = leaf_equations(network, "mse", "augmented", group, theta0, seed=1, leg_integrator=scipy_leg)
    assert result.conclusive and result.laws_seen == 2


def test_augmented_class_data_are_closed_and_analytic_losses_get_large_residuals(worked):
    network, group, theta0 = worked
    rng = np.random.default_rng(8)
    data = class_dataset(network, get_loss("logcosh"), "augmented", group, rng, LeafWalk(), theta0)
    assert is_closed(data, group)
    residuals = network.predict(theta0, data.x) - data.y
    assert np.sqrt(np.mean(residuals**2)) > 2.0  # far from logcosh's quadratic regime


def test_blown_up_legs_are_discarded_not_used(worked):
    network, group, theta0 = worked

    def always_blows_up(network, loss, data, start, length, direction, n_save, walk, bound):
        return LegResult(np.full((n_save, start.size), 1e300), "blow_up", 10)

    leaf = collect_leaf_points(
        network,
        "mse",
        "augmented",
        group,
        theta0,
        n_points=50,
        walk=LeafWalk(max_legs=20),
        leg_integrator=always_blows_up,
    )
    # every leg fails, also when retried shorter (3 attempts each): not one state is used
    assert leaf.n_points == 1 and leaf.leg_statuses["ok"] == 0 and leaf.leg_statuses["left_ball"] == 3 * 20
    result = vanishing_polynomials(leaf, degree=2)
    assert result.status == "inconclusive" and result.laws_seen is None


def test_leg_statuses_are_a_str_enum_and_count_every_integrator_status():
    """How a leg's fate is counted: a blow-up left the ball first, an unknown status counts as non-finite."""
    from harness.dynamics.leaf import LEG_STATUSES, LegStatus
    from harness.kernels.status import IntegrationStatus

    assert LEG_STATUSES == ("ok", "left_ball", "max_steps", "step_underflow", "nonfinite", "stalled")
    assert all(status.meaning and f"{status}" == status.value for status in LegStatus)
    counted = {status.value: LegStatus.of_leg(status).value for status in IntegrationStatus}
    assert counted == {
        "ok": "ok",
        "max_steps": "max_steps",
        "blow_up": "left_ball",
        "step_underflow": "step_underflow",
        "nonfinite": "nonfinite",
    }
    assert LegStatus.of_leg("stalled") is LegStatus.STALLED and LegStatus.of_leg("bogus") is LegStatus.NONFINITE


def test_the_walk_accepts_exactly_the_registered_methods():
    from harness.kernels import methods, tableaux

    with pytest.raises(
        InvalidInput,
        match=r"LeafWalk.method='heun' is not one of \(" + ", ".join(repr(name) for name in methods.METHODS) + r"\)",
    ):
        LeafWalk(method="heun")
    heun = tableaux.ButcherTableau(name="heun", a=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0, 1], order=2)
    methods.register_method(methods.Method("heun", heun, "Heun's method"))
    try:
        assert LeafWalk(method="heun").method == "heun"
    finally:
        methods.unregister_method("heun")


# --- bad input -----------------------------------------------------------------------------------------------


class LeafCall(TypedDict):
    """The keyword arguments of ``leaf_equations`` that ``test_bad_input_is_one_clear_error`` varies."""

    network: Network
    loss: str
    data_class: str
    group: Group | None
    theta0: np.ndarray
    degree: NotRequired[int]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(degree=4), "degree"),
        (dict(data_class="bogus"), "data class"),
        (dict(group=None), "needs a group"),
        (dict(theta0=np.zeros(3)), "theta0"),
        (dict(theta0=np.zeros(4)), "fixed point"),
    ],
)
def test_bad_input_is_one_clear_error(worked, arguments, message):
    network, group, theta0 = worked
    call = LeafCall(network=network, loss="mse", data_class="augmented", group=group, theta0=theta0)
    call.update(arguments)
    with pytest.raises(InvalidInput, match=message):
        leaf_equations(**call)


@pytest.mark.parametrize("field, value", [("step", 0.0), ("radius", -1.0), ("samples", 0), ("method", "euler")])
def test_bad_walk_settings_are_rejected(field, value):
    with pytest.raises(InvalidInput, match=field):
        LeafWalk(**{field: value})


# --- property 6 on the worked example, and a planted wrong count --------------------------------------------


@pytest.mark.parametrize("loss, data, laws", [("mse", "augmented", 2), ("logcosh", "augmented", 1), ("mse", "free", 1)])
def test_property_agrees_with_the_counting_engine_on_the_worked_example(loss, data, laws):
    scenario = Scenario(WORKED, loss, WORKED_GROUP, data, seed=3)
    verdict = leaf_equations_check(scenario)
    assert verdict.status is Status.HOLDS, verdict.reason
    assert verdict.evidence["count"] == laws and verdict.evidence["laws_seen"] == laws


@pytest.mark.parametrize("wrong", [0, 1])
def test_planted_too_small_count_is_refuted(wrong):
    # MSE on cyclic-augmented data has 2 laws; a claim of fewer must be refuted by the integrators alone.
    scenario = Scenario(WORKED, "mse", WORKED_GROUP, "augmented", seed=3)
    verdict = leaf_agreement_verdict(scenario, claimed_laws=wrong)
    assert verdict.status is Status.VIOLATED and verdict.evidence["laws_seen"] == 2


def test_planted_too_large_count_is_refuted():
    # logcosh on the same data has 1 law (Theorem 1): the MSE count 2 transplanted to it must be refuted.
    scenario = Scenario(WORKED, "logcosh", WORKED_GROUP, "augmented", seed=3)
    verdict = leaf_agreement_verdict(scenario, claimed_laws=2)
    assert verdict.status is Status.VIOLATED and verdict.evidence["laws_seen"] == 1


# --- the walk explores the class the count is about (issue 8, item 2) ----------------------------------------

HUBER_SUBCLASS = Scenario("poly:2,1,1,k=2", "huber", "rot:3/trivial", "augmented", n_samples=1, seed=0)


def test_non_polynomial_walk_data_straddle_the_bend_within_orbits():
    # θ₀ of this scenario is small: scaling the targets alone left every orbit's residuals equal (ℓ' = ±1 on the
    # orbit, a sub-class with MSE's extra law). The walk's data must make residuals of one orbit differ by > δ.
    built = HUBER_SUBCLASS.build()
    rng = np.random.default_rng(0)
    assert built.group is not None  # the scenario names a group
    order = built.group.order
    spreads = []
    for _ in range(20):
        data = class_dataset(built.network, built.loss, "augmented", built.group, rng, LeafWalk(), built.theta0)
        residuals = (built.network.predict(built.theta0, data.x) - data.y)[:, 0].reshape(order, -1)
        spreads.append(np.ptp(residuals, axis=0).max())
    assert np.median(spreads) > 2.0, spreads  # δ = 1


def test_walk_span_tells_a_sub_class_from_the_class():
    built = HUBER_SUBCLASS.build()
    network, loss, group, theta0 = built.network, built.loss, built.group, built.theta0
    rng = np.random.default_rng(1)
    # Data sets with tiny residuals: huber is MSE there, and MSE's augmented class spans less at θ₀.
    tiny = [class_dataset(network, loss, "augmented", group, rng, LeafWalk(regime=1e-3), theta0) for _ in range(12)]
    broad = [class_dataset(network, loss, "augmented", group, rng, LeafWalk(), theta0) for _ in range(12)]
    for sets, expected in ((tiny, False), (broad, True)):
        gradients = np.array([loss_gradient(network, loss, data)(theta0) for data in sets])
        leaf = LeafPoints(theta0, theta0[None, :], {"ok": 1}, 0, gradients)
        span = walk_span(leaf, network, loss, "augmented", group, seed=0)
        assert span.represents is expected, span.evidence
    assert span.class_rank == 2


def test_more_laws_seen_on_a_sub_class_are_inconclusive_not_a_violation():
    # The false counterexample of issue 8 re-created on purpose: a walk with tiny residuals sees huber as MSE
    # (2 laws) while the class has 1. The property must not call that a violation.
    walk = LeafWalk(regime=1e-3)
    verdict = leaf_agreement_verdict(HUBER_SUBCLASS, claimed_laws=1, walk=walk)
    assert verdict.evidence["laws_seen"] == 2
    assert verdict.status is Status.INCONCLUSIVE and "sub-class" in verdict.reason, verdict.reason


def test_the_huber_false_counterexample_now_holds():
    verdict = PROPERTY.verdict(HUBER_SUBCLASS)
    assert verdict.status is Status.HOLDS, verdict.reason
    assert verdict.evidence["count"] == 1 and verdict.evidence["laws_seen"] == 1
    assert verdict.evidence["leaf"]["walk_span"]["represents"] is True
