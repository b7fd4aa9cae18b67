"""Loss registry: ℓ(f, y) per row with its gradient ∇_f ℓ, compiled once for all losses.

Each loss is tagged with the class the theorems speak about (DESIGN.md §1):
``quadratic`` (MSE, Theorem 2), ``polynomial`` (degree p > 2: neither theorem), ``analytic`` (analytic,
non-polynomial: Theorem 1) and ``non-analytic`` (outside both). The flow's loss is L(θ) = mean over rows
of ℓ(Φ(θ)Ψ_r, y_r).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.errors import InvalidInput
from harness.kernels.losses import loss_rows

LOSS_CLASSES = ("quadratic", "polynomial", "analytic", "non-analytic")


@dataclass(frozen=True)
class Loss:
    """A registered loss: its kernel id, theorem class, polynomial degree and what targets it takes."""

    name: str
    kernel_id: int
    loss_class: str
    formula: str
    degree: int | None = None  # polynomial degree of ℓ in f, for the quadratic and polynomial classes
    targets: str = "real"  # "real", "pm1" (labels ±1, scalar output) or "prob" (probability vectors)

    def __str__(self) -> str:
        return self.name

    @property
    def is_polynomial(self) -> bool:
        return self.degree is not None

    def check_targets(self, y: np.ndarray, n_outputs: int) -> None:
        """Raise if targets y (rows × m) do not suit this loss."""
        y = np.asarray(y, dtype=float)
        if self.targets == "pm1":
            if n_outputs != 1:
                raise InvalidInput(f"{self.name} loss needs a scalar output (m = 1), but the network has m = {n_outputs}")
            bad = y[(y != 1.0) & (y != -1.0)]
            if bad.size:
                raise InvalidInput(f"{self.name} loss needs labels ±1, got label {float(bad.flat[0])!r}")
        if self.targets == "prob":
            if n_outputs < 2:
                raise InvalidInput(f"cross-entropy needs at least 2 outputs (classes), the network has {n_outputs}")
            negative = (y < -1e-12).any(axis=1)
            off_sum = np.abs(y.sum(axis=1) - 1) > 1e-9
            bad_rows = np.flatnonzero(negative | off_sum)
            if bad_rows.size:
                row = int(bad_rows[0])
                what = (f"has a negative entry {float(y[row].min()):.3g}" if negative[row]
                        else f"sums to {float(y[row].sum()):.6g}")
                shown = ", ".join(f"{v:.3g}" for v in y[row][:6]) + (", ..." if y.shape[1] > 6 else "")
                raise InvalidInput(
                    f"cross-entropy needs probability targets (every row non-negative, summing to 1), but target row "
                    f"{row} [{shown}] {what}; an output action that changes signs (such as /sign) turns "
                    "probabilities into non-probabilities, so it cannot be combined with cross-entropy. Allowed: "
                    "probability targets with /trivial or a permuting /same action, or a loss for real targets "
                    "(mse, logcosh, ...)"
                )

    def value(self, predictions: np.ndarray, targets: np.ndarray) -> float:
        """L = mean over rows of ℓ(f_r, y_r)."""
        value, _ = loss_rows(self.kernel_id, np.ascontiguousarray(predictions, dtype=np.float64),
                             np.ascontiguousarray(targets, dtype=np.float64))
        return value

    def gradient(self, predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """∇_f ℓ(f_r, y_r) for every row (not divided by the number of rows)."""
        _, grad = loss_rows(self.kernel_id, np.ascontiguousarray(predictions, dtype=np.float64),
                            np.ascontiguousarray(targets, dtype=np.float64))
        return grad


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("mse", 0, "quadratic", "½‖f − y‖²", degree=2),
        Loss("quartic", 1, "polynomial", "¼ Σ (f − y)⁴", degree=4),
        Loss("logcosh", 2, "analytic", "Σ log cosh(f − y)"),
        Loss("cauchy", 3, "analytic", "Σ log(1 + (f − y)²)"),
        Loss("pseudo-huber", 4, "analytic", "Σ (√(1 + (f − y)²) − 1)"),
        Loss("logistic", 5, "analytic", "log(1 + exp(−y f)), y = ±1", targets="pm1"),
        Loss("exp", 6, "analytic", "exp(−y f), y = ±1", targets="pm1"),
        Loss("cross-entropy", 7, "analytic", "−Σ y_c log softmax(f)_c", targets="prob"),
        Loss("huber", 8, "non-analytic", "Σ huber₁(f − y) (quadratic for |r| ≤ 1, linear beyond)"),
    )
}


def get_loss(name: str | Loss) -> Loss:
    """The registered loss called ``name``."""
    if isinstance(name, Loss):
        return name
    try:
        return LOSSES[str(name)]
    except KeyError:
        raise InvalidInput(f"unknown loss {name!r}; allowed: {', '.join(LOSSES)}") from None


def losses_of_class(loss_class: str) -> list[Loss]:
    if loss_class not in LOSS_CLASSES:
        raise InvalidInput(f"unknown loss class {loss_class!r}; allowed: {LOSS_CLASSES}")
    return [loss for loss in LOSSES.values() if loss.loss_class == loss_class]
