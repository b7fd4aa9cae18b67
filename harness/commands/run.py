"""``flowlaws run``: a campaign: the properties through pytest and pytest-xdist, then where the report is.

    flowlaws run [--profile quick|ci|thorough] [-n N] [--minutes M] [--seed S] [PROPERTY...]

PROPERTY is a property id or its module name (``prop_x`` or ``x``); none means all. The run always has a
Hypothesis seed (``--seed``, else a fresh one that is printed), so every report says how to reproduce it.
Exit codes: 0 no violation (inconclusive examples are shown and counted), 1 a violation or a crashed
property test, 2 bad usage (one message).
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.errors import InvalidInput

CAMPAIGN_PROFILES = ("quick", "ci", "thorough")  # harness.profiles also has "replay", for single examples
# After the time budget, workers stop starting examples; this much later the run is interrupted, and
# this much after that it is killed.
_INTERRUPT_GRACE_SECONDS = 30.0
_KILL_GRACE_SECONDS = 30.0


def add_parser(subparsers):
    parser = subparsers.add_parser("run", help="run a property-based campaign and write its report")
    parser.add_argument("properties", nargs="*", metavar="PROPERTY", help="property ids or module names (default: all)")
    parser.add_argument("--profile", default="quick", help="Hypothesis profile: quick, ci or thorough (default quick)")
    parser.add_argument("-n", "--workers", default=None,
                        help="pytest-xdist workers: a number, 0 for none, or auto (default: auto)")
    parser.add_argument("--minutes", type=float, default=None, help="time budget of the whole campaign")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (default: a fresh one, printed)")
    parser.add_argument("--report-dir", default=None, help="report folder (default: reports/ in the project)")
    parser.add_argument("--run-id", default=None, help="name of the run's report folder")
    parser.add_argument("--properties-dir", default=None, help="folder of prop_*.py modules (default: properties/)")
    parser.add_argument("--no-plots", action="store_true", help="write reports without figures")
    parser.set_defaults(handler=run)
    return parser


def select(requested: list[str], discovered: list) -> list:
    """The discovered properties named by ``requested`` (ids or module names), all when it is empty."""
    if not discovered:
        raise InvalidInput("no properties found (a property is a properties/prop_*.py module defining PROPERTY)")
    if not requested:
        return list(discovered)
    chosen = []
    for name in requested:
        stem = Path(name).stem
        matches = [p for p in discovered if name == p.id or stem in (p.module, f"prop_{p.module}") or f"prop_{stem}" == p.module]
        if not matches:
            known = ", ".join(sorted(p.id for p in discovered))
            raise InvalidInput(f"unknown property {name!r}; known properties: {known}")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def _workers(value: str | None) -> str:
    if value is None:
        return "auto"
    if value == "auto" or (value.isdigit() and int(value) >= 0):
        return value
    raise InvalidInput(f"-n must be a number of workers (0 for none) or auto, got {value!r}")


def pytest_command(args, chosen: list, *, seed: int, summary_file: Path, root: Path) -> list[str]:
    """The pytest invocation of a campaign (the plugin is named explicitly so any properties folder works)."""
    command = [sys.executable, "-m", "pytest", *sorted({str(p.path) for p in chosen}),
               "-p", "harness.pytest_plugin", "-p", "no:cacheprovider", "-p", "no:benchmark",
               "-o", "python_files=prop_*.py", "--tb=short",
               "--rootdir", str(root), "--flowlaws-profile", args.profile, f"--hypothesis-seed={seed}",
               "--flowlaws-summary-file", str(summary_file), "-W", "ignore::DeprecationWarning"]
    workers = _workers(args.workers)
    if workers != "0":
        command += ["-n", workers, "--dist", "worksteal"]
    else:
        command += ["-p", "no:xdist"]
    if args.report_dir:
        command += ["--flowlaws-report-dir", str(Path(args.report_dir).absolute())]
    if args.run_id:
        command += ["--flowlaws-run-id", args.run_id]
    if args.no_plots:
        command.append("--flowlaws-no-plots")
    if args.minutes is not None:
        command += ["--flowlaws-time-budget", str(max(args.minutes * 60.0, 1.0))]
    return command


def run(args) -> int:
    if args.profile not in CAMPAIGN_PROFILES:
        raise InvalidInput(f"unknown profile {args.profile!r}; allowed: {', '.join(CAMPAIGN_PROFILES)}")
    if args.minutes is not None and not args.minutes > 0:
        raise InvalidInput(f"--minutes must be positive, got {args.minutes}")
    _workers(args.workers)
    from harness.commands.list import DEFAULT_PROPERTIES_DIR, PROJECT_ROOT, discover_properties
    from harness.reports import check_writable

    properties_dir = Path(args.properties_dir) if args.properties_dir else DEFAULT_PROPERTIES_DIR
    chosen = select(args.properties, discover_properties(properties_dir))
    root = PROJECT_ROOT if properties_dir.resolve() == DEFAULT_PROPERTIES_DIR.resolve() else properties_dir.resolve().parent
    check_writable(Path(args.report_dir) if args.report_dir else root / "reports")
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    print(f"flowlaws run: {len(chosen)} properties, profile {args.profile}, seed {seed}"
          + (f", budget {args.minutes:g} min" if args.minutes else ""), flush=True)
    with tempfile.TemporaryDirectory(prefix="flowlaws-run-") as scratch:
        summary_file = Path(scratch) / "summary.json"
        command = pytest_command(args, chosen, seed=seed, summary_file=summary_file, root=root)
        returncode, budget_hit = _run_pytest(command, root, args.minutes)
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else None
    return _conclude(returncode, budget_hit, summary)


def _run_pytest(command: list[str], cwd: Path, minutes: float | None) -> tuple[int, bool]:
    """Run pytest, streaming its progress; past the budget interrupt it (the report is still written)."""
    # A shell without job control starts background commands with SIGINT ignored, and children inherit
    # that; pytest must hear the budget's SIGINT to write the report of what ran.
    process = subprocess.Popen(command, cwd=cwd, preexec_fn=_default_interrupt)
    limit = None if minutes is None else minutes * 60.0 + _INTERRUPT_GRACE_SECONDS
    try:
        process.wait(timeout=limit)
        return process.returncode, False
    except subprocess.TimeoutExpired:
        print(f"flowlaws run: time budget of {minutes:g} min exceeded; interrupting", file=sys.stderr, flush=True)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=_KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return process.returncode, True
    except KeyboardInterrupt:
        # Ctrl-C reached pytest too (same process group): let it write the report of what ran.
        process.wait()
        raise
    finally:
        if process.poll() is None:  # pragma: no cover - defensive
            process.kill()


def _default_interrupt() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _conclude(returncode: int, budget_hit: bool, summary: dict | None) -> int:
    if summary is not None:
        totals = summary["totals"]
        print(f"flowlaws run: {totals['examples']} examples: {totals['holds']} hold, {totals['violated']} violated, "
              f"{totals['inconclusive']} inconclusive; {totals['errors']} crashed tests, {totals['skipped']} skipped")
        folder = Path(summary["report"])
        print(f"flowlaws run: report {folder / 'index.md'} (and {folder / 'index.html'})")
        if totals["violated"] or totals["errors"]:
            return 1
    if returncode == 0:
        return 0
    if returncode == 1:
        return 1
    if budget_hit and summary is not None:
        return 0
    if returncode == 5:
        raise InvalidInput("pytest collected no property test from the selected modules")
    print(f"flowlaws run: pytest stopped with exit code {returncode} (interrupted or usage error)", file=sys.stderr)
    return 2
