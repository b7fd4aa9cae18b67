"""Networks: spec round-trips, Φ against direct formulas, the published laws, bad specs."""

import numpy as np
import pytest

from harness.algebra.monomials import index_tuples
from harness.errors import InvalidInput
from harness.model.families.attention import AttentionNetwork
from harness.model.families.deep_linear import DeepLinearNetwork
from harness.model.families.linear import LinearNetwork
from harness.model.families.polynomial import PolynomialNetwork
from harness.model.family import SizeLimits
from harness.model.specs import parse_network

SPECS = [
    "linear:3,2,2",
    "linear:1,1,1",
    "deep-linear:2,3,2,2",
    "deep-linear:1,2,1",
    "poly:3,2,1,k=2",
    "poly:2,2,2,k=3",
    "attention:n=4,d=3,dk=2,dv=2",
    "attention:n=3,d=2,dk=1,dv=2,mask=causal",
    "attention:n=3,d=2,dk=1,dv=1,mask=causal,decay=0.5",
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
        assert isinstance(network, AttentionNetwork)
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
    assert index_tuples(2, 3) == [(0, 0, 0), (0, 0, 1), (0, 1, 1), (1, 1, 1)]
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
    assert rho is not None and rho.dtype == np.int64
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


@pytest.mark.parametrize(
    "spec",
    [
        "linear:50,50,50",
        "linear:30,30,30",
        "linear:10,10,10",
        "poly:3,2,1,k=20",
        "deep-linear:" + ",".join(["1"] * 17),
        "attention:n=10,d=10,dk=5,dv=5",
    ],
)
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


# --- the family protocol ----------------------------------------------------------------------------------
from harness.laws.fields import exact_features  # noqa: E402
from harness.model.family import FAMILIES, Network, register_family  # noqa: E402
from harness.model.groups import build_group  # noqa: E402
from harness.model.specs import usage  # noqa: E402

ACTION_CASES = [  # (network, group, hidden action): feature, output and token groups on every family
    ("linear:3,2,3", "cyclic/same", "input"),
    ("linear:2,3,1", "flip/trivial", "trivial"),
    ("linear:4,3,4", "rot:4/same", "output"),
    ("deep-linear:3,3,2,3", "cyclic/same", "input"),
    ("deep-linear:2,2,1", "swap:0,1/trivial", "trivial"),
    ("poly:3,2,1,k=2", "sym/trivial", "input"),
    ("poly:2,2,2,k=3", "signperm/same", "output"),
    ("poly:2,3,1,k=2", "flip/trivial", "input"),
    ("attention:n=3,d=2,dk=2,dv=2", "cyclic/same", "input"),
    ("attention:n=3,d=2,dk=1,dv=1", "tokens-cyclic/same", "trivial"),
    ("attention:n=2,d=2,dk=2,dv=2", "tokens-sym/same", "output"),
]


def test_registry_holds_the_built_in_families_in_simple_first_order():
    assert list(FAMILIES) == ["linear", "deep-linear", "poly", "attention"]
    assert all(issubclass(cls, Network) and cls.family == name for name, cls in FAMILIES.items())
    assert usage() == (
        "linear:IN,HIDDEN,OUT · deep-linear:IN,H1,...,OUT · poly:IN,HIDDEN,OUT,k=K · "
        "attention:n=N,d=D,dk=A,dv=B[,mask=causal][,decay=λ]"
    )


def test_register_family_refuses_a_second_family_of_the_same_name_and_non_families():
    class Impostor(LinearNetwork):
        pass

    with pytest.raises(InvalidInput, match="already registered"):
        register_family(Impostor)
    with pytest.raises(InvalidInput, match="Network subclass"):
        register_family(int)  # pyright: ignore[reportArgumentType]  (the wrong type is the point)
    assert FAMILIES["linear"] is LinearNetwork


@pytest.mark.parametrize("spec", SPECS)
def test_shared_attributes_of_the_protocol(spec):
    network = parse_network(spec)
    assert network.family in FAMILIES and isinstance(network, FAMILIES[network.family])
    assert network.token_positions == (network.n if isinstance(network, AttentionNetwork) else None)
    assert network.has_tokens == (network.token_positions is not None)
    assert network.output_dim == network.n_outputs * network.rows_per_sample
    assert network.dense_gradient is not None  # every built-in family has a compiled dense kernel


@pytest.mark.parametrize("spec", SPECS)
def test_exact_features_agree_with_the_float_features_and_their_degree(spec):
    network = parse_network(spec)
    x = np.random.default_rng(5).integers(-3, 4, size=(4, network.input_dim))
    exact = exact_features(network, x, modulus=None)
    assert exact.shape == (4, network.rows_per_sample, network.n_features)
    np.testing.assert_allclose(exact.reshape(-1, network.n_features).astype(float), network.features(x), rtol=1e-12)
    # Ψ(2x) = 2^degree Ψ(x): every family's features are homogeneous of their stated degree.
    np.testing.assert_allclose(network.features(2 * x), 2.0**network.feature_degree * network.features(x), rtol=1e-12)


def test_published_completeness_scope_is_stated_per_family():
    assert parse_network("linear:2,2,2").published_laws_complete
    assert parse_network("poly:2,2,1,k=3").published_laws_complete
    assert parse_network("deep-linear:2,2,2").published_laws_complete
    assert not parse_network("deep-linear:2,1,2").published_laws_complete
    assert parse_network("attention:n=2,d=1,dk=1,dv=1").published_laws_complete
    assert not parse_network("attention:n=1,d=2,dk=1,dv=1").published_laws_complete


@pytest.mark.parametrize("spec, group_spec, hidden", ACTION_CASES)
def test_parameter_action_is_equivariant(spec, group_spec, hidden):
    """f(R(g)θ, x) = ρ_out(g) f(θ, ρ_in(g)⁻¹x) for every element, and g ↦ R(g) is orthogonal."""
    network = parse_network(spec)
    group = build_group(group_spec, network)
    rng = np.random.default_rng(6)
    theta = network.random_theta(rng)
    x = rng.standard_normal((3, network.input_dim))
    for rho_in, rho_out in zip(group.inputs, group.outputs):
        action = network.parameter_action(rho_in, rho_out, hidden)
        assert action is not None
        rho_in, rho_out = np.asarray(rho_in, dtype=float), np.asarray(rho_out, dtype=float)
        expected = network.predict(theta, x @ rho_in) @ rho_out.T  # rows ρ_in⁻¹x = ρ_inᵀx
        np.testing.assert_allclose(network.predict(action @ theta, x), expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(action.T @ action, np.eye(network.n_params), atol=1e-12)


def test_parameter_action_refuses_what_has_no_natural_action():
    poly = parse_network("poly:2,2,2,k=2")
    rotation = build_group("rot:4/same", poly)
    assert poly.parameter_action(rotation.inputs[1], rotation.outputs[1], "input") is None  # not a signed permutation
    attention = parse_network("attention:n=2,d=1,dk=1,dv=1")
    mixing = np.array([[1.0, 1.0], [0.0, 1.0]])  # not a token permutation ⊗ a feature action
    assert attention.parameter_action(mixing, mixing, "trivial") is None
