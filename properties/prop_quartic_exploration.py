"""Property 8 (exploration): does augmentation add laws under a quartic loss?

Neither theorem covers polynomial losses of degree > 2: the quartic loss ¼Σ(f − y)⁴ makes F a finite
polynomial family again (moments up to order four), so the engine can count it exactly. The property records a
findings table (scenario, free count, augmented count) for the report. Its one hard claim is monotonicity,
which holds for every loss: augmented data sets are data sets, so F_aug ⊆ F_free, Lie(F_aug) ⊆ Lie(F_free),
and the augmented count is never below the free count.

The class, and which data sets stand for it. Both counts are over whole classes (all free, all G-augmented
data sets with the quartic loss), from the exact field families of moments up to order four
(``harness.laws.fields``); no data set is sampled, so no sub-class can stand in for the class by mistake.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.laws.counting import count_laws
from harness.model.family import FAMILIES
from harness.model.scenario import Scenario
from harness.verdicts.property import NO_PLANT, Plant, Property, enforce
from harness.verdicts.verdict import Verdict
from strategies import scenarios


def check(scenario: Scenario, *, plant: Plant = NO_PLANT) -> Verdict:
    """Count free and augmented laws under quartic loss; the plant ``swap_counts`` claims them exchanged."""
    built = scenario.build()
    count = count_laws(built.network, "augmented", "quartic", built.group, seed=scenario.seed, find_explicit=False)
    augmented, free = (count.free_laws, count.laws) if plant.swap_counts else (count.laws, count.free_laws)
    finding = {
        "scenario": str(scenario),
        "arch": count.arch,
        "group": count.group,
        "D": count.D,
        "free_laws": free,
        "augmented_laws": augmented,
        "extra_laws": None if augmented is None or free is None else augmented - free,
        "certified": count.certified,
        "stop_reason": count.stop_reason,
    }
    evidence = dict(findings=[finding], lie_rank_by_level=list(count.lie_rank_by_level), method=count.method)
    if augmented is None or free is None:
        return Verdict.inconclusive(f"quartic count inconclusive ({count.stop_reason})", **evidence)
    if augmented < free:
        return Verdict.violated(f"augmented count {augmented} below free count {free}: monotonicity broken", **evidence)
    verb = "adds" if augmented > free else "adds no"
    return Verdict.holds(f"quartic: augmentation {verb} law(s) ({free} → {augmented})", **evidence)


PROPERTY = Property(
    id="quartic-exploration",
    title="Exploration: augmentation under quartic loss",
    statement="Records free and augmented counts under the quartic loss; checks the augmented count is never "
    "below the free count.",
    reference="Open question beyond arXiv 2606.10913 (DESIGN.md §1, 'open ground')",
    check=check,
    exploration=True,
    plants=frozenset({"swap_counts"}),
)


@pytest.mark.property
@pytest.mark.parametrize("family", FAMILIES)
@given(data=st.data())
def test_quartic_exploration(family, data):
    scenario = data.draw(
        scenarios(
            families=(family,),
            loss_kinds=("polynomial",),
            data=("augmented",),
            max_params=6,
            max_features=6,
            max_order=12,
        ),
        label="scenario",
    )
    enforce(PROPERTY, scenario)
