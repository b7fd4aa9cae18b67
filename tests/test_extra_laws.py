"""Extra laws: exact identification, and the exact surrogate of rotation groups (checked, not assumed)."""

from harness.laws.counting import count_laws
from harness.laws.extra import exact_surrogate, explicit_extra_laws, extra_laws, same_moment_span
from harness.model.groups import build_group
from harness.model.specs import parse_network


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
    # the quarter turn is not used; what is found comes from rot:5's own (rational) moment span, checked on its
    # float fields
    assert found["group_surrogate"]["same_moment_span"] is False
    assert found["source"].startswith("rational moment span of rot:5/trivial")
    assert all(found["float_residuals"][law] < 1e-12 for law in laws)


def test_rotation_extra_laws_found_through_the_surrogate():
    network = parse_network("deep-linear:2,1,1,1")
    group = build_group("rot:3/trivial", network)
    count = count_laws(network, "augmented", "mse", group)
    laws, found = explicit_extra_laws(network, group, count)
    assert count.extra_laws == len(laws) == 1
    assert found["source"] == "exact surrogate spm:2,-1/trivial"


# --- the class's own moment span, read as rationals (found by the hunt: rot:6 on degree-2 features) ----------


def test_rational_moment_basis_reads_a_rational_span_and_refuses_an_irrational_one():
    import math

    import numpy as np

    from harness.laws.extra import rational_moment_basis

    rotated = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 0.5]])
    mixed = np.array([[0.6, 0.8], [0.8, -0.6]]) @ rotated[:, :2]  # same span, orthogonally mixed rows
    rows = rational_moment_basis(np.hstack([mixed, (np.array([[0.6, 0.8], [0.8, -0.6]]) @ rotated[:, 2:])]))
    assert rows is not None and [[float(v) for v in row] for row in rows] == [[1.0, 0.0, -1.0], [0.0, 1.0, 0.5]]
    assert rational_moment_basis(np.array([[1.0, math.sqrt(2.0)]])) is None


def test_float_group_extra_law_found_on_the_rational_moment_span():
    # rot:6 acts on the 2-dimensional part of degree-2 features by 120°, the quarter turn by 180°: their moment
    # spans differ, so the group surrogate cannot be used; the class's own span has the rational basis it needs.
    network = parse_network("poly:2,1,1,k=2")
    group = build_group("rot:6/trivial", network)
    count = count_laws(network, "augmented", "mse", group, seed=1, find_explicit=False)
    assert count.extra_laws == 1
    laws, evidence = explicit_extra_laws(network, group, count, seed=1)
    assert laws == ["V_00/V_10"], evidence
    assert evidence["group_surrogate"]["same_moment_span"] is False
    assert evidence["float_residuals"]["V_00/V_10"] < 1e-12
