"""The peers' right-hand sides for ``bench_peers.py``: ∇L of each case in NumPy (SciPy), Numba (numbalsoda) and JAX.

Every peer computes flowlaws' mathematics from the same data. MSE goes through the moments as flowlaws' dense
kernels do: Φ(θ), G = ΦM − C (``harness.model.data.moments``), then J(θ)ᵀ vec(G), with Φ = U Vᵀ (linear),
W_L ⋯ W_1 (deep-linear), U P with P[j, α] = mult(α) Π_s V[α_s, j] over the multisets α of ``network.exponents``
(poly), Φ[c, (a, b, e)] = (W_Q W_Kᵀ)_ab (W_V)_ec (attention). Other losses, and poly's per-sample variant, read
the rows. Every variant (np.dot, hand loops, rows) is checked against ``flow.gradient`` at θ₀ (relative
≤ 1e-12); numbalsoda's ``cfunc`` gets the one whose compiled gradient is the cheapest (``fastest_variant``).

A gradient takes (θ, A, B, W, dims): A, B are M, C (dims[0] = 0) or the rows X, Y (dims[0] = 1); dims[1] is the
loss (0 mse, 1 logcosh), the sizes follow (poly: then its multisets α, k per row); W is poly's stacked one-hot
E_s (row α of E_s picks V[α_s]; mult(α) folded into E_0), else 1.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from numba import cfunc, njit
from numba.extending import register_jitable
from numba.np.numpy_support import carray

from harness.kernels import problem as kernel_problem
from harness.model.data import moments

LOSS_CODES = {"mse": 0, "logcosh": 1}  # the losses the peers' RHS implement
CHECK_TOLERANCE = 1e-12
CLOCK = time.process_time


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
    """Per sample, from the rows: f(x) = U (Vᵀx)^k (elementwise power)."""
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


def poly_moments_gradient(theta, a, b, w, dims):
    """MSE from the moments through np.dot: Z_s = E_s V, Pᵀ = Π_s Z_s, Φ = U P, ∇V = Σ_s E_sᵀ (Uᵀ G)ᵀ ⊙ Π_{t≠s} Z_t."""
    n, r, m, k = dims[2], dims[3], dims[4], dims[5]
    features = a.shape[0]
    u = theta[: m * r].reshape((m, r))
    v = theta[m * r :].reshape((n, r))
    z = np.empty((k, features, r))
    for s in range(k):
        z[s] = w[s * features : (s + 1) * features] @ v
    p = z[0].copy()
    for s in range(1, k):
        p *= z[s]
    g = (u @ p.T) @ a - b
    dp = g.T @ u
    gv = np.zeros((n, r))
    for s in range(k):
        part = dp.copy()
        for t in range(k):
            if t != s:
                part *= z[t]
        gv += w[s * features : (s + 1) * features].T @ part
    return np.concatenate(((g @ p).ravel(), gv.ravel()))


def poly_moments_loops_gradient(theta, a, b, w, dims):
    """``poly_moments_gradient`` with P and ∇V in hand loops over the multisets α (dims[6:]); ΦM by np.dot."""
    r, m, k = dims[3], dims[4], dims[5]
    features, split = a.shape[0], m * r
    p = np.empty((features, r))
    for f in range(features):
        base = 6 + f * k
        for j in range(r):
            value = w[f, dims[base]]  # mult(α)
            for s in range(k):
                value *= theta[split + dims[base + s] * r + j]
            p[f, j] = value
    u = theta[:split].reshape((m, r))
    g = (u @ p.T) @ a - b
    dp = g.T @ u
    out = np.zeros(theta.shape[0])
    out[:split] = (g @ p).ravel()
    for f in range(features):
        base = 6 + f * k
        for j in range(r):
            scale = dp[f, j] * w[f, dims[base]]
            for s in range(k):
                value = scale
                for t in range(k):
                    if t != s:
                        value *= theta[split + dims[base + t] * r + j]
                out[split + dims[base + s] * r + j] += value
    return out


def attention_moments_gradient(theta, a, b, w, dims):
    """MSE from the moments through np.dot: S = W_Q W_Kᵀ, Φ_c = vec(S) ⊗ W_V[:, c], G = ΦM − C, then ∇S, ∇W_V."""
    d, dk, dv = dims[3], dims[4], dims[5]
    pairs = d * d
    q = theta[: d * dk].reshape((d, dk))
    key = theta[d * dk : 2 * d * dk].reshape((d, dk))
    vt = np.ascontiguousarray(theta[2 * d * dk :].reshape((d, dv)).T)  # W_Vᵀ: row c is W_V[:, c]
    scores = (q @ key.T).ravel()
    phi = (scores.reshape((1, pairs, 1)) * vt.reshape((dv, 1, d))).reshape((dv, pairs * d))
    g = (phi @ a - b).reshape((dv, pairs, d))
    gs, gvt = np.zeros(pairs), np.empty((dv, d))
    for c in range(dv):
        gs += g[c] @ vt[c]
        gvt[c] = scores @ g[c]
    gs2 = gs.reshape((d, d))
    return np.concatenate(((gs2 @ key).ravel(), (gs2.T @ q).ravel(), np.ascontiguousarray(gvt.T).ravel()))


def case_data(flow, family: str, loss: str, form: int):
    """(A, B, W, dims) of the case for the peers' gradients (see the module docstring); form 0 moments, 1 rows."""
    network = flow.network
    rows = (np.asarray(flow.data.x, dtype=float), network.target_rows(flow.data.y))
    a, b = moments(network, flow.data) if form == 0 else rows
    w, table = np.ones((1, 1)), []
    if family == "linear":
        sizes = [network.n_out, network.hidden, network.n_in]
    elif family == "deep-linear":
        sizes = [len(network.widths) - 1, *network.widths]
    elif family == "poly":
        sizes = [network.n_in, network.hidden, network.n_out, network.k]
        alphas = np.asarray(network.exponents, dtype=np.int64).reshape(-1, network.k)
        features = alphas.shape[0]
        w = np.zeros((network.k * features, network.n_in))
        for f, alpha in enumerate(alphas.tolist()):
            counts = np.bincount(alpha, minlength=network.n_in)
            mult = math.factorial(network.k) // math.prod(math.factorial(int(c)) for c in counts)
            for s, i in enumerate(alpha):
                w[s * features + f, i] = mult if s == 0 else 1.0
        table = alphas.ravel().tolist()
    else:
        sizes = [network.n, network.d, network.dk, network.dv]  # the token weights are inside M and C
    dims = np.array([form, LOSS_CODES[loss], *sizes, *table], dtype=np.int64)
    return np.ascontiguousarray(a), np.ascontiguousarray(b), np.ascontiguousarray(w), dims


def variants(flow, family: str, loss: str) -> dict[str, tuple[Any, tuple]]:
    """name → (gradient, data) of every form of the case's ∇L; the first (MSE: from the moments) is SciPy's RHS."""
    form = 0 if loss == "mse" else 1
    data = case_data(flow, family, loss, form)
    if family == "linear":
        return {"np.dot": (linear_gradient, data), "loops": (linear_loops_gradient, data)}
    if family == "deep-linear":
        return {"np.dot": (deep_linear_gradient, data)}
    if family == "attention":  # the per-sample form is not kept: 30 times slower than the moments (250 vs 8.5 µs)
        if form == 1:
            raise SystemExit(f"bench_peers: the attention peers implement MSE only, not {loss}")
        return {"moments np.dot": (attention_moments_gradient, data)}
    rows = {"rows np.dot": (poly_gradient, data if form == 1 else case_data(flow, family, loss, 1))}
    if form == 1:
        return rows
    return {
        "moments np.dot": (poly_moments_gradient, data),
        "moments loops": (poly_moments_loops_gradient, data),
    } | rows


def jax_gradient(jnp, jax, family, a, b, w, dims):
    """∇L by ``jax.grad`` of the same loss (float64) on the same data, for the diffrax RHS and the JAX fori_loop."""
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
            phi = ((q @ key.T).reshape(1, d * d, 1) * value.T.reshape(dv, 1, d)).reshape(dv, d**3)
        elif family == "poly":
            n, r, m, k = sizes[:4]
            u, v = theta[: m * r].reshape(m, r), theta[m * r :].reshape(n, r)
            if form == 1:
                return rows_loss(((a @ v) ** k) @ u.T, b)
            features = w.shape[0] // k
            p = w[:features] @ v
            for s in range(1, k):
                p = p * (w[s * features : (s + 1) * features] @ v)
            phi = u @ p.T
        elif family == "linear":
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


# --- the peers loaded, their compiled forms (numbalsoda cfunc, diffrax solve), costs and checks --------------------------------------------


def optional(name: str):
    """The module ``name``, or the reason it cannot be used (a string)."""
    try:
        return __import__(name)
    except Exception as error:  # noqa: BLE001 - any import failure is a reason to skip, stated in the output
        return f"{name} not usable: {type(error).__name__}: {error}"


def load_peers() -> tuple[dict, tuple | None]:
    peers = {"numbalsoda": optional("numbalsoda"), "jax": optional("jax")}
    diffrax = optional("diffrax") if not isinstance(peers["jax"], str) else "needs jax: " + peers["jax"]
    peers["diffrax"] = diffrax
    if not isinstance(peers["jax"], str):
        peers["jax"].config.update("jax_enable_x64", True)
    jax_modules = None if isinstance(diffrax, str) else (peers["jax"], diffrax)
    return peers, jax_modules


def relative_error(state, reference) -> float:
    return float(np.abs(np.asarray(state) - reference).max() / np.abs(reference).max())


def numbalsoda_rhs(gradient, data, n):
    """A numbalsoda ``cfunc`` θ' = −∇L (data arrays frozen in as constants; p[0] counts evaluations)."""
    a, b, w, dims = data
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

    return rhs


@njit
def _numba_loop(gradient, theta, a, b, w, dims, count):
    total = 0.0
    for _ in range(count):
        total += gradient(theta, a, b, w, dims)[0]
    return total


def numba_cost(compiled, theta, data, count: int) -> float:
    """CPU µs of one call of a compiled gradient, in an njit loop of ``count`` calls."""
    a, b, w, dims = data
    _numba_loop(compiled, theta, a, b, w, dims, 2)
    start = CLOCK()
    _numba_loop(compiled, theta, a, b, w, dims, count)
    return (CLOCK() - start) / count * 1e6


def rhs_costs(flow, theta0, peers, count: int) -> dict:
    """CPU µs of one gradient in compiled loops: flowlaws' rhs_loop_kernel, each Numba variant, JAX fori_loop."""
    kernel_problem.rhs_loop_kernel(theta0, flow.problem, 1.0, 2)
    start = CLOCK()
    kernel_problem.rhs_loop_kernel(theta0, flow.problem, 1.0, count)
    costs = {"flowlaws rhs_loop_kernel": (CLOCK() - start) / count * 1e6}
    for name, (compiled, data) in peers["numba_variants"].items():
        costs[f"numba {name} (njit loop)"] = numba_cost(compiled, theta0, data, count)
    if not isinstance(peers["jax"], str):
        jax, grad = peers["jax"], peers["jax_grad"]
        loop = jax.jit(lambda y, n: jax.lax.fori_loop(0, n, lambda i, z: z - 1e-12 * grad(z), y))
        loop(theta0, 2).block_until_ready()
        start = CLOCK()
        loop(theta0, count).block_until_ready()
        costs["jax (jit fori_loop)"] = (CLOCK() - start) / count * 1e6
    return costs


def fastest_variant(compiled: dict, theta, count: int = 300) -> str:
    """The variant (name → (compiled gradient, data)) whose gradient at θ is the cheapest: numbalsoda's."""
    return min(compiled, key=lambda name: numba_cost(compiled[name][0], theta, compiled[name][1], count))


def numbalsoda_batch(numbalsoda, forms: dict, thetas, horizon: float):
    """(variant, (thetas, rtol, atol) ↦ (final states, evaluations)): numbalsoda's dop853 over the rows of
    ``thetas`` in an njit loop, through the cfunc of the variant (of ``forms``) cheapest at thetas[0]."""
    faster = fastest_variant({name: (njit(g), data) for name, (g, data) in forms.items()}, thetas[0])
    gradient, data = forms[faster]
    address, dop853 = numbalsoda_rhs(gradient, data, thetas.shape[1]).address, numbalsoda.dop853

    @njit
    def solve_all(thetas, rtol, atol):
        finals, counter, t_eval = np.empty_like(thetas), np.zeros(1), np.array([0.0, horizon])
        for i in range(thetas.shape[0]):
            usol, ok = dop853(address, thetas[i].copy(), t_eval, counter, rtol, atol, 10**7)
            if ok:
                finals[i] = usol[-1]
            else:
                finals[i] = np.nan
        return finals, counter[0]

    return faster, solve_all


def checked_rhs(flow, theta0, family: str, loss: str, peers: dict) -> tuple[dict, dict]:
    """Build and check every RHS of the case: (relative errors vs ``flow.gradient`` at θ₀, compile seconds).

    Leaves in ``peers``: ``scipy_rhs`` (gradient, data), ``numba_variants`` (name → (compiled, data)), ``numbalsoda_rhs``,
    ``numbalsoda_variant`` (the fastest), ``jax_grad``. SystemExit naming any variant off by > ``CHECK_TOLERANCE``.
    """
    expected = flow.gradient(theta0)
    forms = variants(flow, family, loss)
    peers["scipy_rhs"] = next(iter(forms.values()))
    checks = {f"numpy {name}": relative_error(g(theta0, *data), expected) for name, (g, data) in forms.items()}
    start = time.perf_counter()
    compiled: dict[str, tuple[Any, tuple]] = {name: (njit(g), data) for name, (g, data) in forms.items()}
    for name, (gradient, data) in compiled.items():
        checks[f"numba {name}"] = relative_error(gradient(theta0, *data), expected)
    seconds: dict[str, object] = {"numba gradients": time.perf_counter() - start}
    peers["numba_variants"] = compiled
    faster = peers["numbalsoda_variant"] = fastest_variant(compiled, theta0)
    if not isinstance(peers["numbalsoda"], str):
        start = time.perf_counter()
        peers["numbalsoda_rhs"] = numbalsoda_rhs(*forms[faster], theta0.shape[0])
        seconds["numbalsoda cfunc"] = time.perf_counter() - start
    if not isinstance(peers["jax"], str):
        jax = peers["jax"]
        peers["jax_grad"] = grad = jax.jit(jax_gradient(jax.numpy, jax, family, *peers["scipy_rhs"][1]))
        checks["jax"] = relative_error(np.asarray(grad(theta0)), expected)
    bad = {name: value for name, value in checks.items() if not value <= CHECK_TOLERANCE}
    if bad:
        raise SystemExit(f"bench_peers: {flow.network} {loss}: RHS differs from flow.gradient at θ₀: {bad}")
    return checks, seconds


def diffrax_solver(jax_modules, jax_grad, horizon: float, batch: bool = False):
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
                horizon,
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
