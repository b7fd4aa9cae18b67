"""Numba kernels of the registered losses: ℓ(f, y) per row and its gradient ∇_f ℓ, one compile for all losses.

A loss is chosen by its *kernel id* (the constants below); ``harness.model.losses`` gives each registered
loss its id beside its name, theorem class and target domain, and the integrators' problem layout carries
the id, so every flow, whatever its loss, runs the same compiled code. Adding a loss: a branch in ``loss_row``
and in ``loss_gradients``, and a record there.

``loss_row``/``loss_rows`` give the value and the gradient (reports, ``Polynomial``-side checks); the flows need
only the gradient, so ``loss_gradients`` computes ∇_f ℓ alone over a whole block of rows, the loss switch outside
the loops (one tight loop per loss), with the same formulas as ``loss_row``: the same numbers, bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Kernel ids (``Loss.kernel_id``): fixed numbers, since they are stored in compiled problem layouts.
MSE = 0  # the integrators compute MSE's G from the moments M, C instead of from every row
QUARTIC = 1
LOGCOSH = 2
CAUCHY = 3
PSEUDO_HUBER = 4
LOGISTIC = 5
EXP = 6
CROSS_ENTROPY = 7
HUBER = 8
KERNEL_IDS = (MSE, QUARTIC, LOGCOSH, CAUCHY, PSEUDO_HUBER, LOGISTIC, EXP, CROSS_ENTROPY, HUBER)


@njit(cache=True)
def _log1p_exp(z):
    """log(1 + e^z) without overflow."""
    if z > 0:
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z))


@njit(cache=True)
def loss_row(loss_id, f, y, grad):
    """ℓ(f, y) for one row; writes ∇_f ℓ into ``grad``."""
    m = f.shape[0]
    value = 0.0
    if loss_id == CROSS_ENTROPY:  # cross-entropy with softmax, shifted for stability
        top = f[0]
        for c in range(1, m):
            top = max(top, f[c])
        total = 0.0
        for c in range(m):
            total += math.exp(f[c] - top)
        log_total = math.log(total) + top
        mass = 0.0
        for c in range(m):
            mass += y[c]
        for c in range(m):
            value -= y[c] * (f[c] - log_total)
            grad[c] = math.exp(f[c] - log_total) * mass - y[c]
        return value
    for c in range(m):
        r = f[c] - y[c]
        if loss_id == MSE:
            value += 0.5 * r * r
            grad[c] = r
        elif loss_id == QUARTIC:
            value += 0.25 * r * r * r * r
            grad[c] = r * r * r
        elif loss_id == LOGCOSH:
            a = abs(r)
            value += a + math.log1p(math.exp(-2.0 * a)) - math.log(2.0)
            grad[c] = math.tanh(r)
        elif loss_id == CAUCHY:
            value += math.log1p(r * r)
            grad[c] = 2.0 * r / (1.0 + r * r)
        elif loss_id == PSEUDO_HUBER:
            root = math.sqrt(1.0 + r * r)
            value += root - 1.0
            grad[c] = r / root
        elif loss_id == LOGISTIC:
            margin = y[c] * f[c]
            value += _log1p_exp(-margin)
            grad[c] = -y[c] / (1.0 + math.exp(margin)) if margin > -700 else -y[c]
        elif loss_id == EXP:
            e = math.exp(-y[c] * f[c])
            value += e
            grad[c] = -y[c] * e
        elif loss_id == HUBER:
            if abs(r) <= 1.0:
                value += 0.5 * r * r
                grad[c] = r
            else:
                value += abs(r) - 0.5
                grad[c] = 1.0 if r > 0 else -1.0
        else:
            value = np.nan
            grad[c] = np.nan
    return value


@njit(cache=True)
def loss_rows(loss_id, predictions, targets):
    """Mean of ℓ over rows, and the per-row gradients ∇_f ℓ."""
    rows = predictions.shape[0]
    grad = np.zeros(predictions.shape)
    total = 0.0
    for r in range(rows):
        total += loss_row(loss_id, predictions[r], targets[r], grad[r])
    return total / max(rows, 1), grad


@njit(cache=True)
def loss_gradients(loss_id, predictions, targets):
    """Overwrite the (rows, m) block ``predictions`` with ∇_f ℓ(f_r, y_r) row by row; no loss value is computed."""
    rows, m = predictions.shape
    if loss_id == CROSS_ENTROPY:  # softmax, shifted for stability, as in loss_row
        for r in range(rows):
            f, y = predictions[r], targets[r]
            top = f[0]
            for c in range(1, m):
                top = max(top, f[c])
            total = 0.0
            mass = 0.0
            for c in range(m):
                total += math.exp(f[c] - top)
                mass += y[c]
            log_total = math.log(total) + top
            for c in range(m):
                f[c] = math.exp(f[c] - log_total) * mass - y[c]
        return
    flat, flat_y = predictions.reshape(rows * m), targets.reshape(rows * m)
    if loss_id == MSE:
        for i in range(flat.shape[0]):
            flat[i] = flat[i] - flat_y[i]
    elif loss_id == QUARTIC:
        for i in range(flat.shape[0]):
            r = flat[i] - flat_y[i]
            flat[i] = r * r * r
    elif loss_id == LOGCOSH:
        for i in range(flat.shape[0]):
            flat[i] = math.tanh(flat[i] - flat_y[i])
    elif loss_id == CAUCHY:
        for i in range(flat.shape[0]):
            r = flat[i] - flat_y[i]
            flat[i] = 2.0 * r / (1.0 + r * r)
    elif loss_id == PSEUDO_HUBER:
        for i in range(flat.shape[0]):
            r = flat[i] - flat_y[i]
            flat[i] = r / math.sqrt(1.0 + r * r)
    elif loss_id == LOGISTIC:
        for i in range(flat.shape[0]):
            margin = flat_y[i] * flat[i]
            flat[i] = -flat_y[i] / (1.0 + math.exp(margin)) if margin > -700 else -flat_y[i]
    elif loss_id == EXP:
        for i in range(flat.shape[0]):
            flat[i] = -flat_y[i] * math.exp(-flat_y[i] * flat[i])
    elif loss_id == HUBER:
        for i in range(flat.shape[0]):
            r = flat[i] - flat_y[i]
            if abs(r) <= 1.0:
                flat[i] = r
            else:
                flat[i] = 1.0 if r > 0 else -1.0
    else:
        for i in range(flat.shape[0]):
            flat[i] = np.nan
