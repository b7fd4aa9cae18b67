"""Loss registry: each loss ℓ(f, y) is one record, read by the parser, the strategies, the kernels and ``list``.

A ``Loss`` holds its name, its theorem class (``LossClass``, DESIGN.md §1), its formula as text, the id of
its compiled kernel (``harness.kernels.losses``), its polynomial degree, and the domain of its targets
(``TargetDomain``: real, labels ±1 or probability vectors), which knows what outputs it needs and how
targets of that domain are made from predictions. The flow's loss is L(θ) = mean over rows of
ℓ(Φ(θ)Ψ_r, y_r). Adding a loss: a record in ``LOSSES`` and a branch in ``harness.kernels.losses``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from harness.errors import InvalidInput
from harness.kernels import losses as kernels
from harness.kernels.losses import loss_rows

if TYPE_CHECKING:
    import torch


class LossClass(str, enum.Enum):
    """The class of ℓ the theorems speak about; the order is the strategies' (simplest first)."""

    QUADRATIC = "quadratic"
    POLYNOMIAL = "polynomial"
    ANALYTIC = "analytic"
    NON_ANALYTIC = "non-analytic"

    def __str__(self) -> str:
        return self.value

    @property
    def message(self) -> str:
        return {
            LossClass.QUADRATIC: "quadratic (MSE): Theorem 2 counts its laws from the moments",
            LossClass.POLYNOMIAL: "polynomial of degree p > 2: neither theorem applies",
            LossClass.ANALYTIC: "analytic, not polynomial: Theorem 1 applies",
            LossClass.NON_ANALYTIC: "not analytic: outside both theorems",
        }[self]


LOSS_CLASSES = tuple(loss_class.value for loss_class in LossClass)


class TargetDomain(str, enum.Enum):
    """Where a loss's targets y live, and what that asks of the network's outputs per row."""

    REAL = "real"
    LABELS = "pm1"  # labels ±1, for a scalar output
    PROBABILITIES = "prob"  # probability vectors over m >= 2 classes

    def __str__(self) -> str:
        return self.value

    @property
    def message(self) -> str:
        return {
            TargetDomain.REAL: "real targets, any number of outputs",
            TargetDomain.LABELS: "labels ±1, a scalar output (m = 1)",
            TargetDomain.PROBABILITIES: "probability vectors (non-negative rows summing to 1), m >= 2 outputs",
        }[self]

    def fits(self, n_outputs: int) -> bool:
        """Whether a network with ``n_outputs`` outputs per row can have targets in this domain."""
        if self is TargetDomain.LABELS:
            return n_outputs == 1
        if self is TargetDomain.PROBABILITIES:
            return n_outputs >= 2
        return True

    def from_predictions(self, rows: np.ndarray) -> np.ndarray:
        """Targets in this domain made from prediction rows (rows × m): signs, a softmax, or the rows as they are."""
        if self is TargetDomain.LABELS:
            return np.where(rows >= 0, 1.0, -1.0)
        if self is TargetDomain.PROBABILITIES:
            shifted = np.exp(rows - rows.max(axis=1, keepdims=True))
            return shifted / shifted.sum(axis=1, keepdims=True)
        return rows


@dataclass(frozen=True)
class Loss:
    """A registered loss: its kernel id, theorem class, formula, polynomial degree and the domain of its targets."""

    name: str
    kernel_id: int
    loss_class: LossClass
    formula: str
    degree: int | None = None  # polynomial degree of ℓ in f, for the quadratic and polynomial classes
    targets: TargetDomain = TargetDomain.REAL

    def __post_init__(self):
        object.__setattr__(self, "loss_class", LossClass(self.loss_class))
        object.__setattr__(self, "targets", TargetDomain(self.targets))

    def __str__(self) -> str:
        return self.name

    @property
    def is_polynomial(self) -> bool:
        return self.degree is not None

    def check_targets(self, y: np.ndarray, n_outputs: int) -> None:
        """Raise if targets y (rows × m) do not suit this loss."""
        y = np.asarray(y, dtype=float)
        if self.targets is TargetDomain.LABELS:
            if not self.targets.fits(n_outputs):
                raise InvalidInput(
                    f"{self.name} loss needs a scalar output (m = 1), but the network has m = {n_outputs}"
                )
            bad = y[(y != 1.0) & (y != -1.0)]
            if bad.size:
                raise InvalidInput(f"{self.name} loss needs labels ±1, got label {float(bad.flat[0])!r}")
        if self.targets is TargetDomain.PROBABILITIES:
            if not self.targets.fits(n_outputs):
                raise InvalidInput(f"cross-entropy needs at least 2 outputs (classes), the network has {n_outputs}")
            negative: np.ndarray = np.any(y < -1e-12, axis=1)
            off_sum = np.abs(y.sum(axis=1) - 1) > 1e-9
            bad_rows = np.flatnonzero(negative | off_sum)
            if bad_rows.size:
                row = int(bad_rows[0])
                what = (
                    f"has a negative entry {float(y[row].min()):.3g}"
                    if bool(negative[row])
                    else f"sums to {float(y[row].sum()):.6g}"
                )
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
        value, _ = loss_rows(
            self.kernel_id,
            np.ascontiguousarray(predictions, dtype=np.float64),
            np.ascontiguousarray(targets, dtype=np.float64),
        )
        return value

    def gradient(self, predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """∇_f ℓ(f_r, y_r) for every row (not divided by the number of rows)."""
        _, grad = loss_rows(
            self.kernel_id,
            np.ascontiguousarray(predictions, dtype=np.float64),
            np.ascontiguousarray(targets, dtype=np.float64),
        )
        return grad

    def torch_value(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """L = mean over rows of ℓ(f_r, y_r) in torch, differentiable to any order (the autodiff engine's loss).

        The same formulas as the compiled ``loss_row`` (``tests/test_losses.py`` holds them together), written
        with torch's stable primitives (``logaddexp``, ``log_softmax``); predictions and targets are (rows, m).
        """
        import torch

        f, y = predictions, targets
        r = f - y
        rows = {
            "mse": lambda: 0.5 * (r * r).sum(dim=1),
            "quartic": lambda: 0.25 * (r**4).sum(dim=1),
            "logcosh": lambda: (r.abs() + torch.log1p(torch.exp(-2.0 * r.abs())) - math.log(2.0)).sum(dim=1),
            "cauchy": lambda: torch.log1p(r * r).sum(dim=1),
            "pseudo-huber": lambda: (torch.sqrt(1.0 + r * r) - 1.0).sum(dim=1),
            "logistic": lambda: torch.logaddexp(torch.zeros_like(f), -y * f).sum(dim=1),
            "exp": lambda: torch.exp(-y * f).sum(dim=1),
            "cross-entropy": lambda: -(y * torch.log_softmax(f, dim=1)).sum(dim=1),
            "huber": lambda: torch.where(r.abs() <= 1.0, 0.5 * r * r, r.abs() - 0.5).sum(dim=1),
        }[self.name]()
        return rows.mean()

    def describe(self) -> dict:
        """The record as ``flowlaws list`` shows it."""
        return {"name": self.name, "class": self.loss_class.value, "formula": self.formula}


_QUADRATIC, _POLYNOMIAL, _ANALYTIC, _NON_ANALYTIC = LossClass
LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("mse", kernels.MSE, _QUADRATIC, "½‖f − y‖²", degree=2),
        Loss("quartic", kernels.QUARTIC, _POLYNOMIAL, "¼ Σ (f − y)⁴", degree=4),
        Loss("logcosh", kernels.LOGCOSH, _ANALYTIC, "Σ log cosh(f − y)"),
        Loss("cauchy", kernels.CAUCHY, _ANALYTIC, "Σ log(1 + (f − y)²)"),
        Loss("pseudo-huber", kernels.PSEUDO_HUBER, _ANALYTIC, "Σ (√(1 + (f − y)²) − 1)"),
        Loss("logistic", kernels.LOGISTIC, _ANALYTIC, "log(1 + exp(−y f)), y = ±1", targets=TargetDomain.LABELS),
        Loss("exp", kernels.EXP, _ANALYTIC, "exp(−y f), y = ±1", targets=TargetDomain.LABELS),
        Loss(
            "cross-entropy",
            kernels.CROSS_ENTROPY,
            _ANALYTIC,
            "−Σ y_c log softmax(f)_c",
            targets=TargetDomain.PROBABILITIES,
        ),
        Loss("huber", kernels.HUBER, _NON_ANALYTIC, "Σ huber₁(f − y) (quadratic for |r| ≤ 1, linear beyond)"),
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
