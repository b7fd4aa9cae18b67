"""Benchmark: flowlaws' gradient-flow integrators side by side with the ODE-solver peers, at equal accuracy.

θ' = −∇L(θ) on N = 64 samples, t = 10, θ₀ of scale 0.5 (seeded), for each case of ``CASES``. Solvers: flowlaws
(``integrate``; its compiled time loop called directly; ``integrate_many`` for the batch; ``dop853`` if
registered, else ``dp5``), SciPy ``solve_ivp`` RK45 and DOP853, numbalsoda ``dop853`` (a Numba ``cfunc``), diffrax
``Dopri5`` + ``PIDController`` under ``jax.jit`` in float64 (``jit(vmap)`` for the batch); the peers' right-hand
sides compute flowlaws' mathematics on the same data, checked first (``peer_gradients.py``). A peer that is not
installed is skipped with its reason, never faked. Method (as the review ``integrators-vs-peers.md``): one process,
one thread, CPU time, solvers round-robin (first one rotated), medians, solves under 4 ms repeated inside a
sample, compilation and warm-up reported apart; end states against SciPy DOP853 at rtol 1e-12, atol 1e-14 (error
max|θ − θ_ref| / max|θ_ref|); rtol 1e-4 … 1e-10 (atol = rtol/100); CPU time at end-state error 1e-9 interpolated
log–log between the bracketing tolerances; RHS-only limit = evaluations × the fastest compiled gradient measured.

    python benchmarks/bench_peers.py [--quick] [--cases 0,2 | --cases "linear:4,2,2;poly:10,10,1,k=2 mse"]
                                     [--out peers.md] [--json peers.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

from harness import environment  # noqa: E402

environment.configure()  # one thread and the Numba cache folder, before numpy and numba load

import numpy as np  # noqa: E402
import peer_gradients as pg  # noqa: E402 - beside this file: the peers' right-hand sides
from scipy.integrate import solve_ivp  # noqa: E402

from harness.dynamics.flow import GradientFlow, integrate  # noqa: E402
from harness.dynamics.many import integrate_many  # noqa: E402
from harness.kernels import integrators  # noqa: E402
from harness.kernels.methods import METHODS  # noqa: E402
from harness.model.scenario import Scenario  # noqa: E402

CASES = (
    ("linear:4,2,2", "mse"),
    ("linear:10,10,10", "mse"),
    ("linear:30,30,30", "mse"),
    ("deep-linear:10,10,10,10", "mse"),
    ("linear:10,10,10", "logcosh"),
    ("poly:10,10,1,k=2", "mse"),
    ("attention:n=4,d=4,dk=3,dv=3", "mse"),
)
BATCH_SPEC = "linear:4,2,2"
N_SAMPLES, HORIZON, THETA_SCALE, MAIN_RTOL, TARGET_ERROR = 64, 10.0, 0.5, 1e-8, 1e-9
TOLERANCES = (1e-4, 1e-6, 1e-8, 1e-10)
METHOD = "dop853" if "dop853" in METHODS else "dp5"
CLOCK = time.process_time

# --- the solvers -------------------------------------------------------------------------------------------


def flowlaws_kernel(flow, rtol, atol):
    """θ₀ ↦ (final state, evaluations) by flowlaws' compiled time loop called directly (``integrate_kernel``),
    its arrays (save times, tableau, settings as ``integrate`` makes them) built once, outside the timing."""
    save_times, tableau = np.array([0.0, HORIZON]), METHODS[METHOD].tableau.kernel
    settings = integrators.kernel_settings(rtol, atol, HORIZON / 200, 1e6)

    def run(theta0):
        result = integrators.integrate_kernel(theta0, flow.problem, 1.0, save_times, tableau, settings, 10**6)
        return result[-1], int(result[3])

    return run


def solvers(flow, theta0, peers, rtol):
    """name → (solve() → (final state, evaluations)), for one case and tolerance; plus skip reasons."""
    gradient, data = peers["scipy_rhs"]
    atol = rtol / 100
    runs, skipped = {}, {}

    def api():
        trajectory = integrate(flow, theta0, HORIZON, METHOD, rtol=rtol, atol=atol, max_steps=10**6)
        return trajectory.final_state, trajectory.n_rhs

    runs[f"flowlaws {METHOD} (API)"] = api
    kernel = flowlaws_kernel(flow, rtol, atol)
    runs[f"flowlaws {METHOD} (kernel)"] = lambda: kernel(theta0)

    def field(t, theta):
        return -gradient(theta, *data)

    for method in ("RK45", "DOP853"):

        def scipy_run(method=method):
            result = solve_ivp(field, (0.0, HORIZON), theta0, method=method, rtol=rtol, atol=atol)
            return result.y[:, -1], int(result.nfev)

        runs[f"scipy {method}"] = scipy_run
    if isinstance(peers["numbalsoda"], str):
        skipped["numbalsoda dop853"] = peers["numbalsoda"]
    else:
        address, counter = peers["numbalsoda_rhs"].address, np.zeros(1)
        t_eval = np.array([0.0, HORIZON])

        def numbalsoda_run():
            counter[0] = 0.0
            usol, ok = peers["numbalsoda"].dop853(address, theta0.copy(), t_eval, counter, rtol, atol, 10**7)
            return (usol[-1] if ok else np.full(theta0.shape, np.nan)), int(counter[0])

        runs[f"numbalsoda dop853 ({peers['numbalsoda_variant']} RHS)"] = numbalsoda_run
    if isinstance(peers["diffrax"], str):
        skipped["diffrax Dopri5 (jit)"] = peers["diffrax"]
    else:
        compiled = peers["diffrax_solve"](rtol, atol)

        def diffrax_run():
            final, accepted, rejected = compiled(theta0)
            return np.asarray(final), 6 * (int(accepted) + int(rejected)) + 2  # Dopri5: 6 per attempt, FSAL

        runs["diffrax Dopri5 (jit)"] = diffrax_run
    return runs, skipped


def timed_round_robin(runs: dict, rounds: int) -> tuple[dict, dict, dict]:
    """CPU-seconds medians per solve (round-robin, rotated start), first-call seconds, and the last results."""
    first, results, inner = {}, {}, {}
    for name, run in runs.items():
        start = time.perf_counter()
        results[name] = run()
        first[name] = time.perf_counter() - start
        start = CLOCK()
        run()
        inner[name] = max(1, min(200, int(0.004 / max(CLOCK() - start, 1e-6))))  # ≥ 4 ms per sample
    samples = {name: [] for name in runs}
    names = list(runs)
    for index in range(rounds):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            start = CLOCK()
            for _ in range(inner[name]):
                runs[name]()
            samples[name].append((CLOCK() - start) / inner[name])
    return {name: statistics.median(values) for name, values in samples.items()}, first, results


def at_error(points: list[tuple[float, float]], target: float) -> str:
    """CPU ms at end-state error ``target``, log–log between the bracketing tolerances ('≤x', '—' outside)."""
    points = sorted((error, ms) for error, ms in points if error > 0 and math.isfinite(error))
    if not points or points[0][0] >= target:  # sorted: no measured tolerance reached the target
        return "—"
    if all(error <= target for error, _ in points):
        return f"≤{min(ms for _, ms in points):.3g}"
    for (e0, t0), (e1, t1) in zip(points, points[1:]):
        if e0 <= target <= e1:
            share = (math.log(target) - math.log(e0)) / (math.log(e1) - math.log(e0)) if e1 > e0 else 0.0
            return f"{math.exp(math.log(t0) + share * (math.log(t1) - math.log(t0))):.3g}"
    return "—"


def reference(gradient, data, theta0):
    """SciPy DOP853 at rtol 1e-12, atol 1e-14 on the SciPy RHS: the end state every solver is measured against."""
    return solve_ivp(lambda t, y: -gradient(y, *data), (0, HORIZON), theta0, "DOP853", rtol=1e-12, atol=1e-14)


def bench_case(spec, loss, tolerances, rounds, main_rounds, peers, jax_modules) -> dict:
    built = Scenario(spec, loss, n_samples=N_SAMPLES, seed=0, theta_scale=THETA_SCALE).build()
    flow = GradientFlow(built.network, built.loss, built.data)
    theta0, family = built.theta0, built.network.family
    checks, compile_seconds = pg.checked_rhs(flow, theta0, family, loss, peers)
    if jax_modules is not None:
        make, compile_seconds["diffrax (per tolerance)"] = pg.diffrax_solver(jax_modules, peers["jax_grad"], HORIZON)
        peers["diffrax_solve"] = lambda rtol, atol: make(rtol, atol, theta0)
    gradient, data = peers["scipy_rhs"]
    accurate = reference(gradient, data, theta0)
    reference_state = accurate.y[:, -1]
    table, skipped = {}, {}
    for rtol in tolerances:
        runs, skipped = solvers(flow, theta0, peers, rtol)
        medians, first, results = timed_round_robin(runs, main_rounds if rtol == MAIN_RTOL else rounds)
        for name in runs:
            state, evaluations = results[name]
            table.setdefault(name, {})[rtol] = {
                "cpu_ms": medians[name] * 1e3,
                "error": pg.relative_error(state, reference_state),
                "evaluations": evaluations,
                "first_call_s": first[name],
            }
    costs = pg.rhs_costs(flow, theta0, peers, 2000 if theta0.shape[0] < 500 else 300)
    fastest = min(costs.values())
    for rows in table.values():
        for cell in rows.values():
            cell["limit_ms"] = cell["evaluations"] * fastest / 1e3
            cell["ratio_to_limit"] = cell["cpu_ms"] / cell["limit_ms"]
    equal = {
        name: at_error([(c["error"], c["cpu_ms"]) for c in rows.values()], TARGET_ERROR) for name, rows in table.items()
    }
    return {
        "case": f"{spec} {loss}",
        "D": int(theta0.shape[0]),
        "rhs_check_relative": checks,
        "reference_evaluations": int(accurate.nfev),
        "solvers": {name: {str(k): v for k, v in rows.items()} for name, rows in table.items()},
        "skipped": skipped,
        "rhs_us": costs,
        "equal_accuracy_ms": equal,
        "compile_seconds": compile_seconds,
        "load_average": os.getloadavg(),
    }


# --- many flows, the DGEMM rate, the machine -----------------------------------------------------------------


def bench_batch(count: int, rounds: int, peers, jax_modules) -> dict:
    """``count`` flows of BATCH_SPEC (MSE) from different θ₀ at rtol 1e-8: CPU s per batch, error vs reference."""
    built = Scenario(BATCH_SPEC, "mse", n_samples=N_SAMPLES, seed=0, theta_scale=THETA_SCALE).build()
    flow = GradientFlow(built.network, built.loss, built.data)
    thetas = THETA_SCALE * np.random.default_rng(1).standard_normal((count, built.network.n_params))
    forms = pg.variants(flow, "linear", "mse")
    gradient, data = next(iter(forms.values()))
    rtol, atol = MAIN_RTOL, MAIN_RTOL / 100
    references = np.array([reference(gradient, data, theta).y[:, -1] for theta in thetas])
    runs, skipped = {}, {}
    kernel = flowlaws_kernel(flow, rtol, atol)

    def api_loop():
        finals = [integrate(flow, theta, HORIZON, METHOD, rtol=rtol, atol=atol) for theta in thetas]
        return np.array([t.final_state for t in finals]), sum(t.n_rhs for t in finals)

    runs[f"flowlaws {METHOD} API, Python loop"] = api_loop
    runs[f"flowlaws {METHOD} kernel, Python loop"] = lambda: _stack([kernel(theta) for theta in thetas])

    def many():  # FlowBatch: final_states (B × D, NaN rows for failed flows), n_rhs per flow
        batch = integrate_many(flow, thetas, HORIZON, METHOD, rtol=rtol, atol=atol, max_steps=10**6)
        return batch.final_states, int(np.sum(batch.n_rhs))

    runs[f"flowlaws {METHOD} integrate_many"] = many
    if not isinstance(peers["numbalsoda"], str):
        faster, solve_all = pg.numbalsoda_batch(peers["numbalsoda"], forms, thetas, HORIZON)
        runs[f"numbalsoda dop853 ({faster} RHS), njit loop"] = lambda: solve_all(thetas, rtol, atol)
    else:
        skipped["numbalsoda"] = peers["numbalsoda"]
    if jax_modules is None:
        skipped["diffrax Dopri5, jit(vmap)"] = peers["diffrax"]
    else:
        grad = peers["jax"].jit(pg.jax_gradient(peers["jax"].numpy, peers["jax"], "linear", *data))
        make, _ = pg.diffrax_solver(jax_modules, grad, HORIZON, batch=True)
        compiled = make(rtol, atol, thetas)

        def vmapped():
            finals, accepted, rejected = compiled(thetas)
            return np.asarray(finals), int(np.sum(6 * (np.asarray(accepted) + np.asarray(rejected)) + 2))

        runs["diffrax Dopri5, jit(vmap)"] = vmapped
    for name in list(runs):
        try:
            runs[name]()
        except Exception as error:  # noqa: BLE001 - a runner that fails is reported, the others are timed
            skipped[name] = f"failed: {type(error).__name__}: {error}"
            del runs[name]
    medians, first, results = timed_round_robin(runs, rounds)
    rows = {}
    for name in runs:
        finals, evaluations = results[name]
        errors = np.abs(np.asarray(finals) - references).max(axis=1) / np.abs(references).max(axis=1)
        rows[name] = {
            "cpu_s": medians[name],
            "flows_per_cpu_s": count / medians[name],
            "evaluations": int(evaluations),
            "error_median": float(np.median(errors)),
            "error_max": float(errors.max()),
            "first_call_s": first[name],
        }
    return {"flows": count, "spec": BATCH_SPEC, "rows": rows, "skipped": skipped, "load_average": os.getloadavg()}


def _stack(pairs):
    return np.array([state for state, _ in pairs]), sum(evaluations for _, evaluations in pairs)


def dgemm_rate(n: int = 1024, repeats: int = 5) -> float:
    """Single-thread np.dot GFLOP/s at n × n × n (median of ``repeats``)."""
    a, b = np.random.default_rng(0).standard_normal((2, n, n))
    out = np.dot(a, b)
    times = []
    for _ in range(repeats):
        start = CLOCK()
        np.dot(a, b, out=out)
        times.append(CLOCK() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def machine() -> dict:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        text = ""
    fields = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in text.splitlines() if ":" in line)}
    wanted = ("avx2", "fma", "avx512f", "avx512vl", "avx512bw", "amx_tile", "sse4_2")
    flags = [flag for flag in fields.get("Flags", "").split() if flag in wanted]
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("scipy", "numba", "numbalsoda", "jax", "jaxlib", "diffrax", "equinox"):
        versions[name] = _version(name)
    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
    model, cpus = fields.get("Model name", platform.processor()), fields.get("CPU(s)", "?")
    return {"model": model, "cpus": cpus, "flags": flags, "versions": versions, "commit": commit, "method": METHOD}


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


# --- output ----------------------------------------------------------------------------------------------------


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        "# flowlaws integrators vs peers",
        "",
        f"Command: `{result['command']}`; commit {m['commit']}; flowlaws method `{m['method']}`. Machine: {m['model']}, "
        f"{m['cpus']} CPUs, flags {' '.join(m['flags'])}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f". Load average start {result['load_start']}, end {result['load_end']}. CPU ms, medians, one thread. "
        f"Single-core DGEMM (n = 1024): {result['dgemm_gflops']:.1f} GFLOP/s.",
    ]
    for case in result["cases"]:
        lines += [
            "",
            f"## {case['case']} (D = {case['D']})",
            "",
            f"RHS checks vs flow.gradient: {case['rhs_check_relative']}; reference DOP853 rtol 1e-12: "
            f"{case['reference_evaluations']} evaluations; load {case['load_average']}; compile (s): "
            f"{json.dumps(case['compile_seconds'], default=str)}.",
            "",
        ]
        tolerances = next(iter(case["solvers"].values())).keys()
        header = " | ".join(f"rtol {t}" for t in tolerances)
        lines.append(
            f"| solver | {header} | ms at error {TARGET_ERROR:g} | ratio to RHS-only limit at rtol {MAIN_RTOL:g} |"
        )
        lines.append("|---" * (len(tolerances) + 3) + "|")
        for name, rows in case["solvers"].items():
            cells = [f"{c['cpu_ms']:.3g} / {c['error']:.0e} ({c['evaluations']})" for c in rows.values()]
            main = rows.get(str(MAIN_RTOL))
            ratio = f"{main['ratio_to_limit']:.2f}" if main else "—"
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {case['equal_accuracy_ms'][name]} | {ratio} |")
        for name, reason in case["skipped"].items():
            lines.append(f"| {name} | skipped: {reason} |" + " |" * (len(tolerances) + 1))
        lines += ["", "RHS µs per evaluation: " + ", ".join(f"{k} {v:.3g}" for k, v in case["rhs_us"].items())]
        lines += [_ratios(case)]
    batch = result.get("batch")
    if batch:
        lines += [
            "",
            f"## {batch['flows']} flows of {batch['spec']} mse (rtol {MAIN_RTOL:g}); load {batch['load_average']}",
            "",
            "| runner | CPU s | flows / CPU s | evaluations | error median / max |",
            "|---|---|---|---|---|",
        ]
        for name, row in batch["rows"].items():
            lines.append(
                f"| {name} | {row['cpu_s']:.4g} | {row['flows_per_cpu_s']:.4g} | {row['evaluations']} "
                f"| {row['error_median']:.0e} / {row['error_max']:.0e} |"
            )
        for name, reason in batch["skipped"].items():
            lines.append(f"| {name} | skipped: {reason} | | | |")
    lines += ["", f"flowlaws warm_up: {result['warm_up_seconds']:.2f} s (wall; from the Numba cache if filled)."]
    share = result.get("d1800_share_of_dgemm")
    if share:
        lines.append("D = 1800 gradient vs DGEMM: " + ", ".join(f"{k} {v:.1%}" for k, v in share.items()))
    return "\n".join(lines) + "\n"


def _ratios(case: dict) -> str:
    """Equal-accuracy ratios of flowlaws' kernel (or API) against each peer."""
    equal = case["equal_accuracy_ms"]
    ours = equal.get(f"flowlaws {METHOD} (kernel)", equal.get(f"flowlaws {METHOD} (API)", "—"))
    try:
        ours_ms = float(str(ours).lstrip("≤"))
    except ValueError:
        return f"Equal-accuracy ratios: flowlaws did not reach {TARGET_ERROR:g}."
    parts = []
    for name, value in equal.items():
        if name.startswith("flowlaws"):
            continue
        try:
            parts.append(f"flowlaws ÷ {name} = {ours_ms / float(str(value).lstrip('≤')):.2f}")
        except (ValueError, ZeroDivisionError):
            parts.append(f"flowlaws ÷ {name}: {value}")
    return f"At end-state error {TARGET_ERROR:g}: " + "; ".join(parts) + "."


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 2 minutes: 2 tolerances, 3/2 rounds, 100 flows")
    parser.add_argument("--cases", help="CASES indices '0,2', or specs 'linear:4,2,2;poly:10,10,1,k=2 mse', or none")
    parser.add_argument("--flows", type=int, help="flows in the batch (default 1000, quick 100; 0: no batch)")
    parser.add_argument("--out", help="write the Markdown tables to this file (default: print them)")
    parser.add_argument("--json", help="write every figure as JSON to this file")
    args = parser.parse_args(argv)
    chosen = list(range(len(CASES)))
    if args.cases:
        parts = [] if args.cases == "none" else args.cases.split(";" if ":" in args.cases else ",")
        names = [f"{spec} {loss}" for spec, loss in CASES]
        found = [[i for i, case in enumerate(CASES) if part.strip() in (str(i), case[0], names[i])] for part in parts]
        if not all(found):
            parser.error(f"--cases={args.cases}: pick indices or specs (a spec alone: all its losses) of {names}")
        chosen = [i for matches in found for i in matches]
    tolerances = (1e-6, 1e-8, 1e-10) if args.quick else TOLERANCES
    rounds, main_rounds = (2, 3) if args.quick else (7, 15)
    flows = args.flows if args.flows is not None else (100 if args.quick else 1000)
    load_start, start = os.getloadavg(), time.perf_counter()
    integrators.warm_up()
    warm_up_seconds = time.perf_counter() - start
    peers, jax_modules = pg.load_peers()
    cases = []
    for index in chosen:
        spec, loss = CASES[index]
        print(f"bench_peers: {spec} {loss} ...", file=sys.stderr, flush=True)
        cases.append(bench_case(spec, loss, tolerances, rounds, main_rounds, peers, jax_modules))
    batch = bench_batch(flows, 5 if not args.quick else 2, peers, jax_modules) if flows > 0 else None
    rate = dgemm_rate()
    share = {}
    for case in cases:
        if case["D"] == 1800 and case["case"].endswith("mse"):
            flops = 216_900  # four 30×30×30 products (2·27,000 flops each) plus the −C subtraction
            share = {name: flops / (us * 1e-6) / (rate * 1e9) for name, us in case["rhs_us"].items()}
    command = "python benchmarks/bench_peers.py " + " ".join(argv if argv is not None else sys.argv[1:])
    result = {"command": command, "machine": machine(), "load_start": load_start, "load_end": os.getloadavg()}
    result |= {"warm_up_seconds": warm_up_seconds, "dgemm_gflops": rate, "d1800_share_of_dgemm": share}
    result |= {"cases": cases, "batch": batch}
    text = markdown(result)
    Path(args.out).write_text(text) if args.out else print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
