"""Scenarios: deterministic from a seed, JSON round-trip with arrays, clear errors for bad files."""

import json

import numpy as np
import pytest

from harness.errors import InvalidInput
from harness.model.scenario import Scenario


def test_same_seed_same_arrays_and_round_trip(tmp_path):
    scenario = Scenario("linear:3,1,1", "logcosh", "cyclic", "augmented", n_samples=3, seed=11)
    a, b = scenario.build(), scenario.build()
    assert np.array_equal(a.data.x, b.data.x) and np.array_equal(a.theta0, b.theta0)
    path = tmp_path / "scenario.json"
    path.write_text(scenario.with_arrays().to_json())
    loaded = Scenario.load(path)
    assert loaded == scenario
    assert np.array_equal(loaded.build().data.y, a.data.y)
    assert str(loaded) == "linear:3,1,1 | cyclic/trivial | augmented | logcosh | N=3 | seed=11"


def test_bad_scenarios(tmp_path):
    with pytest.raises(InvalidInput, match="'augmented' needs a group"):
        Scenario("linear:3,1,1", data="augmented")
    with pytest.raises(InvalidInput, match="data class 'bootstrapped'"):
        Scenario("linear:3,1,1", data="bootstrapped")
    with pytest.raises(InvalidInput, match="cannot read scenario file"):
        Scenario.load(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "flowlaws-scenario/1", "network": ')
    with pytest.raises(InvalidInput, match="is corrupted: not valid JSON"):
        Scenario.load(broken)
    alien = tmp_path / "alien.json"
    alien.write_text(json.dumps({"hello": 1}))
    with pytest.raises(InvalidInput, match="not a flowlaws scenario"):
        Scenario.load(alien)
    stored = json.loads(Scenario("linear:3,1,1").with_arrays().to_json())
    stored["arrays"]["theta0"] = [0.0, float("nan"), 0.0, 0.0]
    with pytest.raises(InvalidInput, match="theta0 must be 4 finite numbers"):
        Scenario.from_dict(stored).build()
