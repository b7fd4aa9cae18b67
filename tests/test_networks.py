"""Networks: spec round-trips, Φ against direct formulas, the published laws, bad specs."""

import numpy as np
import pytest

from harness.errors import InvalidInput
from harness.model.families.attention import AttentionNetwork
from harness.model.families.deep_linear import DeepLinearNetwork
from harness.model.families.linear import LinearNetwork
from harness.model.families.polynomial import PolynomialNetwork, monomial_exponents
from harness.model.family import SizeLimits
from harness.model.specs import parse_network

SPECS = [
    "linear:3,2,2", "linear:1,1,1", "deep-linear:2,3,2,2", "deep-linear:1,2,1",
    "poly:3,2,1,k=2", "poly:2,2,2,k=3", "attention:n=4,d=3,dk=2,dv=2",
    "attention:n=3,d=2,dk=1,dv=2,mask=causal", "attention:n=3,d=2,dk=1,dv=1,mask=causal,decay=0.5",
]


@pytest.mark.parametrize("spec", SPECS)
def test_spec_round_trips(spec):
    network = parse_network(spec)
    assert str(network) == spec
    assert parse_network(str(network)) == network


def test_parameter_counts_follow_the_layouts():
    assert parse_network("linear:3,2,2").n_params == 2 * 2 + 3 * 2
    assert parse_network("deep-linear:2,3,2,2").n_params == 3 * 2 + 2 * 3 + 2 * 2
    assert parse_network("poly:3,2,1,k=2").n_params == 1 * 2 + 3 * 2
    assert parse_network("attention:n=4,d=3,dk=2,dv=2").n_params == 3 * 2 + 3 * 2 + 3 * 2


@pytest.mark.parametrize("spec", SPECS)
def test_phi_psi_matches_direct_formula(spec):
    rng = np.random.default_rng(3)
    network = parse_network(spec)
    theta = network.random_theta(rng)
    x = rng.standard_normal((5, network.input_dim))
    blocks = network.unflatten(theta)
    if isinstance(network, LinearNetwork):
        expected = x @ blocks["V"] @ blocks["U"].T
    elif isinstance(network, DeepLinearNetwork):
        expected = x
        for i in range(1, len(network.widths)):
            expected = expected @ blocks[f"W{i}"].T
    elif isinstance(network, PolynomialNetwork):
        expected = ((x @ blocks["V"]) ** network.k) @ blocks["U"].T
    else:
        X = x.reshape(-1, network.n, network.d)
        scores = np.einsum("sia,ab,sjb->sij", X, blocks["WQ"] @ blocks["WK"].T, X) * network.token_weights
        expected = (scores @ X @ blocks["WV"]).reshape(5, -1)
    np.testing.assert_allclose(network.predict(theta, x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spec", SPECS)
def test_jacobian_and_vjp_agree_with_finite_differences(spec):
    rng = np.random.default_rng(4)
    network = parse_network(spec)
    theta = network.random_theta(rng)
    poly = network.polynomial
    jac = poly.jacobian(theta)
    step = 1e-6
    for j in rng.choice(network.n_params, size=min(4, network.n_params), replace=False):
        e = np.zeros(network.n_params)
        e[j] = step
        fd = (poly.evaluate(theta + e) - poly.evaluate(theta - e)).reshape(-1) / (2 * step)
        np.testing.assert_allclose(jac[:, j], fd, rtol=1e-6, atol=1e-7)
    cotangent = rng.standard_normal(poly.shape)
    np.testing.assert_allclose(poly.vjp(theta, cotangent), jac.T @ cotangent.reshape(-1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spec", SPECS)
def test_known_laws_are_orthogonal_to_every_feature_gradient(spec):
    """∇h ⟂ ∇_θ Φ_p for every entry p: each published law is conserved for all data and losses."""
    rng = np.random.default_rng(5)
    network = parse_network(spec)
    theta = network.random_theta(rng)
    jac = network.polynomial.jacobian(theta)
    step = 1e-6
    grads = []
    for j in range(network.n_params):
        e = np.zeros(network.n_params)
        e[j] = step
        grads.append((network.known_laws(theta + e)[0] - network.known_laws(theta - e)[0]) / (2 * step))
    law_gradients = np.array(grads).T
    assert np.abs(law_gradients @ jac.T).max() < 1e-6 * max(1.0, np.abs(jac).max() ** 2)


def test_a_non_law_is_not_orthogonal():
    """The orthogonality test above can fail: ‖U‖² alone is not conserved."""
    rng = np.random.default_rng(6)
    network = parse_network("linear:3,2,2")
    theta = network.random_theta(rng)
    grad = np.zeros(network.n_params)
    block = network.blocks[0]
    grad[block.offset : block.offset + block.size] = 2 * theta[block.offset : block.offset + block.size]
    assert np.abs(network.polynomial.jacobian(theta) @ grad).max() > 1e-3


def test_poly_features_are_degree_k_monomials():
    network = PolynomialNetwork(2, 1, 1, 3)
    assert monomial_exponents(2, 3) == [(0, 0, 0), (0, 0, 1), (0, 1, 1), (1, 1, 1)]
    assert network.n_features == 4
    np.testing.assert_allclose(network.features(np.array([[2.0, 3.0]])), [[8.0, 12.0, 18.0, 27.0]])


def test_known_law_counts_and_names():
    assert len(parse_network("linear:3,2,2").known_law_names()) == 3
    assert len(parse_network("deep-linear:2,3,2,2").known_law_names()) == 6 + 3
    assert len(parse_network("poly:3,2,1,k=2").known_law_names()) == 2
    assert len(parse_network("attention:n=4,d=3,dk=2,dv=2").known_law_names()) == 3 + 1


def test_feature_representation_is_exact_for_signed_permutations():
    network = parse_network("poly:3,1,1,k=2")
    shift = np.roll(np.eye(3, dtype=np.int64), 1, axis=0)
    rho = network.feature_representation(shift)
    assert rho.dtype == np.int64
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(network.features(x @ shift.T), network.features(x) @ rho.T, atol=1e-12)


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("mlp:3,2,2", "unknown network spec 'mlp:3,2,2'"),
        ("linear:3,0,2", "network spec 'linear:3,0,2': linear network size hidden=0 must be an integer >= 1"),
        ("linear:3,2", "linear takes exactly IN,HIDDEN,OUT"),
        ("linear:3,x,2", "HIDDEN='x'"),
        ("deep-linear:3,2", "deep-linear needs IN, at least one hidden width and OUT"),
        ("deep-linear:3,-1,2", "widths[1]=-1"),
        ("poly:3,2,1,k=1", "k=1 must be an integer >= 2"),
        ("poly:3,2,1", "poly takes IN,HIDDEN,OUT,k=K"),
        ("attention:n=4,d=3,dk=2", "attention takes n=,d=,dk=,dv="),
        ("attention:n=4,d=3,dk=2,dv=2,mask=full", "mask='full' is not one of"),
        ("attention:n=4,d=3,dk=2,dv=2,decay=0.5", "needs mask=causal"),
        ("attention:n=4,d=3,dk=2,dv=2,mask=causal,decay=1.5", "decay=1.5 must be a number in (0, 1]"),
        ("attention:n=0,d=3,dk=2,dv=2", "n=0"),
    ],
)
def test_bad_specs_get_one_clear_message(spec, fragment):
    with pytest.raises(InvalidInput) as error:
        parse_network(spec)
    assert fragment in str(error.value)


def test_bad_theta_and_inputs():
    network = parse_network("linear:3,2,2")
    with pytest.raises(InvalidInput, match="theta has shape"):
        network.unflatten(np.zeros(3))
    with pytest.raises(InvalidInput, match=r"inputs have shape \(2, 4\); linear:3,2,2 needs \(N, 3\)"):
        network.features(np.zeros((2, 4)))
    with pytest.raises(InvalidInput, match="targets have shape"):
        network.target_rows(np.zeros((2, 3)))


def test_attention_masks_enter_features_only():
    plain = AttentionNetwork(3, 2, 1, 1)
    causal = AttentionNetwork(3, 2, 1, 1, mask="causal", decay=0.5)
    assert np.array_equal(plain.polynomial.out, causal.polynomial.out)
    np.testing.assert_allclose(causal.token_weights, [[1, 0, 0], [0.5, 1, 0], [0.25, 0.5, 1]])


@pytest.mark.parametrize("spec", ["linear:50,50,50", "linear:30,30,30", "linear:10,10,10", "poly:3,2,1,k=20",
                                  "deep-linear:" + ",".join(["1"] * 17), "attention:n=10,d=10,dk=5,dv=5"])
def test_the_largest_networks_in_use_stay_within_the_limits(spec):
    assert str(parse_network(spec)) == spec


def test_size_limits_are_checked_from_the_numbers_and_can_be_raised():
    with pytest.raises(InvalidInput, match=r"parameters D 4,000,000,000 > limit 10,000"):
        LinearNetwork(2, 10**9, 2)  # instant: nothing is built
    limits = SizeLimits(max_params=20_000)
    wide = parse_network("linear:80,80,80", limits=limits)
    assert wide.n_params == 12_800 and wide.polynomial.n_monomials == 80**3
    assert wide == LinearNetwork(80, 80, 80, limits=limits) and "limits" not in repr(wide)
    with pytest.raises(InvalidInput, match="SizeLimits.max_params"):
        LinearNetwork(80, 80, 80)


def test_spec_numbers_are_ascii_digits_without_leading_zeros():
    for spec in ("linear:３,2,2", "linear:1_0,2,2", "linear:+3,2,2", "linear:03,2,2", "poly:3,2,1,k=٣"):
        with pytest.raises(InvalidInput):
            parse_network(spec)
