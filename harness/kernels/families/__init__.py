"""Dense gradient kernels, one module per family (issue 10): Φ(θ) and J(θ)ᵀ vec(G) from the family's matrix form.

Each module has ``STRUCTURE`` (the id in the problem's ``sizes``), ``forward(theta, shape, table, weights,
blas, phi, work)`` writing Φ into the (m, K) array ``phi``, and ``backward(theta, shape, table, weights, blas,
cotangent, gradient, work)`` overwriting ``gradient`` with J(θ)ᵀ vec(G), where it may read what ``forward`` left
in ``work``. ``blas`` picks BLAS products on 2-D views (``np.dot(a, b, out)``: nothing allocated, transposes
passed as views) or hand loops on the flat arrays for tiny sizes, where a BLAS call costs more than it saves and
even a view is dear (Numba counts references to each: ≈ 12 ns), so the loops index flat arrays: ``gemm_loops``.
"""

from __future__ import annotations

from typing import Any

from numba import njit

# Numba's reference counting, per kernel. The time loop and the flow field run without it (they allocate
# nothing, and counting every array they unpack or view costs more than a tiny gradient); Numba hands that
# flag down to the kernels it compiles from there, so the kernels that need counting (``np.dot(a, b, out)``
# returns ``out``) state it, whichever caller compiles them first.
UNCOUNTED: dict[str, Any] = {"_nrt": False}
COUNTED: dict[str, Any] = {"_nrt": True}


@njit(cache=True, inline="always")
def gemm_loops(a, a0, a_row, a_col, b, b0, b_row, b_col, out, o0, rows, inner, columns):
    """out[o0 + i·columns + j] = Σ_k a[a0 + i·a_row + k·a_col] · b[b0 + k·b_row + j·b_col], all arrays flat.

    The strides express transposes (a transposed operand swaps its two strides), so no view is made.
    """
    for i in range(rows):
        base = o0 + i * columns
        for j in range(columns):
            out[base + j] = 0.0
        for k in range(inner):
            weight = a[a0 + i * a_row + k * a_col]
            if weight != 0.0:
                start = b0 + k * b_row
                for j in range(columns):
                    out[base + j] += weight * b[start + j * b_col]
