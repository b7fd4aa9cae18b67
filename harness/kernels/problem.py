"""The problem a Numba kernel integrates, and its right-hand side θ' = −s·∇L(θ) (DESIGN.md §1, §2.3).

The right-hand side goes through the exact sparse polynomial Φ of the network (``harness.kernels.polynomial``):

    f_r = Φ(θ) Ψ_r,   G = mean_r ∇_f ℓ(f_r, y_r) Ψ_rᵀ,   ∇L(θ) = J(θ)ᵀ vec(G),

fused in one kernel (Φ, then G, then the vector–Jacobian product) that writes into preallocated buffers. For
MSE, G = Φ M − C with the moments M = mean ΨΨᵀ and C = mean yΨᵀ, so the cost does not grow with N. For the
two-layer linear family the same kernel can take a dense branch (Φ = UVᵀ, ∇_U = GV, ∇_V = GᵀU), chosen at run
time by a flag in the problem, 2–3× faster at D = 200 (benchmarks/README.md).

Every kernel is typed by C-contiguous, writable float64/int64 arrays and scalars only: a *problem* is the
tuple ``(out, coef, variables, features, targets, moment_M, moment_C, sizes)`` whose types never depend on the
family, the loss or the data, so there is exactly one compilation in all (``cache=True``; see
``harness.kernels.warmup``). Read-only arrays would be a different Numba type, which is why the Python layer
(``harness.dynamics.flow``) always hands over fresh copies.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from harness.kernels.losses import MSE, loss_row
from harness.kernels.polynomial import add_phi_vjp

# Loss kernel id of MSE (harness.model.losses): its G is computed from the moments.
MSE_KERNEL_ID = MSE  # its G is computed from the moments M, C (harness.kernels.losses)

# Indices into the ``sizes`` array of a problem.
SIZE_OUTPUTS, SIZE_FEATURES, SIZE_LOSS, SIZE_USE_MOMENTS, SIZE_STRUCTURE, SIZE_HIDDEN = 0, 1, 2, 3, 4, 5

# How Φ and its vector–Jacobian product are computed: from the sparse monomials (any network), or, for the
# two-layer linear family, as the dense products Φ = U Vᵀ, ∇_U = G V, ∇_V = Gᵀ U, whose inner loops run along
# contiguous memory (the monomial loops gather and scatter). Same numbers up to round-off; a runtime switch,
# so still one compilation.
STRUCTURE_SPARSE = 0
STRUCTURE_TWO_LAYER_LINEAR = 1


# --- the right-hand side ------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def gradient_into(theta, problem, phi, cotangent, prediction, row_gradient, scratch, gradient):
    """∇L(θ) = J(θ)ᵀ vec(G) written into ``gradient``; returns L(θ) (NaN in the moment path, which never needs it).

    Buffers: phi and cotangent (m·K), prediction and row_gradient (m), scratch (D). Nothing is allocated.
    """
    out, coef, variables, features, targets, moment_m, moment_c, sizes = problem
    n_outputs = sizes[SIZE_OUTPUTS]
    n_features = sizes[SIZE_FEATURES]
    loss_id = sizes[SIZE_LOSS]
    degree = variables.shape[1]
    n_terms = out.shape[0]
    dense_linear = sizes[SIZE_STRUCTURE] == STRUCTURE_TWO_LAYER_LINEAR
    hidden = sizes[SIZE_HIDDEN]
    v_offset = n_outputs * hidden  # θ = (U row-major (m × r), V row-major (K × r))
    for p in range(phi.shape[0]):
        phi[p] = 0.0
    if dense_linear:
        # Φ = U Vᵀ with Vᵀ copied to ``scratch`` first, so that the innermost loop is contiguous (SIMD)
        for k in range(n_features):
            for j in range(hidden):
                scratch[j * n_features + k] = theta[v_offset + k * hidden + j]
        for a in range(n_outputs):
            for j in range(hidden):
                weight = theta[a * hidden + j]
                for k in range(n_features):
                    phi[a * n_features + k] += weight * scratch[j * n_features + k]
    else:
        # Φ(θ) from its monomials
        for t in range(n_terms):
            term = coef[t]
            for s in range(degree):
                term *= theta[variables[t, s]]
            phi[out[t]] += term
    # G: from the moments (MSE), or as the mean over rows of ∇ℓ(f_r, y_r) Ψ_rᵀ.
    value = np.nan
    if sizes[SIZE_USE_MOMENTS] == 1:
        # G = ΦM − C, ordered so that the innermost loop runs along contiguous rows (vectorizes)
        for a in range(n_outputs):
            row = a * n_features
            for k in range(n_features):
                cotangent[row + k] = -moment_c[a, k]
            for q in range(n_features):
                weight = phi[row + q]
                if weight != 0.0:
                    for k in range(n_features):
                        cotangent[row + k] += weight * moment_m[q, k]
    else:
        for p in range(cotangent.shape[0]):
            cotangent[p] = 0.0
        n_rows = features.shape[0]
        value = 0.0
        for r in range(n_rows):
            for a in range(n_outputs):
                total = 0.0
                for k in range(n_features):
                    total += phi[a * n_features + k] * features[r, k]
                prediction[a] = total
            value += loss_row(loss_id, prediction, targets[r], row_gradient)
            for a in range(n_outputs):
                weight = row_gradient[a] / n_rows
                if weight != 0.0:
                    for k in range(n_features):
                        cotangent[a * n_features + k] += weight * features[r, k]
        value /= n_rows
    for i in range(gradient.shape[0]):
        gradient[i] = 0.0
    if dense_linear:
        # ∇_U = G V and ∇_V = Gᵀ U, innermost loops along the rows of U and V (contiguous)
        for a in range(n_outputs):
            for k in range(n_features):
                weight = cotangent[a * n_features + k]
                for j in range(hidden):
                    gradient[a * hidden + j] += weight * theta[v_offset + k * hidden + j]
        for a in range(n_outputs):
            for k in range(n_features):
                weight = cotangent[a * n_features + k]
                for j in range(hidden):
                    gradient[v_offset + k * hidden + j] += weight * theta[a * hidden + j]
        return value
    add_phi_vjp(theta, out, coef, variables, cotangent, gradient)  # J(θ)ᵀ vec(G), the one sparse VJP
    return value


@njit(cache=True)
def work_buffers(problem, n_params):
    """Work arrays of one integration: phi, cotangent (m·K), prediction, row_gradient (m), scratch, gradient (D)."""
    sizes = problem[7]
    entries = sizes[SIZE_OUTPUTS] * sizes[SIZE_FEATURES]
    return (
        np.empty(entries),
        np.empty(entries),
        np.empty(sizes[SIZE_OUTPUTS]),
        np.empty(sizes[SIZE_OUTPUTS]),
        np.empty(n_params),
        np.empty(n_params),
    )


@njit(cache=True)
def gradient_kernel(theta, problem):
    """∇L(θ) for one θ (allocates its own buffers; the integrators reuse theirs)."""
    phi, cotangent, prediction, row_gradient, scratch, gradient = work_buffers(problem, theta.shape[0])
    gradient_into(theta, problem, phi, cotangent, prediction, row_gradient, scratch, gradient)
    return gradient


@njit(cache=True, inline="always")
def flow_field(theta, problem, sign, buffers, velocity):
    """θ' = −s·∇L(θ) into ``velocity``; returns False if it is not finite."""
    phi, cotangent, prediction, row_gradient, scratch, _ = buffers
    gradient_into(theta, problem, phi, cotangent, prediction, row_gradient, scratch, velocity)
    finite = True
    for i in range(velocity.shape[0]):
        velocity[i] = -sign * velocity[i]
        if not math.isfinite(velocity[i]):
            finite = False
    return finite


@njit(cache=True)
def rhs_loop_kernel(theta, problem, sign, n_evaluations):
    """``n_evaluations`` evaluations of the flow field at θ: the yardstick for the integrators' overhead."""
    buffers = work_buffers(problem, theta.shape[0])
    velocity = np.empty(theta.shape[0])
    probe = theta.copy()
    checksum = 0.0
    for i in range(n_evaluations):
        probe[i % probe.shape[0]] += 1e-300  # defeats hoisting the evaluation out of the loop
        flow_field(probe, problem, sign, buffers, velocity)
        checksum += velocity[0]
    return checksum


def tiny_problem():
    """A 2-parameter problem (Φ = θ₀θ₁, one feature, one output) in the exact kernel types."""
    out = np.zeros(1, dtype=np.int64)
    coef = np.ones(1)
    variables = np.array([[0, 1]], dtype=np.int64)
    features = np.ones((1, 1))
    targets = np.ones((1, 1))
    moment_m = np.ones((1, 1))
    moment_c = np.ones((1, 1))
    return out, coef, variables, features, targets, moment_m, moment_c


def interleaved_order(out: np.ndarray) -> np.ndarray:
    """A permutation of the monomials after which consecutive monomials feed different entries of Φ.

    The sum Φ_p += term then never waits on the previous store to the same entry (a store-to-load chain that
    halves the speed of the Φ loop); the sum is the same up to round-off.
    """
    out = np.asarray(out, dtype=np.int64)
    by_entry = np.argsort(out, kind="stable")
    sorted_out = out[by_entry]
    starts = np.searchsorted(sorted_out, sorted_out, side="left")
    occurrence = np.empty(out.shape[0], dtype=np.int64)
    occurrence[by_entry] = np.arange(out.shape[0]) - starts
    return np.lexsort((out, occurrence))


def make_problem(
    out,
    coef,
    variables,
    features,
    targets,
    moment_m,
    moment_c,
    n_outputs,
    n_features,
    loss_id,
    use_moments,
    structure=STRUCTURE_SPARSE,
    hidden=0,
):
    """The kernel's problem tuple, every array a fresh C-contiguous writable copy of the exact dtype."""
    order = interleaved_order(out)
    out, coef, variables = np.asarray(out)[order], np.asarray(coef)[order], np.asarray(variables)[order]

    def floats(array, ndim):
        return np.array(array, dtype=np.float64, order="C", copy=True, ndmin=ndim)

    def integers(array):
        return np.array(array, dtype=np.int64, order="C", copy=True)

    sizes = np.array([n_outputs, n_features, loss_id, 1 if use_moments else 0, structure, hidden], dtype=np.int64)
    return (
        integers(out),
        floats(coef, 1),
        integers(variables),
        floats(features, 2),
        floats(targets, 2),
        floats(moment_m, 2),
        floats(moment_c, 2),
        sizes,
    )
