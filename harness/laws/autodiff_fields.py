"""The generator fields X_S = ∇_θ L_S of a pool of data sets and their brackets, by ``torch.func`` (issue 11).

A pool holds P data sets S_1, …, S_P of one size, stacked (P, n, ·). A weight vector c ∈ R^P names the field
X_c = Σ_i c_i X_{S_i} = ∇_θ (Σ_i c_i L_{S_i}); random weights are random elements of the pool's span, which
is what the multilinear sampling of ``harness.laws.lie`` needs. Brackets are

    [X, Y](θ) = DY(θ)·X(θ) − DX(θ)·Y(θ),

both terms Jacobian–vector products (``torch.func.jvp``) of fields that are themselves gradients or brackets:
for a generator DX·v is the Hessian–vector product of the weighted loss; a left-normed bracket
[X_{c_1}, [X_{c_2}, …, X_{c_k}]] nests k − 1 such products (one ``jvp`` returns Y(θ) and DY·X together). A
batch of brackets is one ``torch.func.vmap`` over the weight tuples.

The non-smooth models (ReLU) are differentiated on the smooth piece they are on at (θ, x): ``activation_flips``
says whether the activation pattern is the same at θ ± a small step along given directions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from harness.errors import InvalidInput
from harness.model.data import DataSet
from harness.model.losses import Loss

if TYPE_CHECKING:
    import torch

    from harness.model.torch_model import TorchModel

VMAP_CHUNK = 16  # brackets evaluated together by one vmap: bounds the temporaries (chunk × rows × width)


class FieldPool:
    """The fields X_{S_i} = ∇_θ L_{S_i} (i < P) of equally sized data sets, and brackets of their combinations."""

    def __init__(self, model: TorchModel, loss: Loss, datasets: list[DataSet]):
        import torch

        if not datasets or len({d.n_samples for d in datasets}) != 1:
            raise InvalidInput("a field pool needs at least one data set, all of one size")
        self.model, self.loss = model, loss
        self.xs = torch.as_tensor(np.stack([d.x for d in datasets]))
        self.ys = torch.as_tensor(np.stack([d.y for d in datasets]))
        self.size = len(datasets)
        self._batched = True
        try:  # a researcher's module may use operations vmap cannot batch: fall back to a loop over the sets
            self.set_losses(torch.as_tensor(model.random_theta(np.random.default_rng(0))))
        except Exception:
            self._batched = False
            self.set_losses(torch.as_tensor(model.random_theta(np.random.default_rng(0))))

    def set_losses(self, theta: torch.Tensor) -> torch.Tensor:
        """(L_{S_1}(θ), …, L_{S_P}(θ)), differentiable in θ to any order."""
        import torch
        from torch.func import vmap

        model, loss = self.model, self.loss
        if self._batched:
            return vmap(lambda x, y: model.loss(theta, x, y, loss))(self.xs, self.ys)
        return torch.stack([model.loss(theta, x, y, loss) for x, y in zip(self.xs, self.ys)])

    def weighted_loss(self, theta: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Σ_i c_i L_{S_i}(θ): the loss whose gradient is the field X_c."""
        return weights @ self.set_losses(theta)

    def field(self, weights: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """θ ↦ X_c(θ) = ∇_θ Σ_i c_i L_{S_i}(θ)."""
        from torch.func import grad

        return lambda theta: grad(self.weighted_loss)(theta, weights)

    def level_one(self, theta: np.ndarray) -> np.ndarray:
        """The pool's fields at θ as rows (P, D): the Jacobian of (L_{S_i})_i."""
        import torch
        from torch.func import jacrev

        return jacrev(self.set_losses)(torch.as_tensor(theta)).detach().numpy()

    def left_normed(self, weights: tuple) -> Callable[[torch.Tensor], torch.Tensor]:
        """θ ↦ [X_{c_1}, [X_{c_2}, …, X_{c_k}]](θ) for weights (c_1, …, c_k)."""
        from torch.func import jvp

        inner = self.field(weights[-1])
        for c in reversed(weights[:-1]):
            inner = _bracket(self.field(c), inner, jvp)
        return inner

    def brackets(self, theta: np.ndarray, tuples: list[np.ndarray]) -> np.ndarray:
        """Values at θ of the left-normed brackets of a batch of weight tuples (each (S, P)) → (S, D)."""
        import torch
        from torch.func import vmap

        point = torch.as_tensor(theta)
        stacked = [torch.as_tensor(t) for t in tuples]
        if len(stacked) == 1:
            return vmap(lambda c: self.field(c)(point))(stacked[0]).detach().numpy()
        batched = vmap(lambda *cs: self.left_normed(cs)(point), chunk_size=VMAP_CHUNK)
        return batched(*stacked).detach().numpy()


def _bracket(left, right, jvp):
    """[X, Y](θ) = DY(θ)X(θ) − DX(θ)Y(θ) for fields X = left, Y = right (one jvp gives Y(θ) and DY·X)."""

    def value(theta):
        x_value = left(theta)
        y_value, dy_x = jvp(right, (theta,), (x_value,))
        _, dx_y = jvp(left, (theta,), (y_value,))
        return dy_x - dx_y

    return value


def gradient_field(model: TorchModel, data: DataSet, loss: Loss) -> Callable[[torch.Tensor], torch.Tensor]:
    """θ ↦ ∇_θ L_S(θ), the gradient field of one data set S (a torch function, differentiable again)."""
    import torch
    from torch.func import grad

    data.check_network(model, loss)  # type: ignore[arg-type]  (a TorchModel has the shapes a Network has)
    x, y = torch.tensor(data.x), torch.tensor(data.y)  # copies: the data arrays are read-only
    return grad(lambda theta: model.loss(theta, x, y, loss))


KINK_RELATIVE = 1e-7  # a pre-activation below this fraction of its layer's RMS counts as at the kink
KINK_STEP = 1e-6  # the steps θ ± KINK_STEP·|θ|·v/|v| along which the activation pattern must not change


def _kinks(model: TorchModel, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    values = model.kink_values(theta, x)
    assert values is not None  # a model with kinks at θ has them at every θ
    return values


def activation_flips(model: TorchModel, theta: np.ndarray, x: np.ndarray, directions: np.ndarray) -> str:
    """'' if the genericity assumption holds at (θ, x), else why not.

    A piecewise-smooth f (ReLU) is differentiated on the piece it is on; that piece is the same near θ when no
    pre-activation z is at 0. Checked two ways: |z| ≥ KINK_RELATIVE·RMS(z), and the sign pattern of z is the
    same at θ ± KINK_STEP·|θ| along every direction given (the fields used).
    """
    import torch
    from torch.func import vmap

    point, inputs = torch.as_tensor(theta), torch.as_tensor(x)
    base = model.kink_values(point, inputs)
    if base is None or base.numel() == 0:
        return ""
    rms = float(base.pow(2).mean().sqrt())
    closest = float(base.abs().min())
    if not closest >= KINK_RELATIVE * rms:
        return f"a pre-activation is at the kink: |z| = {closest:.3g} < {KINK_RELATIVE:g} × RMS {rms:.3g}"
    norms = np.linalg.norm(directions, axis=1)
    directions = directions[norms > 0] / norms[norms > 0, None]
    step = KINK_STEP * max(float(np.linalg.norm(theta)), 1.0)
    steps = torch.as_tensor(np.concatenate([directions, -directions]) * step)
    pattern = base > 0
    moved = vmap(lambda v: _kinks(model, point + v, inputs) > 0, chunk_size=64)(steps)
    changed = int((moved != pattern).any(dim=1).sum())
    if changed:
        return (
            f"the activation pattern changes at θ ± {KINK_STEP:g}·|θ| along {changed} of "
            f"{steps.shape[0]} field directions"
        )
    return ""


def frozen_units(model: TorchModel, theta: np.ndarray, x: np.ndarray) -> str:
    """'' if every kink unit switches on the data at θ, else how many do not.

    A unit whose pre-activation has one sign on every sample is linear (or dead) on the data; in a deep ReLU
    network that happens on open sets of θ, where the count is larger (a dead unit's weights are conserved)
    and differs from one such region to the next. Those θ are not the generic θ a count is about. The units
    are the columns of ``kink_values`` taken one sample at a time (any layout of the flattened values).
    """
    import torch
    from torch.func import vmap

    point = torch.as_tensor(theta)
    per_sample = vmap(lambda row: _kinks(model, point, row[None]))(torch.as_tensor(x))  # (N, units)
    signs = per_sample > 0
    frozen = int((signs.all(dim=0) | (~signs).all(dim=0)).sum())
    if frozen:
        return f"{frozen} of {signs.shape[1]} units have one activation sign on all {signs.shape[0]} samples"
    return ""
