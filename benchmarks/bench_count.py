"""Counting speed: ``count_laws`` time against D for linear:n,n,n (D = 2n²), and a sympy implementation side by side.

    python benchmarks/bench_count.py                     # n = 2, 5, 10, 20, 30, 40, 50 (D = 8 … 5000), free and
                                                         # cyclic/trivial augmented MSE
    python benchmarks/bench_count.py --sizes 2,5,10      # a quicker sweep
    python benchmarks/bench_count.py --skip-sweep        # only the sympy comparison at D = 10
    python benchmarks/bench_count.py --skip-sympy        # only the sweep

Prints one table row per case (D, laws, free laws, Lie rank by level, certificate, wall and CPU seconds, the
load average before the case), saves ``benchmarks/count_time_vs_D.png`` (CPU seconds against D, log–log, with
the issue's targets at D = 5000), and times a straightforward sympy version of the same algorithm (symbolic
fields from the same moment basis, symbolic brackets [new, generator] level by level, a bracket kept when it
raises the exact rank at a random rational point, stop at rank D − s or when a level adds nothing) against
``count_laws`` at D = 10. Warm-up (imports, Numba's disk cache) runs before the first timed case.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import time
from pathlib import Path

from harness import environment

environment.configure()  # one thread and the Numba cache folder, before numpy and numba load

import numpy as np  # noqa: E402

from harness.laws.counting import count_laws  # noqa: E402
from harness.laws.fields import build_field_family  # noqa: E402
from harness.laws.published import verify_published_laws  # noqa: E402
from harness.model.groups import build_group  # noqa: E402
from harness.model.specs import parse_network  # noqa: E402

HERE = Path(__file__).resolve().parent


SIZES = (2, 5, 10, 20, 30, 40, 50)
TARGETS = {"free": 60.0, "augmented cyclic/trivial": 120.0}  # issue 10's acceptance at D = 5000 (seconds)


def sweep(sizes: tuple[int, ...]) -> list[dict]:
    count_laws("linear:2,1,1", "free", "mse", find_explicit=False)  # imports and Numba caches, not counted
    rows = []
    print(
        f"{'arch':<16}{'data':<26}{'D':>5}{'laws':>6}{'free':>6}  {'ranks by level':<20}{'certificate':<12}"
        f"{'wall s':>8}{'CPU s':>8}{'load':>6}"
    )
    for n in sizes:
        for data, group in (("free", None), ("augmented", "cyclic/trivial")):
            arch = f"linear:{n},{n},{n}"
            load = os.getloadavg()[0]
            wall, cpu = time.perf_counter(), time.process_time()
            result = count_laws(arch, data, "mse", group, find_explicit=False)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            rows.append(
                dict(
                    n=n,
                    D=result.D,
                    data=data if group is None else f"{data} {group}",
                    laws=result.laws,
                    free=result.free_laws,
                    ranks=result.lie_rank_by_level,
                    certificate=result.certificate,
                    wall=wall,
                    cpu=cpu,
                    load=load,
                )
            )
            r = rows[-1]
            print(
                f"{arch:<16}{r['data']:<26}{r['D']:>5}{str(r['laws']):>6}{str(r['free']):>6}  "
                f"{'→'.join(map(str, r['ranks'])):<20}{str(r['certificate']):<12}{wall:>8.2f}{cpu:>8.2f}{load:>6.1f}",
                flush=True,
            )
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label in sorted({r["data"] for r in rows}):
        points = [(r["D"], r["cpu"]) for r in rows if r["data"] == label]
        line = ax.plot(*zip(*points), marker="o", label=f"{label} (CPU s)")[0]
        if label in TARGETS:
            ax.plot([5000], [TARGETS[label]], marker="*", markersize=12, color=line.get_color(), linestyle="none")
    ax.plot([], [], marker="*", color="grey", linestyle="none", label="target at D = 5000")
    ax.set_xlabel("D (parameters), linear:n,n,n")
    ax.set_ylabel("count_laws CPU seconds (exact path, MSE)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def sympy_count(arch: str, group: str | None, seed: int = 0) -> tuple[int, float]:
    """The same algorithm in plain sympy: returns (laws, seconds)."""
    import sympy

    start = time.perf_counter()
    network = parse_network(arch)
    family = build_field_family(
        network, "mse", "augmented" if group else "free", build_group(group, network) if group else None, seed=seed
    )
    known = verify_published_laws(family, seed=seed).count
    symbols, generators = family.sympy_generators()
    D = len(symbols)
    rng = random.Random(seed)
    point = {s: sympy.Rational(rng.randint(-1000, 1000), rng.randint(1, 97)) for s in symbols}
    generators = [sympy.Matrix(g) for g in generators]
    jacobians = {}

    def jacobian(fieldobj):
        key = id(fieldobj)
        if key not in jacobians:
            jacobians[key] = fieldobj.jacobian(symbols)
        return jacobians[key]

    def value(fieldobj):
        return list(fieldobj.subs(point))

    kept_values = []
    kept = []

    def try_add(fieldobj) -> bool:
        candidate = kept_values + [value(fieldobj)]
        if sympy.Matrix(candidate).rank() > len(kept_values):
            kept_values.append(candidate[-1])
            kept.append(fieldobj)
            return True
        return False

    new = [g for g in generators if try_add(g)]
    while new and len(kept_values) < D - known:
        added = []
        for fieldobj in new:
            for g in generators:
                bracket = (jacobian(g) * fieldobj - jacobian(fieldobj) * g).applyfunc(sympy.expand)
                if try_add(bracket):
                    added.append(bracket)
                if len(kept_values) >= D - known:
                    break
            if len(kept_values) >= D - known:
                break
        new = added
    return D - len(kept_values), time.perf_counter() - start


def comparison(arch: str = "linear:3,2,2") -> list[dict]:
    rows = []
    for group in (None, "cyclic/trivial"):
        data = "augmented" if group else "free"
        count_laws(arch, data, "mse", group, find_explicit=False)  # warm caches (imports, Numba)
        ours = min(
            (count_laws(arch, data, "mse", group, find_explicit=False) for _ in range(3)), key=lambda r: r.seconds
        )
        laws, seconds = sympy_count(arch, group)
        rows.append(
            dict(
                arch=arch,
                group=group or "-",
                D=ours.D,
                laws=ours.laws,
                sympy_laws=laws,
                ours=ours.seconds,
                sympy=seconds,
                speedup=seconds / ours.seconds,
            )
        )
        r = rows[-1]
        print(
            f"{arch} {r['group']:<16} D={r['D']} laws={r['laws']} (sympy {r['sympy_laws']}): "
            f"count_laws {r['ours']:.3f} s, sympy {r['sympy']:.2f} s, speed-up {r['speedup']:.0f}x",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)  # None under -OO
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated n of linear:n,n,n")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--skip-sympy", action="store_true", help="no sympy comparison (it takes minutes)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.processor() or platform.platform()}, numpy {np.__version__}")
    if not args.skip_sweep:
        rows = sweep(tuple(int(n) for n in args.sizes.split(",")))
        plot(rows, HERE / "count_time_vs_D.png")
        print(f"plot saved to {HERE / 'count_time_vs_D.png'}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(f"peak resident memory of this process: {peak:.0f} MiB")
    if not args.skip_sympy:
        comparison()


if __name__ == "__main__":
    main()
