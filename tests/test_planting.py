"""The one planted-claim seam (harness.verdicts.property.Plant): what a plant sets, what a property accepts."""

import pytest

from harness.errors import InvalidInput
from harness.model.scenario import Scenario
from harness.verdicts.discovery import discover_properties
from harness.verdicts.property import NO_PLANT, Plant, Property
from harness.verdicts.verdict import Verdict

SCENARIO = Scenario("linear:2,1,1", "mse", seed=0)


def test_a_plant_names_the_fields_it_sets():
    assert NO_PLANT.planted() == frozenset() and not NO_PLANT
    assert Plant(laws=("V_00",), swap_counts=True).planted() == {"laws", "swap_counts"}
    assert Plant(count=0)  # a claimed count of 0 is still a plant


def test_a_property_runs_unplanted_and_planted_checks_and_refuses_what_it_ignores():
    seen = []

    def check(scenario, *, plant=NO_PLANT):
        seen.append(plant)
        return Verdict.violated("planted") if plant.count is not None else Verdict.holds("fine")

    prop = Property("p", "t", "s", "r", check, plants=frozenset({"count"}))
    assert prop.verdict(SCENARIO).status.value == "holds"
    assert prop.verdict(SCENARIO, Plant(count=3)).status.value == "violated"
    assert seen == [NO_PLANT, Plant(count=3)]
    with pytest.raises(InvalidInput, match="cannot be planted with swap_counts; it understands count"):
        prop.verdict(SCENARIO, Plant(swap_counts=True))
    assert len(seen) == 2  # refused before the check ran


def test_an_unplantable_property_is_called_without_a_plant():
    prop = Property("q", "t", "s", "r", lambda scenario: Verdict.holds("fine"))  # check(scenario) only
    assert prop.verdict(SCENARIO).status.value == "holds"
    with pytest.raises(InvalidInput, match="understands no plant"):
        prop.verdict(SCENARIO, Plant(count=1))


def test_every_shipped_property_that_can_fail_declares_its_plants():
    plants = {found.id: found.property.plants for found in discover_properties()}
    assert plants["theorem1-no-extra-laws"] == {"laws", "field_loss"}
    assert plants["theorem2-mse-extra-laws"] == {"laws"}
    assert plants["equivariant-subspace"] == {"plain_data", "skip_premise"}
    assert plants["quartic-exploration"] == {"swap_counts"}
    assert plants["known-laws-conserved"] == {"law_values"}
    assert plants["leaf-equations"] == {"count"}
    assert plants["free-count-published"] == {"count"}
    assert plants["autodiff-agrees-exact"] == {"count"}
