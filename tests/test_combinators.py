"""The three-valued quantifiers of harness.verdicts.combinators: truth tables, kept evidence, laziness."""

import itertools

import pytest

from harness.verdicts.combinators import all_of, and_then, for_each, for_some
from harness.verdicts.verdict import Status, Verdict

H, V, U = Status.HOLDS, Status.VIOLATED, Status.INCONCLUSIVE


def case(status: Status, name: str) -> Verdict:
    return Verdict(status, f"reason {name}", {"name": name})


def conjunction(statuses):
    if V in statuses:
        return V
    return U if U in statuses else H


def existential(statuses):
    if H in statuses:
        return H
    return U if U in statuses or not statuses else V


@pytest.mark.parametrize("statuses", [s for n in range(1, 4) for s in itertools.product((H, V, U), repeat=n)])
def test_truth_tables(statuses):
    verdicts = [case(s, str(k)) for k, s in enumerate(statuses)]
    assert for_each(range(len(verdicts)), lambda k: verdicts[k]).status is conjunction(statuses)
    assert all_of(*verdicts).status is conjunction(statuses)
    assert for_some(range(len(verdicts)), lambda k: verdicts[k]).status is existential(statuses)


def test_empty_quantifiers():
    assert for_each([], lambda item: case(V, "never")).status is H  # vacuous truth
    assert all_of().status is H
    assert for_some([], lambda item: case(H, "never")).status is U  # no witness tried, none refuted


def test_the_deciding_case_is_kept():
    verdicts = {"a": case(H, "a"), "b": case(U, "b"), "c": case(V, "c"), "d": case(U, "d")}
    refuted = for_each(verdicts, verdicts.__getitem__)
    assert refuted.deciding == "c" and refuted.reason == "reason c" and refuted.evidence == {"name": "c"}
    assert [item for item, _ in refuted.cases] == ["c"]
    undecided = for_each("abd", verdicts.__getitem__)  # the first inconclusive decides; all undecided are kept
    assert undecided.deciding == "b" and [item for item, _ in undecided.cases] == ["b", "d"]
    held = all_of(case(H, "premise"), case(H, "conclusion"))  # a conjunction that holds is worded by its last part
    assert held.status is H and len(held.cases) == 2 and held.reason == "reason conclusion"
    witness = for_some("bda", verdicts.__getitem__)
    assert witness.status is H and witness.deciding == "a" and witness.evidence == {"name": "a"}
    no_witness = for_some("cc", verdicts.__getitem__)
    assert no_witness.status is V and len(no_witness.cases) == 2


def test_cases_never_reach_the_json():
    verdict = for_each([1], lambda item: case(H, "x"))
    assert "cases" not in verdict.to_dict() and verdict.to_dict()["evidence"] == {"name": "x"}


def test_laziness():
    called = []

    def check(item):
        called.append(item)
        return case({"h": H, "v": V, "i": U}[item], item)

    for_each("ivhh", check)
    assert called == ["i", "v"]  # nothing after a violation can change the verdict
    called.clear()
    for_some("vihv", check)
    assert called == ["v", "i", "h"]  # the first witness decides
    called.clear()
    for_some("vvvv", check, n=2)
    assert called == ["v", "v"]  # at most n items are tried
    called.clear()
    all_of(lambda: check("v"), lambda: check("h"))
    assert called == ["v"]  # a later part is not even computed


def test_and_then_stops_at_the_first_step_that_does_not_hold():
    called = []

    def step(name, status):
        def run():
            called.append(name)
            return case(status, name)

        return run

    undecided = and_then(step("premise", U), step("claim", V))
    assert undecided.status is U and undecided.reason == "reason premise" and called == ["premise"]
    called.clear()
    held = and_then(step("premise", H), step("claim", H))
    assert held.status is H and held.reason == "reason claim" and called == ["premise", "claim"]
    assert and_then(step("premise", H), step("claim", V)).reason == "reason claim"
    assert and_then().status is H
