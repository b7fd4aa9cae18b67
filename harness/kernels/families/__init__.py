"""Dense gradient kernels, one module per family (issue 10): Φ(θ) and J(θ)ᵀ vec(G) from the family's matrix form.

Each module has ``STRUCTURE`` (the id in the problem's ``sizes``), ``forward(theta, shape, table, weights,
blas, phi, work)`` writing Φ into the (m, K) array ``phi``, and ``backward(theta, shape, table, weights, blas,
cotangent, gradient, work)`` overwriting ``gradient`` with J(θ)ᵀ vec(G), where it may read what ``forward`` left
in ``work``. ``blas`` picks hand loops (tiny sizes, where a BLAS call costs more than it saves) or BLAS products on
2-D views (``np.dot(a, b, out)``: nothing allocated, transposes passed as views); ``matmul`` is that switch.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def matmul(a, b, out, blas):
    """out = a @ b (2-D arrays, any layout; ``out`` C-contiguous), through BLAS if ``blas`` else hand loops."""
    if blas:
        np.dot(a, b, out)
        return
    rows, inner = a.shape
    columns = b.shape[1]
    for i in range(rows):
        for j in range(columns):
            out[i, j] = 0.0
        for k in range(inner):
            weight = a[i, k]
            if weight != 0.0:
                for j in range(columns):
                    out[i, j] += weight * b[k, j]
