"""Benchmark: Numba Dormand–Prince gradient flow against SciPy's solve_ivp(RK45) with a NumPy right-hand side.

Problem: MSE gradient flow of two-layer linear networks, f(x) = U Vᵀ x, on N = 64 random samples, from a random
θ₀, over the same horizon for both integrators, rtol = 1e-8 (atol = 1e-10). Both use Dormand–Prince 5(4) with
SciPy's step-size controller and initial step, so they take (nearly) the same steps; the comparison is the cost
per step. Compilation is excluded (one warm-up call first); every figure is the median of several runs.

Also measured: the integrator's overhead = integration time / time of the same number of right-hand-side
evaluations called in a Numba loop (``harness.kernels.problem.rhs_loop_kernel``); 1.0 would mean the step logic
is free.

    python benchmarks/bench_flow.py [--json] [--repeats 7] [--t 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import environment  # noqa: E402

environment.configure()  # one thread and the Numba cache folder, before numpy and numba load

import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from harness.dynamics.flow import GradientFlow, integrate  # noqa: E402
from harness.kernels import integrators  # noqa: E402
from harness.kernels import problem as kernel_problem  # noqa: E402
from harness.kernels.tableaux import DORMAND_PRINCE  # noqa: E402
from harness.model.data import moments  # noqa: E402
from harness.model.scenario import Scenario  # noqa: E402

SPECS = ("linear:4,2,2", "linear:10,10,10")
N_SAMPLES = 64
RTOL = 1e-8
ATOL = 1e-10
TARGET_SPEEDUP = 30.0
TARGET_OVERHEAD = 1.5
# CPU seconds of this process (everything runs on one thread: harness pins BLAS and Numba to 1), so that other
# processes on a shared machine do not count; ``--wall`` measures wall-clock time instead.
CLOCK = time.process_time


def numpy_field(network, moment_m, moment_c):
    """θ' = −∇L(θ) for L = ½ mean‖UVᵀx − y‖², written the ordinary NumPy way (G = ΦM − C)."""
    m, r = network.n_out, network.hidden
    d = network.n_in
    split = m * r

    def field(t, theta):
        U = theta[:split].reshape(m, r)
        V = theta[split:].reshape(d, r)
        G = U @ V.T @ moment_m - moment_c
        return -np.concatenate([(G @ V).ravel(), (G.T @ U).ravel()])

    return field


def interleaved_timings(runs: dict, repeats: int) -> tuple[dict, dict]:
    """Median and minimum seconds of each callable, run round-robin so that all see the same machine load.

    The median is the headline figure; the minimum is the run least disturbed by other processes (on a shared,
    loaded machine it is the better estimate of the unloaded cost)."""
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = CLOCK()
            run()
            times[name].append(CLOCK() - start)
    return (
        {name: statistics.median(values) for name, values in times.items()},
        {name: min(values) for name, values in times.items()},
    )


def bench(spec: str, horizon: float, repeats: int, sparse_only: bool = False) -> dict:
    built = Scenario(spec, "mse", n_samples=N_SAMPLES, seed=0, theta_scale=0.5).build()
    flow = GradientFlow(built.network, built.loss, built.data, sparse_only=sparse_only)
    theta0 = built.theta0
    moment_m, moment_c = moments(built.network, built.data)
    field = numpy_field(built.network, moment_m, moment_c)
    assert np.allclose(field(0.0, theta0), -flow.gradient(theta0), rtol=1e-12, atol=1e-12)
    problem = flow.problem
    tableau = DORMAND_PRINCE
    save_times = np.array([0.0, horizon])

    def numba_run():  # the public entry point, validation and Trajectory included
        return integrate(flow, theta0, horizon, "dp5", rtol=RTOL, atol=ATOL)

    def kernel_run():  # the compiled integrator alone
        return integrators.integrate_kernel(
            theta0,
            problem,
            1.0,
            save_times,
            0,
            tableau.a,
            tableau.b,
            tableau.c,
            tableau.e,
            tableau.error_order,
            RTOL,
            ATOL,
            1.0,
            10**6,
            1e6,
        )

    def scipy_run():
        return solve_ivp(field, (0.0, horizon), theta0, method="RK45", rtol=RTOL, atol=ATOL)

    ours, reference = numba_run(), scipy_run()  # warm-up (compilation, caches)
    assert ours.ok and reference.success
    kernel_run()

    def rhs_loop():  # the same number of right-hand-side evaluations, in a Numba loop
        return kernel_problem.rhs_loop_kernel(theta0, problem, 1.0, ours.n_rhs)

    rhs_loop()
    seconds, fastest = interleaved_timings(
        {"numba": numba_run, "kernel": kernel_run, "scipy": scipy_run, "rhs": rhs_loop}, repeats
    )
    agreement = float(np.abs(ours.final_state - reference.y[:, -1]).max() / np.abs(reference.y[:, -1]).max())
    return {
        "network": spec,
        "kernel_path": "sparse monomials" if problem[kernel_problem.PROBLEM_SIZES][kernel_problem.SIZE_STRUCTURE] == 0 else "dense",
        "n_params": built.network.n_params,
        "horizon": horizon,
        "numba_steps": ours.n_steps,
        "numba_rhs": ours.n_rhs,
        "scipy_steps": int(reference.t.size - 1),
        "scipy_rhs": int(reference.nfev),
        "numba_ms": seconds["numba"] * 1e3,
        "kernel_ms": seconds["kernel"] * 1e3,
        "scipy_ms": seconds["scipy"] * 1e3,
        "speedup": seconds["scipy"] / seconds["numba"],
        "rhs_loop_ms": seconds["rhs"] * 1e3,
        "overhead": seconds["numba"] / seconds["rhs"],
        "kernel_overhead": seconds["kernel"] / seconds["rhs"],
        "min_numba_ms": fastest["numba"] * 1e3,
        "min_scipy_ms": fastest["scipy"] * 1e3,
        "min_rhs_loop_ms": fastest["rhs"] * 1e3,
        "min_speedup": fastest["scipy"] / fastest["numba"],
        "min_overhead": fastest["numba"] / fastest["rhs"],
        "min_kernel_overhead": fastest["kernel"] / fastest["rhs"],
        "final_state_difference": agreement,
        "loss_start": flow.loss_value(theta0),
        "loss_end": flow.loss_value(ours.final_state),
    }


def machine() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        return f"{fields.get('Model name', '?').strip()}, {fields.get('CPU(s)', '?').strip()} cores"
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=15, help="runs per measurement (median)")
    parser.add_argument("--t", type=float, default=10.0, help="flow time horizon (same for all)")
    parser.add_argument("--wall", action="store_true", help="time wall-clock seconds instead of CPU seconds")
    args = parser.parse_args(argv)
    global CLOCK
    if args.wall:
        CLOCK = time.perf_counter
    integrators.warm_up()
    rows = [bench(spec, args.t, args.repeats) for spec in SPECS]
    rows.append(bench(SPECS[-1], args.t, args.repeats, sparse_only=True))
    result = {
        "machine": machine(),
        "load_average": os.getloadavg(),
        "clock": CLOCK.__name__,
        "python": platform.python_version(),
        "rtol": RTOL,
        "atol": ATOL,
        "n_samples": N_SAMPLES,
        "horizon": args.t,
        "repeats": args.repeats,
        "rows": rows,
        "targets": {"speedup_at_least": TARGET_SPEEDUP, "overhead_at_most": TARGET_OVERHEAD},
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    load = ", ".join(f"{value:.1f}" for value in result["load_average"])
    print(
        f"machine: {result['machine']} (load average {load}); rtol {RTOL}, atol {ATOL}, N = {N_SAMPLES}, "
        f"horizon {args.t}, median of {args.repeats} interleaved runs, clock time.{CLOCK.__name__}"
    )
    print(
        f"{'network':<17}{'Φ path':<18}{'D':>4}{'steps ours/scipy':>18}{'ours ms':>9}{'kernel ms':>10}"
        f"{'scipy ms':>10}{'speedup':>9}{'rhs-loop ms':>12}{'overhead':>9}{'kernel ovh':>11}{'Δθ(T)':>9}"
    )
    for row in rows:
        print(
            f"{row['network']:<17}{row['kernel_path']:<18}{row['n_params']:>4}{row['numba_steps']:>9}/"
            f"{row['scipy_steps']:<8}{row['numba_ms']:>9.3f}{row['kernel_ms']:>10.3f}{row['scipy_ms']:>10.2f}"
            f"{row['speedup']:>8.1f}x{row['rhs_loop_ms']:>12.3f}{row['overhead']:>9.2f}"
            f"{row['kernel_overhead']:>11.2f}{row['final_state_difference']:>9.1e}"
        )
    print("fastest of the runs (least disturbed by other processes):")
    for row in rows:
        print(
            f"{row['network']:<17}{row['kernel_path']:<18} ours {row['min_numba_ms']:.3f} ms, scipy "
            f"{row['min_scipy_ms']:.2f} ms, speedup {row['min_speedup']:.1f}x, overhead {row['min_overhead']:.2f} "
            f"(kernel alone {row['min_kernel_overhead']:.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
