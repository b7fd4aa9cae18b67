"""Property 1 can fail: a planted discrepancy in the torch reference is reported as a violation."""

from harness.model.scenario import Scenario
from harness.model.torch_reference import TorchReference
from harness.verdicts.verdict import Status
from properties.prop_torch_reference import check


def test_holds_on_a_real_scenario():
    assert check(Scenario("poly:2,2,1,k=3", seed=4)).status is Status.HOLDS


def test_planted_discrepancy_is_refuted(monkeypatch):
    original = TorchReference.forward

    def shifted(self, x):
        return original(self, x) * (1 + 1e-7)

    monkeypatch.setattr(TorchReference, "forward", shifted)
    verdict = check(Scenario("linear:3,2,2", seed=1))
    assert verdict.status is Status.VIOLATED
    assert verdict.evidence["output_error"] > 1e-10
