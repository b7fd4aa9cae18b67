"""Counting side by side with the SageMath code of Marcotte et al. (sibyllema/Conservation_laws).

    python benchmarks/bench_sage.py --repo /work/sage/Conservation_laws --sage-python /work/sage/venv/bin/python
    python benchmarks/bench_sage.py ... --cases linear:2,2,2 linear:3,3,3 --methods lie --limit 120 --json

Their code is notebooks, never copied here: ``--repo`` is a checkout of it, ``--sage-python`` the python of a venv
with passagemath (``pip install passagemath-symbolics passagemath-repl numpy tqdm`` is enough). Each Sage run is a
child process of ``--sage-python`` running this file with ``--child``: it executes the code cells of their four
helper notebooks (the IPython ``run`` lines dropped, the rest through Sage's preparser, as their Sage kernel would)
and then times, for their list of widths, the construction of the fields ∇φ_i (``vector_fields_for_q_layer_LNN``)
plus one counting method:

- ``lie``: ``D - dim_trace_lie_algebra(fields, n_known_functions=known)`` with ``known`` from
  ``known_conserved_functions_linear``: how their main notebook counts (it stops once the rank reaches D − known,
  as flowlaws stops at D minus its verified published laws);
- ``lie-blind``: the same with ``fast=False`` and no known count (brackets until a level adds nothing);
- ``poly2``: ``solve(2, fields)``, the number of independent degree-2 polynomial laws.

flowlaws runs as ``python -m harness.cli count --arch SPEC --loss mse --data free --json`` on the same network,
free data (its free count is theirs: the fields are the ∇φ_i themselves). Their widths ``[n0, …, nq]`` (φ =
U1⋯Uq, U_i of size n_{i−1}×n_i) are flowlaws' widths reversed (Φ = W_L⋯W_1 with W_i of size n_i×n_{i−1}):
``linear:IN, HIDDEN,OUT`` for two layers, ``deep-linear:…`` deeper. Counts must agree (``poly2``: at most
flowlaws', as it finds only degree-2 laws); a disagreement is printed and makes the exit status 1. Times: wall
and CPU (self plus reaped children: Sage's ``@parallel`` forks) of each whole child process, and of the call
alone: flowlaws' ``count_laws`` in a second process after one untimed call (median of ``--warm-repeats``),
Sage's build plus method after its notebooks are loaded. Runs are round-robin over repeats; a Sage run over
``--limit`` seconds (wall) is killed, reported as "> limit" and not repeated; one that raises is reported with
the last line of its error.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOTEBOOKS = (
    "create_generic_polynomial.ipynb",
    "get_all_polynomial_conserved_functions.ipynb",
    "get_specific_vector_fields_and_known_conserved_functions.ipynb",
    "computation_dimension_trace_Lie_algebra.ipynb",
)
METHODS = ("lie", "lie-blind", "poly2")
# n,n,n for n = 2..6; two-layer shapes of their notebook's seeded examples; deep-linear ones theirs also handle.
DEFAULT_CASES = (
    "linear:2,2,2",
    "linear:3,3,3",
    "linear:4,4,4",
    "linear:5,5,5",
    "linear:6,6,6",
    "linear:2,3,5",
    "linear:5,2,5",
    "linear:3,2,3",
    "deep-linear:1,2,2,1",
    "deep-linear:3,2,3,3",
)


class InvalidInput(ValueError):
    """A command-line value this benchmark cannot run (named with what is allowed)."""


def their_widths(spec: str) -> list[int]:
    """Marcotte et al.'s ``list_dim`` for a flowlaws ``linear:`` or ``deep-linear:`` spec (widths reversed)."""
    family, _, arguments = spec.partition(":")
    try:
        widths = [int(w) for w in arguments.split(",")]
    except ValueError:
        widths = []
    if family not in ("linear", "deep-linear") or len(widths) < 3 or min(widths) < 1:
        raise InvalidInput(f"case {spec!r}: use linear:IN,HIDDEN,OUT or deep-linear:IN,H1,...,OUT (positive widths)")
    if family == "linear" and len(widths) != 3:
        raise InvalidInput(f"case {spec!r}: linear takes exactly IN,HIDDEN,OUT")
    return widths[::-1]


def child_clock() -> tuple[float, float]:
    """(wall s, CPU s of this process and its reaped children)."""
    own, forks = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), own.ru_utime + own.ru_stime + forks.ru_utime + forks.ru_stime


def child(repo: Path, list_dim: list[int], method: str, seed: int) -> dict:
    """Run their code once under Sage (this is the ``--child`` mode, inside the passagemath venv)."""
    start = child_clock()
    namespace: dict = {}
    exec("from sage.all__sagemath_symbolics import *", namespace)
    from sage.repl.preparse import preparse_file  # type: ignore[import-not-found]

    for name in NOTEBOOKS:
        cells = json.loads((repo / name).read_text())["cells"]
        for cell in cells:
            if cell["cell_type"] != "code":
                continue
            source = "".join(line for line in cell["source"] if not line.lstrip().startswith("run "))
            exec(compile(preparse_file(source), f"{name}", "exec"), namespace)
    loaded = child_clock()
    import numpy as np

    np.random.seed(seed)  # their evaluation points come from np.random
    D, fields = namespace["vector_fields_for_q_layer_LNN"](list_dim)
    built = child_clock()
    known = None
    if method == "lie":
        known = int(namespace["known_conserved_functions_linear"](list_dim))
        laws = D - namespace["dim_trace_lie_algebra"](fields, n_known_functions=known, verbose=0)
    elif method == "lie-blind":
        laws = D - namespace["dim_trace_lie_algebra"](fields, n_known_functions=0, fast=False, verbose=0)
    else:
        laws = namespace["solve"](2, fields)
    done = child_clock()
    return dict(
        D=int(D),
        laws=int(laws),
        known=known,
        load_wall=loaded[0] - start[0],
        build_wall=built[0] - loaded[0],
        call_wall=done[0] - loaded[0],
        call_cpu=done[1] - loaded[1],
    )


class ChildFailed(RuntimeError):
    """A child process exited non-zero: ``reason`` is the last line of its stderr."""

    def __init__(self, command: list[str], returncode: int, stderr: str, wall: float, cpu: float):
        lines = stderr.strip().splitlines()
        self.reason = lines[-1] if lines else f"exit status {returncode}"
        self.wall, self.cpu = wall, cpu
        super().__init__(f"{command[:4]} failed ({returncode}):\n{stderr[-3000:]}")


def run_process(command: list[str], env: dict, limit: float | None) -> tuple[str, float, float, bool]:
    """Run ``command``; (stdout, wall s, CPU s of it and its descendants it reaped, timed out)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True)  # fmt: skip
    try:
        out, err = process.communicate(timeout=limit)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: Sage's forks go with it
        out, err = process.communicate()
        timed_out = True
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if process.returncode != 0 and not timed_out:
        raise ChildFailed(command, process.returncode, err, wall, cpu)
    return out, wall, cpu, timed_out


def flowlaws_warm(spec: str, repeats: int) -> dict:
    """``count_laws`` of ``spec`` in this process after one untimed call (imports, Numba cache): median wall, CPU."""
    from harness import environment

    environment.configure()  # one thread and the Numba cache folder, before numpy and numba load
    from harness.laws.counting import count_laws

    count_laws(spec, "free", "mse")
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        count_laws(spec, "free", "mse")
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return dict(warm_wall=statistics.median(walls), warm_cpu=statistics.median(cpus))


def flowlaws_run(spec: str, repeats: int) -> dict:
    """``flowlaws count --json`` of ``spec`` on free data, MSE, as a whole process (its count, certificate, times),
    then its call warm in a second process (``--warm``)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "count",
        "--arch",
        spec,
        "--loss",
        "mse",
        "--data",
        "free",
        "--json",
    ]
    out, wall, cpu, _ = run_process(command, env, None)
    result = json.loads(out)
    warm, _, _, _ = run_process([sys.executable, str(Path(__file__).resolve()), "--warm", spec, "--repeats",
                                 str(repeats)], env, None)  # fmt: skip
    return dict(laws=result["laws"], certified=result["certified"], certificate=result["certificate"],
                D=result["D"], call_wall=result["seconds"], process_wall=wall, process_cpu=cpu,
                **json.loads(warm.strip().splitlines()[-1]))  # fmt: skip


def sage_run(args: argparse.Namespace, spec: str, method: str) -> dict:
    """One child run of their code under ``--sage-python``; ``timed_out`` when it passed ``--limit``."""
    env = dict(os.environ, SAGE_NUM_THREADS=str(args.sage_threads))
    env.pop("PYTHONPATH", None)
    payload = json.dumps(dict(repo=str(args.repo), list_dim=their_widths(spec), method=method, seed=args.seed))
    command = [str(args.sage_python), str(Path(__file__).resolve()), "--child", payload]
    try:
        out, wall, cpu, timed_out = run_process(command, env, args.limit)
    except ChildFailed as failure:  # their code raised: reported with its reason, never counted as a count
        return dict(timed_out=False, failed=failure.reason, failed_wall=failure.wall, failed_cpu=failure.cpu)
    row = dict(process_wall=wall, process_cpu=cpu, timed_out=timed_out)
    if not timed_out:
        row.update(json.loads(out.strip().splitlines()[-1]))
    return row


def median_of(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def benchmark(args: argparse.Namespace) -> list[dict]:
    """Every case: flowlaws and each Sage method, round-robin over ``args.repeats``; one summary row per pair."""
    flowlaws_run("linear:2,2,2", 1)  # imports and the Numba disk cache before anything is timed
    rows = []
    for spec in args.cases:
        runs: dict[str, list[dict]] = {"flowlaws": [], **{m: [] for m in args.methods}}
        for repeat in range(args.repeats):
            order = ["flowlaws", *args.methods]
            order = order[repeat % len(order) :] + order[: repeat % len(order)]
            for who in order:
                if who != "flowlaws" and any(r["timed_out"] or "failed" in r for r in runs[who]):
                    continue
                runs[who].append(
                    flowlaws_run(spec, args.warm_repeats) if who == "flowlaws" else sage_run(args, spec, who)
                )
        ours = runs["flowlaws"]
        for method in args.methods:
            theirs = runs[method]
            finished = [r for r in theirs if not r["timed_out"] and "failed" not in r]
            failed = [r["failed"] for r in theirs if "failed" in r]
            rows.append(
                dict(
                    case=spec,
                    list_dim=their_widths(spec),
                    D=ours[0]["D"],
                    method=method,
                    flowlaws_laws=ours[0]["laws"],
                    flowlaws_certificate=ours[0]["certificate"] if ours[0]["certified"] else "uncertified",
                    flowlaws_call_wall=median_of(ours, "call_wall"),
                    flowlaws_process_wall=median_of(ours, "process_wall"),
                    flowlaws_process_cpu=median_of(ours, "process_cpu"),
                    flowlaws_warm_wall=median_of(ours, "warm_wall"),
                    flowlaws_warm_cpu=median_of(ours, "warm_cpu"),
                    sage_laws=finished[0]["laws"] if finished else None,
                    sage_known=finished[0]["known"] if finished else None,
                    sage_timed_out=any(r["timed_out"] for r in theirs),
                    sage_failed=failed[0] if failed else None,
                    sage_failed_process_wall=median_of(theirs, "failed_wall"),
                    sage_failed_process_cpu=median_of(theirs, "failed_cpu"),
                    sage_build_wall=median_of(finished, "build_wall"),
                    sage_call_wall=median_of(finished, "call_wall"),
                    sage_call_cpu=median_of(finished, "call_cpu"),
                    sage_process_wall=median_of(finished, "process_wall"),
                    sage_process_cpu=median_of(finished, "process_cpu"),
                    sage_load_wall=median_of(finished, "load_wall"),
                    repeats=len(theirs),
                    agree=bool(finished) and finished[0]["laws"] == ours[0]["laws"],
                    # solve(2) finds the degree-2 polynomial laws only: at most the full count
                    consistent=bool(finished) and consistent(method, finished[0]["laws"], ours[0]["laws"]),
                )
            )
            if not args.json:
                print_row(rows[-1], args.limit)
        if args.save:
            args.save.write_text(json.dumps(dict(rows=rows, limit=args.limit, sage_threads=args.sage_threads)))
    return rows


def consistent(method: str, theirs: int, ours: int) -> bool:
    """Their count matches flowlaws': equal, or for ``poly2`` (degree-2 polynomial laws only) at most flowlaws'."""
    return theirs == ours or (method == "poly2" and theirs < ours)


HEADER = (
    "| case | their list_dim | D | method | laws flowlaws / Sage | flowlaws warm call s (wall; CPU) "
    "| flowlaws CLI process s (wall; CPU) | Sage call s (wall; CPU) | Sage process s (wall; CPU) "
    "| CPU ratio, call (process) |"
)


def print_row(row: dict, limit: float) -> None:
    if print_row.first:  # type: ignore[attr-defined]
        print(HEADER)
        print("|---" * 10 + "|")
        print_row.first = False  # type: ignore[attr-defined]
    laws = f"{row['flowlaws_laws']} / {'—' if row['sage_laws'] is None else row['sage_laws']}"
    if row.get("sage_failed"):
        laws += f" (Sage failed: {row['sage_failed']})"
    if row["sage_laws"] is not None and not row["agree"]:
        laws += " (degree-2 laws only)" if row["consistent"] else " **DISAGREE**"

    def pair(wall: str, cpu: str) -> str:
        if row.get("sage_failed") and wall.startswith("sage_"):  # no count: times until it raised, whole process
            failed = (row.get("sage_failed_process_wall"), row.get("sage_failed_process_cpu"))
            return (
                "—" if wall != "sage_process_wall" or None in failed else "raised after {:.3g}; {:.3g}".format(*failed)
            )
        if row[wall] is None:  # killed at the wall-clock limit: its CPU until then is not known
            return f"> {limit:g} (wall limit); —"
        return f"{row[wall]:.3g}; {row[cpu]:.3g}"

    ratio = "—"
    if row["sage_call_cpu"] is not None:
        call, process = (
            row["sage_call_cpu"] / row["flowlaws_warm_cpu"],
            row["sage_process_cpu"] / row["flowlaws_process_cpu"],
        )
        ratio = f"{call:.3g}× ({process:.3g}×)"
    cells = [row["case"], row["list_dim"], row["D"], row["method"], laws,
             pair("flowlaws_warm_wall", "flowlaws_warm_cpu"), pair("flowlaws_process_wall", "flowlaws_process_cpu"),
             pair("sage_call_wall", "sage_call_cpu"), pair("sage_process_wall", "sage_process_cpu"), ratio]  # fmt: skip
    print("| " + " | ".join(map(str, cells)) + " |", flush=True)


print_row.first = True  # type: ignore[attr-defined]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repo", type=Path, help="a checkout of sibyllema/Conservation_laws")
    parser.add_argument("--sage-python", type=Path, help="python of a venv with passagemath installed")
    parser.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES), help="linear:… / deep-linear:… specs")
    parser.add_argument("--methods", nargs="+", default=["lie", "poly2", "lie-blind"], help=f"of {', '.join(METHODS)}")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each side, round-robin (default 1)")
    parser.add_argument("--limit", type=float, default=300.0, help="seconds before a Sage run is killed (300)")
    parser.add_argument("--sage-threads", type=int, default=1, help="SAGE_NUM_THREADS of the Sage child (1)")
    parser.add_argument("--seed", type=int, default=0, help="np.random seed of the Sage child (0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--save", type=Path, help="also write the JSON rows to this file after every case")
    parser.add_argument("--warm-repeats", type=int, default=3, help="timed warm flowlaws calls per run (3)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--warm", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child or args.warm:
        return args
    if args.repo is None or not (args.repo / NOTEBOOKS[-1]).is_file():
        raise InvalidInput(f"--repo {args.repo}: give a checkout of sibyllema/Conservation_laws (with {NOTEBOOKS[-1]})")
    if args.sage_python is None or not args.sage_python.is_file():
        raise InvalidInput(f"--sage-python {args.sage_python}: give the python of a venv with passagemath")
    bad = [m for m in args.methods if m not in METHODS]
    if bad:
        raise InvalidInput(f"--methods {bad}: use any of {', '.join(METHODS)}")
    for name, value in (
        ("--repeats", args.repeats),
        ("--limit", args.limit),
        ("--sage-threads", args.sage_threads),
        ("--warm-repeats", args.warm_repeats),
    ):
        if value <= 0:
            raise InvalidInput(f"{name} {value}: must be positive")
    for spec in args.cases:
        their_widths(spec)
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse(argv)
    except InvalidInput as error:
        print(f"bench_sage: {error}", file=sys.stderr)
        return 2
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(child(Path(spec["repo"]), spec["list_dim"], spec["method"], spec["seed"])))
        return 0
    if args.warm:
        print(json.dumps(flowlaws_warm(args.warm, args.repeats)))
        return 0
    start_load = os.getloadavg()
    rows = benchmark(args)
    load = dict(start=start_load, end=os.getloadavg())
    if args.json:
        print(json.dumps(dict(rows=rows, load_average=load, limit=args.limit, sage_threads=args.sage_threads)))
    else:
        print(f"load average (1, 5, 15 min): start {start_load}, end {load['end']}")
    return 0 if all(r["consistent"] or r["sage_laws"] is None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
