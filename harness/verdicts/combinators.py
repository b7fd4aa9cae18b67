"""Three-valued quantifiers over verdicts: ``all_of``, ``for_each(items, check)``, ``for_some(items, check, n)``,
and ``and_then`` for a claim that presupposes another.

A theorem's check is a sentence of quantifiers ("for every extra law, on some of up to N data sets, it drifts")
over cases that each end holds, violated or inconclusive. These combinators are that sentence's grammar, so a
property states its claim once and the three-valued logic is written here, once:

- ``all_of`` / ``for_each`` (a conjunction, "every"): violated if ANY case is violated (one counterexample
  refutes), else inconclusive if any case is (an undecided case is never passed), else holds;
- ``and_then`` (a conjunction whose later parts presuppose the earlier ones, "the counts agree, and then
  each extra law of that count drifts"): the first part that does not hold decides, and nothing after it
  runs (an extra law of a count that did not decide means nothing, so there is no later violation to wait
  for); when all hold, the last part words the verdict;
- ``for_some`` (an existential over a sample of at most ``n`` items, "some"): holds as soon as one case holds,
  violated only if every case tried is violated (none of the members tried is a witness), else inconclusive.

The combined verdict's ``reason`` and ``evidence`` are those of the case that decided: the first violated,
resp. inconclusive case in the items' order, the holding witness of an existential, and the LAST case of a
conjunction that holds (the earlier parts are the premises the last one completes); every deciding case is kept in ``cases`` as
``(item, verdict)`` pairs (all of them when every case is needed: a conjunction that holds, an existential
that is refuted), so a property can word its own reason from the item that decided. ``cases`` never reaches
the JSON: a property chooses what evidence its verdict carries.

Laziness: checks are called in order and only while the outcome is still open. A conjunction stops at the
first violated case (nothing after it can change the verdict), an existential at the first holding one; an
inconclusive case does not stop a conjunction, since a later violation dominates it. ``all_of`` takes
verdicts or zero-argument callables returning them, so expensive halves run only when needed.
"""

from __future__ import annotations

from typing import Callable, Iterable, TypeVar

from harness.verdicts.verdict import Status, Verdict

T = TypeVar("T")


def _decided(status: Status, cases: list[tuple[object, Verdict]], worded_by: int = 0) -> Verdict:
    """The verdict of ``status`` whose reason and evidence are those of the case ``worded_by``."""
    case = cases[worded_by][1]
    return Verdict(status, case.reason, dict(case.evidence), cases=tuple(cases))


def for_each(items: Iterable[T], check: Callable[[T], Verdict]) -> Verdict:
    """∀ item: check(item). Violated dominates, then inconclusive; stops at the first violated case.

    Over no items at all it holds vacuously (a claim about every member of an empty set), with no cases.
    """
    seen: list[tuple[object, Verdict]] = []
    for item in items:
        verdict = check(item)
        if verdict.status is Status.VIOLATED:
            return _decided(Status.VIOLATED, [(item, verdict)])
        seen.append((item, verdict))
    undecided = [case for case in seen if case[1].status is Status.INCONCLUSIVE]
    if undecided:
        return _decided(Status.INCONCLUSIVE, undecided)
    if not seen:
        return Verdict(Status.HOLDS, "vacuously: no case to check")
    return _decided(Status.HOLDS, seen, worded_by=-1)


def all_of(*parts: Verdict | Callable[[], Verdict]) -> Verdict:
    """The conjunction of ``parts`` (verdicts, or callables run in order only while no part is violated)."""
    return for_each(range(len(parts)), lambda index: _force(parts[index]))


def and_then(*steps: Callable[[], Verdict]) -> Verdict:
    """Run ``steps`` in order while each holds; the first that does not hold (or else the last) decides."""
    seen: list[tuple[object, Verdict]] = []
    for index, step in enumerate(steps):
        verdict = step()
        seen.append((index, verdict))
        if verdict.status is not Status.HOLDS:
            return _decided(verdict.status, [(index, verdict)])
    if not seen:
        return Verdict(Status.HOLDS, "vacuously: no step to check")
    return _decided(Status.HOLDS, seen, worded_by=-1)


def for_some(items: Iterable[T], check: Callable[[T], Verdict], n: int | None = None) -> Verdict:
    """∃ item among the first ``n`` (all if None): check(item) holds. Stops at the first holding case.

    Violated only when every case tried is violated: the sample holds no witness. Over no items it is
    inconclusive (nothing was tried, so nothing is refuted either).
    """
    seen: list[tuple[object, Verdict]] = []
    for index, item in enumerate(items):
        if n is not None and index >= n:
            break
        verdict = check(item)
        if verdict.status is Status.HOLDS:
            return _decided(Status.HOLDS, [(item, verdict)])
        seen.append((item, verdict))
    if not seen:
        return Verdict(Status.INCONCLUSIVE, "no case was tried")
    undecided = [case for case in seen if case[1].status is Status.INCONCLUSIVE]
    if undecided:
        return _decided(Status.INCONCLUSIVE, undecided)
    return _decided(Status.VIOLATED, seen)


def _force(part: Verdict | Callable[[], Verdict]) -> Verdict:
    return part if isinstance(part, Verdict) else part()
