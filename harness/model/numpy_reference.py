"""The one NumPy reference gradient of a training loss: ∇L(θ) = J(θ)ᵀ vec(G), independent of the compiled kernels.

L(θ) = mean_r ℓ(Φ(θ)Ψ_r, y_r) over feature rows Ψ_r (``network.features``) and target rows y_r
(``network.target_rows``), so G = mean_r ∇_f ℓ(Φ(θ)Ψ_r, y_r) Ψ_rᵀ and ∇L = J(θ)ᵀ vec(G), applied as the exact
polynomial map's vector–Jacobian product. The flows' kernels are tested against it, the leaf walk sizes its
legs with it, and the pointwise-span count spans it; the torch reference (``torch_reference``) checks it in turn.
"""

from __future__ import annotations

import numpy as np


def loss_gradient(network, loss, features: np.ndarray, targets: np.ndarray, theta, *, mean: bool = True) -> np.ndarray:
    """∇L(θ) for feature rows ``features`` (R, K) and target rows ``targets`` (R, m).

    ``mean=False`` gives R·∇L (the sum over rows): the pointwise-span count normalises every gradient, and
    the sum is what its recorded singular values were computed from.
    """
    theta = np.asarray(theta, dtype=float)
    predictions = features @ network.polynomial.evaluate(theta).T
    cotangent = loss.gradient(predictions, targets).T @ features
    if mean:
        cotangent = cotangent / features.shape[0]
    return network.polynomial.vjp(theta, cotangent)
