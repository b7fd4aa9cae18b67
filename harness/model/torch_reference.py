"""Torch references: every family computed the ordinary way (float64), independent of Φ/Ψ.

These modules are the first oracle for the tensorized code: outputs and parameter gradients of
``Network.predict`` / ``PolynomialMap.vjp`` must match them (property ``prop_torch_reference``). The forward
pass of each family is its own ``Network.torch_forward``; this module holds the blocks as torch parameters.
"""

from __future__ import annotations

import numpy as np
import torch

from harness.errors import InvalidInput
from harness.model.family import Network
from harness.model.specs import parse_network


class TorchReference(torch.nn.Module):
    """f(θ, x) for one network, with its blocks as float64 parameters named like ``Network.blocks``."""

    def __init__(self, network: Network | str, theta: np.ndarray):
        super().__init__()
        if not isinstance(network, (Network, str)):
            raise InvalidInput(f"a torch reference needs a network or a network spec, got {type(network).__name__}")
        network = parse_network(network)
        self.network = network
        self.weights = torch.nn.ParameterDict(
            {
                name: torch.nn.Parameter(torch.tensor(np.array(block), dtype=torch.float64))
                for name, block in network.unflatten(np.asarray(theta, dtype=float)).items()
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network.torch_forward(dict(self.weights.items()), x)

    def flat_gradient(self) -> np.ndarray:
        """The parameter gradients laid out like θ (after ``backward``)."""
        gradients = []
        for block in self.network.blocks:
            gradient = self.weights[block.name].grad
            if gradient is None:  # a block the output does not depend on (no backward through it)
                raise InvalidInput(f"no gradient for block {block.name} of {self.network}: call backward first")
            gradients.append(gradient.detach().numpy().reshape(-1))
        return np.concatenate(gradients)


def reference_output_and_gradient(network: Network, theta, x, cotangent) -> tuple[np.ndarray, np.ndarray]:
    """f(θ, x) and ∇_θ Σ ⟨cotangent, f(θ, x)⟩ computed by torch autograd."""
    module = TorchReference(network, theta)
    output = module(torch.tensor(np.asarray(x, dtype=float)))
    (output * torch.tensor(np.asarray(cotangent, dtype=float))).sum().backward()
    return output.detach().numpy(), module.flat_gradient()
