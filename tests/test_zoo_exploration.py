"""The zoo exploration property (properties/prop_zoo_exploration.py): its cases, findings and planted claim.

The exploration's one hard claim (the augmented count is never below the free one) must be able to fail: the
planted exchange of the counts is refuted where augmentation adds a law. Its finding on the linear MLP is
compared with the exact engine on the tensorizable twin linear:2,2,1 (the same f), and its findings reach the
report summary, from which the HTML report's findings table is drawn.
"""

from __future__ import annotations

import pytest

from harness.errors import InvalidInput
from harness.laws.counting import count_laws
from harness.reporting.summaries import summarize_test
from harness.verdicts.property import RECORDER, Plant
from harness.verdicts.verdict import Status
from properties.prop_zoo_exploration import EXAMPLES, PROPERTY, QUESTIONS, ZooCase, check_case, run_case

LINEAR = ZooCase("mlp:2,2,1,act=linear,bias=0", "signperm/trivial", "mse")


@pytest.mark.parametrize(
    "model, group, loss, message",
    [
        ("mlp:2,2,1", "cyclic/trivial", "quartic", "polynomial"),  # neither theorem's question
        ("mlp:2,2,1", "cyclic/trivial", "huber", "non-analytic"),
        ("mlp:1,2,1", "swap:0,1/trivial", "mse", "two distinct coordinates"),  # a 1-dimensional input
        ("mlp:2,2,1", "cyclic/trivial", "no-such-loss", "loss"),
        ("nonsense:1", "cyclic/trivial", "mse", "unknown model spec"),
    ],
)
def test_a_bad_case_is_one_clear_error(model, group, loss, message):
    with pytest.raises(InvalidInput, match=message):
        ZooCase(model, group, loss)


def test_the_gate_examples_ask_both_questions():
    assert {case.question for case in EXAMPLES} == set(QUESTIONS.values())


def test_augmentation_adds_laws_to_the_linear_mlp_as_the_exact_engine_says_of_its_tensorizable_twin():
    verdict = check_case(LINEAR)
    assert verdict.status is Status.HOLDS, verdict
    finding = verdict.evidence["findings"][0]
    exact = count_laws("linear:2,2,1", "augmented", "mse", "signperm/trivial", seed=0, find_explicit=False)
    assert (finding["free_laws"], finding["augmented_laws"]) == (exact.free_laws, exact.laws)
    assert finding["extra_laws"] == exact.extra_laws and exact.extra_laws is not None and exact.extra_laws > 0


def test_the_planted_exchange_of_the_counts_is_refuted():
    planted = PROPERTY.verdict(LINEAR, Plant(swap_counts=True))  # type: ignore[arg-type]  (a ZooCase records as one)
    assert planted.status is Status.VIOLATED and "monotonicity" in planted.reason
    with pytest.raises(InvalidInput, match="cannot be planted"):
        PROPERTY.verdict(LINEAR, Plant(count=3))  # type: ignore[arg-type]


def test_a_finding_replays_from_its_case():
    verdict = check_case(LINEAR)
    finding = verdict.evidence["findings"][0]
    assert finding["scenario"] == str(LINEAR) and finding["replay"].startswith("check_case(ZooCase(")
    again = ZooCase.from_dict(LINEAR.to_dict())
    assert again == LINEAR
    assert check_case(again).evidence["findings"] == verdict.evidence["findings"]


def test_findings_reach_the_report_summary():
    RECORDER.take()
    run_case(LINEAR)
    summary = summarize_test("test_zoo_exploration_examples[linear]", RECORDER.take())
    rows = summary["findings"][PROPERTY.id]
    assert len(rows) == 1 and rows[0]["extra_laws"] > 0 and rows[0]["model"] == LINEAR.model
