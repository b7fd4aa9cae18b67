"""Numba kernels only: problem layout, gradient kernels, loss kernels, tableaux, the time loop, warm-up."""
