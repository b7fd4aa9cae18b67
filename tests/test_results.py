"""harness.laws.results: the count's vocabularies, its JSON, and the certification rule (inconclusive, never a raise)."""

import json
import math
from typing import Any

from harness.algebra.spectral import Gap
from harness.laws import counting
from harness.laws.lie import LieGeneration
from harness.laws.published import VerifiedLaws
from harness.laws.results import Certificate, CountMethod, LawCount, StopReason, certify


def _Generation(rank: int, stop_reason: str) -> LieGeneration:
    return LieGeneration(4, rank, (rank,), StopReason(stop_reason), True, 10)


def test_vocabularies_keep_their_strings():
    assert {r.value for r in StopReason} >= {
        "certificate",
        "involutive",
        "depth-cap",
        "sample-cap",
        "no-clear-gap",
        "points-disagree",
        "pointwise-span-equal",
        "pointwise-span-differs",
    }
    assert Certificate.LAWS == "laws" and CountMethod("float-svd") is CountMethod.FLOAT_SVD
    assert f"{StopReason.DEPTH_CAP}" == "depth-cap" and str(Certificate.INVOLUTIVE) == "involutive"
    assert all(member.message for vocabulary in (StopReason, Certificate, CountMethod) for member in vocabulary)


def test_certify():
    assert certify(_Generation(3, "certificate"), 4, 1) == (certify(_Generation(3, "depth-cap"), 4, 1))
    assert certify(_Generation(3, "depth-cap"), 4, 1).certificate is Certificate.LAWS
    involutive = certify(_Generation(2, "involutive"), 4, 1)
    assert (involutive.laws, involutive.certificate) == (2, Certificate.INVOLUTIVE)
    assert certify(_Generation(2, "depth-cap"), 4, 1).laws is None
    wrong = certify(_Generation(4, "certificate"), 4, 1)
    assert wrong.laws is None and wrong.certificate is None and "exceeds D = 4" in (wrong.inconsistency or "")


def _count(**changes) -> LawCount:
    values: dict[str, Any] = dict(
        arch="linear:2,1,1",
        group=None,
        data="free",
        loss="mse",
        D=3,
        laws=1,
        free_laws=1,
        lie_rank_by_level=(2,),
        free_lie_rank_by_level=(2,),
        certified=True,
        certificate=Certificate.LAWS,
        method=CountMethod.FLOAT_SVD,
        stop_reason=StopReason.CERTIFICATE,
        verified_laws=1,
        singular_values=(1.0, 0.5, 1e-17),
        gap=Gap(2, 4.5e15, 1e6),
    )
    values.update(changes)
    return LawCount(**values)


def test_extra_laws_are_derived_from_the_two_counts():
    assert _count(laws=2, free_laws=1).extra_laws == 1
    assert _count(laws=None).extra_laws is None and _count(free_laws=None).extra_laws is None


def test_law_count_json_keeps_its_layout():
    data = _count().to_dict()
    assert list(data)[:4] == ["arch", "group", "data", "loss"] and list(data)[-1] == "seconds"
    assert data["gap"] == 4.5e15 and data["certificate"] == "laws" and data["method"] == "float-svd"
    assert data["singular_values"] == [1.0, 0.5, 1e-17] and data["lie_rank_by_level"] == [2]
    json.dumps(data, allow_nan=False)


def test_non_finite_numbers_follow_the_one_json_rule():
    data = _count(gap=Gap(0, math.inf, 1e6), singular_values=(math.nan,)).to_dict()
    assert data["gap"] == "inf" and data["singular_values"] == ["nan"]
    assert _count(gap=None).to_dict()["gap"] is None


def test_an_inconsistent_count_is_inconclusive_with_its_reason(monkeypatch):
    def overclaim(family, *, seed=0):  # a planted bug: the one published law counted four times
        names = tuple(family.network.known_law_names())
        return VerifiedLaws(names, (0,), (0, 0, 0, 0))

    monkeypatch.setattr(counting, "verify_published_laws", overclaim)
    result = counting.count_laws("linear:2,1,1", "free", "mse", find_explicit=False)
    assert result.laws is None and not result.certified and result.stop_reason is StopReason.INCONSISTENT
    assert any("exceeds D = 3" in note for note in result.notes)
