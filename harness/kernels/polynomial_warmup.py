"""Warm-up of the polynomial and loss kernels (see ``harness.kernels.warmup``)."""

from __future__ import annotations

import numpy as np

from harness.kernels.losses import loss_gradients, loss_rows
from harness.kernels.polynomial import phi_kernel, phi_vjp_kernel


def warm_up() -> None:
    theta = np.ones(2)
    out = np.zeros(1, dtype=np.int64)
    variables = np.array([[0, 1]], dtype=np.int64)
    phi_kernel(theta, out, np.ones(1), variables, 1)
    phi_vjp_kernel(theta, out, np.ones(1), variables, np.ones(1))
    loss_rows(0, np.full((1, 2), 0.5), np.array([[1.0, 0.0]]))  # one compilation serves every loss id
    loss_gradients(0, np.full((1, 2), 0.5), np.array([[1.0, 0.0]]))
