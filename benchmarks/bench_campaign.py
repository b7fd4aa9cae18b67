"""Benchmark: campaign throughput, examples per CPU second of each property on a Hypothesis profile (the gate ``ci``).

Each property file runs in its own child ``python -m pytest FILE -p no:xdist`` as the gate runs it (one worker,
the profile's examples, derandomized for ``ci``, so every run draws the same examples). The examples are the
campaign's own count: the verdict records in the run summary the flowlaws plugin writes
(``--flowlaws-summary-file``); Hypothesis's calls (passing + failing + invalid, from
``--hypothesis-show-statistics``) are given beside them. CPU time is measured twice:

- *in tests*: ``time.process_time`` around each test call, by this module loaded into the child as a pytest
  plugin (``-p bench_campaign``): the property's own work, without interpreter start, imports, the Numba
  warm-up and the report (the figure that follows the kernels);
- *process*: the child's whole CPU time, ``resource.getrusage(RUSAGE_CHILDREN)`` around it.

Files run round-robin for ``--repeats`` rounds (medians), after one untimed pass that fills the Numba cache.
The load average is recorded at the start and the end.

    python benchmarks/bench_campaign.py [--profile ci] [--repeats 1] [--out benchmarks/campaign_before.md] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMES_VARIABLE = "FLOWLAWS_BENCH_TEST_TIMES"  # where the plugin half writes each test's CPU seconds (JSON)
HYPOTHESIS_CALLS = re.compile(r"(\d+) passing examples?, (\d+) failing examples?, (\d+) invalid examples?")

# --- the plugin half: loaded into the child pytest (-p bench_campaign) -----------------------------------

_TEST_SECONDS: dict[str, float] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """CPU seconds of one test call (Hypothesis runs all of a test's examples inside it)."""
    start = time.process_time()
    try:
        return (yield)
    finally:
        _TEST_SECONDS[item.nodeid] = _TEST_SECONDS.get(item.nodeid, 0.0) + time.process_time() - start


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get(TIMES_VARIABLE)
    if path:
        Path(path).write_text(json.dumps(_TEST_SECONDS))


# --- the driver half --------------------------------------------------------------------------------------


def property_files(chosen: list[str] | None) -> list[Path]:
    """The ``properties/prop_*.py`` files (or the chosen ones), sorted."""
    if chosen:
        files = [Path(name) if Path(name).is_absolute() else ROOT / name for name in chosen]
        missing = [str(path) for path in files if not path.is_file()]
        if missing:
            raise SystemExit(f"bench_campaign: no such property file: {', '.join(missing)}")
        return files
    return sorted((ROOT / "properties").glob("prop_*.py"))


def run_file(path: Path, profile: str, scratch: Path, max_examples: int | None = None) -> dict:
    """One child pytest over ``path``: its examples per property, Hypothesis calls and CPU seconds."""
    summary, times = scratch / f"{path.stem}.summary.json", scratch / f"{path.stem}.times.json"
    for stale in (summary, times):
        stale.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", str(path.relative_to(ROOT)), "-q", "-p", "no:xdist"]
    command += ["-p", "bench_campaign", "--flowlaws-profile", profile, "--hypothesis-show-statistics"]
    command += ["--flowlaws-report-dir", str(scratch / "reports"), "--flowlaws-no-plots"]
    command += ["--flowlaws-summary-file", str(summary)]
    if max_examples is not None:
        command += ["--flowlaws-max-examples", str(max_examples)]
    environment = dict(os.environ, **{TIMES_VARIABLE: str(times)})
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "benchmarks"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    process_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    calls = sum(sum(int(n) for n in match) for match in HYPOTHESIS_CALLS.findall(done.stdout))
    properties = json.loads(summary.read_text())["properties"] if summary.is_file() else []
    test_seconds = json.loads(times.read_text()) if times.is_file() else {}
    closing = done.stdout.strip().splitlines()[-1:] or ["(no output)"]
    return {
        "file": str(path.relative_to(ROOT)),
        "exit_code": done.returncode,
        "outcome": closing[0],
        "properties": {p["id"]: {"examples": p["examples"], "tests": p["tests"]} for p in properties},
        "hypothesis_calls": calls,
        "tests": len(test_seconds),
        "test_cpu_seconds": sum(test_seconds.values()),
        "process_cpu_seconds": process_cpu,
        "wall_seconds": wall,
    }


def measure(files: list[Path], profile: str, repeats: int, warm: bool) -> list[dict]:
    """Round-robin over the files for ``repeats`` rounds; per file the medians and the examples of the last round."""
    with tempfile.TemporaryDirectory(prefix="flowlaws-bench-campaign-") as folder:
        scratch = Path(folder)
        if warm:  # fill the Numba cache (and import caches) so that no round pays a compilation
            for path in files:
                run_file(path, profile, scratch, max_examples=2)
        rounds: dict[Path, list[dict]] = {path: [] for path in files}
        for index in range(repeats):
            order = files[index % len(files) :] + files[: index % len(files)]  # rotate who goes first
            for path in order:
                rounds[path].append(run_file(path, profile, scratch))
    rows = []
    for path in files:
        runs = rounds[path]
        last = runs[-1]
        examples = sum(p["examples"] for p in last["properties"].values())
        test_cpu = statistics.median(r["test_cpu_seconds"] for r in runs)
        process_cpu = statistics.median(r["process_cpu_seconds"] for r in runs)
        rows.append(
            {
                **last,
                "examples": examples,
                "test_cpu_seconds": test_cpu,
                "process_cpu_seconds": process_cpu,
                "wall_seconds": statistics.median(r["wall_seconds"] for r in runs),
                "examples_per_test_cpu_second": examples / test_cpu if test_cpu > 0 else None,
                "examples_per_process_cpu_second": examples / process_cpu if process_cpu > 0 else None,
                "repeats": len(runs),
            }
        )
    return rows


def git_commit() -> str:
    """The last commit that changed the measured code (harness, properties, strategies), not the benchmarks."""
    try:
        command = ["git", "log", "-1", "--format=%h", "--", "harness", "properties", "strategies"]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() or "?"
    except OSError:
        return "?"


def cpu_model() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return f"{fields.get('Model name', '?').strip()}, {fields.get('CPU(s)', '?').strip()} CPUs"


def markdown(result: dict) -> str:
    def number(value, digits=3):
        return "—" if value is None else f"{value:.{digits}g}"

    load = result["load_average"]
    lines = [
        f"# Campaign throughput, profile `{result['profile']}` (code of commit {result['commit']})",
        "",
        f"Command: `{result['command']}`. Machine: {result['machine']}; Python {result['python']}. "
        f"Load average at the start {load['start'][0]:.2f} / {load['start'][1]:.2f} / {load['start'][2]:.2f}, "
        f"at the end {load['end'][0]:.2f} / {load['end'][1]:.2f} / {load['end'][2]:.2f} (2 cores shared). "
        f"{result['repeats']} round(s), medians; one child pytest per file, `-p no:xdist`.",
        "",
        "| property | file | tests | examples | Hypothesis calls | CPU s in tests | examples / CPU s (tests) "
        "| CPU s process | examples / CPU s (process) | wall s | outcome |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        names = ", ".join(row["properties"]) or "—"
        lines.append(
            f"| {names} | `{row['file']}` | {row['tests']} | {row['examples']} | {row['hypothesis_calls']} "
            f"| {number(row['test_cpu_seconds'])} | {number(row['examples_per_test_cpu_second'])} "
            f"| {number(row['process_cpu_seconds'])} | {number(row['examples_per_process_cpu_second'])} "
            f"| {number(row['wall_seconds'])} | {row['outcome']} |"
        )
    total_examples = sum(row["examples"] for row in result["rows"])
    total_cpu = sum(row["test_cpu_seconds"] for row in result["rows"])
    total_process = sum(row["process_cpu_seconds"] for row in result["rows"])
    lines.append(
        f"| **all** | | | {total_examples} | | {number(total_cpu)} | {number(total_examples / total_cpu)} "
        f"| {number(total_process)} | {number(total_examples / total_process)} | | |"
    )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--profile", default="ci", help="Hypothesis profile (default: ci, the gate)")
    parser.add_argument("--repeats", type=int, default=1, help="round-robin rounds (medians)")
    parser.add_argument("--files", nargs="*", help="property files (default: every properties/prop_*.py)")
    parser.add_argument("--no-warm", action="store_true", help="skip the untimed pass that fills the Numba cache")
    parser.add_argument("--out", help="write the Markdown table to this file")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats={args.repeats} must be a positive integer")
    files = property_files(args.files)
    commit, start_load = git_commit(), os.getloadavg()
    rows = measure(files, args.profile, args.repeats, warm=not args.no_warm)
    result = {
        "command": "python benchmarks/bench_campaign.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": commit,
        "machine": cpu_model(),
        "python": platform.python_version(),
        "profile": args.profile,
        "repeats": args.repeats,
        "load_average": {"start": start_load, "end": os.getloadavg()},
        "rows": rows,
    }
    text = markdown(result)
    if args.out:
        Path(args.out).write_text(text)
    print(json.dumps(result, indent=1) if args.json else text)
    return 0 if all(row["exit_code"] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
