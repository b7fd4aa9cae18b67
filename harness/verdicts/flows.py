"""Claims about flows read as verdicts: drift judgements against what a theorem expects, and leaf tangency.

Theorems 1 and 2 quantify over laws and data sets ("every extra law drifts on some augmented data set"); the
quantifiers are ``harness.verdicts.combinators``, and this module gives them their cases:

- ``expect(judgement, outcome)``: one drift judgement (``harness.dynamics.conservation``) as a verdict of the
  claim "this law ``outcome``s along this flow" (the expected outcome holds, the other one violates,
  an undecided judgement is inconclusive);
- ``DriftRuns``: the judgements of several laws along a sequence of flows, each flow integrated once, only
  when some law asks for it, and judging only the laws not yet seen to drift (a drifting law needs no
  second witness); what a quantifier over "data set k" calls;
- ``leaf_motion`` / ``LeafMotion``: the formula-free reading of ``harness.laws.extra.LeafTangency`` tests at
  up to n random points: whether the fields move all n extra law directions of a class (holds), only those
  a single gradient can reach (brackets only: inconclusive), fewer (inconclusive), none at every point
  (violated: the laws are conserved), or cannot tell.
"""

from __future__ import annotations

import enum
from typing import Callable, Sequence

import numpy as np

from harness.dynamics.conservation import DriftJudgement, ExplicitLaw, judge_drift
from harness.dynamics.flow import GradientFlow
from harness.laws.extra import LeafTangency
from harness.verdicts.verdict import Status, Verdict


def expect(judgement: DriftJudgement, outcome: str) -> Verdict:
    """The claim "``judgement.law`` is ``outcome`` ('drifts' or 'conserved') along this flow" as a verdict."""
    if judgement.outcome == "inconclusive":
        return Verdict.inconclusive(judgement.reason)
    status = Status.HOLDS if judgement.outcome == outcome else Status.VIOLATED
    return Verdict(status, judgement.reason)


class DriftRuns:
    """Drift judgements of ``laws`` along the flows ``flow_at(k) = (flow, θ₀)``, k = 0, 1, …, each run when first asked.

    Flow k judges the laws not seen to drift along flows 0 … k−1 (that is all a claim "drifts on some data
    set" needs, and all a claim "conserved on every data set" can use before it is refuted). Flow 0 also
    records the plot series; its shared evidence (horizon, statuses, thresholds, series) is ``evidence``.
    """

    def __init__(self, laws: Sequence[ExplicitLaw], flow_at: Callable[[int], tuple[GradientFlow, np.ndarray]]):
        self.laws = list(laws)
        self.flow_at = flow_at
        self.runs: list[list[DriftJudgement]] = []
        self.evidence: dict = {}

    def judgements(self, k: int) -> list[DriftJudgement]:
        """The judgements along flow k (running flows up to k if they have not run yet)."""
        while len(self.runs) <= k:
            index = len(self.runs)
            drifted = {j.law for run in self.runs for j in run if j.outcome == "drifts"}
            flow, start = self.flow_at(index)
            judged, evidence = judge_drift(
                flow, start, [law for law in self.laws if law.text not in drifted], with_series=index == 0
            )
            if index == 0:
                self.evidence = evidence
            self.runs.append(judged)
        return self.runs[k]

    def judgement(self, law: str, k: int) -> DriftJudgement:
        """The judgement of ``law`` along flow k (a law that drifted earlier is not judged again: LookupError)."""
        found = next((j for j in self.judgements(k) if j.law == law), None)
        if found is None:
            raise LookupError(f"{law} drifted along an earlier flow and was not judged along flow {k}")
        return found

    def outcomes(self, law: str) -> list[str]:
        """The outcomes of ``law`` along the flows run so far."""
        return [j.outcome for run in self.runs for j in run if j.law == law]

    def records(self) -> list[dict]:
        """Every judgement, flow by flow, as evidence (``data_set`` = k)."""
        return [{"data_set": k, **j.to_dict()} for k, run in enumerate(self.runs) for j in run]


class LeafMotion(str, enum.Enum):
    """How fields at up to n random θ sit against L = Lie(F)(θ) of a class with extra laws (formula-free test)."""

    ALL_MOVED = "all moved"  # some point: the fields leave L in every extra direction: every extra law moves
    BRACKETS_ONLY = "brackets only"  # as many as a gradient can reach; the rest move by brackets (invisible here)
    FEWER = "fewer"  # fewer directions than a gradient can reach
    TANGENT = "tangent"  # at every one of the n points the fields lie in L: the extra laws are conserved by them
    UNDECIDED = "undecided"  # no clear gap, or ρ between round-off and a clear residual

    def __str__(self) -> str:
        return self.value

    @property
    def status(self) -> Status:
        return {LeafMotion.ALL_MOVED: Status.HOLDS, LeafMotion.TANGENT: Status.VIOLATED}.get(self, Status.INCONCLUSIVE)

    @property
    def message(self) -> str:
        return {
            LeafMotion.ALL_MOVED: "the fields move every extra law direction: the extra laws drift",
            LeafMotion.BRACKETS_ONLY: "the fields move all the directions a gradient reaches; the others "
            "move by brackets only, which a pointwise test cannot see",
            LeafMotion.FEWER: "the fields move fewer directions than a gradient can reach",
            LeafMotion.TANGENT: "the fields lie in Lie(F)(θ) at every point tried: the extra laws are conserved",
            LeafMotion.UNDECIDED: "the tangency test is undecided",
        }[self]


def tangency_at_points(points: int, tangency_at: Callable[[int], LeafTangency]) -> list[LeafTangency]:
    """The tangency tests at points 0, 1, … up to ``points``, stopping at the first where the fields leave L."""
    tried: list[LeafTangency] = []
    for point in range(points):
        tried.append(tangency_at(point))
        if tried[-1].outcome == "outside":
            break
    return tried


def leaf_motion(tried: Sequence[LeafTangency], extra: int, points: int) -> LeafMotion:
    """How the last test of ``tried`` (``tangency_at_points``) moved a class's ``extra`` extra laws."""
    last = tried[-1]
    if last.outcome == "outside":
        if last.moved == extra:
            return LeafMotion.ALL_MOVED
        return LeafMotion.BRACKETS_ONLY if last.moved == last.reachable else LeafMotion.FEWER
    if len(tried) == points and all(t.outcome == "tangent" for t in tried):
        return LeafMotion.TANGENT
    return LeafMotion.UNDECIDED
