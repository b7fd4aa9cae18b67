"""``flowlaws selfcheck [--json]``: the harness must refute a planted false conjecture, deterministically.

The conjecture, its search and the evidence for the report's figures are ``harness.verdicts.planted``; this
command runs the search, writes the shrunk counterexample's report folder (``drift.png``: the explicit laws
along the augmented MSE flow and along the plain flow from the same θ₀, against the integrator's error;
``spectrum.png``: singular values of the Lie trace in float arithmetic, with the gap that set the rank) and
prints the result. Exit codes: 0 refuted with a counterexample of at most 5 parameters, 1 otherwise, 2 bad
usage.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from harness.verdicts.planted import MAX_COUNTEREXAMPLE_PARAMS, NODE, figure_evidence, refute
from harness.verdicts.verdict import Verdict


def add_parser(subparsers):
    parser = subparsers.add_parser("selfcheck", help="refute a planted false conjecture (the harness works)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--report-dir", default=None, help="report folder (default: FLOWLAWS_REPORT_DIR, else ./reports)"
    )
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
    if scenario is not None and error is not None:  # a counterexample comes with the violation that shrank to it
        verdict = error.verdict
        result.update(
            arch=scenario.network,
            group=scenario.group,
            loss=scenario.loss,
            data=scenario.data,
            D=verdict.evidence["D"],
            free_laws=verdict.evidence["free_laws"],
            augmented_laws=verdict.evidence["augmented_laws"],
        )
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
    from harness.reporting import folders, provenance, runs, summaries

    summary = summaries.summarize_test(NODE, records, outcome="failed", exception=error)
    for example in summary["examples"]:
        example["rerun"] = "flowlaws selfcheck"
        if example["verdict"]["status"] == "violated":
            example["verdict"]["evidence"].update(_plain(figure_evidence(scenario)))
    collector = runs.RunCollector()
    collector.add(summary, time.time() - start)
    root = environment.project_dir()
    run, timings = runs.build_run(
        collector,
        run_id="selfcheck",
        profile="selfcheck",
        seed=None,
        started=start,
        provenance=provenance.collect(root, "flowlaws selfcheck"),
    )
    # ``reports/latest`` stays on the last campaign: a self-check is not a run of the properties.
    folder = folders.write_run(run, timings, report_dir, project_root=root, latest=False)
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
    print(
        f"refuted after {result['examples']} examples (shrinking included) in {result['seconds']} s; "
        "shrunk counterexample:"
    )
    print(f"  network  {result['arch']}  (D = {result['D']})")
    print(f"  group    {result['group']}")
    print(f"  loss     {result['loss']}, {result['data']} data")
    print(f"  laws     augmented data: {result['augmented_laws']}, free data: {result['free_laws']}")
    if result["report"]:
        print(f"  report   {result['report']}")
    if not passed:
        print(f"FAILED: the counterexample has D = {result['D']} > {MAX_COUNTEREXAMPLE_PARAMS} parameters")
