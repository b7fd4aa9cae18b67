"""The problem a Numba kernel integrates, and its right-hand side θ' = −s·∇L(θ) (DESIGN.md §1, §2.3).

The right-hand side is three stages fused in one kernel that writes into preallocated buffers:

    Φ(θ)  →  G = mean_r ∇_f ℓ(Φ Ψ_r, y_r) Ψ_rᵀ  →  ∇L(θ) = J(θ)ᵀ vec(G).

Φ and J(θ)ᵀ vec(G) come from the family's dense kernel (``harness.kernels.families``, chosen by the structure id
in ``sizes``) or, for ``STRUCTURE_SPARSE``, from the exact sparse monomials (``harness.kernels.polynomial``): any
network, the reference every dense kernel is tested against. The loss stage: for MSE, G = Φ M − C from the
moments M = mean ΨΨᵀ, C = mean yΨᵀ (cost free of N); for the other losses P = F Φᵀ over all feature rows F, then
R = ℓ'(P, Y) (gradient only, ``losses.loss_gradients``), then G = Rᵀ F / N. Each product runs through BLAS or
through hand loops by the ``blas`` flag in ``sizes``, chosen per problem from a calibrated size threshold
(``harness.kernels.calibration``); the sparse path always takes the loops, bit for bit the pre-issue-10 kernel.

Every kernel is typed by C-contiguous, writable float64/int64 arrays and scalars only: a *problem* is the tuple
``(out, coef, variables, features, targets, moment_M, moment_C, sizes, shape, table, weights)`` whose types never
depend on the family, the loss or the data, so there is exactly one compilation in all (``cache=True``; see
``harness.kernels.warmup``). ``shape`` (int64) is the family's integer header, ``table`` (int64, 2-D) and
``weights`` (float64) its optional tables (one dummy entry when unused). Read-only arrays would be a different
Numba type, which is why ``make_problem`` always hands over fresh copies.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
from numba import njit

from harness.errors import InvalidInput
from harness.kernels.families import COUNTED, UNCOUNTED, attention, deep_linear, linear, polynomial
from harness.kernels.losses import MSE, loss_gradients
from harness.kernels.polynomial import add_phi_vjp, phi_into

MSE_KERNEL_ID = MSE  # its G is computed from the moments M, C (harness.kernels.losses)

PROBLEM_SIZES = 7  # the index of ``sizes`` in the problem tuple (then shape, table, weights)
PROBLEM_SHAPE = 8
PROBLEM_MOMENT_M, PROBLEM_MOMENT_C = 5, 6

# Indices into the ``sizes`` array of a problem. HIDDEN is kept for the layout's stability (0: the family's
# sizes are in ``shape``); WORK is the length of the family's work array; BLAS is 1 for BLAS products.
SIZE_OUTPUTS, SIZE_FEATURES, SIZE_LOSS, SIZE_USE_MOMENTS, SIZE_STRUCTURE, SIZE_HIDDEN = 0, 1, 2, 3, 4, 5
SIZE_WORK, SIZE_BLAS = 6, 7
# 1 when the field is the two-layer family's tiny moment field (MSE, m, K, r ≤ 4: ``linear.tiny_moment_field``).
SIZE_TINY = 8

# How Φ and its vector–Jacobian product are computed: from the sparse monomials (any network), or by a family's
# dense kernel (its ``STRUCTURE``). Same numbers up to round-off; a runtime switch, so still one compilation.
STRUCTURE_SPARSE = 0
STRUCTURE_TWO_LAYER_LINEAR = linear.STRUCTURE
STRUCTURE_DEEP_LINEAR = deep_linear.STRUCTURE
STRUCTURE_POLYNOMIAL = polynomial.STRUCTURE
STRUCTURE_ATTENTION = attention.STRUCTURE
DENSE_STRUCTURES = (STRUCTURE_TWO_LAYER_LINEAR, STRUCTURE_DEEP_LINEAR, STRUCTURE_POLYNOMIAL, STRUCTURE_ATTENTION)


# --- the right-hand side ------------------------------------------------------------------------------


@njit(cache=True, **COUNTED)
def _blas_product(a, b, out, scale):
    """out = scale · a b through BLAS, kept out of line (the loops branch then carries none of its code)."""
    np.dot(a, b, out)
    if scale != 1.0:
        rows, columns = out.shape
        for i in range(rows):
            for j in range(columns):
                out[i, j] *= scale


@njit(cache=True, inline="always")
def _moment_cotangent(phi, moment_m, moment_c, cotangent, blas):
    """G = Φ M − C (all (m, K)); the loops run along contiguous rows (they vectorize)."""
    n_outputs, n_features = phi.shape
    if blas:
        _blas_product(phi, moment_m, cotangent, 1.0)
        for a in range(n_outputs):
            for k in range(n_features):
                cotangent[a, k] -= moment_c[a, k]
        return
    for a in range(n_outputs):
        for k in range(n_features):
            cotangent[a, k] = -moment_c[a, k]
        for q in range(n_features):
            weight = phi[a, q]
            if weight != 0.0:
                for k in range(n_features):
                    cotangent[a, k] += weight * moment_m[q, k]


@njit(cache=True, inline="always")
def _row_cotangent(loss_id, phi, features, targets, rows, cotangent, blas):
    """G = Rᵀ F / N with R = ℓ'(F Φᵀ, Y) computed in ``rows`` (N, m); no loss value."""
    n_outputs, n_features = phi.shape
    n_rows = features.shape[0]
    if blas:
        _blas_product(features, phi.T, rows, 1.0)
    else:
        for r in range(n_rows):
            for a in range(n_outputs):
                total = 0.0
                for k in range(n_features):
                    total += phi[a, k] * features[r, k]
                rows[r, a] = total
    loss_gradients(loss_id, rows, targets)
    if blas:
        _blas_product(rows.T, features, cotangent, 1.0 / n_rows)
        return
    for a in range(n_outputs):
        for k in range(n_features):
            cotangent[a, k] = 0.0
    for r in range(n_rows):
        for a in range(n_outputs):
            weight = rows[r, a] / n_rows
            if weight != 0.0:
                for k in range(n_features):
                    cotangent[a, k] += weight * features[r, k]


@njit(cache=True, inline="always")
def gradient_into(theta, problem, buffers, gradient):
    """∇L(θ) = J(θ)ᵀ vec(G) written into ``gradient`` (length D), with the ``work_buffers``; nothing is allocated."""
    out, coef, variables, features, targets, moment_m, moment_c, sizes, shape, table, weights = problem
    phi_flat, phi, cotangent_flat, cotangent, rows, work = buffers
    structure, blas = sizes[SIZE_STRUCTURE], sizes[SIZE_BLAS]
    if structure == STRUCTURE_SPARSE:
        phi_into(theta, out, coef, variables, phi_flat)
    elif structure == STRUCTURE_TWO_LAYER_LINEAR:
        linear.forward(theta, shape, table, weights, blas, phi, work)
    elif structure == STRUCTURE_DEEP_LINEAR:
        deep_linear.forward(theta, shape, table, weights, blas, phi, work)
    elif structure == STRUCTURE_POLYNOMIAL:
        polynomial.forward(theta, shape, table, weights, blas, phi, work)
    elif structure == STRUCTURE_ATTENTION:
        attention.forward(theta, shape, table, weights, blas, phi, work)
    if sizes[SIZE_USE_MOMENTS] == 1:
        _moment_cotangent(phi, moment_m, moment_c, cotangent, blas)
    else:
        _row_cotangent(sizes[SIZE_LOSS], phi, features, targets, rows, cotangent, blas)
    if structure == STRUCTURE_SPARSE:
        for i in range(gradient.shape[0]):
            gradient[i] = 0.0
        add_phi_vjp(theta, out, coef, variables, cotangent_flat, gradient)  # J(θ)ᵀ vec(G), the one sparse VJP
    elif structure == STRUCTURE_TWO_LAYER_LINEAR:
        linear.backward(theta, shape, table, weights, blas, cotangent, gradient, work)
    elif structure == STRUCTURE_DEEP_LINEAR:
        deep_linear.backward(theta, shape, table, weights, blas, cotangent, gradient, work)
    elif structure == STRUCTURE_POLYNOMIAL:
        polynomial.backward(theta, shape, table, weights, blas, cotangent, gradient, work)
    elif structure == STRUCTURE_ATTENTION:
        attention.backward(theta, shape, table, weights, blas, cotangent, gradient, work)


@njit(cache=True)
def work_buffers(problem, n_params):
    """Work arrays of one integration, and a ∇L (D): Φ and G flat and as (m, K) views made once here (a view
    made per evaluation would cost more than a tiny gradient), the row block P/R (N, m), the family's work."""
    features, sizes = problem[3], problem[PROBLEM_SIZES]
    n_outputs, n_features = sizes[SIZE_OUTPUTS], sizes[SIZE_FEATURES]
    phi, cotangent = np.empty(n_outputs * n_features), np.empty(n_outputs * n_features)
    work = np.empty(max(sizes[SIZE_WORK], 1))
    if sizes[SIZE_TINY] == 1:
        linear.fill_tiny_moments(problem[PROBLEM_SHAPE], problem[PROBLEM_MOMENT_M], problem[PROBLEM_MOMENT_C], work)
    return (
        (
            phi,
            phi.reshape(n_outputs, n_features),
            cotangent,
            cotangent.reshape(n_outputs, n_features),
            np.empty((features.shape[0], n_outputs)),
            work,
        ),
        np.empty(n_params),
    )


@njit(cache=True)
def gradient_kernel(theta, problem):
    """∇L(θ) for one θ (allocates its own buffers; the integrators reuse theirs)."""
    buffers, gradient = work_buffers(problem, theta.shape[0])
    gradient_into(theta, problem, buffers, gradient)
    return gradient


@njit(cache=True, **UNCOUNTED)
def flow_field(theta, problem, sign, buffers, velocity):
    """θ' = −s·∇L(θ) into ``velocity``; returns False if it is not finite.

    Compiled once, out of line and without reference counting (``UNCOUNTED``): nothing here allocates, and
    with counting on, unpacking the problem and buffer tuples (17 arrays) costs an atomic increment and
    decrement per array per evaluation, more than the arithmetic of a tiny gradient (0.34 → ~0.25 µs at
    D = 12). Its callers pass arrays they own, so they stay alive through the call. Kernels that need counting say
    so (``COUNTED``: the families' kernels, ``_blas_product``)."""
    gradient_into(theta, problem, buffers[0], velocity)
    finite = True
    for i in range(velocity.shape[0]):
        velocity[i] = -sign * velocity[i]
        if not math.isfinite(velocity[i]):
            finite = False
    return finite


@njit(cache=True, inline="always")
def field(theta, problem, sign, buffers, velocity):
    """θ' = −s·∇L(θ) into ``velocity`` as the time loop evaluates it; returns False if it is not finite.

    Inlined at the two call sites of an explicit step (``steps.explicit_stages``): the tiny moment field
    (``SIZE_TINY``) there, ``flow_field`` for every other problem. Elsewhere the loop calls ``flow_field``,
    which gives the same bits: each call site of the tiny field costs cold compile time.
    """
    if problem[PROBLEM_SIZES][SIZE_TINY] == 1:
        return linear.tiny_moment_field(theta, problem[PROBLEM_SHAPE], sign, buffers[0][5], velocity)
    return flow_field(theta, problem, sign, buffers, velocity)


@njit(cache=True)
def rhs_loop_kernel(theta, problem, sign, n_evaluations):
    """``n_evaluations`` evaluations of the flow field at θ (``field``, as the time loop calls it): the yardstick
    for the integrators' overhead."""
    return _evaluations(theta.copy(), problem, sign, work_buffers(problem, theta.shape[0]), n_evaluations)


@njit(cache=True, **UNCOUNTED)
def _evaluations(probe, problem, sign, buffers, n_evaluations):
    """The loop of ``rhs_loop_kernel``, uncounted as the time loop is (counting would add an atomic increment
    and decrement per array handed to the field, per evaluation)."""
    velocity = buffers[1]
    checksum = 0.0
    for i in range(n_evaluations):
        probe[i % probe.shape[0]] += 1e-300  # defeats hoisting the evaluation out of the loop
        field(probe, problem, sign, buffers, velocity)
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


def tiny_linear_dense():
    """``tiny_problem`` read as ``linear:1,1,1`` (U = θ₀, V = θ₁): the fields of a ``DenseGradient`` for warm-ups."""
    return SimpleNamespace(structure=STRUCTURE_TWO_LAYER_LINEAR, shape=(1, 1, 1), table=None, weights=None, work=0)


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
    dense=None,
    blas=None,
):
    """The kernel's problem tuple, every array a fresh C-contiguous writable copy of the exact dtype.

    ``dense`` is the family's ``DenseGradient`` (its ``structure``, ``shape``, ``table``, ``weights``, ``work``)
    or None for the sparse monomials. ``blas`` forces the products' branch (0 loops, 1 BLAS); None decides from
    the calibrated threshold (``harness.kernels.calibration``). The sparse path always takes the loops.
    """
    order = interleaved_order(out)
    out, coef, variables = np.asarray(out)[order], np.asarray(coef)[order], np.asarray(variables)[order]

    def floats(array, ndim):
        return np.array(array, dtype=np.float64, order="C", copy=True, ndmin=ndim)

    def integers(array, ndim):
        return np.array(array, dtype=np.int64, order="C", copy=True, ndmin=ndim)

    if blas not in (None, 0, 1) or isinstance(blas, bool):
        raise InvalidInput(f"blas={blas!r} must be 0 (loops), 1 (BLAS) or None (calibrated)")
    structure, shape, table, weights, work = STRUCTURE_SPARSE, [0], [[0]], [0.0], 0
    if dense is not None:
        structure, shape, work = int(dense.structure), dense.shape, int(dense.work)
        if structure not in DENSE_STRUCTURES:
            raise InvalidInput(f"dense structure {structure} has no kernel; known: {list(DENSE_STRUCTURES)}")
        table = [[0]] if dense.table is None or np.size(dense.table) == 0 else dense.table
        weights = [0.0] if dense.weights is None or np.size(dense.weights) == 0 else dense.weights
        if blas is None:
            from harness.kernels.calibration import choose_blas

            blas = choose_blas(size_measure(n_outputs, n_features, int(np.max(variables)) + 1))
    tiny = structure == STRUCTURE_TWO_LAYER_LINEAR and use_moments and not blas and linear.tiny_fits(shape)
    work = max(work, linear.TINY_WORK) if tiny else work
    sizes = [n_outputs, n_features, loss_id, 1 if use_moments else 0, structure, 0, work, blas or 0, int(tiny)]
    return (
        integers(out, 1),
        floats(coef, 1),
        integers(variables, 2),
        floats(features, 2),
        floats(targets, 2),
        floats(moment_m, 2),
        floats(moment_c, 2),
        integers(sizes, 1),
        integers(shape, 1),
        integers(table, 2),
        floats(weights, 1),
    )


def size_measure(n_outputs: int, n_features: int, n_params: int) -> float:
    """The size by which loops or BLAS are chosen: m·K·D/(m + K), the m·K·r multiply–adds of one product of a
    two-layer network (D = r(m + K)), the typical matrix product of a dense gradient."""
    return n_outputs * n_features * n_params / (n_outputs + n_features)
