"""harness.laws.counting: known answers (theory.md §0), certificates, verification, and the three methods."""

import dataclasses
from typing import Any

import numpy as np
import pytest

from harness.errors import InvalidInput
from harness.laws.counting import LawCount, count_laws
from harness.laws.fields import build_field_family
from harness.laws.published import law_gradients, verify_published_laws
from harness.model.families.linear import LinearNetwork
from harness.model.specs import parse_network


def certified_or_inconclusive(result: LawCount) -> LawCount:
    """Every count in this suite must carry a certificate; otherwise it must say it has no count."""
    assert (result.laws is not None and result.certified) or (result.laws is None and not result.certified), result
    return result


def gap_ratio(result: LawCount) -> float:
    """The ratio of the spectral gap that set a float count (the count must have one)."""
    assert result.gap is not None and result.gap.ratio is not None, result
    return result.gap.ratio


@pytest.mark.parametrize(
    "arch,laws",
    [
        ("linear:2,2,1", 3),
        ("linear:3,2,2", 3),
        ("linear:2,3,1", 6),
        ("linear:1,3,1", 5),  # O1, r(r+1)/2 and r > n+m
        ("deep-linear:2,2,2", 3),
        ("deep-linear:2,3,2", 6),
        ("deep-linear:2,1,2", 1),
        ("deep-linear:1,2,1", 3),  # O4
        ("deep-linear:2,2,2,2", 6),
        ("deep-linear:1,2,2,1", 7),  # O4, O4b (scalar Φ: D − 1)
        ("poly:2,2,1,k=2", 2),
        ("poly:2,3,1,k=2", 3),
        ("poly:2,2,2,k=3", 2),  # O9: one per hidden neuron
        ("attention:n=2,d=2,dk=1,dv=1", 2),
        ("attention:n=2,d=2,dk=2,dv=1", 4),
        ("attention:n=2,d=2,dk=1,dv=2", 2),
        ("attention:n=3,d=2,dk=2,dv=2", 4),
        ("attention:n=1,d=2,dk=2,dv=1", 5),  # O16 (t = 1 has extra laws)
    ],
)
def test_free_counts_reproduce_the_literature(arch, laws):
    result = certified_or_inconclusive(count_laws(arch, "free", "mse", find_explicit=False))
    assert result.laws == laws and result.free_laws == laws and result.extra_laws == 0
    assert result.method == "exact-modular"


def test_worked_example_has_one_extra_rational_law():
    result = certified_or_inconclusive(count_laws("linear:3,1,1", "augmented", "mse", "cyclic/trivial"))
    assert (result.laws, result.free_laws, result.extra_laws) == (2, 1, 1)
    assert result.certificate == "laws" and result.verified_laws == 2
    assert any("/" in law for law in result.explicit_laws), result.explicit_laws


def test_worked_example_under_logcosh_has_only_the_free_law():
    result = certified_or_inconclusive(count_laws("linear:3,1,1", "augmented", "logcosh", "cyclic/trivial"))
    assert (result.laws, result.free_laws, result.extra_laws) == (1, 1, 0)
    assert result.method == "pointwise-span" and gap_ratio(result) > 1e6


@pytest.mark.parametrize(
    "arch,rot,spm",
    [
        ("linear:2,2,2", "rot:4/trivial", "spm:2,-1/trivial"),
        ("linear:2,2,2", "rot:4/same", "spm:2,-1/same"),
        ("linear:4,2,1", "rot:4/sign", "spm:2,-1,4,-3/sign"),
        ("linear:4,1,1", "rot:4/trivial", "spm:2,-1,4,-3/trivial"),
    ],
)
def test_rot4_float_path_agrees_with_the_signed_permutation(arch, rot, spm):
    floating = certified_or_inconclusive(count_laws(arch, "augmented", "mse", rot, find_explicit=False))
    exact = certified_or_inconclusive(count_laws(arch, "augmented", "mse", spm, find_explicit=False))
    assert floating.method == "float-svd" and exact.method == "exact-modular"
    assert floating.laws == exact.laws is not None
    assert floating.lie_rank_by_level == exact.lie_rank_by_level
    assert gap_ratio(floating) > 1e6 and floating.singular_values


@pytest.mark.parametrize(
    "arch,group",
    [("linear:3,2,2", "cyclic/trivial"), ("linear:2,2,2", "swap:0,1/sign"), ("poly:2,2,1,k=2", "flip/sign")],
)
def test_exact_and_float_methods_agree(arch, group):
    exact = certified_or_inconclusive(count_laws(arch, "augmented", "mse", group, find_explicit=False))
    floating = certified_or_inconclusive(
        count_laws(arch, "augmented", "mse", group, method="float", find_explicit=False)
    )
    assert exact.laws == floating.laws and exact.free_laws == floating.free_laws


@pytest.mark.parametrize("loss", ["logcosh", "cauchy", "pseudo-huber", "quartic"])
def test_free_counts_do_not_depend_on_the_loss(loss):
    mse = count_laws("linear:2,2,2", "free", "mse", find_explicit=False)
    other = certified_or_inconclusive(count_laws("linear:2,2,2", "free", loss, find_explicit=False))
    assert other.laws == mse.laws == 3


@pytest.mark.parametrize(
    "loss,arch", [("logistic", "linear:2,2,1"), ("exp", "linear:2,2,1"), ("cross-entropy", "linear:2,1,2")]
)
def test_label_losses_are_counted_by_pointwise_span(loss, arch):
    result = certified_or_inconclusive(
        count_laws(arch, "augmented", loss, "swap:0,1/same" if loss == "cross-entropy" else "flip/sign")
    )
    assert result.method == "pointwise-span" and result.extra_laws == 0


def test_huber_is_flagged_outside_the_theorem():
    result = count_laws("linear:3,1,1", "augmented", "huber", "cyclic/trivial")
    assert any("not analytic" in note for note in result.notes)


def test_quartic_loses_the_mse_extra_law_on_the_worked_example():
    result = certified_or_inconclusive(
        count_laws("linear:3,1,1", "augmented", "quartic", "cyclic/trivial", find_explicit=False)
    )
    assert result.method == "exact-modular" and result.laws == 1


def test_depth_cap_gives_inconclusive_not_a_count():
    result = certified_or_inconclusive(
        count_laws("linear:4,4,4", "augmented", "mse", "cyclic/trivial", max_depth=2, find_explicit=False)
    )
    assert result.laws is None and result.stop_reason == "depth-cap"
    assert result.to_dict()["laws"] is None


class PlantedLawNetwork(LinearNetwork):
    """linear:2,2,1 with a wrong 'law' ‖U‖² (not conserved) planted among the published ones."""

    def _laws(self, blocks):
        values, scales, names = super()._laws(blocks)
        return values + [(blocks["U"] * blocks["U"]).sum()], scales + [1.0], names + ["planted ‖U‖²"]


def test_planted_wrong_law_is_rejected_and_the_count_is_unchanged():
    network = PlantedLawNetwork(2, 2, 1)
    family = build_field_family(network, "mse", "free")
    checked = verify_published_laws(family)
    assert len(checked.names) == 4 and 3 not in checked.verified and checked.count == 3
    assert certified_or_inconclusive(count_laws(network, "free", "mse", find_explicit=False)).laws == 3


def test_law_gradients_are_exact_modular_gradients():
    network = parse_network("linear:2,1,1")
    theta = np.array([3, 1, 2])  # U = 3, V = (1, 2): h = U² − ‖V‖², ∇h = (2U, −2V_0, −2V_1)
    assert law_gradients(network, theta, exact=True).tolist() == [[6, (-2) % 67108859, (-4) % 67108859]]
    assert law_gradients(network, theta.astype(float), exact=False).tolist() == [[6.0, -2.0, -4.0]]


def test_result_is_frozen_and_serialisable():
    result = count_laws("linear:2,1,1", "free", "mse", find_explicit=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.laws = 5  # pyright: ignore[reportAttributeAccessIssue] (writing a frozen field is the test)
    data = result.to_dict()
    for key in (
        "arch",
        "group",
        "data",
        "loss",
        "D",
        "laws",
        "free_laws",
        "extra_laws",
        "lie_rank_by_level",
        "certified",
        "method",
        "explicit_laws",
        "seconds",
    ):
        assert key in data


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(network="linear:2,x,1"), "not an integer"),
        (dict(network="cnn:2,2"), "unknown network spec"),
        (dict(data_class="augmented"), "needs a group"),
        (dict(data_class="everything"), "data class"),
        (dict(loss="l1"), "unknown loss"),
        (dict(group="swap:0,5", data_class="augmented"), "distinct coordinates"),
        (dict(group="rot:4", data_class="augmented", method="exact"), "float"),
        (dict(group="rot:4", data_class="augmented", find_explicit=True), "exact"),
        (dict(loss="logistic", network="linear:2,1,2"), "scalar output"),
        (dict(method="symbolic"), "method"),
        (dict(max_depth=-1), r"max_depth=-1 must be an integer from 1 to 32"),
        (dict(max_depth=0), r"max_depth=0 must be an integer from 1 to 32"),
        (dict(max_depth=2.5), r"max_depth=2.5 must be an integer"),
        (dict(max_depth=10**6), r"max_depth=1000000 must be an integer from 1 to 32"),
        (dict(seed=-1), r"seed=-1 is not a valid seed; allowed: an integer from 0 to 2\*\*64 - 1"),
        (dict(seed=0.5), r"seed=0.5 is not a valid seed"),
        (dict(find_explicit="yes"), r"find_explicit='yes' must be True, False or None"),
        (dict(max_samples=0), r"max_samples=0 must be an integer from 1 to 1,000,000"),
        (dict(explicit_max_params=-1), r"explicit_max_params=-1 must be an integer from 0"),
    ],
)
def test_bad_input_is_one_clear_error(kwargs, match):
    # the bad values are of any type on purpose: count_laws must reject them at run time
    arguments: dict[str, Any] = dict(network="linear:2,1,1", data_class="free", loss="mse")
    arguments.update(kwargs)
    network = arguments.pop("network")
    with pytest.raises(InvalidInput, match=match):
        count_laws(network, **arguments)


def test_pointwise_span_theta_has_no_accidental_stabiliser():
    # Found by the hunt: θ with numerators in [−6, 6] often had two equal coordinates of v, where the dihedral
    # span really is smaller; a false "pointwise span differs". θ = a / 2^20 with |a| ≤ 10^6 is generic.
    count = count_laws("poly:3,1,1,k=2", "augmented", "pseudo-huber", "dihedral/trivial", seed=203886968)
    assert count.conclusive and count.laws == count.free_laws, count.notes
