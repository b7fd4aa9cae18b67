"""Torch references: every family computed the ordinary way (float64), independent of Φ/Ψ.

These modules are the first oracle for the tensorized code: outputs and parameter gradients of
``Network.predict`` / ``PolynomialMap.vjp`` must match them (property ``prop_torch_reference``).
"""

from __future__ import annotations

import numpy as np
import torch

from harness.errors import InvalidInput
from harness.model.networks import (
    AttentionNetwork,
    DeepLinearNetwork,
    LinearNetwork,
    Network,
    PolynomialNetwork,
    parse_network,
)


class TorchReference(torch.nn.Module):
    """f(θ, x) for one network, with its blocks as float64 parameters named like ``Network.blocks``."""

    def __init__(self, network: Network | str, theta: np.ndarray):
        super().__init__()
        if not isinstance(network, (Network, str)):
            raise InvalidInput(f"a torch reference needs a network or a network spec, got {type(network).__name__}")
        network = parse_network(network)
        self.network = network
        self.weights = torch.nn.ParameterDict(
            {name: torch.nn.Parameter(torch.tensor(np.array(block), dtype=torch.float64))
             for name, block in network.unflatten(np.asarray(theta, dtype=float)).items()}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net, w = self.network, self.weights
        if isinstance(net, LinearNetwork):
            return x @ w["V"] @ w["U"].T
        if isinstance(net, DeepLinearNetwork):
            h = x
            for i in range(1, len(net.widths)):
                h = h @ w[f"W{i}"].T
            return h
        if isinstance(net, PolynomialNetwork):
            return ((x @ w["V"]) ** net.k) @ w["U"].T
        if isinstance(net, AttentionNetwork):
            X = x.reshape(-1, net.n, net.d)
            scores = (X @ w["WQ"]) @ (X @ w["WK"]).transpose(1, 2)
            scores = scores * torch.tensor(net.token_weights, dtype=torch.float64)
            return (scores @ (X @ w["WV"])).reshape(x.shape[0], -1)
        raise TypeError(f"no torch reference for {type(net).__name__}")

    def flat_gradient(self) -> np.ndarray:
        """The parameter gradients laid out like θ (after ``backward``)."""
        return np.concatenate([self.weights[b.name].grad.detach().numpy().reshape(-1) for b in self.network.blocks])


def reference_output_and_gradient(network: Network, theta, x, cotangent) -> tuple[np.ndarray, np.ndarray]:
    """f(θ, x) and ∇_θ Σ ⟨cotangent, f(θ, x)⟩ computed by torch autograd."""
    module = TorchReference(network, theta)
    output = module(torch.tensor(np.asarray(x, dtype=float)))
    (output * torch.tensor(np.asarray(cotangent, dtype=float))).sum().backward()
    return output.detach().numpy(), module.flat_gradient()
