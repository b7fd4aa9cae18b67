"""``flowlaws selfcheck [--json]``: the harness must refute a planted false conjecture, deterministically.

The planted conjecture: "data augmentation never adds conservation laws under MSE", i.e. for every network
and signed-permutation group G the law count of the G-augmented class equals the count of the free class.
It is false (Galley–Shahverdi–Flinth, Theorem 2; DESIGN.md §1 worked example: ``linear:3,1,1`` under
``cyclic/trivial`` has 2 laws on augmented data, 1 on free data, D = 4). Hypothesis searches small
scenarios (D ≤ 6) with ``derandomize=True`` and no example database, so every run draws, fails and shrinks
the same way; the counts come from ``harness.laws.counting.count_laws`` (exact modular ranks, certified).

The shrunk counterexample gets a full report folder: ``drift.png`` (the explicit laws along the augmented
MSE flow and along the plain flow from the same θ₀, against the integrator's error) and ``spectrum.png``
(singular values of the Lie trace in float arithmetic, with the gap that set the rank).
Exit codes: 0 refuted with a counterexample of at most 5 parameters, 1 otherwise, 2 bad usage.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from harness.errors import InvalidInput
from harness.model.scenario import Scenario
from harness.verdicts.property import Property
from harness.verdicts.verdict import Verdict

MAX_COUNTEREXAMPLE_PARAMS = 5  # the acceptance bound on the shrunk counterexample
MAX_SEARCH_PARAMS = 6  # scenarios drawn have D ≤ this
MAX_EXAMPLES = 100
# The catalogue kinds the planted search draws, in its shrink order (cyclic first), each as its catalogue example
# (swap:0,1); all exact (signed permutations), so every count is an exact modular rank.
SIGNED_PERMUTATION_KINDS = ("cyclic", "flip", "swap", "sym", "dihedral", "signperm")
OUTPUT_ACTIONS = ("trivial", "sign", "same")
NODE = "flowlaws selfcheck"


@functools.lru_cache(maxsize=None)
def _count(network: str, group: str, method: str = "auto", find_explicit: bool | None = False):
    # Shrinking revisits the same (network, group) many times; counts are deterministic (seed 0).
    from harness.laws.counting import count_laws

    return count_laws(network, "augmented", "mse", group, seed=0, method=method, find_explicit=find_explicit)


def augmentation_adds_no_laws(scenario: Scenario) -> Verdict:
    """Compare the law count of the G-augmented MSE class with the free class's (both certified or inconclusive)."""
    if scenario.data != "augmented" or scenario.loss != "mse" or not scenario.group:
        raise InvalidInput(f"the planted conjecture is about augmented data under MSE with a group, got [{scenario}]")
    count = _count(scenario.network, scenario.group)
    evidence = {
        "D": count.D, "augmented_laws": count.laws, "free_laws": count.free_laws,
        "lie_rank_by_level": list(count.lie_rank_by_level),
        "free_lie_rank_by_level": list(count.free_lie_rank_by_level),
        "certificate": count.certificate, "method": count.method, "stop_reason": count.stop_reason,
    }
    if not count.certified or count.free_laws is None:
        return Verdict.inconclusive(f"the count is not certified ({count.stop_reason})", **evidence)
    if count.laws > count.free_laws:
        return Verdict.violated(f"augmented data gives {count.laws} laws, free data {count.free_laws} (D = {count.D})",
                                **evidence)
    return Verdict.holds(f"{count.laws} laws on augmented and free data", **evidence)


PLANTED = Property(
    id="planted-augmentation-adds-no-laws",
    title="(planted, false) Data augmentation never adds conservation laws under MSE",
    statement="For every network and signed-permutation group G, the MSE gradient flow on G-augmented data has "
              "as many independent conservation laws as on free data.",
    reference="False by Galley, Shahverdi, Flinth (arXiv 2606.10913), Theorem 2 and its worked example "
              "(linear:3,1,1 under cyclic/trivial: 2 laws vs 1); planted by `flowlaws selfcheck`.",
    check=augmentation_adds_no_laws,
)


def small_scenarios():
    """Augmented MSE scenarios of linear, deep-linear and poly networks with D ≤ 6 and signed-permutation groups.

    Every choice list starts with its simplest entry, so shrinking goes to small networks and ``cyclic``.
    """
    from hypothesis import assume
    from hypothesis import strategies as st

    from harness.model.groups import build_group, get_group_kind
    from harness.model.specs import parse_network

    kinds = [get_group_kind(name) for name in SIGNED_PERMUTATION_KINDS]
    if not all(kind.exact for kind in kinds):
        raise InvalidInput(f"selfcheck draws exact group kinds only; not exact: {[k.name for k in kinds if not k.exact]}")
    heads = tuple(kind.example_head for kind in kinds)

    @st.composite
    def draw(draw):
        family = draw(st.sampled_from(("linear", "deep-linear", "poly")))
        n_in = draw(st.integers(1, 5))
        hidden = draw(st.integers(1, 2))
        n_out = draw(st.integers(1, 2))
        spec = {"linear": f"linear:{n_in},{hidden},{n_out}",
                "deep-linear": f"deep-linear:{n_in},{hidden},{hidden},{n_out}",
                "poly": f"poly:{n_in},{hidden},{n_out},k=2"}[family]
        network = parse_network(spec)
        assume(network.n_params <= MAX_SEARCH_PARAMS)
        group = f"{draw(st.sampled_from(heads))}/{draw(st.sampled_from(OUTPUT_ACTIONS))}"
        try:
            build_group(group, network)
        except InvalidInput:
            assume(False)
        return Scenario(network=spec, loss="mse", group=group, data="augmented", n_samples=2, seed=0)

    return draw()


def refute(max_examples: int = MAX_EXAMPLES) -> tuple[Scenario | None, BaseException | None, list[dict], int]:
    """Search for a counterexample with Hypothesis (derandomized, no database).

    Returns the shrunk scenario (or None), the exception Hypothesis raised (its notes carry the failing
    example and the reproduce line), the verdict records, and the number of examples tried.
    """
    from hypothesis import HealthCheck, Phase, given, settings

    from harness.verdicts.property import RECORDER, PropertyViolation, enforce

    tried = []

    @settings(derandomize=True, database=None, max_examples=max_examples, deadline=None, print_blob=True,
              phases=[Phase.generate, Phase.shrink], report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck))
    @given(small_scenarios())
    def planted_conjecture(scenario):
        tried.append(scenario)
        enforce(PLANTED, scenario)

    RECORDER.take()
    RECORDER.current_test = NODE
    try:
        planted_conjecture()
    except PropertyViolation as error:
        return error.scenario, error, RECORDER.take(), len(tried)
    finally:
        RECORDER.current_test = None
    return None, None, RECORDER.take(), len(tried)


# ---- evidence for the report's figures ------------------------------------------------------------------


def _law_functions(network, texts: tuple[str, ...]):
    import sympy

    from harness.laws.fields import parameter_symbols

    symbols = parameter_symbols(network)
    names = {str(s): s for s in symbols}
    return [(text, sympy.lambdify(symbols, sympy.sympify(text, locals=names), "numpy")) for text in texts]


def drift_series(scenario: Scenario, law_texts: tuple[str, ...], *, saves: int = 40) -> dict | None:
    """|h(θ(t)) − h(θ₀)| of each explicit law along the augmented MSE flow and the plain (free-data) flow.

    Both flows start at the same θ₀ (drawn from the scenario's seed after the same base data set). The
    integrator's error is estimated, as the laws see it, by |h(θ_{rtol 1e-10}(t)) − h(θ_{rtol 1e-12}(t))| on the
    augmented flow. None when any of the three integrations did not finish (status other than ok).
    """
    import numpy as np

    from harness.dynamics.conservation import SELFCHECK_FIGURE as RULE
    from harness.dynamics.flow import GradientFlow, integrate

    augmented = scenario.build()
    plain = replace(scenario, data="free", arrays=None).build()
    theta0 = augmented.theta0
    flows = {"augmented": GradientFlow(augmented.network, augmented.loss, augmented.data),
             "plain": GradientFlow(plain.network, plain.loss, plain.data)}
    speed = float(np.linalg.norm(flows["augmented"].gradient(theta0))) or 1.0
    horizon = float(np.clip(2.0 * np.linalg.norm(theta0) / speed, 0.5, 10.0))
    runs = {name: integrate(flow, theta0, horizon, "dp5", rtol=RULE.loose_rtol,
                            atol=RULE.loose_rtol * RULE.atol_per_rtol, n_save=saves) for name, flow in flows.items()}
    reference = integrate(flows["augmented"], theta0, horizon, "dp5", rtol=RULE.tight_rtol,
                          atol=RULE.tight_rtol * RULE.atol_per_rtol, n_save=saves)
    failed = [run for run in (*runs.values(), reference) if not run.ok]
    if failed:  # a run that stopped early shows no drift worth drawing: never plot it as conservation
        return None
    laws = _law_functions(augmented.network, law_texts)
    drift, error = {}, np.zeros(len(runs["augmented"].times))
    for text, function in laws:
        for name, run in runs.items():
            values = np.array([float(function(*state)) for state in run.states])
            drift[f"{text} ({name} data)"] = np.abs(values - values[0]).tolist()
        accurate = np.array([float(function(*state)) for state in reference.states])
        coarse = np.array([float(function(*state)) for state in runs["augmented"].states])
        n = min(len(accurate), len(coarse))
        error[:n] = np.maximum(error[:n], np.abs(accurate[:n] - coarse[:n]))
    return {"times": runs["augmented"].times.tolist(), "drift": drift, "error": error.tolist(),
            "statuses": {name: run.status for name, run in runs.items()}}


def figure_evidence(scenario: Scenario) -> dict:
    """Evidence for both figures: explicit laws with their drift series, and the float Lie trace spectrum."""
    evidence = {}
    explicit = _count(scenario.network, scenario.group, "auto", True)
    evidence["explicit_laws"] = list(explicit.explicit_laws)
    series = drift_series(scenario, explicit.explicit_laws) if explicit.explicit_laws else None
    if series is not None:
        evidence["series"] = series
    floating = _count(scenario.network, scenario.group, "float", False)
    if floating.singular_values and floating.gap is not None:
        evidence["singular_values"] = [float(v) for v in floating.singular_values]
        evidence["gap"] = floating.gap.to_dict()
    return evidence


# ---- the command ---------------------------------------------------------------------------------------------


def add_parser(subparsers):
    parser = subparsers.add_parser("selfcheck", help="refute a planted false conjecture (the harness works)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--report-dir", default=None, help="report folder (default: FLOWLAWS_REPORT_DIR, else ./reports)")
    parser.add_argument("--no-report", action="store_true", help="write no report folder")
    parser.set_defaults(handler=run)
    return parser


def run(args) -> int:
    from harness import environment
    from harness.reporting import folders
    report_dir = Path(args.report_dir) if args.report_dir else environment.report_dir()
    if not args.no_report:
        folders.check_writable(report_dir)
    start = time.time()
    scenario, error, records, tried = refute()
    result = {"refuted": scenario is not None, "examples": tried}
    folder = None
    if scenario is not None:
        verdict = error.verdict
        result.update(arch=scenario.network, group=scenario.group, loss=scenario.loss, data=scenario.data,
                      D=verdict.evidence["D"], free_laws=verdict.evidence["free_laws"],
                      augmented_laws=verdict.evidence["augmented_laws"])
        if not args.no_report:
            folder = _write_report(records, error, scenario, report_dir, start)
    result["report"] = str(folder) if folder else None  # the report folder: report.md, scenario.json, plots
    result["seconds"] = round(time.time() - start, 2)
    passed = result["refuted"] and result["D"] <= MAX_COUNTEREXAMPLE_PARAMS
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        _print(result, passed)
    sys.stdout.flush()
    return 0 if passed else 1


def _write_report(records, error, scenario, report_dir, start) -> Path:
    from harness import environment
    from harness.reporting import folders, runs, summaries
    summary = summaries.summarize_test(NODE, records, outcome="failed", exception=error)
    for example in summary["examples"]:
        example["rerun"] = "flowlaws selfcheck"
        if example["verdict"]["status"] == "violated":
            example["verdict"]["evidence"].update(_plain(figure_evidence(scenario)))
    collector = runs.RunCollector()
    collector.add(summary, time.time() - start)
    run, timings = runs.build_run(collector, run_id="selfcheck", profile="selfcheck", seed=None, started=start)
    folder = folders.write_run(run, timings, report_dir, project_root=environment.project_dir())
    violated = next(e["folder"] for e in run.examples if e["verdict"]["status"] == "violated")
    return folder / violated


def _plain(evidence: dict) -> dict:
    # The same JSON conversion every verdict's evidence goes through.
    return Verdict.holds("", **evidence).to_dict()["evidence"]


def _print(result: dict, passed: bool) -> None:
    print('flowlaws selfcheck: planted conjecture "data augmentation never adds conservation laws under MSE"')
    if not result["refuted"]:
        print(f"NOT refuted after {result['examples']} examples: the harness failed its self-check")
        return
    print(f"refuted after {result['examples']} examples (shrinking included) in {result['seconds']} s; "
          "shrunk counterexample:")
    print(f"  network  {result['arch']}  (D = {result['D']})")
    print(f"  group    {result['group']}")
    print(f"  loss     {result['loss']}, {result['data']} data")
    print(f"  laws     augmented data: {result['augmented_laws']}, free data: {result['free_laws']}")
    if result["report"]:
        print(f"  report   {result['report']}")
    if not passed:
        print(f"FAILED: the counterexample has D = {result['D']} > {MAX_COUNTEREXAMPLE_PARAMS} parameters")
