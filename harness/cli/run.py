"""``flowlaws run``: a campaign: the properties through pytest and pytest-xdist, then where the report is.

    flowlaws run [--profile quick|ci|thorough] [-n N] [--minutes M] [--seed S] [PROPERTY...]

PROPERTY is a property id or its module name (``prop_x`` or ``x``); none means all. A campaign explores
(profiles ``quick``, ``thorough``): it draws fresh examples from a seed (``--seed``, else a fresh one that is
printed and recorded in the report) through the plugin's ``--flowlaws-seed``, which keeps the shared example
database on, so failures found anywhere replay first. ``--profile ci`` runs the gate's derandomized examples
(no seed, no database).

Exit codes: 0 no violation (inconclusive examples are shown and counted), 1 a violation or a crashed
property test, 2 bad usage or an empty campaign (one message; a campaign that ran no example never says
"no violation"), 130 interrupted (SIGINT, the summary of what ran is still printed), 143 terminated (SIGTERM).

Signals. pytest runs in its own session (process group): Ctrl-C reaches only this process, which forwards
SIGINT to the whole group (pytest and its xdist workers) and waits for the report of what ran; SIGTERM is
forwarded as SIGTERM; a second signal kills the group. If this process dies without a chance to forward
(SIGKILL), the plugin's watchdog in the pytest controller (FLOWLAWS_PARENT_PID) removes the scratch folder
and kills the group.
"""

from __future__ import annotations

import enum
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.errors import InvalidInput
from harness.options import seed_option
from harness.reporting.provenance import COMMAND_VARIABLE

CAMPAIGN_PROFILES = ("quick", "ci", "thorough")  # harness.testing.profiles also has "replay", for single examples
# pytest's start-up, collection and the Numba warm-up from a warm cache take a few seconds; a budget
# below this would end before the first example.
MIN_MINUTES = 0.25
WORKERS_PER_CORE = 4
# After the time budget, workers stop starting examples; this much later the run is interrupted, and
# this much after that it is killed.
_INTERRUPT_GRACE_SECONDS = 30.0
_KILL_GRACE_SECONDS = 30.0


class CampaignExit(enum.IntEnum):
    """The exit codes of ``flowlaws run`` (module docstring), one member per reason a campaign ends."""

    NO_VIOLATION = 0
    VIOLATION = 1  # a violated example, or a crashed property test
    NOTHING_CHECKED = 2  # bad usage, pytest stopped by a usage error, or no example ran
    INTERRUPTED = 130  # SIGINT
    TERMINATED = 143  # SIGTERM

    @property
    def message(self) -> str:
        return {
            CampaignExit.NO_VIOLATION: "no violation (inconclusive examples are shown and counted)",
            CampaignExit.VIOLATION: "a violation, or a property test that crashed",
            CampaignExit.NOTHING_CHECKED: "bad usage or an empty campaign: nothing was checked",
            CampaignExit.INTERRUPTED: "interrupted (SIGINT); the summary of what ran is still printed",
            CampaignExit.TERMINATED: "terminated (SIGTERM)",
        }[self]


_EXIT_ON_SIGNAL = {signal.SIGINT: CampaignExit.INTERRUPTED, signal.SIGTERM: CampaignExit.TERMINATED}


def add_parser(subparsers):
    parser = subparsers.add_parser("run", help="run a property-based campaign and write its report")
    parser.add_argument("properties", nargs="*", metavar="PROPERTY", help="property ids or module names (default: all)")
    parser.add_argument(
        "--profile",
        default="quick",
        help="quick or thorough (explorers: fresh examples, the example database), or ci (the "
        "gate's derandomized examples); default quick",
    )
    parser.add_argument(
        "-n",
        "--workers",
        default=None,
        help=f"pytest-xdist workers: a number up to {WORKERS_PER_CORE} per core, 0 for none, or auto (default: auto)",
    )
    parser.add_argument("--minutes", default=None, help=f"time budget of the whole campaign (at least {MIN_MINUTES:g})")
    parser.add_argument(
        "--seed",
        default=None,
        help="seed of the draws, 0 to 2**64 - 1 (default: a fresh one, printed); the example database stays on",
    )
    parser.add_argument("--report-dir", default=None, help="report folder (default: reports/ in the project)")
    parser.add_argument("--run-id", default=None, help="name of the run's report folder")
    parser.add_argument("--properties-dir", default=None, help="folder of prop_*.py modules (default: properties/)")
    parser.add_argument("--no-plots", action="store_true", help="write reports without figures")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object at the end (exit code, outcome, totals, report folder); pytest's progress "
        "goes to stderr",
    )
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
        matches = [
            p
            for p in discovered
            if name == p.id or stem in (p.module, f"prop_{p.module}") or f"prop_{stem}" == p.module
        ]
        if not matches:
            known = ", ".join(sorted(p.id for p in discovered))
            raise InvalidInput(f"unknown property {name!r}; known properties: {known}")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _workers(value: str | None) -> str:
    if value is None:
        return "auto"
    if value == "auto":
        return value
    if not (value.isascii() and value.isdigit()):
        raise InvalidInput(f"-n must be a number of workers (0 for none) or auto, got {value!r}")
    limit = WORKERS_PER_CORE * _cores()
    if int(value) > limit:
        raise InvalidInput(
            f"-n {int(value)} is more than {WORKERS_PER_CORE} workers per core ({_cores()} cores here: "
            f"at most {limit}); use -n auto for one per core"
        )
    return str(int(value))


def _minutes(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        minutes = float(value)
    except ValueError:
        raise InvalidInput(f"--minutes must be a number of minutes, got {value!r}") from None
    if not minutes > 0 or minutes == float("inf"):
        raise InvalidInput(f"--minutes must be positive and finite, got {value}")
    if minutes < MIN_MINUTES:
        raise InvalidInput(
            f"--minutes {value} is too short to run any example: pytest's start-up and the Numba "
            f"warm-up come first; use at least {MIN_MINUTES:g}"
        )
    return minutes


def _seed(value: str | None) -> int | None:
    return None if value is None else seed_option("--seed", value)


def pytest_command(
    args, chosen: list, *, seed: int | None, summary_file: Path, root: Path, report_dir: Path
) -> list[str]:
    """The pytest invocation of a campaign (the plugin is named explicitly so any properties folder works)."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        *sorted({str(p.path) for p in chosen}),
        "-p",
        "harness.testing.plugin",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:benchmark",
        "-o",
        "python_files=prop_*.py",
        "--tb=short",
        "--rootdir",
        str(root),
        "--flowlaws-profile",
        args.profile,
        "--flowlaws-summary-file",
        str(summary_file),
        "--flowlaws-report-dir",
        str(report_dir),
        "-W",
        "ignore::DeprecationWarning",
    ]
    if seed is not None:
        command.append(f"--flowlaws-seed={seed}")  # not --hypothesis-seed: that would disable the database
    workers = _workers(args.workers)
    if workers != "0":
        command += ["-n", workers, "--dist", "worksteal"]
    else:
        command += ["-p", "no:xdist"]
    if args.run_id:
        command += ["--flowlaws-run-id", args.run_id]
    if args.no_plots:
        command.append("--flowlaws-no-plots")
    if args.minutes is not None:
        command += ["--flowlaws-time-budget", str(args.minutes * 60.0)]
    return command


def run(args) -> int:
    if args.profile not in CAMPAIGN_PROFILES:
        raise InvalidInput(f"unknown profile {args.profile!r}; allowed: {', '.join(CAMPAIGN_PROFILES)}")
    args.minutes = _minutes(args.minutes)
    _workers(args.workers)
    seed = _seed(args.seed)
    if args.profile == "ci" and seed is not None:
        raise InvalidInput(
            "--seed has no effect with --profile ci, the derandomized gate (the same examples every "
            "run); use --profile quick or thorough to explore"
        )
    from harness import environment
    from harness.reporting.folders import check_writable
    from harness.verdicts.discovery import default_properties_dir, discover_properties

    properties_dir = Path(args.properties_dir) if args.properties_dir else default_properties_dir()
    chosen = select(args.properties, discover_properties(properties_dir))
    project = environment.project_dir()
    # pytest's rootdir and working directory: the project folder, unless the user named a properties folder
    # elsewhere (never site-packages, where the installed properties package lives).
    root = properties_dir.resolve().parent if args.properties_dir else project
    report_dir = check_writable(Path(args.report_dir) if args.report_dir else environment.report_dir())
    database = environment.example_database_dir().absolute()
    if args.profile == "ci":
        seeding = "derandomized (the gate's examples), no example database"
    else:
        seed = seed if seed is not None else secrets.randbelow(2**32)
        seeding = f"seed {seed} (--seed {seed} repeats the draws), example database {database}"
    log = sys.stderr if args.json else sys.stdout
    print(
        f"flowlaws run: {len(chosen)} properties, profile {args.profile}, {seeding}"
        + (f", budget {args.minutes:g} min" if args.minutes else ""),
        file=log,
        flush=True,
    )
    if not environment.kernels_cached():
        print(
            "flowlaws run: compiling the Numba kernels (first run only: about a minute; later runs load them from "
            f"{environment.numba_cache_dir()})",
            file=log,
            flush=True,
        )
    scratch = Path(tempfile.mkdtemp(prefix="flowlaws-run-"))
    try:
        summary_file = scratch / "summary.json"
        command = pytest_command(args, chosen, seed=seed, summary_file=summary_file, root=root, report_dir=report_dir)
        environment_variables = {
            **os.environ,
            "FLOWLAWS_EXAMPLE_DB": str(database),
            "FLOWLAWS_PARENT_PID": str(os.getpid()),
            "FLOWLAWS_RUN_SCRATCH": str(scratch),
            "FLOWLAWS_STOP_FILE": str(scratch / "stop"),
            COMMAND_VARIABLE: shlex.join(["flowlaws", *sys.argv[1:]]),  # the report's headline names it
        }
        returncode, budget_hit, stopped_by = _run_pytest(
            command,
            root,
            args.minutes,
            environment_variables,
            stop_file=scratch / "stop",
            stdout=sys.stderr if args.json else None,
        )
        summary = _read_summary(summary_file)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not args.json:
        return _conclude(returncode, budget_hit, summary, stopped_by)
    code = _conclude(returncode, budget_hit, summary, stopped_by, out=sys.stderr)
    record = {
        "exit_code": int(code),
        "outcome": CampaignExit(code).message if code in set(CampaignExit) else f"pytest exit code {code}",
        "totals": None if summary is None else summary.get("totals"),
        "report": None if summary is None else summary.get("report"),
        "profile": args.profile,
        "seed": seed,
    }
    print(json.dumps(record))
    return code


def _read_summary(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # no report written (nothing ran, or pytest was killed while writing)
        return None


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)  # the pytest session: pytest and its xdist workers
    except ProcessLookupError:
        pass


def _run_pytest(
    command: list[str],
    cwd: Path,
    minutes: float | None,
    environment_variables: dict,
    *,
    stop_file: Path | None = None,
    stdout=None,
) -> tuple[int, bool, int | None]:
    """Run pytest in its own session, streaming its progress; returns (exit code, budget hit, signal received).

    The first SIGINT (Ctrl-C) creates ``stop_file``: every worker finishes the example under way and starts
    no other, so the report covers every example that ran (a SIGINT to xdist workers would lose the results
    of the tests under way); a second SIGINT interrupts the session, a third kills it. SIGTERM is forwarded,
    a second one kills. Past the budget the session is interrupted, and killed after a grace period.
    """
    # A shell without job control starts background commands with SIGINT ignored, and children inherit
    # that; pytest must hear the forwarded SIGINT to write the report of what ran.
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=environment_variables,
        start_new_session=True,
        preexec_fn=_default_interrupt,
        stdout=stdout,
    )
    received: list[int] = []

    def forward(signum, frame):
        received.append(signum)
        repeats = received.count(signum)
        if signum == signal.SIGINT and stop_file is not None and repeats == 1:
            stop_file.touch()
            print(
                "\nflowlaws run: stopping after the examples under way (Ctrl-C again to interrupt them)",
                file=sys.stderr,
                flush=True,
            )
        elif signum == signal.SIGINT and stop_file is not None and repeats == 2:
            _signal_group(process, signal.SIGINT)
        else:
            _signal_group(process, signum if repeats == 1 else signal.SIGKILL)

    previous = {signum: signal.signal(signum, forward) for signum in _EXIT_ON_SIGNAL}
    budget_hit = False
    try:
        limit = None if minutes is None else minutes * 60.0 + _INTERRUPT_GRACE_SECONDS
        try:
            process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            budget_hit = True
            print(f"flowlaws run: time budget of {minutes:g} min exceeded; interrupting", file=sys.stderr, flush=True)
            _signal_group(process, signal.SIGINT)
            try:
                process.wait(timeout=_KILL_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if process.poll() is None:  # an exception in this process: never leave the session behind
            _signal_group(process, signal.SIGKILL)
            process.wait()
    return process.returncode, budget_hit, (received[0] if received else None)


def _default_interrupt() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _conclude(
    returncode: int, budget_hit: bool, summary: dict | None, stopped_by: int | None = None, *, out=None
) -> int:
    totals = summary["totals"] if summary is not None else None
    if summary is not None and totals is not None:
        print(
            f"flowlaws run: {totals['examples']} examples: {totals['holds']} hold, {totals['violated']} violated, "
            f"{totals['inconclusive']} inconclusive; {totals['errors']} crashed tests, {totals['skipped']} skipped",
            file=out,
        )
        folder = Path(summary["report"])
        print(f"flowlaws run: report {folder / 'index.html'} (and {folder / 'index.md'})", file=out)
    if stopped_by is not None:
        name = signal.Signals(stopped_by).name
        print(
            f"flowlaws run: stopped by {name}" + ("" if totals is not None else "; no report was written"),
            file=sys.stderr,
            flush=True,
        )
        return _EXIT_ON_SIGNAL[signal.Signals(stopped_by)]
    if totals is not None and (totals["violated"] or totals["errors"]):
        return CampaignExit.VIOLATION
    if returncode == 5:
        raise InvalidInput("pytest collected no property test from the selected modules")
    if returncode not in (0, 1) and not (budget_hit and totals is not None):
        print(f"flowlaws run: pytest stopped with exit code {returncode} (interrupted or usage error)", file=sys.stderr)
        return CampaignExit.NOTHING_CHECKED
    if totals is None or totals["examples"] == 0:
        if returncode == 1:
            print(
                "flowlaws run: tests failed before any property example ran (see pytest's output above)",
                file=sys.stderr,
            )
            return CampaignExit.VIOLATION
        # Never "no violation" for a campaign that checked nothing (e.g. a budget spent on start-up).
        print(
            "flowlaws run: no example ran, so nothing was checked (every test was skipped, or the time budget "
            "ran out before the first example: give it more --minutes)",
            file=sys.stderr,
        )
        return CampaignExit.NOTHING_CHECKED
    return returncode
