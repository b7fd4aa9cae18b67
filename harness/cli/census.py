"""``flowlaws census``: count the laws of a whole grid of set-ups, in parallel, resumably, and map where
augmentation adds laws (``harness.census``)."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path

from harness.census.grid import MAX_SETUPS, build_grid
from harness.census.output import Formula, tallies, write_outputs
from harness.census.runner import ROWS_FILE, load_rows, run_census
from harness.errors import InvalidInput
from harness.laws.counting import MAX_DEPTH_LIMIT, METHODS
from harness.model.data import DATA_CLASSES
from harness.options import integer_option, positive_number_option


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "census",
        help="count the laws of a grid of set-ups (size ranges × groups × losses × data classes)",
        description="Sweep a grid of set-ups in parallel on all cores: each is counted as `flowlaws count` would, "
        "its row stored as soon as it is known (a re-run computes only what is missing), with a progress bar. "
        "Writes census.csv, census.json and census.html (a heatmap of extra laws, the set-ups where augmentation "
        "adds laws, each with its replay command) into --out.",
        epilog="example: flowlaws census --arch 'linear:1..4,1..3,1..3' --group flip/trivial,flip/sign,"
        "cyclic/trivial,swap:0,1/trivial --loss mse,logcosh --data augmented --formula 'free + n1 - 1'. "
        "Spec grammar: `flowlaws list` (a range LOW..HIGH may stand for any number of a spec).",
    )
    parser.add_argument(
        "--arch", action="append", required=True, metavar="SPEC",
        help="network spec with ranges LOW..HIGH, e.g. linear:1..4,1..3,1..3 (repeat for several families)",
    )  # fmt: skip
    parser.add_argument(
        "--group", default=None,
        help="comma-separated group specs (swap:0,1/trivial keeps its own commas); none = free data",
    )  # fmt: skip
    parser.add_argument("--loss", default="mse", help="comma-separated losses (default mse)")
    parser.add_argument(
        "--data", default=None, help=f"comma-separated data classes: {', '.join(DATA_CLASSES)} "
        "(default: augmented with --group, else free)",
    )  # fmt: skip
    parser.add_argument("--seeds", default="1", metavar="N", help="seeds 0..N-1 per set-up (default 1)")
    parser.add_argument("--method", default="auto", help=f"arithmetic: {' | '.join(METHODS)} (default auto)")
    parser.add_argument("--max-depth", default="8", metavar="N", help=f"bracket levels, 1 to {MAX_DEPTH_LIMIT}")
    parser.add_argument("--timeout", default=None, metavar="S", help="seconds per set-up; past it: inconclusive")
    parser.add_argument("--workers", default=None, metavar="N", help="worker processes (default: the cores)")
    parser.add_argument("--formula", default=None, metavar="EXPR", help="a conjectured count to check on every row")
    parser.add_argument("--out", default="census", metavar="DIR", help="folder of the results (default census/)")
    parser.add_argument("--json", action="store_true", help="print the totals (and formula failures) as JSON")
    parser.set_defaults(handler=run)


def run(args) -> int:
    seeds = integer_option("--seeds", args.seeds, maximum=1000)
    max_depth = integer_option("--max-depth", args.max_depth, maximum=MAX_DEPTH_LIMIT)
    timeout = positive_number_option("--timeout", args.timeout, what="number of seconds") if args.timeout else None
    workers = integer_option("--workers", args.workers, maximum=64) if args.workers else (os.cpu_count() or 1)
    if args.method not in METHODS:
        raise InvalidInput(f"--method {args.method!r} is not one of {', '.join(METHODS)}")
    formula = Formula(args.formula) if args.formula else None
    data = args.data or ("augmented" if args.group else "free")
    setups = build_grid(args.arch, args.group, args.loss, data, seeds)
    if not setups:
        raise InvalidInput("the census grid is empty (augmented data needs --group)")
    folder = Path(args.out)
    if folder.exists() and not folder.is_dir():
        raise InvalidInput(f"--out {args.out!r} is a file, not a folder")
    already = sum(1 for s in setups if s.key in load_rows(folder))
    start = time.monotonic()
    progress = _progress(len(setups), already, quiet=args.json)
    print(
        f"flowlaws census: {len(setups):,} set-ups (at most {MAX_SETUPS:,}), {already:,} already in "
        f"{folder / ROWS_FILE}, {workers} worker(s)" + (f", timeout {timeout:g} s each" if timeout else ""),
        file=sys.stderr,
        flush=True,
    )
    interrupted = False
    try:
        rows = run_census(
            setups, folder, workers=workers, timeout=timeout, on_row=progress.update, max_depth=max_depth,
            method=args.method,
        )  # fmt: skip
    except KeyboardInterrupt:
        interrupted = True
        rows = {s.key: r for s, r in ((s, load_rows(folder).get(s.key)) for s in setups) if r is not None}
    finally:
        progress.close()
    ordered = [rows[s.key] for s in setups if s.key in rows]
    headline = [
        ("command", shlex.join(["flowlaws", *sys.argv[1:]]) if sys.argv[1:2] == ["census"] else "flowlaws census"),
        (
            "grid",
            f"{len(setups):,} set-ups; {len(ordered):,} done"
            + (" (interrupted: re-run to resume)" if interrupted else ""),
        ),  # fmt: skip
        ("rows", ", ".join(f"{n} {k}" for k, n in tallies(ordered).items())),
        ("seconds", f"{time.monotonic() - start:.1f} this run"),
    ]
    summary = write_outputs(folder, ordered, headline, formula)
    if args.json:
        print(json.dumps({"out": str(folder), "tallies": summary["tallies"], "formula": summary.get("formula")}))
    else:
        print(f"census: {dict(headline)['rows']}")
        print(f"census: {folder / 'census.html'} (and census.csv, census.json)")
        if formula is not None:
            print(f"census: formula {formula.text} fails on {len(summary['formula']['failures'])} row(s)")
    return 130 if interrupted else 0


class _Progress:
    """A tqdm bar on stderr with the counts so far and an ETA (off when stderr is not a terminal or --json)."""

    def __init__(self, total: int, done: int, quiet: bool):
        from tqdm import tqdm

        self.counts: dict[str, int] = {}
        self.bar = tqdm(
            total=total, initial=done, unit="set-up", disable=quiet or not sys.stderr.isatty(), file=sys.stderr,
            dynamic_ncols=True,
        )  # fmt: skip

    def update(self, row) -> None:
        self.counts[row.status] = self.counts.get(row.status, 0) + 1
        if (row.extra_laws or 0) > 0:
            self.counts["adds laws"] = self.counts.get("adds laws", 0) + 1
        self.bar.set_postfix_str(", ".join(f"{n} {k}" for k, n in self.counts.items()), refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _progress(total: int, done: int, quiet: bool) -> _Progress:
    return _Progress(total, done, quiet)
