"""The published-claims table and its property (properties/prop_published_claims.py).

The property must be able to fail: a planted wrong count is refuted by both engines, on a tensorizable family
and on a zoo model; the table is read strictly (a bad row is one ``InvalidInput``), its formulas are evaluated over
a small grammar only, and the tensorizable claims' formulas are compared with the exact engine over their whole
scope (cheap: exact ranks).
"""

from __future__ import annotations

import itertools

import pytest

from harness.errors import InvalidInput
from harness.model.zoo import parse_model
from harness.verdicts.property import Plant
from harness.verdicts.verdict import Status
from properties.prop_published_claims import (
    PROPERTY,
    ClaimCase,
    check_case,
    claim_named,
    engines_for,
    evaluate,
    load_claims,
    untested_claims,
)

ROW = """
[[claim]]
id = "x"
source = "s"
located = "read"
statement = "t"
spec = "mlp:{IN},{H},1"
data = "free"
loss = "mse"
kind = "count"
count = "H"
scope = { IN = [1, 2], H = [1, 2] }
where = []
gate = { IN = 1, H = 1 }
"""


def test_every_claim_names_a_model_at_its_gate_sizes_and_a_source():
    claims = load_claims()
    assert len(claims) >= 12
    for claim in claims:
        model = parse_model(claim.model_spec(claim.gate))  # the spec template makes a zoo or tensorizable model
        assert model.n_params > 0 and claim.source and claim.statement
        assert claim.in_scope(claim.gate)
    papers = " ".join(claim.source for claim in claims)
    for anchor in ("NeurIPS 2023", "ICML 2025, Theorem 3.6", "Proposition 3.2", "Corollary 3.9", "Tran et al. 2026"):
        assert anchor in papers
    assert sum("Tran et al. 2026" in claim.source for claim in claims) >= 3


def test_untested_claims_say_why():
    rows = untested_claims()
    assert rows and all(row.get("id") and row.get("source") and row.get("reason") for row in rows)
    assert "linear-conv" in {row["id"] for row in rows}  # not located precisely: said, not guessed


def test_formulas_are_evaluated_over_the_small_grammar_only():
    sizes = {"H": 3, "IN": 2, "OUT": 1, "act": "relu"}
    assert evaluate("H * (H + 1) // 2", sizes) == 6
    assert evaluate("max(IN, OUT) - min(IN, OUT)", sizes) == 1
    assert evaluate("H <= IN + OUT and act == 'relu'", sizes) is True
    assert evaluate("IN >= 3 or OUT == 1", sizes) is True
    for bad in ("__import__('os').getcwd()", "H ** 2", "[H]", "H.real", "K + 1", "H +"):
        with pytest.raises(InvalidInput):
            evaluate(bad, sizes)


@pytest.mark.parametrize(
    "change, message",
    [
        (('kind = "count"', 'kind = "most"'), "kind"),
        (('located = "read"', 'located = "heard"'), "located"),
        (('count = "H"', 'same_as = "mlp:{IN},{H},1"'), "needs count"),
        (("gate = { IN = 1, H = 1 }", "gate = { IN = 1, H = 5 }"), "outside its own scope"),
        (('source = "s"\n', ""), "missing keys"),
        (("where = []", 'where = []\ncolour = "red"'), "unknown keys"),
    ],
)
def test_a_bad_table_row_is_one_clear_error(tmp_path, change, message):
    path = tmp_path / "claims.toml"
    path.write_text(ROW.replace(*change))
    with pytest.raises(InvalidInput, match=message):
        load_claims(path)


def test_a_case_outside_its_claims_scope_is_refused():
    claim = claim_named("relu-two-layer")
    with pytest.raises(InvalidInput, match="outside the scope"):
        ClaimCase.of(claim, {**claim.gate, "H": 99})
    with pytest.raises(InvalidInput, match="outside the scope"):  # the where clause: IN = 1 needs a bias
        ClaimCase.of(claim, {"IN": 1, "H": 2, "OUT": 1, "bias": 0})
    with pytest.raises(InvalidInput, match="unknown claim"):
        claim_named("no-such-claim")


def test_tensorizable_claims_use_both_engines_and_zoo_claims_the_autodiff_one():
    assert engines_for("linear:2,2,1") == ("exact", "autodiff")
    assert engines_for("mlp:2,2,1") == ("autodiff",)


def test_tensorizable_formulas_agree_with_the_exact_engine_over_their_whole_scope():
    checked = 0
    for claim in load_claims():
        if engines_for(claim.model_spec(claim.gate)) != ("exact", "autodiff"):
            continue
        names = list(claim.scope)
        for values in itertools.product(*(claim.choices(name) for name in names)):
            sizes = dict(zip(names, values))
            if claim.in_scope(sizes):
                verdict = check_case(ClaimCase.of(claim, sizes, seed=1), engines=("exact",))
                assert verdict.status is Status.HOLDS, verdict
                checked += 1
    assert checked >= 50


@pytest.mark.parametrize("claim_id", ["linear-two-layer", "swiglu", "relu-conv"])
def test_a_planted_wrong_count_is_refuted(claim_id):
    claim = claim_named(claim_id)
    case = ClaimCase.of(claim, claim.gate)
    truth = check_case(case)
    assert truth.status is Status.HOLDS, truth
    wrong = truth.evidence["claimed"] + 1
    planted = PROPERTY.verdict(case, Plant(count=wrong))  # type: ignore[arg-type]  (a ClaimCase records as a scenario)
    assert planted.status is Status.VIOLATED, planted
    assert planted.evidence["planted"] and planted.evidence["claimed"] == wrong
    assert f"the claim says = {wrong}" in planted.reason
    analysis = planted.evidence["analysis"]  # the published laws are conserved along a flow; no more are exhibited
    assert analysis["published_law_rank"] == truth.evidence["claimed"] and analysis["side"].startswith("claim:")
    assert not any(j["outcome"] == "drifts" for j in analysis["flow"]["judgements"])


def test_at_least_claims_hold_above_and_fail_below():
    claim = claim_named("moe-softmax-gate")
    case = ClaimCase.of(claim, claim.gate)
    assert check_case(case, plant=Plant(count=0)).status is Status.HOLDS
    refuted = check_case(case, plant=Plant(count=10**3), analyse=False)
    assert refuted.status is Status.VIOLATED and "≥" in refuted.reason


def test_same_as_claims_compare_with_the_computed_count_of_the_block():
    claim = claim_named("residual-same-as-block")
    verdict = check_case(ClaimCase.of(claim, claim.gate))
    assert verdict.evidence["reference"] == "mlp:2,2,2,act=tanh,bias=0"
    assert verdict.status is Status.HOLDS, verdict
    assert verdict.evidence["claimed"] == verdict.evidence["reference_counts"]["autodiff"]["laws"]


def test_a_case_records_and_replays_from_its_three_fields():
    claim = claim_named("softmax-attention")
    case = ClaimCase.of(claim, claim.gate, seed=3)
    record = case.with_arrays().to_dict()
    assert record["network"] == "softmax-attention:n=2,d=2,dk=1,dv=1,rope=0" and record["seed"] == 3
    assert "claim=softmax-attention" in str(case)
    again = ClaimCase.from_dict(record)
    assert again == case
    with pytest.raises(InvalidInput, match="not a published-claims case"):
        ClaimCase.from_dict({**record, "format": "flowlaws-scenario/1"})
    assert check_case(again).evidence["counts"] == check_case(case).evidence["counts"]


def test_flowlaws_replay_reads_a_stored_claim_case_through_the_property(tmp_path, capsys):
    """A report's case folder of this property replays from the command line, like any scenario."""
    import json

    from harness.cli import main

    claim = claim_named("swiglu")
    record = {**ClaimCase.of(claim, claim.gate).with_arrays().to_dict(), "property": "published-claims"}
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(record))
    assert main(["replay", str(path)]) == 0
    assert "verdict:  holds" in capsys.readouterr().out
    path.write_text(json.dumps({**record, "sizes": "nonsense"}))
    assert main(["replay", str(path)]) == 2
    assert "is corrupted" in capsys.readouterr().err
