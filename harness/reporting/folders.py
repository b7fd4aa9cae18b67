"""Run folders: ``reports/<run-id>/`` written atomically, ``reports/latest`` pointing at the newest.

Step (3) of a verdict's journey (after ``harness.reporting.summaries`` and ``harness.reporting.runs``).
``write_run`` writes everything into a hidden temporary folder and renames it into place, so a killed run
leaves either nothing or a complete folder; earlier runs are never touched. A run folder holds
``index.json`` (the ``RunReport``), ``timings.json`` (the ``RunTimings``: the only file that differs
between two runs of the same seed), ``index.md`` and ``index.html`` (``harness.reporting.rendering``), and
one *case folder* per reported example: ``scenario.json`` (replayable by ``flowlaws replay``), ``report.md``
and the figures of ``harness.reporting.plots``. Every JSON file is written by ``harness.jsonable``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from harness.errors import InvalidInput
from harness.jsonable import dumps
from harness.reporting.rendering import (
    SCENARIO_FILE,
    Reproduction,
    example_html,
    example_markdown,
    index_html,
    index_markdown,
)
from harness.reporting.runs import RunReport, RunTimings, slug

EVIDENCE_FILE = "evidence.json"

INDEX_FILE = "index.json"
TIMINGS_FILE = "timings.json"


def check_writable(report_dir: str | Path) -> Path:
    """Raise ``InvalidInput`` unless a run folder can be created under ``report_dir`` (nothing is left)."""
    report_dir = Path(report_dir).absolute()
    existing = report_dir
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidInput(f"report folder {str(report_dir)!r} is not writable: {str(existing)!r} is not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".flowlaws-probe-", dir=existing)
        os.rmdir(probe)
    except OSError as error:
        raise InvalidInput(f"report folder {str(report_dir)!r} is not writable: {error.strerror}") from None
    return report_dir


def write_run(
    run: RunReport,
    timings: RunTimings,
    report_dir: str | Path,
    *,
    project_root: str | Path | None = None,
    plots: bool = True,
    latest: bool = True,
) -> Path:
    """Write ``report_dir/<run-id>/`` atomically and (``latest``) point ``report_dir/latest`` at it.

    Everything is written into a hidden temporary folder first and renamed into place, so a killed run
    leaves either nothing or a complete folder; an existing folder of the same name is never replaced
    (a suffix ``-2``, ``-3``… is added). Returns the run folder.
    """
    report_dir = check_writable(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    project_root = Path(project_root or Path.cwd())
    final = _free_name(report_dir, slug(run.run_id))  # a run id never names a path outside report_dir
    staging = Path(tempfile.mkdtemp(prefix=f".incomplete-{final.name}-", dir=report_dir))
    try:
        reproduction = Reproduction(project_root, run.profile, run.seed, run.seeding)
        figures = {}
        for example in run.examples:
            folder = example["folder"]
            figures[folder] = _write_example(staging / folder, final / folder, example, reproduction, plots)
        (staging / INDEX_FILE).write_text(dumps(run.to_dict(), indent=1) + "\n")
        (staging / TIMINGS_FILE).write_text(dumps(timings.to_dict(), indent=1) + "\n")
        (staging / "index.md").write_text(index_markdown(run, timings, figures))
        (staging / "index.html").write_text(index_html(run, timings, figures))
        staging.chmod(0o755)
        while True:
            try:
                os.rename(staging, final)  # fails if a non-empty folder of that name appeared meanwhile
                break
            except OSError:
                if not final.exists():
                    raise
                final = _free_name(report_dir, slug(run.run_id))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if latest:
        point_latest(report_dir, final)
    return final


def _free_name(report_dir: Path, run_id: str) -> Path:
    candidate, suffix = report_dir / run_id, 1
    while candidate.exists() or candidate.is_symlink():
        suffix += 1
        candidate = report_dir / f"{run_id}-{suffix}"
    return candidate


def point_latest(report_dir: Path, run_folder: Path) -> None:
    """``report_dir/latest`` → the newest run: a relative symlink, or a text file naming it."""
    latest = report_dir / "latest"
    temporary = report_dir / f".latest-{os.getpid()}"
    try:
        if temporary.is_symlink() or temporary.exists():
            temporary.unlink()
        os.symlink(run_folder.name, temporary)
    except OSError:
        temporary.write_text(run_folder.name + "\n")
    if latest.is_dir() and not latest.is_symlink():
        shutil.rmtree(temporary, ignore_errors=True)  # someone's folder named "latest": never replace it
        return
    os.replace(temporary, latest)


def latest_run(report_dir: str | Path) -> Path | None:
    """The run folder ``report_dir/latest`` points to (symlink or text file), if any."""
    latest = Path(report_dir) / "latest"
    if latest.is_symlink():
        return latest.resolve()
    if latest.is_file():
        return Path(report_dir) / latest.read_text().strip()
    return None


def _write_example(
    folder: Path, final_folder: Path, example: dict, reproduction: Reproduction, plots: bool
) -> list[str]:
    """One case folder: ``scenario.json``, ``evidence.json`` (every value, uncut), the figures, and the page
    as ``report.md`` and ``report.html``; returns the figure file names."""
    folder.mkdir()
    # In the scenario's own key order (``Scenario.to_dict``), as ``Scenario.to_json`` writes it.
    (folder / SCENARIO_FILE).write_text(dumps(example["scenario"], indent=1, sort_keys=False) + "\n")
    evidence = example["verdict"].get("evidence", {})
    (folder / EVIDENCE_FILE).write_text(dumps(evidence, indent=1, sort_keys=False) + "\n")
    figures = []
    if plots:
        from harness.reporting.plots import plots_for_evidence

        figures = plots_for_evidence(evidence, folder)
    options = {"evidence_file": EVIDENCE_FILE}
    (folder / "report.md").write_text(example_markdown(example, final_folder, reproduction, figures, **options))
    (folder / "report.html").write_text(example_html(example, final_folder, reproduction, figures, **options))
    return figures
