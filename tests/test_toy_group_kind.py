"""A group kind defined here alone, registered as one catalogue record, is seen by every reader of the catalogue.

The toy kind ``reverse`` is the reversal x_i ↦ x_{n−1−i} of the coordinates (order 2 for n >= 2), a plain
permutation. It needs no edit outside this file, and it is checked against an independent expectation: on n
coordinates it is the same group as the existing ``spm:n,...,2,1``, so it must build the same matrices and give
the same law counts.
"""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings

from harness.cli import main
from harness.errors import InvalidInput
from harness.laws.counting import count_laws
from harness.model.data import augment, is_closed, random_dataset
from harness.model.groups import (
    CATALOGUE,
    GroupKind,
    build_group,
    expected_order,
    parse_group,
    register_group_kind,
    unregister_group_kind,
)
from harness.model.specs import parse_network
from strategies.groups import group_kind, group_kind_names, groups, kind_acts_on, permutation_kind_names, shape_for
from strategies.scenarios import scenarios

FIND = settings(database=None, max_examples=2000, deadline=None, phases=[Phase.generate, Phase.shrink])
HELP = "reversal of the n coordinates (order 2 for n ≥ 2)"


def _reversal(factor, n):
    matrix = np.eye(n, dtype=np.int64)[::-1].copy()
    return [(matrix, int(round(np.linalg.det(matrix))))]  # the sign character: det of the permutation


REVERSE = GroupKind(
    "reverse", HELP, generators=_reversal, order=lambda factor, n: 2 if n >= 2 else 1, plain_permutation=True, min_dim=2
)


def _equivalent_spm(n: int) -> str:
    return "spm:" + ",".join(str(n - i) for i in range(n))


@pytest.fixture
def reverse():
    register_group_kind(REVERSE)
    try:
        yield REVERSE
    finally:
        unregister_group_kind("reverse")


def test_the_parser_knows_the_kind_only_while_registered(reverse):
    assert str(parse_group("reverse")) == "reverse/trivial"
    assert parse_group("reverse/sign*flip/same").factors[0].kind is reverse
    with pytest.raises(InvalidInput, match="group 'reverse:1': reverse takes no arguments"):
        parse_group("reverse:1")
    with pytest.raises(InvalidInput, match=r"catalogue: flip, .*, reverse; each optionally"):
        parse_group("reversed")
    unregister_group_kind("reverse")
    try:
        with pytest.raises(InvalidInput, match="unknown group 'reverse'"):
            parse_group("reverse")
    finally:
        register_group_kind(REVERSE)


def test_registering_twice_or_removing_an_unknown_kind_is_refused(reverse):
    with pytest.raises(InvalidInput, match="'reverse' is already in the catalogue"):
        register_group_kind(REVERSE)
    with pytest.raises(InvalidInput, match="'no-such-kind' is not in the catalogue"):
        unregister_group_kind("no-such-kind")


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_the_built_group_is_closed_has_the_record_order_and_equals_the_spm_group(reverse, n):
    network = parse_network(f"linear:{n},1,{n}")
    group = build_group("reverse/same", network)
    assert group.order == expected_order("reverse", n) == (2 if n >= 2 else 1)
    assert group.exact
    keys = {g.tobytes() for g in group.inputs}
    for a in group.inputs:
        for b in group.inputs:
            assert (a @ b).tobytes() in keys
    spm = build_group(f"{_equivalent_spm(n)}/same", network)
    assert sorted(keys) == sorted(g.tobytes() for g in spm.inputs)
    assert group.keeps_probability_vectors()


def test_products_and_output_actions_use_the_record(reverse):
    network = parse_network("linear:3,1,1")
    assert build_group("reverse/trivial*flip/sign", network).order == 4
    sign = build_group("reverse/sign", network)
    assert int(sign.outputs[1][0, 0]) == -1  # reversing 3 coordinates is one transposition: χ = −1
    with pytest.raises(InvalidInput, match="output action 'same' needs as many outputs as inputs"):
        build_group("reverse/same", network)


def test_augmentation_closes_a_data_set_under_the_kind(reverse):
    network = parse_network("linear:4,2,4")
    group = build_group("reverse/same", network)
    data = random_dataset(network, 5, np.random.default_rng(0))
    assert not is_closed(data, group)
    augmented = augment(data, group)
    assert augmented.n_samples == 10 and is_closed(augmented, group)


@pytest.mark.parametrize("output", ["trivial", "sign"])
def test_counting_with_the_kind_agrees_with_the_equivalent_spm(reverse, output):
    network = parse_network("linear:3,1,1")
    toy = count_laws(network, "augmented", "mse", f"reverse/{output}", find_explicit=False)
    spm = count_laws(network, "augmented", "mse", f"{_equivalent_spm(3)}/{output}", find_explicit=False)
    free = count_laws(network, "free", "mse", find_explicit=False)
    assert toy.laws is not None and free.laws is not None
    assert toy.laws == spm.laws and toy.laws >= free.laws


def test_the_strategies_draw_the_kind(reverse):
    network = parse_network("linear:3,1,3")
    assert group_kind_names()[-2:] == ("reverse", "product")  # after the built-in kinds, before products
    assert "reverse" in permutation_kind_names()  # so products flip × reverse are drawn too
    assert kind_acts_on("reverse", "same", network)
    assert not kind_acts_on("reverse", "trivial", parse_network("linear:1,1,1"))  # one coordinate: nothing to reverse
    shape = shape_for("reverse", "same")
    assert shape is not None and shape.min_feature_dim == 2 and shape.outputs_match_features
    assert find(groups(network, kinds=("reverse",)), lambda spec: True, settings=FIND) == "reverse/trivial"
    assert group_kind(find(groups(network), lambda spec: group_kind(spec) == "reverse", settings=FIND)) == "reverse"
    product = find(groups(network, kinds=("product",)), lambda spec: "reverse" in spec, settings=FIND)
    assert str(parse_group(product)) == product and build_group(product, network).order == 4


def test_scenarios_of_the_kind_build_and_their_augmented_data_are_closed(reverse):
    @settings(
        max_examples=5, database=None, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(scenarios(group_kinds=("reverse",), data=("augmented",), max_params=8))
    def check(scenario):
        assert group_kind(scenario.group) == "reverse"
        built = scenario.build()
        assert built.group is not None and is_closed(built.data, built.group)

    check()


def test_flowlaws_list_shows_the_kind(reverse, capsys):
    assert main(["list"]) == 0
    assert f"  {'reverse':<16} {HELP}\n" in capsys.readouterr().out
    assert main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["groups"][-1] == {"spec": "reverse", "description": HELP}


def test_the_fixture_leaves_the_catalogue_as_it_was():
    assert "reverse" not in CATALOGUE
    assert "reverse" not in group_kind_names()
