"""harness.verdicts.flows: drift judgements as verdicts, lazy DriftRuns, the formula-free reading of leaf tangency."""

from typing import Any, cast

import numpy as np
import pytest

from harness.dynamics.conservation import DriftJudgement
from harness.laws.extra import LeafTangency
from harness.verdicts import flows
from harness.verdicts.flows import DriftRuns, LeafMotion, expect, leaf_motion, tangency_at_points
from harness.verdicts.verdict import Status


def judgement(law: str, outcome: str) -> DriftJudgement:
    return DriftJudgement(law, outcome, f"{law} {outcome}", 1.0, 1.0)


@pytest.mark.parametrize(
    "outcome, expected, status",
    [
        ("drifts", "drifts", Status.HOLDS),
        ("conserved", "drifts", Status.VIOLATED),
        ("conserved", "conserved", Status.HOLDS),
        ("drifts", "conserved", Status.VIOLATED),
        ("inconclusive", "drifts", Status.INCONCLUSIVE),
        ("inconclusive", "conserved", Status.INCONCLUSIVE),
    ],
)
def test_expect(outcome, expected, status):
    verdict = expect(judgement("h", outcome), expected)
    assert verdict.status is status and verdict.reason == f"h {outcome}"


class Law:
    def __init__(self, text):
        self.text = text


def test_drift_runs_integrate_each_flow_once_and_only_for_laws_that_have_not_drifted(monkeypatch):
    outcomes = {0: {"a": "drifts", "b": "conserved"}, 1: {"b": "drifts"}}
    calls = []

    def fake_judge(flow, start, laws, *, with_series=False):
        calls.append((flow, [law.text for law in laws], with_series))
        return [judgement(law.text, outcomes[flow][law.text]) for law in laws], {"flow": flow}

    monkeypatch.setattr(flows, "judge_drift", fake_judge)
    # stand-ins: a law is only read for its text, a "flow" is the index the fake judge looks up
    runs = DriftRuns(cast(Any, [Law("a"), Law("b")]), cast(Any, lambda k: (k, np.zeros(1))))
    assert runs.judgement("b", 0).outcome == "conserved"
    assert runs.judgement("a", 0).outcome == "drifts"  # flow 0 ran once for both laws
    assert runs.judgement("b", 1).outcome == "drifts"
    assert calls == [(0, ["a", "b"], True), (1, ["b"], False)]  # a drifted on flow 0: not judged again
    with pytest.raises(LookupError):
        runs.judgement("a", 1)
    assert runs.evidence == {"flow": 0} and runs.outcomes("b") == ["conserved", "drifts"]
    assert [(r["data_set"], r["law"]) for r in runs.records()] == [(0, "a"), (0, "b"), (1, "b")]


def tangency(outcome: str, moved: int = 0, reachable: int | None = None) -> LeafTangency:
    return LeafTangency(outcome, outcome, 2, (1.0,), 1e9, (0.5,), moved, reachable=reachable)


@pytest.mark.parametrize(
    "tried, motion",
    [
        ([tangency("outside", 2, 2)], LeafMotion.ALL_MOVED),
        ([tangency("tangent"), tangency("outside", 1, 1)], LeafMotion.BRACKETS_ONLY),
        ([tangency("outside", 1, 2)], LeafMotion.FEWER),
        ([tangency("tangent"), tangency("tangent")], LeafMotion.TANGENT),
        ([tangency("tangent")], LeafMotion.UNDECIDED),  # one point of two is not enough to refute
        ([tangency("tangent"), tangency("inconclusive")], LeafMotion.UNDECIDED),
    ],
)
def test_leaf_motion(tried, motion):
    assert leaf_motion(tried, extra=2, points=2) is motion
    assert motion.status is {LeafMotion.ALL_MOVED: Status.HOLDS, LeafMotion.TANGENT: Status.VIOLATED}.get(
        motion, Status.INCONCLUSIVE
    )
    assert motion.message


def test_tangency_stops_at_the_first_point_where_the_fields_leave_the_leaf():
    seen = []

    def at(point):
        seen.append(point)
        return tangency("outside" if point == 1 else "tangent", 1)

    assert [t.outcome for t in tangency_at_points(4, at)] == ["tangent", "outside"] and seen == [0, 1]
