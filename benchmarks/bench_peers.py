"""Benchmark: flowlaws' gradient-flow integrators side by side with the ODE-solver peers, at equal accuracy.

θ' = −∇L(θ) on N = 64 samples, t = 10, θ₀ of scale 0.5 (seeded), for each case of ``CASES``; every peer computes
the same mathematics from the same data (MSE of linear and deep-linear networks from the moments, G = ΦM − C;
other losses and families from the rows), checked against ``flow.gradient`` at θ₀ (relative ≤ 1e-12) before any
timing. Solvers: flowlaws (``integrate``; its compiled time loop called directly; ``dop853`` when registered,
else ``dp5``), SciPy ``solve_ivp`` RK45 and DOP853 (NumPy RHS), numbalsoda ``dop853`` (Numba ``cfunc`` RHS
through ``np.dot``), diffrax ``Dopri5`` + ``PIDController`` under ``jax.jit`` in float64 (``jit(vmap)`` for the
batch of flows). A peer that is not installed is skipped with its reason, never faked.

Method (as the independent review ``integrators-vs-peers.md``): one process, one thread, CPU time
(``time.process_time``), all solvers of a case and tolerance round-robin with the first one rotated, medians;
solves shorter than 4 ms repeated inside a sample; compilation and warm-up excluded and reported apart. Each
end state is compared with SciPy DOP853 at rtol 1e-12, atol 1e-14 (error = max|θ − θ_ref| / max|θ_ref|); the
work–precision table spans rtol 1e-4 … 1e-10 (atol = rtol/100), and CPU times at equal end-state error 1e-9 are
interpolated log–log between the measured tolerances that bracket it. The RHS-only limit is a solver's
evaluations × the fastest compiled gradient measured (flowlaws' ``rhs_loop_kernel``, the Numba RHS in an njit
loop, a JAX ``fori_loop``).

    python benchmarks/bench_peers.py [--quick] [--cases 0,2] [--out peers.md] [--json peers.json]
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

from harness import environment  # noqa: E402

environment.configure()  # one thread and the Numba cache folder, before numpy and numba load

import numpy as np  # noqa: E402
from numba import cfunc, njit  # noqa: E402
from numba.extending import register_jitable  # noqa: E402
from numba.np.numpy_support import carray  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from harness.dynamics import flow as flow_module  # noqa: E402
from harness.dynamics.flow import GradientFlow, integrate  # noqa: E402
from harness.kernels import integrators  # noqa: E402
from harness.kernels import problem as kernel_problem  # noqa: E402
from harness.kernels.methods import METHODS  # noqa: E402
from harness.model.data import moments  # noqa: E402
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
LOSS_CODES = {"mse": 0, "logcosh": 1}  # the row losses the peers' RHS implement
METHOD = "dop853" if "dop853" in METHODS else "dp5"
CLOCK = time.process_time

# --- the same mathematics, written once for NumPy (SciPy's RHS) and Numba (numbalsoda's cfunc) -----------
# Every gradient takes (θ, A, B, W, dims): A, B are the moments M, C (dims[0] = 0) or the rows X, Y (dims[0] = 1),
# dims[1] the loss (0 mse, 1 logcosh), the family's sizes after; W is the attention's token weights (else unused).


@register_jitable  # plain Python for SciPy's RHS, inlined into the Numba gradients
def cotangent(phi, a, b, form, loss):
    """G = ∂L/∂Φ: ΦM − C from the moments, or Rᵀ X / N with R = ℓ'(XΦᵀ, Y) from the rows."""
    if form == 0:
        return phi @ a - b
    residual = a @ phi.T - b
    if loss == 1:
        residual = np.tanh(residual)
    return residual.T @ a / a.shape[0]


def linear_gradient(theta, a, b, w, dims):
    m, r, k = dims[2], dims[3], dims[4]
    u = theta[: m * r].reshape((m, r))
    v = theta[m * r :].reshape((k, r))
    g = cotangent(u @ v.T, a, b, dims[0], dims[1])
    return np.concatenate(((g @ v).ravel(), (g.T @ u).ravel()))


def linear_loops_gradient(theta, a, b, w, dims):
    """``linear_gradient`` in hand loops (no BLAS call): faster at tiny sizes, where a GEMM call costs more."""
    m, r, k, form = dims[2], dims[3], dims[4], dims[0]
    split = m * r
    phi, g, out = np.zeros((m, k)), np.zeros((m, k)), np.zeros(theta.shape[0])
    for i in range(m):
        for j in range(k):
            total = 0.0
            for h in range(r):
                total += theta[i * r + h] * theta[split + j * r + h]
            phi[i, j] = total
    if form == 0:
        for i in range(m):
            for j in range(k):
                total = -b[i, j]
                for col in range(k):
                    total += phi[i, col] * a[col, j]
                g[i, j] = total
    else:
        rows = a.shape[0]
        for row in range(rows):
            for i in range(m):
                residual = -b[row, i]
                for j in range(k):
                    residual += phi[i, j] * a[row, j]
                if dims[1] == 1:
                    residual = math.tanh(residual)
                for j in range(k):
                    g[i, j] += residual * a[row, j] / rows
    for i in range(m):
        for j in range(k):
            for h in range(r):
                out[i * r + h] += g[i, j] * theta[split + j * r + h]
                out[split + j * r + h] += g[i, j] * theta[i * r + h]
    return out


def deep_linear_gradient(theta, a, b, w, dims):
    layers = dims[2]
    weights, prefix, start = [], [], 0
    for i in range(layers):
        rows, cols = dims[4 + i], dims[3 + i]
        weight = theta[start : start + rows * cols].reshape((rows, cols))
        start += rows * cols
        weights.append(weight)
        prefix.append(weight if i == 0 else weight @ prefix[i - 1])  # A_i = W_i ⋯ W_1
    h = cotangent(prefix[layers - 1], a, b, dims[0], dims[1])  # H_L = G, H_{i−1} = W_iᵀ H_i
    gradient = np.empty(theta.shape[0])
    for i in range(layers - 1, -1, -1):
        part = h if i == 0 else h @ prefix[i - 1].T  # ∇W_i = H_i A_{i−1}ᵀ
        size = part.size
        start -= size
        gradient[start : start + size] = part.ravel()
        if i > 0:
            h = weights[i].T @ h
    return gradient


def poly_gradient(theta, a, b, w, dims):
    n, r, m, k = dims[2], dims[3], dims[4], dims[5]
    u = theta[: m * r].reshape((m, r))
    v = theta[m * r :].reshape((n, r))
    z = a @ v
    power = z**k
    residual = power @ u.T - b
    if dims[1] == 1:
        residual = np.tanh(residual)
    residual = residual / a.shape[0]
    inner = (residual @ u) * (k * z ** (k - 1))
    return np.concatenate(((residual.T @ power).ravel(), (a.T @ inner).ravel()))


def attention_gradient(theta, a, b, w, dims):
    n, d, dk, dv = dims[2], dims[3], dims[4], dims[5]
    q = theta[: d * dk].reshape((d, dk))
    key = theta[d * dk : 2 * d * dk].reshape((d, dk))
    value = theta[2 * d * dk :].reshape((d, dv))
    gq, gk, gv = np.zeros((d, dk)), np.zeros((d, dk)), np.zeros((d, dv))
    rows = a.shape[0] * n
    for s in range(a.shape[0]):
        x = a[s].reshape((n, d)).copy()
        xq, xk, xv = x @ q, x @ key, x @ value
        scores = (xq @ xk.T) * w
        residual = scores @ xv - b[s * n : (s + 1) * n]
        if dims[1] == 1:
            residual = np.tanh(residual)
        residual = residual / rows
        gv += x.T @ (scores.T @ residual)
        d_scores = (residual @ xv.T) * w
        gq += x.T @ (d_scores @ xk)
        gk += x.T @ (d_scores.T @ xq)
    return np.concatenate((gq.ravel(), gk.ravel(), gv.ravel()))


GRADIENTS = {"linear": linear_gradient, "deep-linear": deep_linear_gradient}
GRADIENTS.update({"poly": poly_gradient, "attention": attention_gradient})


def jax_gradient(jnp, jax, family, a, b, w, dims):
    """∇L by ``jax.grad`` of the same loss (float64), for the diffrax RHS and the JAX fori_loop."""
    form, loss = int(dims[0]), int(dims[1])
    a, b, w = jnp.asarray(a), jnp.asarray(b), jnp.asarray(w)

    def rows_loss(prediction, target):
        z = prediction - target
        return jnp.sum(0.5 * z * z if loss == 0 else jnp.logaddexp(z, -z) - math.log(2.0)) / prediction.shape[0]

    def objective(theta):
        sizes = [int(s) for s in dims[2:]]
        if family == "attention":
            n, d, dk, dv = sizes[:4]
            q, key = theta[: d * dk].reshape(d, dk), theta[d * dk : 2 * d * dk].reshape(d, dk)
            value = theta[2 * d * dk :].reshape(d, dv)
            x = a.reshape(-1, n, d)
            scores = jnp.einsum("sik,sjk->sij", x @ q, x @ key) * w
            return rows_loss((scores @ (x @ value)).reshape(-1, dv), b)
        if family == "poly":
            n, r, m, k = sizes[:4]
            u, v = theta[: m * r].reshape(m, r), theta[m * r :].reshape(n, r)
            return rows_loss(((a @ v) ** k) @ u.T, b)
        if family == "linear":
            m, r, k = sizes[:3]
            phi = theta[: m * r].reshape(m, r) @ theta[m * r :].reshape(k, r).T
        else:
            phi, start = jnp.eye(sizes[1]), 0
            for rows, cols in zip(sizes[2:], sizes[1:-1]):
                phi = theta[start : start + rows * cols].reshape(rows, cols) @ phi
                start += rows * cols
        if form == 0:
            return 0.5 * jnp.sum((phi @ a) * phi) - jnp.sum(b * phi)
        return rows_loss(a @ phi.T, b)

    return jax.grad(objective)


def case_data(flow, family: str, loss: str):
    """(A, B, W, dims) of the case for the peers' gradients (see the comment above ``cotangent``)."""
    network = flow.network
    form = 0 if loss == "mse" and family in ("linear", "deep-linear") else 1
    if form == 0:
        a, b = moments(network, flow.data)
    else:
        a, b = np.array(flow.data.x, dtype=float), np.array(network.target_rows(flow.data.y), dtype=float)
    w = np.ones((1, 1))
    if family == "linear":
        sizes = [network.n_out, network.hidden, network.n_in]
    elif family == "deep-linear":
        sizes = [len(network.widths) - 1, *network.widths]
    elif family == "poly":
        sizes = [network.n_in, network.hidden, network.n_out, network.k]
    else:
        sizes = [network.n, network.d, network.dk, network.dv]
        w = np.array(network.token_weights, dtype=float)
    dims = np.array([form, LOSS_CODES[loss], *sizes], dtype=np.int64)
    return np.ascontiguousarray(a), np.ascontiguousarray(b), np.ascontiguousarray(w), dims


# --- the solvers -------------------------------------------------------------------------------------------


def optional(name: str):
    """The module ``name``, or the reason it cannot be used (a string)."""
    try:
        return __import__(name)
    except Exception as error:  # noqa: BLE001 - any import failure is a reason to skip, stated in the output
        return f"{name} not usable: {type(error).__name__}: {error}"


def numbalsoda_rhs(gradient, a, b, w, dims, n):
    """A numbalsoda ``cfunc`` θ' = −∇L (data arrays frozen in as constants; p[0] counts evaluations)."""
    from numbalsoda import lsoda_sig

    compiled: Any = njit(gradient)  # a Numba dispatcher: pyright cannot see its call signature

    @cfunc(lsoda_sig)
    def rhs(t, u, du, p):
        theta = carray(u, (n,))
        out = carray(du, (n,))
        g = compiled(theta, a, b, w, dims)
        for i in range(n):
            out[i] = -g[i]
        p[0] += 1.0

    return rhs, compiled


def numba_cost(compiled, theta, data, count: int) -> float:
    """CPU µs of one call of a compiled gradient, in an njit loop of ``count`` calls."""
    a, b, w, dims = data
    _numba_loop(compiled, theta, a, b, w, dims, 2)
    start = CLOCK()
    _numba_loop(compiled, theta, a, b, w, dims, count)
    return (CLOCK() - start) / count * 1e6


def fastest_variant(variants: dict, theta, data) -> str:
    """The Numba variant (np.dot or loops) with the cheaper gradient at θ, the one numbalsoda's cfunc uses."""
    return min(variants, key=lambda name: numba_cost(variants[name], theta, data, 300))


@njit
def _numba_loop(gradient, theta, a, b, w, dims, count):
    total = 0.0
    for _ in range(count):
        total += gradient(theta, a, b, w, dims)[0]
    return total


def flowlaws_kernel(flow, theta0, rtol, atol):
    """flowlaws' compiled time loop called directly: (final state, evaluations)."""
    record = METHODS[METHOD]
    save_times = np.array([0.0, HORIZON])
    result = integrators.run_tableau(theta0, flow.problem, 1.0, save_times, record.tableau, rtol, atol, 1.0, 10**6, 1e6)
    return result[-1], int(result[3])


def solvers(flow, theta0, family, data, peers, rtol):
    """name → (solve() → (final state, evaluations)), for one case and tolerance; plus skip reasons."""
    a, b, w, dims = data
    atol = rtol / 100
    gradient = GRADIENTS[family]
    runs, skipped = {}, {}

    def api():
        trajectory = integrate(flow, theta0, HORIZON, METHOD, rtol=rtol, atol=atol, max_steps=10**6)
        return trajectory.final_state, trajectory.n_rhs

    runs[f"flowlaws {METHOD} (API)"] = api
    try:
        flowlaws_kernel(flow, theta0, rtol, atol)
        runs[f"flowlaws {METHOD} (kernel)"] = lambda: flowlaws_kernel(flow, theta0, rtol, atol)
    except Exception as error:  # noqa: BLE001 - the kernel's entry may change at a merge: say so, go on
        skipped[f"flowlaws {METHOD} (kernel)"] = f"run_tableau failed: {type(error).__name__}: {error}"

    def field(t, theta):
        return -gradient(theta, a, b, w, dims)

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


def diffrax_solver(jax_modules, jax_grad, batch: bool = False):
    """rtol, atol ↦ the AOT-compiled diffrax solve θ₀ ↦ (θ(T), accepted steps, rejected steps); compile timed."""
    jax, diffrax = jax_modules
    term = diffrax.ODETerm(lambda t, y, args: -jax_grad(y))
    compile_seconds = {}

    def make(rtol, atol, example):
        def solve(y0):
            solution = diffrax.diffeqsolve(
                term,
                diffrax.Dopri5(),
                0.0,
                HORIZON,
                None,
                y0,
                stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
                saveat=diffrax.SaveAt(t1=True),
                max_steps=200_000,
            )
            return solution.ys[-1], solution.stats["num_accepted_steps"], solution.stats["num_rejected_steps"]

        start = time.perf_counter()
        compiled = jax.jit(jax.vmap(solve) if batch else solve).lower(example).compile()
        compile_seconds[rtol] = time.perf_counter() - start
        return compiled

    return make, compile_seconds


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


def error_of(state, reference) -> float:
    return float(np.abs(np.asarray(state) - reference).max() / np.abs(reference).max())


def at_error(points: list[tuple[float, float]], target: float) -> str:
    """CPU ms at end-state error ``target``, log–log between the bracketing tolerances ('≤x', '—' outside)."""
    points = sorted((error, ms) for error, ms in points if error > 0 and math.isfinite(error))
    if not points:
        return "—"
    if points[0][0] >= target and all(error >= target for error, _ in points):
        return "—"
    if all(error <= target for error, _ in points):
        return f"≤{min(ms for _, ms in points):.3g}"
    for (e0, t0), (e1, t1) in zip(points, points[1:]):
        if e0 <= target <= e1:
            share = (math.log(target) - math.log(e0)) / (math.log(e1) - math.log(e0)) if e1 > e0 else 0.0
            return f"{math.exp(math.log(t0) + share * (math.log(t1) - math.log(t0))):.3g}"
    return "—"


def rhs_costs(flow, theta0, family, data, peers, count: int) -> dict:
    """CPU µs of one gradient in compiled loops: flowlaws' rhs_loop_kernel, the Numba RHS, JAX fori_loop."""
    a, b, w, dims = data
    costs = {}
    kernel_problem.rhs_loop_kernel(theta0, flow.problem, 1.0, 2)
    start = CLOCK()
    kernel_problem.rhs_loop_kernel(theta0, flow.problem, 1.0, count)
    costs["flowlaws rhs_loop_kernel"] = (CLOCK() - start) / count * 1e6
    for name, compiled in peers["numba_variants"].items():
        costs[f"numba {name} (njit loop)"] = numba_cost(compiled, theta0, data, count)
    if not isinstance(peers["jax"], str):
        jax = peers["jax"]
        grad = peers["jax_grad"]
        loop = jax.jit(lambda y, n: jax.lax.fori_loop(0, n, lambda i, z: z - 1e-12 * grad(z), y))
        loop(theta0, 2).block_until_ready()
        start = CLOCK()
        loop(theta0, count).block_until_ready()
        costs["jax (jit fori_loop)"] = (CLOCK() - start) / count * 1e6
    return costs


def bench_case(spec, loss, tolerances, rounds, main_rounds, peers, jax_modules) -> dict:
    built = Scenario(spec, loss, n_samples=N_SAMPLES, seed=0, theta_scale=THETA_SCALE).build()
    flow = GradientFlow(built.network, built.loss, built.data)
    theta0, family = built.theta0, built.network.family
    data = case_data(flow, family, loss)
    expected = flow.gradient(theta0)
    numpy_error = error_of(GRADIENTS[family](theta0, *data), expected)
    start = time.perf_counter()
    variants = {"np.dot": GRADIENTS[family]}
    if family == "linear":
        variants["loops"] = linear_loops_gradient
    peers["numba_variants"] = {name: njit(gradient) for name, gradient in variants.items()}
    checks = {"numpy": numpy_error}
    for name, compiled in peers["numba_variants"].items():
        checks[f"numba {name}"] = error_of(compiled(theta0, *data), expected)
    compile_seconds: dict[str, object] = {"numba gradients": time.perf_counter() - start}
    faster = fastest_variant(peers["numba_variants"], theta0, data)
    if not isinstance(peers["numbalsoda"], str):
        start = time.perf_counter()
        peers["numbalsoda_rhs"], _ = numbalsoda_rhs(variants[faster], *data, theta0.shape[0])
        peers["numbalsoda_variant"] = faster
        compile_seconds["numbalsoda cfunc"] = time.perf_counter() - start
    if not isinstance(peers["jax"], str):
        jnp = peers["jax"].numpy
        peers["jax_grad"] = grad = peers["jax"].jit(jax_gradient(jnp, peers["jax"], family, *data))
        checks["jax"] = error_of(np.asarray(grad(theta0)), expected)
        make, compile_seconds["diffrax (per tolerance)"] = diffrax_solver(jax_modules, grad)
        peers["diffrax_solve"] = lambda rtol, atol: make(rtol, atol, theta0)
    bad = {name: value for name, value in checks.items() if not value <= 1e-12}
    if bad:
        raise SystemExit(f"bench_peers: {spec} {loss}: RHS differs from flow.gradient at θ₀: {bad}")
    reference = solve_ivp(
        lambda t, y: -GRADIENTS[family](y, *data), (0, HORIZON), theta0, "DOP853", rtol=1e-12, atol=1e-14
    )
    reference_state = reference.y[:, -1]
    table, skipped = {}, {}
    for rtol in tolerances:
        runs, skipped = solvers(flow, theta0, family, data, peers, rtol)
        medians, first, results = timed_round_robin(runs, main_rounds if rtol == MAIN_RTOL else rounds)
        for name in runs:
            state, evaluations = results[name]
            table.setdefault(name, {})[rtol] = {
                "cpu_ms": medians[name] * 1e3,
                "error": error_of(state, reference_state),
                "evaluations": evaluations,
                "first_call_s": first[name],
            }
    costs = rhs_costs(flow, theta0, family, data, peers, 2000 if theta0.shape[0] < 500 else 300)
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
        "reference_evaluations": int(reference.nfev),
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
    data = case_data(flow, "linear", "mse")
    rtol, atol = MAIN_RTOL, MAIN_RTOL / 100
    references = np.array(
        [
            solve_ivp(lambda t, y: -linear_gradient(y, *data), (0, HORIZON), theta, "DOP853", rtol=1e-12, atol=1e-14).y[
                :, -1
            ]
            for theta in thetas
        ]
    )
    runs, skipped = {}, {}

    def api_loop():
        finals = [integrate(flow, theta, HORIZON, METHOD, rtol=rtol, atol=atol) for theta in thetas]
        return np.array([t.final_state for t in finals]), sum(t.n_rhs for t in finals)

    runs[f"flowlaws {METHOD} API, Python loop"] = api_loop
    runs[f"flowlaws {METHOD} kernel, Python loop"] = lambda: _stack(
        [flowlaws_kernel(flow, t, rtol, atol) for t in thetas]
    )
    if hasattr(flow_module, "integrate_many"):

        def many():
            batch = getattr(flow_module, "integrate_many")(flow, thetas, HORIZON, method=METHOD, rtol=rtol, atol=atol)
            names = [name for name in ("final_states", "final_state", "states") if hasattr(batch, name)]
            evaluations = getattr(batch, "n_rhs", np.zeros(1))
            return np.asarray(getattr(batch, names[0])).reshape(count, -1), int(np.sum(evaluations))

        runs[f"flowlaws {METHOD} integrate_many"] = many
    else:
        skipped["flowlaws integrate_many"] = "harness.dynamics.flow has no integrate_many on this tree"
    if not isinstance(peers["numbalsoda"], str):
        variants = {"np.dot": linear_gradient, "loops": linear_loops_gradient}
        faster = fastest_variant({name: njit(g) for name, g in variants.items()}, thetas[0], data)
        rhs, _ = numbalsoda_rhs(variants[faster], *data, thetas.shape[1])
        address, dop853 = rhs.address, peers["numbalsoda"].dop853

        @njit
        def numbalsoda_loop(address, thetas, rtol, atol):
            finals, counter, t_eval = np.empty_like(thetas), np.zeros(1), np.array([0.0, HORIZON])
            for i in range(thetas.shape[0]):
                usol, ok = dop853(address, thetas[i].copy(), t_eval, counter, rtol, atol, 10**7)
                if ok:
                    finals[i] = usol[-1]
                else:
                    finals[i] = np.nan
            return finals, counter[0]

        runs[f"numbalsoda dop853 ({faster} RHS), njit loop"] = lambda: numbalsoda_loop(address, thetas, rtol, atol)
    else:
        skipped["numbalsoda"] = peers["numbalsoda"]
    if not isinstance(peers["jax"], str):
        grad = peers["jax"].jit(jax_gradient(peers["jax"].numpy, peers["jax"], "linear", *data))
        make, compile_seconds = diffrax_solver(jax_modules, grad, batch=True)
        compiled = make(rtol, atol, thetas)

        def vmapped():
            finals, accepted, rejected = compiled(thetas)
            return np.asarray(finals), int(np.sum(6 * (np.asarray(accepted) + np.asarray(rejected)) + 2))

        runs["diffrax Dopri5, jit(vmap)"] = vmapped
    for name in list(runs):
        try:
            runs[name]()
        except Exception as error:  # noqa: BLE001 - an entry point changed by a merge: say so, time the others
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
    out = np.empty((n, n))
    np.dot(a, b, out=out)
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
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
    )
    return {
        "model": fields.get("Model name", platform.processor()),
        "cpus": fields.get("CPU(s)", "?"),
        "flags": flags,
        "versions": versions,
        "commit": commit.stdout.strip(),
        "method": METHOD,
    }


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
        lines.append(
            "| solver | "
            + " | ".join(f"rtol {t}" for t in tolerances)
            + f" | ms at error {TARGET_ERROR:g} | ratio to RHS-only limit at rtol {MAIN_RTOL:g} |"
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


def load_peers() -> tuple[dict, tuple | None]:
    peers = {"numbalsoda": optional("numbalsoda"), "jax": optional("jax")}
    diffrax = optional("diffrax") if not isinstance(peers["jax"], str) else "needs jax: " + peers["jax"]
    peers["diffrax"] = diffrax
    if not isinstance(peers["jax"], str):
        peers["jax"].config.update("jax_enable_x64", True)
    jax_modules = None if isinstance(diffrax, str) else (peers["jax"], diffrax)
    return peers, jax_modules


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 2 minutes: 2 tolerances, 3/2 rounds, 100 flows")
    parser.add_argument("--cases", help="comma-separated indices into CASES (0-based), 'none' for the batch only")
    parser.add_argument(
        "--flows", type=int, default=None, help="flows in the batch (default 1000, quick 100; 0: no batch)"
    )
    parser.add_argument("--out", help="write the Markdown tables to this file (default: print them)")
    parser.add_argument("--json", help="write every figure as JSON to this file")
    args = parser.parse_args(argv)
    chosen = list(range(len(CASES)))
    if args.cases:
        chosen = [] if args.cases == "none" else [int(i) for i in args.cases.split(",")]
        if any(not 0 <= i < len(CASES) for i in chosen):
            parser.error(f"--cases={args.cases}: indices run from 0 to {len(CASES) - 1}: {list(enumerate(CASES))}")
    tolerances = (1e-6, 1e-8, 1e-10) if args.quick else TOLERANCES
    rounds, main_rounds = (2, 3) if args.quick else (7, 15)
    flows = args.flows if args.flows is not None else (100 if args.quick else 1000)
    load_start = os.getloadavg()
    start = time.perf_counter()
    integrators.warm_up()
    warm_up_seconds = time.perf_counter() - start
    peers, jax_modules = load_peers()
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
    result = {
        "command": "python benchmarks/bench_peers.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "load_start": load_start,
        "load_end": os.getloadavg(),
        "warm_up_seconds": warm_up_seconds,
        "dgemm_gflops": rate,
        "d1800_share_of_dgemm": share,
        "cases": cases,
        "batch": batch,
    }
    text = markdown(result)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
