"""Groups: catalogue orders, spec round-trips, closure, validation and Reynolds projection."""

import math

import numpy as np
import pytest

from harness.errors import InvalidInput
from harness.model.groups import (
    CATALOGUE,
    Group,
    build_group,
    expected_order,
    factor_order,
    get_group_kind,
    parse_group,
)
from harness.model.specs import parse_network

LINEAR4 = parse_network("linear:4,2,4")


@pytest.mark.parametrize(
    "spec",
    [
        "flip/sign",
        "cyclic/trivial",
        "dihedral/same",
        "swap:0,1/sign",
        "sym/trivial",
        "signperm/trivial",
        "rot:4/trivial",
        "rot:3/same",
        "spm:2,-1,3,4/trivial",
        "cyclic/trivial*flip/sign",
        "tokens-cyclic/same",
    ],
)
def test_group_specs_round_trip(spec):
    assert str(parse_group(spec)) == spec
    assert parse_group(str(parse_group(spec))) == parse_group(spec)


def test_output_action_defaults_to_trivial():
    assert str(parse_group("cyclic")) == "cyclic/trivial"


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("name", ["flip", "cyclic", "dihedral", "sym"])
def test_catalogue_orders(name, n):
    network = parse_network(f"linear:{n},1,1")
    assert build_group(name, network).order == expected_order(name, n)


@pytest.mark.parametrize("n, order", [(1, 2), (2, 8), (3, 48)])
def test_signed_permutation_group_order(n, order):
    assert build_group("signperm", parse_network(f"linear:{n},1,1")).order == order == 2**n * math.factorial(n)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 6, 8])
def test_rotation_orders_and_float_path(order):
    group = build_group(f"rot:{order}", parse_network("linear:2,1,1"))
    assert group.order == order
    assert not group.exact


def test_products_generate_the_joint_group():
    group = build_group("cyclic/trivial*flip/sign", parse_network("linear:3,1,1"))
    assert group.order == 6  # C_3 × Z_2
    assert group.exact


def test_attention_feature_and_token_actions():
    net = parse_network("attention:n=3,d=2,dk=1,dv=2")
    features = build_group("swap:0,1/same", net)
    tokens = build_group("tokens-sym/same", net)
    assert features.order == 2 and features.input_dim == 6 and features.output_dim == 6
    assert tokens.order == 6
    # A token permutation moves whole rows of X: it permutes blocks of d coordinates.
    x = np.arange(6.0)
    moved = tokens.inputs[1] @ x
    assert sorted(moved.reshape(3, 2).tolist()) == sorted(x.reshape(3, 2).tolist())


def test_elements_are_orthogonal_and_closed():
    group = build_group("dihedral/sign", parse_network("linear:4,1,1"))
    keys = {g.tobytes() for g in group.inputs}
    for a in group.inputs:
        assert np.array_equal(a.T @ a, np.eye(4, dtype=np.int64))
        for b in group.inputs:
            assert (a @ b).tobytes() in keys


def test_reynolds_projects_onto_commutant():
    group = build_group("cyclic", parse_network("linear:3,1,1"))
    M = np.random.default_rng(0).standard_normal((3, 3))
    R = group.reynolds(M)
    for g in group.inputs:
        np.testing.assert_allclose(g @ R, R @ g, atol=1e-12)
    np.testing.assert_allclose(group.reynolds(R), R, atol=1e-12)


@pytest.mark.parametrize(
    "spec, network, fragment",
    [
        ("foo", "linear:3,1,1", "unknown group 'foo'"),
        ("cyclic/upside", "linear:3,1,1", "unknown output action 'upside'"),
        ("swap:0,7", "linear:3,1,1", "swap:0,7 needs two distinct coordinates in 0..2"),
        ("swap:1", "linear:3,1,1", "swap takes 2 integer argument(s)"),
        ("rot:4", "linear:3,1,1", "needs an even dimension, got 3"),
        ("spm:1,1,3", "linear:3,1,1", "spm needs a signed permutation of 1..3"),
        ("cyclic/same", "linear:3,1,2", "output action 'same' needs as many outputs as inputs"),
        ("flip/trivial*flip/sign", "linear:3,1,1", "inconsistent action"),
        ("tokens-cyclic", "linear:3,1,1", "needs an attention network"),
        ("sym", "linear:8,1,1", "more than 5040 elements (order cap)"),
        ("cyclic:3", "linear:3,1,1", "cyclic takes no arguments"),
    ],
)
def test_bad_groups_get_one_clear_message(spec, network, fragment):
    with pytest.raises(InvalidInput) as error:
        build_group(spec, parse_network(network))
    assert fragment in str(error.value)


def test_non_orthogonal_generator_is_rejected():
    with pytest.raises(InvalidInput, match="input generator 0 is not orthogonal"):
        Group.from_generators([np.array([[2.0, 0], [0, 1]])], [np.eye(1)])


def test_nan_generator_is_rejected():
    with pytest.raises(InvalidInput, match="NaN or inf"):
        Group.from_generators([np.array([[np.nan, 0], [0, 1]])], [np.eye(1)])


def test_group_dimension_mismatch_with_network():
    group = build_group("cyclic", parse_network("linear:3,1,1"))
    with pytest.raises(InvalidInput, match="acts on R\\^3 → R\\^1, but linear:4,1,1 has 4 inputs"):
        group.check_network(parse_network("linear:4,1,1"))


@pytest.mark.parametrize(
    "spec, network",
    [
        ("flip", "linear:3,1,1"),
        ("cyclic", "linear:5,1,1"),
        ("dihedral", "linear:2,1,1"),
        ("dihedral", "linear:5,1,1"),
        ("sym", "linear:4,1,1"),
        ("signperm", "linear:3,1,1"),
        ("rot:6", "linear:4,1,1"),
        ("spm:2,3,-1", "linear:3,1,1"),
        ("spm:2,1,-3,4", "linear:4,1,1"),
        ("tokens-cyclic", "attention:n=4,d=1,dk=1,dv=1"),
        ("tokens-sym", "attention:n=3,d=2,dk=1,dv=1"),
    ],
)
def test_factor_orders_known_before_enumeration_match_the_closure(spec, network):
    network = parse_network(network)
    (factor,) = parse_group(spec).factors
    assert factor_order(factor, network) == build_group(spec, network).order


def test_rot_1_is_the_trivial_group_but_a_near_identity_rotation_is_refused():
    assert build_group("rot:1", "linear:2,1,1").order == 1
    angle = 1e-8
    near = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    with pytest.raises(InvalidInput, match="below the closure's resolution"):
        Group.from_generators([near], [np.eye(1)])


@pytest.mark.parametrize(
    "spec, keeps",
    [
        ("cyclic/same", True),
        ("cyclic/trivial", True),
        ("flip/sign", False),
        ("swap:0,1/sign", False),
        ("cyclic/sign", True),  # a 3-cycle is even: the sign character is trivial
        ("rot:4/same", False),
        ("spm:2,-1,3/same", False),
    ],
)
def test_probability_vectors_are_kept_by_permutation_outputs_only(spec, keeps):
    assert (
        build_group(
            spec, parse_network("linear:3,1,3") if "rot" not in spec else "linear:2,1,2"
        ).keeps_probability_vectors()
        is keeps
    )


def test_order_and_memory_are_bounded_before_any_matrix_is_built():
    with pytest.raises(InvalidInput, match="has about 10\\^2567 elements, more than 5040 elements"):
        build_group("sym", "linear:1000,1,1")
    with pytest.raises(InvalidInput, match="more than max_bytes = 1 MiB"):
        build_group("cyclic", "linear:60,1,1", max_bytes=2**20)
    assert build_group("cyclic", "linear:60,1,1").order == 60


# --- the catalogue: one record per kind, and what each record claims is what the builder does -------------------
def _network_for(kind, n: int):
    if kind.acts_on == "tokens":
        return parse_network(f"attention:n={n},d=1,dk=1,dv=1")
    return parse_network(f"linear:{n},1,{n}")


def _spec_for(kind, n: int) -> str:
    if kind.name == "spm":
        return "spm:" + ",".join(str(-(i + 1)) for i in range(n))  # −I
    return kind.example_head  # swap:0,1, rot:4, or the bare name


def test_catalogue_lists_every_kind_once_in_the_documented_order():
    assert [kind.usage for kind in CATALOGUE.values()] == [
        "flip",
        "cyclic",
        "dihedral",
        "swap:I,J",
        "sym",
        "signperm",
        "rot:N",
        "spm:S1,...,Sn",
        "tokens-cyclic",
        "tokens-sym",
    ]
    ranks = [kind.draw_rank for kind in CATALOGUE.values()]
    assert len(set(ranks)) == len(ranks) and max(ranks) < 100  # see the note above CATALOGUE
    assert all(str(parse_group(kind.example_head)).startswith(kind.example_head) for kind in CATALOGUE.values())


@pytest.mark.parametrize("name", list(CATALOGUE))
@pytest.mark.parametrize("n", [2, 3, 4])
def test_each_record_order_exactness_and_plain_permutation_agree_with_the_built_group(name, n):
    kind = get_group_kind(name)
    if kind.even_dim and n % 2:
        pytest.skip("rot acts on coordinate planes")
    spec = _spec_for(kind, n)
    network = _network_for(kind, n)
    group = build_group(f"{spec}/same", network)
    (factor,) = parse_group(spec).factors
    assert factor.kind is kind
    assert kind.order(factor, n) == group.order
    assert group.exact is kind.exact
    assert kind.is_plain_permutation(factor.args) is group.keeps_probability_vectors()


def test_record_rules_give_the_error_texts():
    with pytest.raises(InvalidInput, match="group 'rot:1,2': rot takes 1 integer argument\\(s\\), e.g. rot:4"):
        parse_group("rot:1,2")
    with pytest.raises(InvalidInput, match="group 'spm': spm needs a one-line signed permutation, e.g. spm:2,-1"):
        parse_group("spm")
    with pytest.raises(InvalidInput, match="rot:N needs N >= 1"):
        parse_group("rot:0")
    with pytest.raises(InvalidInput, match="unknown catalogue group 'nope'; catalogue: flip, cyclic"):
        get_group_kind("nope")


def test_only_rotations_have_an_exact_surrogate():
    rot = get_group_kind("rot")
    (factor,) = parse_group("rot:6").factors
    assert rot.surrogate is not None and rot.surrogate(factor, 4) == "spm:2,-1,4,-3"
    assert rot.surrogate(parse_group("rot:2").factors[0], 2) is None
    assert [kind.name for kind in CATALOGUE.values() if kind.surrogate is not None] == ["rot"]
    assert [kind.name for kind in CATALOGUE.values() if not kind.exact] == ["rot"]


def test_token_kinds_need_token_positions():
    assert parse_network("linear:3,1,1").token_positions is None
    assert parse_network("attention:n=3,d=2,dk=1,dv=2").token_positions == 3
    with pytest.raises(InvalidInput, match="permutes token positions and needs an attention network"):
        factor_order(parse_group("tokens-sym").factors[0], parse_network("linear:3,1,1"))
