"""The flowlaws pytest plugin (loaded from the root conftest): profiles, seeds, threads, Numba warm-up, reports.

Options live under ``--flowlaws-*``. Hypothesis's own ``--hypothesis-profile`` also works; without either,
the ``ci`` profile (or FLOWLAWS_PROFILE) is loaded explicitly, so a CI variable never switches profiles
silently.

Gate and explorer (see ``harness.testing.profiles``). Under the derandomized gate ``ci`` there is no seed and no
example database. Under an explorer profile every test's draws come from ``--flowlaws-seed S`` (drawn and
recorded when not given) and the test's node id, while the example database stays on: Hypothesis's own
``--hypothesis-seed`` also fixes the draws, but disables the database (Hypothesis sets no database key
under a forced seed), so failures found elsewhere are not replayed and new ones are not saved.

Reports. Each test's verdict records (``harness.verdicts.property.RECORDER``) are reduced in the process that ran
the test (``harness.reporting.reports.summarize_test``) and shipped in ``report.user_properties``, which
pytest-xdist relays to the controller; the controller (or the single process) writes
``<report dir>/<run-id>/`` atomically at the end of the session. Runs that recorded no verdict and
collected no property (plain unit tests) write nothing.

Under ``flowlaws run`` (FLOWLAWS_PARENT_PID set), the controller watches its parent: if ``flowlaws run``
dies, even by SIGKILL, the controller removes the run's scratch folder and kills its own process group
(itself and its xdist workers), so that no orphan writes a report later.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

import harness.environment

# Before anything below imports numpy, numba or torch (they read their thread and cache settings once).
harness.environment.configure()

from harness.testing.profiles import (  # noqa: E402  (after configure(), on purpose)
    PROFILE_EXAMPLES,
    database_problem,
    example_database_path,
    is_explorer,
    load_profile,
    register_profiles,
)

register_profiles()

SUMMARY_KEY = "flowlaws"
_STATE_KEY = pytest.StashKey[dict]()


# The parent-death watchdog's polling period: how long an orphaned campaign may outlive ``flowlaws run``.
_WATCHDOG_SECONDS = 0.2


def _seed_option(text: str) -> int:
    """--flowlaws-seed S: the same rule as every seed flowlaws takes (0 <= S < 2**64)."""
    from harness.cli.options import seed_option
    from harness.errors import InvalidInput

    try:
        return seed_option("--flowlaws-seed", text)
    except InvalidInput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def pytest_addoption(parser):
    group = parser.getgroup("flowlaws")
    group.addoption(
        "--flowlaws-profile",
        choices=sorted(PROFILE_EXAMPLES),
        default=None,
        help="Hypothesis profile for flowlaws properties (default: FLOWLAWS_PROFILE or ci, the derandomized gate)",
    )
    group.addoption(
        "--flowlaws-seed", type=_seed_option, default=None, metavar="S",
        help="explorer profiles (quick, thorough): make every test's draws a function of S and its node id, "
             "keeping the example database (--hypothesis-seed disables it); default: a fresh seed, "
             "recorded in the report",
    )
    group.addoption(
        "--flowlaws-no-warmup", action="store_true", help="skip compiling the Numba kernels before workers start"
    )
    group.addoption("--flowlaws-report-dir", default=None,
                    help="where run reports go (default: FLOWLAWS_REPORT_DIR or <rootdir>/reports)")
    group.addoption("--flowlaws-run-id", default=None,
                    help="name of this run's report folder (default: <profile>-seed<S> with a given seed, "
                         "else a UTC timestamp); an existing folder is never replaced, a suffix is added")
    group.addoption("--flowlaws-no-report", action="store_true", help="write no report")
    group.addoption("--flowlaws-max-examples", type=int, default=None, metavar="N",
                    help="examples per property test, overriding the profile's max_examples")
    group.addoption("--flowlaws-no-plots", action="store_true", help="write reports without figures")
    group.addoption("--flowlaws-time-budget", type=float, default=None, metavar="SECONDS",
                    help="stop starting new examples after this many seconds (a found violation is still shrunk)")
    # For ``flowlaws run``: where the controller writes the run's totals and report folder as JSON.
    group.addoption("--flowlaws-summary-file", default=None, help=argparse.SUPPRESS)


def _is_xdist_worker(config) -> bool:
    return hasattr(config, "workerinput")


def _report_dir(config) -> Path:
    chosen = config.getoption("--flowlaws-report-dir") or os.environ.get("FLOWLAWS_REPORT_DIR")
    return Path(chosen) if chosen else Path(config.rootpath) / "reports"


def _run_id(config, profile: str, seed, seed_given: bool) -> str:
    chosen = config.getoption("--flowlaws-run-id")
    if chosen:
        return chosen
    if seed is not None and seed_given:
        return f"{profile}-seed{seed}"
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{secrets.token_hex(2)}"


def _hypothesis_seed(value):
    """Hypothesis's ``--hypothesis-seed`` as given (an int when it is one), or None."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def per_test_seed(seed: int, nodeid: str) -> int:
    """The seed of one test's draws in an explorer run: a function of the run's seed and the node id only.

    Node ids are relative to the rootdir, so the same test on another host or xdist worker, in any order,
    draws the same examples.
    """
    return int.from_bytes(hashlib.sha256(f"{seed}\0{nodeid}".encode()).digest()[:16], "big")


def _seed_hypothesis(seed: int) -> int:
    """Make the next @given test of this thread draw from ``Random(seed)``; returns the seed it will use.

    Private API, on purpose. Hypothesis draws an unforced, non-derandomized test's seed from
    ``hypothesis.core.threadlocal._hypothesis_global_random`` (``get_random_for_wrapped_test``). The public
    ways to fix that seed disable the example database: ``--hypothesis-seed`` sets ``global_force_seed``,
    under which ``run_engine`` uses no database key, and ``@seed`` / ``derandomize`` imply database=None.
    Replacing the per-thread Random just before the test keeps the database on. ``tests/test_gate.py`` fails
    loudly if a Hypothesis upgrade changes this, and ``_check_seed_reached`` warns at run time.
    """
    import hypothesis.core

    hypothesis.core.threadlocal._hypothesis_global_random = random.Random(seed)
    return random.Random(seed).getrandbits(128)  # what get_random_for_wrapped_test will draw from it


def _pin_local_constants() -> None:
    """Stop Hypothesis from drawing the literals of whatever local modules happen to be imported.

    Private API, on purpose. Hypothesis (``providers._get_local_constants``) mixes into its draws the
    constants of every non-site-packages module in ``sys.modules`` at draw time, so the same test with the
    same seed draws differently depending on which tests ran before it in that process, i.e. on
    pytest-xdist's scheduling. The gate must not depend on that, nor must a seeded explorer; our
    strategies name their own edge cases. ``tests/test_gate.py`` pins this.
    """
    from hypothesis.internal.conjecture import providers

    empty = providers.Constants()
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE.cache.clear()


def _pin_torch_threads() -> None:
    """One torch thread per process, without paying torch's import in runs that never use it.

    ``harness.environment.configure()`` already set OMP_NUM_THREADS=1, which torch reads when it is first
    imported; a torch imported before that is pinned explicitly here and after collection.
    """
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def pytest_collection_finish(session):
    _pin_torch_threads()


def _load_profile(config, database_path: Path) -> str:
    from hypothesis import settings

    explicit = config.getoption("--hypothesis-profile", default=None)
    if explicit and explicit not in PROFILE_EXAMPLES:
        return explicit  # someone's own profile, loaded by Hypothesis's plugin as given
    profile = load_profile(explicit or config.getoption("--flowlaws-profile"), database_path)
    examples = config.getoption("--flowlaws-max-examples")
    if examples is not None:
        if examples < 1:
            raise pytest.UsageError(f"flowlaws: --flowlaws-max-examples={examples} must be a positive integer")
        settings.register_profile(f"{profile}-x{examples}", parent=settings.get_profile(profile), max_examples=examples)
        settings.load_profile(f"{profile}-x{examples}")
    return profile


MARKERS = (
    "property: a theorem-level property checked under Hypothesis",
    "slow: long-running checks (thorough campaigns)",
)


def pytest_configure(config):
    from hypothesis import settings

    # Registered here, not only in pyproject.toml: an installed copy runs properties outside the repository.
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)

    worker = getattr(config, "workerinput", None)
    # Workers (possibly on other hosts, where the controller's environment does not reach) use the
    # controller's database folder and seed.
    database_path = Path(worker["flowlaws_example_db"]) if worker and "flowlaws_example_db" in worker \
        else example_database_path()
    profile = _load_profile(config, database_path)
    _pin_local_constants()
    _pin_torch_threads()
    forced = _hypothesis_seed(config.getoption("--hypothesis-seed", default=None))
    given = config.getoption("--flowlaws-seed")
    explorer = is_explorer()
    if given is not None and not explorer:
        raise pytest.UsageError(f"flowlaws: --flowlaws-seed has no effect under the {profile} profile, which is "
                                "derandomized (the gate); use --flowlaws-profile quick or thorough to explore")
    if given is not None and forced is not None:
        raise pytest.UsageError("flowlaws: give --flowlaws-seed (keeps the example database) or --hypothesis-seed "
                                "(bypasses it), not both")
    if forced is not None:
        seed, seeding = forced, "hypothesis-seed"
    elif not explorer:
        seed, seeding = None, ("derandomized" if settings().derandomize else None)
    elif worker and "flowlaws_seed" in worker:
        seed, seeding = worker["flowlaws_seed"], "flowlaws-seed"
    else:
        seed, seeding = (given if given is not None else secrets.randbelow(2**32)), "flowlaws-seed"
    state = {
        "profile": profile,
        "seed": seed,
        "seeding": seeding,
        "database": database_path if settings().database is not None else None,
        "started": time.time(),
        "deadline": None,
        # ``flowlaws run`` creates this file on the first Ctrl-C: finish the examples under way, start no more.
        "stop_file": os.environ.get("FLOWLAWS_STOP_FILE") or None,
    }
    budget = config.getoption("--flowlaws-time-budget")
    if budget is not None:
        state["deadline"] = time.monotonic() + budget
    config.stash[_STATE_KEY] = state
    if not _is_xdist_worker(config):
        _start_parent_watchdog()
        if state["database"] is not None:
            problem = database_problem(settings().database)
            if problem:  # once, in the controller; Hypothesis itself would stay silent
                sys.stderr.write(f"flowlaws: warning: {problem}\n")
                sys.stderr.flush()
        if not config.getoption("--flowlaws-no-report"):
            from harness.errors import InvalidInput
            from harness.reporting.reports import RunCollector, check_writable

            try:
                state["report_dir"] = check_writable(_report_dir(config))
            except InvalidInput as error:
                raise pytest.UsageError(f"flowlaws: {error}") from None
            state["run_id"] = _run_id(config, profile, seed, given is not None or forced is not None)
            config.pluginmanager.register(CampaignReport(config, RunCollector()), "flowlaws-campaign-report")
        if not config.getoption("--flowlaws-no-warmup"):
            # Compile (or load from the on-disk cache) every kernel once in the controller, so that xdist
            # workers only ever load cached machine code.
            from harness.kernels import warmup

            warmup.warm_up()
    os.environ.setdefault("FLOWLAWS_PYTEST", "1")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist controller: hand each worker the run's seed and database folder (ssh workers lack our env)."""
    state = node.config.stash[_STATE_KEY]
    if state["seeding"] == "flowlaws-seed":
        node.workerinput["flowlaws_seed"] = state["seed"]
    node.workerinput["flowlaws_example_db"] = str(example_database_path() if state["database"] is None
                                                  else state["database"])


def pytest_report_header(config):
    state = config.stash[_STATE_KEY]
    seed = {"flowlaws-seed": f"seed {state['seed']} (--flowlaws-seed={state['seed']} reproduces the draws)",
            "hypothesis-seed": f"--hypothesis-seed={state['seed']} (the example database is bypassed)",
            "derandomized": "derandomized (the gate: same examples every run, no example database)"}
    database = f"example database {state['database']}" if state["database"] is not None else "no example database"
    return [f"flowlaws: profile {state['profile']}, {seed.get(state['seeding'], 'no seed')}, {database}"]


def _start_parent_watchdog() -> None:
    """Under ``flowlaws run``: when it dies (even by SIGKILL), take this pytest and its workers down too.

    A thread polling ``os.getppid()`` rather than prctl(PR_SET_PDEATHSIG): the death signal would reach
    only this process, not the xdist workers it starts, and fires on the death of the parent *thread*.
    ``flowlaws run`` starts pytest in its own session, so the process group is exactly this campaign.
    """
    parent = os.environ.pop("FLOWLAWS_PARENT_PID", None)  # popped: tests that start pytest must not inherit it
    scratch = os.environ.pop("FLOWLAWS_RUN_SCRATCH", None)
    if not parent or not parent.isdigit():
        return
    parent_pid = int(parent)

    def orphaned() -> None:
        if scratch and Path(scratch).name.startswith("flowlaws-run-"):
            shutil.rmtree(scratch, ignore_errors=True)
        if os.getpgrp() == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_WATCHDOG_SECONDS)
        orphaned()

    threading.Thread(target=watch, name="flowlaws-parent-watchdog", daemon=True).start()


@pytest.fixture(scope="session")
def flowlaws_profile() -> str:
    """Name of the Hypothesis profile in force."""
    from hypothesis import settings

    return settings._current_profile  # Hypothesis exposes no public getter


# ---- per test: verdict records → summary in user_properties ------------------------------------------


def _module_properties(item) -> list[dict]:
    from harness.verdicts.property import Property

    module = getattr(item, "module", None)
    prop = getattr(module, "PROPERTY", None)
    # Only property modules declare a property; a unit test importing one does not run it.
    if not isinstance(prop, Property) or not module.__name__.rpartition(".")[2].startswith("prop_"):
        return []
    return [{"id": prop.id, "title": prop.title, "statement": prop.statement, "reference": prop.reference,
             "exploration": prop.exploration}]


def pytest_runtest_setup(item):
    from harness.verdicts.property import RECORDER

    RECORDER.take()  # nothing left over from a previous test may be attributed to this one
    RECORDER.current_test = item.nodeid


STOPPED_REASON = "flowlaws: stopped by an interrupt of flowlaws run"
BUDGET_REASON = "flowlaws time budget exhausted"


def _why_stop(state) -> str | None:
    """Why no new example may start: the campaign was asked to stop, or its time budget is spent."""
    if state["stop_file"] and os.path.exists(state["stop_file"]):
        return STOPPED_REASON
    if state["deadline"] is not None and time.monotonic() > state["deadline"]:
        return BUDGET_REASON
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    state = item.config.stash[_STATE_KEY]
    handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    if handle is not None and state["seeding"] == "flowlaws-seed":
        expected = _seed_hypothesis(per_test_seed(state["seed"], item.nodeid))
        try:
            return (yield from _bounded_call(handle, state))
        finally:
            _check_seed_reached(item, expected)
    return (yield from _bounded_call(handle, state))


def _check_seed_reached(item, expected: int) -> None:
    # Hypothesis records the seed it drew from the per-thread Random on the wrapped test (None when the
    # test fixed its own with @seed or derandomize, which is the test's choice, not a failure).
    used = getattr(item.obj, "_hypothesis_internal_use_generated_seed", None)
    if used is not None and used != expected:
        item.warn(pytest.PytestWarning(
            "flowlaws: --flowlaws-seed did not reach Hypothesis (its private per-thread Random changed?): "
            "this test's draws are not reproducible from the seed; see harness.testing.plugin._seed_hypothesis"))


def _bounded_call(handle, state):
    if state["deadline"] is None and state["stop_file"] is None:
        return (yield)
    reason = _why_stop(state)
    if reason:
        pytest.skip(f"{reason} before this test started")
    if handle is None:
        return (yield)
    # Hypothesis documents ``test.hypothesis.inner_test`` as the place to wrap each example. Past the
    # deadline (or once asked to stop) we skip the rest of the test, unless a violation was found: it must
    # still be shrunk. The examples that ran are reported.
    from harness.verdicts.property import RECORDER

    inner = handle.inner_test

    def bounded(*args, **kwargs):
        reason = _why_stop(state)
        if reason and not any(r["verdict"]["status"] == "violated" for r in RECORDER.records):
            pytest.skip(reason)
        return inner(*args, **kwargs)

    handle.inner_test = bounded
    try:
        return (yield)
    finally:
        handle.inner_test = inner


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when != "call":
        return report
    from harness.reporting.reports import crash_description, summarize_test
    from harness.verdicts.property import RECORDER

    records = RECORDER.take()
    RECORDER.current_test = None
    properties = _module_properties(item)
    if not records and not properties:
        return report
    exception = call.excinfo.value if call.excinfo is not None else None
    error_text = crash_description(exception) if report.failed and exception is not None else None
    summary = summarize_test(item.nodeid, records, module_properties=properties, outcome=report.outcome,
                             exception=exception, error_text=error_text)
    report.user_properties.append((SUMMARY_KEY, summary))
    return report


class CampaignReport:
    """Controller-side hooks: gather test summaries, write the run's report, say where it is."""

    def __init__(self, config, collector):
        self.config = config
        self.collector = collector
        self.folder: Path | None = None
        self.error: str | None = None
        self.collected: list[str] = []
        self.finished: set[str] = set()
        self.stopped: set[str] = set()  # skipped because flowlaws run was interrupted

    def pytest_collection_finish(self, session):
        self.collected = [item.nodeid for item in session.items]

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        # Under xdist the controller collects nothing itself; the workers' collections say what will run.
        self.collected = list(ids)

    def pytest_runtest_logreport(self, report):
        # Reports relayed from xdist workers arrive here too; this object lives only in the controller.
        if report.when == "teardown":
            self.finished.add(report.nodeid)
        if report.skipped and STOPPED_REASON in str(report.longrepr):
            self.stopped.add(report.nodeid)
        for name, value in report.user_properties:
            if name == SUMMARY_KEY:
                self.collector.add(value, report.duration)

    def pytest_sessionfinish(self, session, exitstatus):
        if not self.collector.has_verdicts:
            return
        from harness.reporting.reports import build_run, write_run

        state = self.config.stash[_STATE_KEY]
        unfinished = [nodeid for nodeid in self.collected if nodeid not in self.finished]
        if exitstatus != pytest.ExitCode.INTERRUPTED:
            unfinished = []  # e.g. -x stopping early is the user's choice, not an interruption
        unfinished = sorted(set(unfinished) | self.stopped)
        run, timings = build_run(self.collector, run_id=state["run_id"], profile=state["profile"],
                                 seed=state["seed"], seeding=state["seeding"], started=state["started"],
                                 unfinished=unfinished)
        try:
            self.folder = write_run(run, timings, state["report_dir"], project_root=self.config.rootpath,
                                    plots=not self.config.getoption("--flowlaws-no-plots"))
        except OSError as error:
            self.error = f"flowlaws: could not write the report under {state['report_dir']}: {error}"
            return
        summary_file = self.config.getoption("--flowlaws-summary-file")
        if summary_file:
            Path(summary_file).write_text(json.dumps({"report": str(self.folder), **run.to_dict()}))

    def pytest_terminal_summary(self, terminalreporter):
        if self.error:
            terminalreporter.write_line(self.error, red=True)
        elif self.folder is not None:
            terminalreporter.write_sep("-", "flowlaws report")
            terminalreporter.write_line(f"flowlaws report: {self.folder / 'index.md'} (and index.html)")
