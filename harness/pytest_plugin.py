"""The flowlaws pytest plugin (loaded from the root conftest): profiles, threads, Numba warm-up, reports.

Options live under ``--flowlaws-*``. Hypothesis's own ``--hypothesis-profile`` also works; without either,
the ``ci`` profile (or FLOWLAWS_PROFILE) is loaded explicitly, so a CI variable never switches profiles
silently.

Reports. Each test's verdict records (``harness.property.RECORDER``) are reduced in the process that ran
the test (``harness.reports.summarize_test``) and shipped in ``report.user_properties``, which
pytest-xdist relays to the controller; the controller (or the single process) writes
``<report dir>/<run-id>/`` atomically at the end of the session. Runs that recorded no verdict and
collected no property (plain unit tests) write nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path

import pytest

from harness.profiles import PROFILE_EXAMPLES, load_profile, register_profiles

register_profiles()

SUMMARY_KEY = "flowlaws"
_STATE_KEY = pytest.StashKey[dict]()


def pytest_addoption(parser):
    group = parser.getgroup("flowlaws")
    group.addoption(
        "--flowlaws-profile",
        choices=sorted(PROFILE_EXAMPLES),
        default=None,
        help="Hypothesis profile for flowlaws properties (default: FLOWLAWS_PROFILE or ci)",
    )
    group.addoption(
        "--flowlaws-no-warmup", action="store_true", help="skip compiling the Numba kernels before workers start"
    )
    group.addoption("--flowlaws-report-dir", default=None,
                    help="where run reports go (default: FLOWLAWS_REPORT_DIR or <rootdir>/reports)")
    group.addoption("--flowlaws-run-id", default=None,
                    help="name of this run's report folder (default: <profile>-seed<S> with --hypothesis-seed, "
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


def _run_id(config, profile: str, seed) -> str:
    chosen = config.getoption("--flowlaws-run-id")
    if chosen:
        return chosen
    if seed is not None:
        return f"{profile}-seed{seed}"
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{secrets.token_hex(2)}"


def _seed(value):
    """Hypothesis's ``--hypothesis-seed`` as given (an int when it is one), or None."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def _pin_torch_threads() -> None:
    """One torch thread per process, without paying torch's import in runs that never use it.

    ``import harness`` already set OMP_NUM_THREADS=1, which torch reads when it is first imported; a torch
    imported before that (or by a module collected later) is pinned explicitly here and after collection.
    """
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def pytest_collection_finish(session):
    _pin_torch_threads()


def pytest_configure(config):
    explicit = config.getoption("--hypothesis-profile", default=None)
    profile = explicit or load_profile(config.getoption("--flowlaws-profile"))
    examples = config.getoption("--flowlaws-max-examples")
    if examples is not None:
        if examples < 1:
            raise pytest.UsageError(f"flowlaws: --flowlaws-max-examples={examples} must be a positive integer")
        from hypothesis import settings

        settings.register_profile(f"{profile}-x{examples}", parent=settings.get_profile(profile), max_examples=examples)
        settings.load_profile(f"{profile}-x{examples}")
    _pin_torch_threads()
    state = {
        "profile": profile,
        "seed": _seed(config.getoption("--hypothesis-seed", default=None)),
        "started": time.time(),
        "deadline": None,
    }
    budget = config.getoption("--flowlaws-time-budget")
    if budget is not None:
        state["deadline"] = time.monotonic() + budget
    config.stash[_STATE_KEY] = state
    if not _is_xdist_worker(config):
        if not config.getoption("--flowlaws-no-report"):
            from harness.errors import InvalidInput
            from harness.reports import RunCollector, check_writable

            try:
                state["report_dir"] = check_writable(_report_dir(config))
            except InvalidInput as error:
                raise pytest.UsageError(f"flowlaws: {error}") from None
            state["run_id"] = _run_id(config, profile, state["seed"])
            config.pluginmanager.register(CampaignReport(config, RunCollector()), "flowlaws-campaign-report")
        if not config.getoption("--flowlaws-no-warmup"):
            # Compile (or load from the on-disk cache) every kernel once in the controller, so that xdist
            # workers only ever load cached machine code.
            from harness import warmup

            warmup.warm_up()
    os.environ.setdefault("FLOWLAWS_PYTEST", "1")


@pytest.fixture(scope="session")
def flowlaws_profile() -> str:
    """Name of the Hypothesis profile in force."""
    from hypothesis import settings

    return settings._current_profile  # noqa: SLF001 - Hypothesis exposes no public getter


# ---- per test: verdict records → summary in user_properties ------------------------------------------


def _module_properties(item) -> list[dict]:
    from harness.property import Property

    module = getattr(item, "module", None)
    prop = getattr(module, "PROPERTY", None)
    # Only property modules declare a property; a unit test importing one does not run it.
    if not isinstance(prop, Property) or not module.__name__.rpartition(".")[2].startswith("prop_"):
        return []
    return [{"id": prop.id, "title": prop.title, "statement": prop.statement, "reference": prop.reference,
             "exploration": prop.exploration}]


def pytest_runtest_setup(item):
    from harness.property import RECORDER

    RECORDER.take()  # nothing left over from a previous test may be attributed to this one
    RECORDER.current_test = item.nodeid


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    deadline = item.config.stash[_STATE_KEY]["deadline"]
    handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    if deadline is None:
        return (yield)
    if time.monotonic() > deadline:
        pytest.skip("flowlaws time budget exhausted before this test started")
    if handle is None:
        return (yield)
    # Hypothesis documents ``test.hypothesis.inner_test`` as the place to wrap each example. Past the
    # deadline we skip the rest of the test, unless a violation was found: it must still be shrunk.
    from harness.property import RECORDER

    inner = handle.inner_test

    def bounded(*args, **kwargs):
        if time.monotonic() > deadline and not any(r["verdict"]["status"] == "violated" for r in RECORDER.records):
            pytest.skip("flowlaws time budget exhausted")
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
    from harness.property import RECORDER
    from harness.reports import crash_description, summarize_test

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
        for name, value in report.user_properties:
            if name == SUMMARY_KEY:
                self.collector.add(value, report.duration)

    def pytest_sessionfinish(self, session, exitstatus):
        if not self.collector.has_verdicts:
            return
        from harness.reports import build_run, write_run

        state = self.config.stash[_STATE_KEY]
        unfinished = [nodeid for nodeid in self.collected if nodeid not in self.finished]
        if exitstatus != pytest.ExitCode.INTERRUPTED:
            unfinished = []  # e.g. -x stopping early is the user's choice, not an interruption
        run, timings = build_run(self.collector, run_id=state["run_id"], profile=state["profile"],
                                 seed=state["seed"], started=state["started"], unfinished=unfinished)
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
