"""Report collection: each test's verdicts become a summary in its worker; the controller writes the run.

Each test's verdict records (``harness.verdicts.property.RECORDER``) are reduced in the process that ran
the test (``summary_of_test``, through ``harness.reporting.summaries.summarize_test``) and shipped in
``report.user_properties`` under ``SUMMARY_KEY``, which pytest-xdist relays to the controller; there
``CampaignReport`` gathers them and writes ``<report dir>/<run-id>/`` atomically at the end of the session
(``harness.reporting.folders.write_run``). Runs that recorded no verdict and collected no property (plain
unit tests) write nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.jsonable import dumps
from harness.testing.stopping import StopReason

SUMMARY_KEY = "flowlaws"


def module_properties(item) -> list[dict]:
    """Descriptions of the ``PROPERTY`` a ``prop_*`` test module declares (none for other modules)."""
    from harness.verdicts.property import Property

    module = getattr(item, "module", None)
    prop = getattr(module, "PROPERTY", None)
    # Only property modules declare a property; a unit test importing one does not run it.
    if module is None or not isinstance(prop, Property) or not module.__name__.rpartition(".")[2].startswith("prop_"):
        return []
    return [
        {
            "id": prop.id,
            "title": prop.title,
            "statement": prop.statement,
            "reference": prop.reference,
            "exploration": prop.exploration,
        }
    ]


def summary_of_test(item, call, report) -> dict | None:
    """The summary of the test ``item`` just ran (its records are taken from the recorder), or None."""
    from harness.reporting.summaries import crash_description, summarize_test
    from harness.verdicts.property import RECORDER

    records = RECORDER.take()
    RECORDER.current_test = None
    properties = module_properties(item)
    if not records and not properties:
        return None
    exception = call.excinfo.value if call.excinfo is not None else None
    error_text = crash_description(exception) if report.failed and exception is not None else None
    return summarize_test(
        item.nodeid,
        records,
        module_properties=properties,
        outcome=report.outcome,
        exception=exception,
        error_text=error_text,
    )


class CampaignReport:
    """Controller-side hooks: gather test summaries, write the run's report, say where it is.

    ``state`` is the plugin's per-session state (profile, seed, seeding, start time, report folder, run id).
    """

    def __init__(self, config, collector, state: dict):
        self.config = config
        self.collector = collector
        self.state = state
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
        if report.skipped and StopReason.STOPPED.value in str(report.longrepr):
            self.stopped.add(report.nodeid)
        for name, value in report.user_properties:
            if name == SUMMARY_KEY:
                self.collector.add(value, report.duration)

    def pytest_sessionfinish(self, session, exitstatus):
        if not self.collector.has_verdicts:
            return
        from harness.reporting import provenance
        from harness.reporting.folders import write_run
        from harness.reporting.runs import build_run

        state = self.state
        unfinished = [nodeid for nodeid in self.collected if nodeid not in self.finished]
        if exitstatus != pytest.ExitCode.INTERRUPTED:
            unfinished = []  # e.g. -x stopping early is the user's choice, not an interruption
        unfinished = sorted(set(unfinished) | self.stopped)
        run, timings = build_run(
            self.collector,
            run_id=state["run_id"],
            profile=state["profile"],
            seed=state["seed"],
            seeding=state["seeding"],
            started=state["started"],
            unfinished=unfinished,
            provenance=provenance.collect(self.config.rootpath),
        )
        try:
            self.folder = write_run(
                run,
                timings,
                state["report_dir"],
                project_root=self.config.rootpath,
                plots=not self.config.getoption("--flowlaws-no-plots"),
            )
        except OSError as error:
            self.error = f"flowlaws: could not write the report under {state['report_dir']}: {error}"
            return
        summary_file = self.config.getoption("--flowlaws-summary-file")
        if summary_file:
            Path(summary_file).write_text(dumps({"report": str(self.folder), **run.to_dict()}))

    def pytest_terminal_summary(self, terminalreporter):
        if self.error:
            terminalreporter.write_line(self.error, red=True)
        elif self.folder is not None:
            terminalreporter.write_sep("-", "flowlaws report")
            terminalreporter.write_line(f"flowlaws report: {self.folder / 'index.md'} (and index.html)")
