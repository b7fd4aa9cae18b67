"""Extra laws: exact identification, and the exact surrogate of rotation groups (checked, not assumed)."""

from harness.counting import count_laws
from harness.extra_laws import exact_surrogate, explicit_extra_laws, extra_laws, same_moment_span
from harness.groups import build_group
from harness.networks import parse_network


def test_extra_laws_keeps_only_laws_that_free_data_breaks():
    network = parse_network("linear:3,1,1")
    laws = ["U_00**2 - V_00**2 - V_10**2 - V_20**2", "(V_00 - V_20)/(V_10 - V_20)"]
    assert extra_laws(network, laws) == ["(V_00 - V_20)/(V_10 - V_20)"]


def test_surrogate_replaces_rotations_by_quarter_turns_per_plane():
    assert exact_surrogate(parse_network("linear:4,1,1"), "rot:5/sign*flip/sign") == "spm:2,-1,4,-3/sign*flip/sign"
    assert exact_surrogate(parse_network("linear:2,1,1"), "cyclic/trivial") is None


def test_surrogate_used_only_when_the_moment_spans_agree():
    linear = parse_network("linear:2,1,4")
    same, _ = same_moment_span(linear, build_group("rot:6/trivial", linear), build_group("spm:2,-1/trivial", linear))
    assert same
    poly = parse_network("poly:2,1,2,k=2")  # degree-4 moments tell rot:5 from the quarter turn
    different, evidence = same_moment_span(poly, build_group("rot:5/trivial", poly), build_group("spm:2,-1", poly))
    assert not different and evidence["ranks"][0] < evidence["ranks"][1]
    group = build_group("rot:5/trivial", poly)
    laws, found = explicit_extra_laws(poly, group, count_laws(poly, "augmented", "mse", group))
    assert laws == [] and found["same_moment_span"] is False


def test_rotation_extra_laws_found_through_the_surrogate():
    network = parse_network("deep-linear:2,1,1,1")
    group = build_group("rot:3/trivial", network)
    count = count_laws(network, "augmented", "mse", group)
    laws, found = explicit_extra_laws(network, group, count)
    assert count.extra_laws == len(laws) == 1
    assert found["source"] == "exact surrogate spm:2,-1/trivial"
