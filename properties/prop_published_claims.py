"""Property 11: the field's published conservation-law claims, reproduced by flowlaws (issue 11, build item 5).

Statement: for every claim of ``properties/published_claims.toml`` (Marcotte, Gribonval, Peyré NeurIPS 2023 and
ICML 2025; Tran et al. 2026; the free-data counts of the tensorizable families) and every size set inside the
claim's scope, the number of independent conservation laws flowlaws computes equals the claimed formula's value
(kind ``count``), is at least it (kind ``at-least``: the laws are claimed, their completeness is not), or equals
the count of the architecture the claim names (kind ``same-as``, e.g. a residual block and its block).

The counts. Every model is counted by the autodiff engine (``harness.laws.autodiff.count_laws_autodiff``: Lie
brackets of the fields ∇_θ L_S of random data sets at random θ, ranks by SVD with a gap); a tensorizable family is
counted by the exact engine (``harness.laws.counting.count_laws``) as well, and both must agree with the claim.
An engine that cannot decide (no clear gap, no closure) makes the case inconclusive with its reason, never a pass.

A disagreement is a violation with its replayable case (claim id, sizes, seed: ``ClaimCase``) and its analysis
(``analyse_disagreement``): each engine's ranks per level and stop reason, the claimed value, the model's published
laws judged along a gradient flow (``harness.dynamics.model_flow``) and the number of them that are independent,
and which side that shows to be wrong.

The class, and which data sets stand for it. The claims are about free data with a loss whose gradients span every
output direction (V_ℓ = R^n: MSE); the autodiff engine stands for the class with random data sets drawn by
``class_datasets`` (H3's), the exact engine with the moment family of the class itself.
"""

from __future__ import annotations

import ast
import importlib.resources
import operator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
import tomllib
from hypothesis import assume, given
from hypothesis import strategies as st

from harness.errors import InvalidInput
from harness.model.family import FAMILIES
from harness.model.scenario import Scenario
from harness.model.specs import spec_family
from harness.testing.profiles import is_explorer
from harness.verdicts.property import NO_PLANT, Plant, Property, enforce
from harness.verdicts.verdict import Verdict

# The table ships beside this module (package data; a copied properties folder keeps it beside its copy).
CLAIMS_FILE = (
    Path(str(importlib.resources.files(__package__).joinpath("published_claims.toml")))
    if __package__
    else Path(str(__spec__.origin)).with_name("published_claims.toml")
)
KINDS = ("count", "at-least", "same-as")
LOCATED = ("read", "restated", "secondary", "computed")
ENGINES = ("exact", "autodiff")  # the exact engine counts only tensorizable families
CASE_FORMAT = "flowlaws-claim-case/1"  # a stored ClaimCase (scenario.json of a report's case folder)
RECOUNT_SEEDS = 3  # a count above its claim is recounted at this many other seeds (the analysis)
CLAIM_KEYS = {"id", "source", "located", "statement", "spec", "data", "loss", "kind", "scope", "where", "gate"}
OPTIONAL_KEYS = {"count", "count_note", "same_as"}


# --- claimed counts: formulas in the sizes -----------------------------------------------------------------------
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv}
_COMPARISONS = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}
_OPERATORS = {**_ARITHMETIC, **_COMPARISONS, ast.Eq: operator.eq, ast.NotEq: operator.ne}
_FUNCTIONS = {"min": min, "max": max}


def evaluate(formula: str, sizes: dict[str, Any]) -> Any:
    """The value of ``formula`` (integers, sizes, + − * //, comparisons, and/or, min, max) at ``sizes``.

    A formula is data read from the claims table, so it is evaluated over this small grammar only (never ``eval``):
    anything else is one ``InvalidInput`` naming the formula.
    """

    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, str)) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in sizes:
                raise InvalidInput(f"formula {formula!r} names {node.id!r}, which is not a size ({', '.join(sizes)})")
            return sizes[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.Compare) and all(type(op) in _OPERATORS for op in node.ops):
            left, result = value(node.left), True
            for op, comparator in zip(node.ops, node.comparators):
                right = value(comparator)
                result = result and _OPERATORS[type(op)](left, right)
                left = right
            return result
        if isinstance(node, ast.BoolOp):
            values = [value(item) for item in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
            return _FUNCTIONS[node.func.id](*(value(argument) for argument in node.args))
        raise InvalidInput(f"formula {formula!r}: {ast.dump(node)[:60]} is outside the claims' formula grammar")

    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError:
        raise InvalidInput(f"formula {formula!r} is not an expression in the sizes") from None
    return value(tree)


# --- the claims table ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    """One published claim: its source, the architecture as a spec template, and the count it claims."""

    id: str
    source: str
    located: str
    statement: str
    spec: str
    data: str
    loss: str
    kind: str
    scope: dict[str, tuple]
    where: tuple[str, ...]
    gate: dict[str, Any]
    count: str | None = None
    count_note: str | None = None
    same_as: str | None = None

    def choices(self, name: str) -> tuple:
        """The values size ``name`` takes in the scope: an inclusive range [lo, hi] of integers, or a list."""
        values = self.scope[name]
        if len(values) == 2 and all(isinstance(v, int) for v in values):
            return tuple(range(values[0], values[1] + 1))
        return tuple(values)

    def in_scope(self, sizes: dict[str, Any]) -> bool:
        """Whether ``sizes`` lies in the claim's scope (each size among its choices, every ``where`` true)."""
        if set(sizes) != set(self.scope):
            return False
        return all(sizes[name] in self.choices(name) for name in self.scope) and all(
            evaluate(condition, sizes) for condition in self.where
        )

    def model_spec(self, sizes: dict[str, Any]) -> str:
        return self.spec.format(**sizes)

    def reference_spec(self, sizes: dict[str, Any]) -> str | None:
        return self.same_as.format(**sizes) if self.same_as else None

    def claimed(self, sizes: dict[str, Any]) -> int | None:
        """The claimed count at ``sizes`` (None for a ``same-as`` claim without a formula)."""
        return None if self.count is None else int(evaluate(self.count, sizes))


def _claim(entry: dict) -> Claim:
    name = entry.get("id", "?")
    missing, unknown = CLAIM_KEYS - set(entry), set(entry) - CLAIM_KEYS - OPTIONAL_KEYS
    if missing or unknown:
        raise InvalidInput(f"claim {name}: missing keys {sorted(missing)}, unknown keys {sorted(unknown)}")
    if entry["kind"] not in KINDS:
        raise InvalidInput(f"claim {name}: kind {entry['kind']!r} is not one of {KINDS}")
    if entry["located"] not in LOCATED:
        raise InvalidInput(f"claim {name}: located {entry['located']!r} is not one of {LOCATED}")
    if (entry["kind"] == "same-as") != ("same_as" in entry) or (entry["kind"] != "same-as" and "count" not in entry):
        raise InvalidInput(f"claim {name}: kind {entry['kind']} needs count (count, at-least) or same_as (same-as)")
    claim = Claim(
        **{key: entry[key] for key in CLAIM_KEYS | OPTIONAL_KEYS if key in entry and key not in ("scope", "where")},
        scope={key: tuple(values) for key, values in entry["scope"].items()},
        where=tuple(entry["where"]),
    )
    if not claim.in_scope(claim.gate):
        raise InvalidInput(f"claim {name}: its gate example {claim.gate} is outside its own scope")
    return claim


@cache
def load_claims(path: Path = CLAIMS_FILE) -> tuple[Claim, ...]:
    """The claims of the table (checked: keys, kinds, formulas over the sizes, the gate example in scope)."""
    table = tomllib.loads(path.read_text(encoding="utf-8"))
    claims = tuple(_claim(entry) for entry in table.get("claim", []))
    if len({claim.id for claim in claims}) != len(claims):
        raise InvalidInput(f"{path.name}: claim ids must be unique")
    return claims


@cache
def untested_claims(path: Path = CLAIMS_FILE) -> tuple[dict, ...]:
    """The claims listed as not testable on our specs or not located precisely, each with its reason."""
    return tuple(tomllib.loads(path.read_text(encoding="utf-8")).get("untested", []))


def claim_named(claim_id: str) -> Claim:
    for claim in load_claims():
        if claim.id == claim_id:
            return claim
    raise InvalidInput(f"unknown claim {claim_id!r}; known: {', '.join(c.id for c in load_claims())}")


# --- one replayable case: a claim, its sizes, a seed -----------------------------------------------------------
@dataclass(frozen=True)
class ClaimCase:
    """A claim at one size set and seed: replayable by ``check(ClaimCase(claim, sizes, seed))``.

    It records like a ``Scenario`` (``to_dict``, ``with_arrays``, one line) because a zoo spec is not a
    ``Scenario`` network: the reports show it and ``check`` replays it from these three fields.
    """

    claim: str
    sizes: tuple[tuple[str, Any], ...]
    seed: int = 0
    size_map: dict = field(init=False, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "size_map", dict(self.sizes))
        if not claim_named(self.claim).in_scope(self.size_map):
            raise InvalidInput(f"sizes {self.size_map} are outside the scope of claim {self.claim}")

    @classmethod
    def of(cls, claim: Claim, sizes: dict[str, Any], seed: int = 0) -> ClaimCase:
        return cls(claim.id, tuple(sorted(sizes.items())), seed)

    @property
    def spec(self) -> str:
        return claim_named(self.claim).model_spec(self.size_map)

    def to_dict(self) -> dict:
        claim = claim_named(self.claim)
        return {
            "format": CASE_FORMAT,
            "claim": self.claim,
            "network": self.spec,
            "group": None,
            "data": claim.data,
            "loss": claim.loss,
            "seed": self.seed,
            "sizes": self.size_map,
        }

    @classmethod
    def from_dict(cls, record: dict) -> ClaimCase:
        """The case a report's ``scenario.json`` stored (``to_dict``), checked against the table."""
        if (
            not isinstance(record, dict)
            or record.get("format") != CASE_FORMAT
            or not isinstance(record.get("sizes"), dict)
        ):
            raise InvalidInput(f"not a published-claims case (expected format {CASE_FORMAT!r} with claim and sizes)")
        return cls.of(claim_named(str(record.get("claim"))), record["sizes"], int(record.get("seed", 0)))

    def with_arrays(self) -> ClaimCase:
        return self  # the counts draw their own data sets from the seed: nothing else to store

    def __str__(self) -> str:
        claim = claim_named(self.claim)
        return f"{self.spec} | - | {claim.data} | {claim.loss} | claim={self.claim} | seed={self.seed}"


# --- the counts ------------------------------------------------------------------------------------------------
def engine_count(engine: str, spec: str, data: str, loss: str, seed: int):
    """The ``LawCount`` of ``spec`` by ``engine`` ("exact": ``count_laws``; "autodiff": ``count_laws_autodiff``)."""
    if engine == "exact":
        from harness.laws.counting import count_laws

        return count_laws(spec, data, loss, seed=seed, find_explicit=False)
    from harness.laws.autodiff import count_laws_autodiff
    from harness.model.zoo import parse_model

    return count_laws_autodiff(parse_model(spec), data, loss, seed=seed)


def engines_for(spec: str) -> tuple[str, ...]:
    """Both engines for a tensorizable family's spec (they must agree), the autodiff engine for any other."""
    return ENGINES if spec_family(spec) in FAMILIES else ("autodiff",)


def published_law_rank(spec: str, seed: int) -> int:
    """The number of independent published laws of the model at a random θ: the rank of their gradients."""
    import torch

    from harness.model.zoo import parse_model

    model = parse_model(spec)
    if not model.law_names:
        return 0
    theta = torch.tensor(model.random_theta(np.random.default_rng(seed)), dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(model.law_function, theta).reshape(len(model.law_names), -1)
    singular = torch.linalg.svdvals(jacobian).numpy()
    return 0 if singular.size == 0 or singular[0] == 0 else int(np.sum(singular > singular[0] * 1e-9))


def analyse_disagreement(spec: str, claim: Claim, seed: int, engine: str, counted: int, claimed: int) -> dict:
    """Which side is wrong: the model's published laws judged along one gradient flow, their rank, other seeds.

    The flow (``harness.dynamics.model_flow``, the one drift rule) shows whether the published laws are laws; their
    gradients' rank says how many are independent. A drifting law: the claim is wrong. Conserved, independent laws
    more than the count: the engine is short. A count at or above them but below the claim: the claim asks for laws
    nobody exhibits. A count above the claim is recounted at other seeds: the Lie rank at any sampled θ* is a lower
    bound of dim Lie(F) at generic θ, so a lower count at another seed shows this one too high (the engine's
    sampled data or θ* explored a sub-class); otherwise a law the claim misses is undecided until one is fitted.
    """
    from harness.dynamics.model_flow import ModelFlow, judge_model_laws
    from harness.model.data import random_dataset
    from harness.model.zoo import parse_model

    model = parse_model(spec)
    rank = published_law_rank(spec, seed)
    rng = np.random.default_rng(seed)
    data = random_dataset(model, 8, rng, loss=claim.loss)  # type: ignore[arg-type]  (a TorchModel has those shapes)
    drift = judge_model_laws(ModelFlow(model, claim.loss, data), model.random_theta(rng))
    others = {}
    if counted > claimed:
        for other in range(seed + 1, seed + 1 + RECOUNT_SEEDS):
            others[other] = engine_count(engine, spec, claim.data, claim.loss, other).laws
    lower = {other: laws for other, laws in others.items() if laws is not None and laws < counted}
    if drift.drifting:
        side = f"claim: published law(s) {', '.join(drift.drifting)} drift along the flow"
    elif counted < claimed and rank > counted and not drift.inconclusive:
        side = f"engine: {rank} independent published laws are conserved along the flow, the engine counts {counted}"
    elif counted < claimed:
        side = f"claim: the engine's {counted} ≥ the {rank} independent published laws; no law is exhibited beyond"
    elif lower:
        side = (
            f"engine: seeds {sorted(lower)} count {sorted(set(lower.values()))} < {counted}, so this count is too high"
        )
    else:
        side = f"undecided: {counted - claimed} law(s) beyond the claim (fit a candidate law, harness.laws.fitted)"
    return {"side": side, "published_law_rank": rank, "flow": drift.to_dict(), "other_seeds": others}


def _summary(count) -> dict:
    return {
        "laws": count.laws,
        "D": count.D,
        "method": str(count.method),
        "stop_reason": str(count.stop_reason),
        "certified": count.certified,
        "lie_rank_by_level": list(count.lie_rank_by_level),
    }


def check_case(
    case: ClaimCase, *, plant: Plant = NO_PLANT, engines: tuple[str, ...] | None = None, analyse: bool = True
) -> Verdict:
    """Count the case's model with each engine and compare with the claim (or with the plant's ``count``).

    ``analyse=False`` leaves a disagreement unanalysed (no flow, no recount): for tests of the comparison alone.
    """
    claim = claim_named(case.claim)
    spec = case.spec
    chosen = engines or engines_for(spec)
    counts = {engine: engine_count(engine, spec, claim.data, claim.loss, case.seed) for engine in chosen}
    evidence: dict[str, Any] = dict(
        claim=claim.id,
        source=claim.source,
        located=claim.located,
        kind=claim.kind,
        spec=spec,
        sizes=case.size_map,
        counts={engine: _summary(count) for engine, count in counts.items()},
        replay=f"check_case(ClaimCase.of(claim_named({claim.id!r}), {case.size_map!r}, seed={case.seed}))",
    )
    reference = claim.reference_spec(case.size_map)
    claimed = claim.claimed(case.size_map)
    if reference is not None:
        reference_counts = {
            engine: engine_count(engine, reference, claim.data, claim.loss, case.seed)
            for engine in (engines or engines_for(reference))
        }
        evidence.update(reference=reference, reference_counts={e: _summary(c) for e, c in reference_counts.items()})
        undecided = [f"{reference} by {e}: {c.stop_reason}" for e, c in reference_counts.items() if not c.conclusive]
        if undecided:
            return Verdict.inconclusive(f"the reference count is inconclusive ({'; '.join(undecided)})", **evidence)
        values = {c.laws for c in reference_counts.values()}
        if len(values) > 1:
            return Verdict.violated(f"the engines disagree on the reference {reference}: {values}", **evidence)
        claimed = values.pop()
    if plant.count is not None:
        claimed = plant.count
    evidence.update(claimed=claimed, planted=plant.count is not None)
    undecided = [f"{engine}: {count.stop_reason}" for engine, count in counts.items() if not count.conclusive]
    if undecided:
        return Verdict.inconclusive(f"count inconclusive ({'; '.join(undecided)})", **evidence)
    assert claimed is not None  # a claim has a count or a reference (checked when the table is read)
    at_least = claim.kind == "at-least"
    laws = {engine: count.laws for engine, count in counts.items() if count.laws is not None}  # all: conclusive
    wrong = {e: n for e, n in laws.items() if (n < claimed if at_least else n != claimed)}
    relation = "≥" if at_least else "="
    if not wrong:
        found = ", ".join(f"{engine} {n}" for engine, n in laws.items())
        return Verdict.holds(f"{claim.id}: {found} {relation} claimed {claimed} ({spec})", **evidence)
    engine, counted = max(wrong.items(), key=lambda item: abs(item[1] - claimed))
    side = "not analysed"
    if analyse:
        evidence["analysis"] = analyse_disagreement(spec, claim, case.seed, engine, counted, claimed)
        side = evidence["analysis"]["side"]
    found = ", ".join(f"{engine} counts {n}" for engine, n in wrong.items())
    return Verdict.violated(
        f"{claim.id} on {spec}: {found}, the claim says {relation} {claimed}; wrong side: {side}",
        **evidence,
    )


def check(scenario: Scenario, *, plant: Plant = NO_PLANT) -> Verdict:
    """The property's check on one case (a ``ClaimCase``: a zoo spec is no ``Scenario`` network)."""
    return check_case(cast(ClaimCase, scenario), plant=plant)


PROPERTY = Property(
    id="published-claims",
    title="Published conservation-law claims are reproduced",
    statement="For every claim of properties/published_claims.toml and sizes in its scope, the computed number of "
    "independent laws (autodiff; and exact for tensorizable families) equals the claimed count (≥ for claims of "
    "laws without completeness; the named block's count for same-as claims).",
    reference="Marcotte, Gribonval, Peyré NeurIPS 2023 Cor. 4.4; ICML 2025 Thm 3.6, 3.8, Cor. 3.9, Prop. 3.2; "
    "Tran et al. 2026 Thm 4.1, 4.2, 4.4, 4.5; theory.md O1, O3, O4, O9, O16",
    check=check,
    plants=frozenset({"count"}),
    case_from_dict=ClaimCase.from_dict,
)


def run_case(case: ClaimCase) -> Verdict:
    """Check and record one case (``enforce`` records it for the report and fails on a violation)."""
    return enforce(PROPERTY, cast(Scenario, case))


@st.composite
def claim_cases(draw, claims: tuple[Claim, ...] | None = None) -> ClaimCase:
    """A claim and sizes drawn inside its scope (smallest sizes first), with a seed."""
    claim = draw(st.sampled_from(claims or load_claims()), label="claim")
    sizes = {name: draw(st.sampled_from(claim.choices(name)), label=name) for name in claim.scope}
    assume(claim.in_scope(sizes))
    return ClaimCase.of(claim, sizes, draw(st.integers(0, 2**16), label="seed"))


@pytest.mark.property
@pytest.mark.parametrize("claim_id", [claim.id for claim in load_claims()])
def test_published_claim_at_its_gate_example(claim_id):
    claim = claim_named(claim_id)
    run_case(ClaimCase.of(claim, claim.gate))


@pytest.mark.property
@given(data=st.data())
def test_published_claims_in_their_scopes(data):
    if not is_explorer():
        pytest.skip("drawn sizes run in the explorer profiles (flowlaws run); the gate runs each claim's example")
    run_case(data.draw(claim_cases(), label="case"))
