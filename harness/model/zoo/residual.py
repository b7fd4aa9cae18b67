"""Residual blocks ``residual:IN,H[,act=relu][,bias=1]``: x ↦ x + W₂σ(W₁x + b₁) + b₂ on R^IN.

The residual block of Marcotte, Gribonval, Peyré (ICML 2025, "Transformative or conservative?", eq. (14) with
the two-layer block (15), as in the convolutive ResNet's eq. (21) without convolution). Its block without
the skip is ``mlp:IN,H,IN`` with the same activation and bias, and the parameters are laid out exactly as
that block's (``layers.0.weight``, ...), so laws, kinks and θ carry over one to one.

Published laws (ICML 2025, Proposition 3.2): for any loss satisfying Assumption 2.4, x + g(θ, x) and g have
the same conservation laws, because ∂_θ(x + g) = ∂_θ g; so ``_laws`` are the block's (the per-neuron
rescaling laws for ReLU-type σ, the Gram laws for σ = linear, none otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from harness.model.specs import SpecArguments
from harness.model.zoo.mlp import MLP
from harness.model.zoo.model import (
    ACTIVATIONS,
    ZooModel,
    activation_item,
    check_activation,
    check_keywords,
    flag_item,
    positional_sizes,
    positive_size,
)

_GRAMMAR = "residual:IN,H[,act=" + "|".join(ACTIVATIONS) + "][,bias=0|1]"


@dataclass(frozen=True)
class ResidualBlock(ZooModel):
    """x ↦ x + g(θ, x) with g the two-layer perceptron ``mlp:IN,H,IN`` (``block``)."""

    width: int
    hidden: int
    act: str = "relu"
    bias: bool = True
    family = "residual"
    usage = _GRAMMAR
    example = "residual:3,4"
    smoothness = "as its block mlp:IN,H,IN"
    published = "the block mlp:IN,H,IN's laws (Marcotte et al. ICML 2025, Prop 3.2)"

    def __post_init__(self):
        check_activation(self, self.act)
        positive_size(self.width, "IN", str(self))
        positive_size(self.hidden, "H", str(self))

    @classmethod
    def from_spec(cls, arguments: SpecArguments) -> ResidualBlock:
        check_keywords(arguments, ("act", "bias"), _GRAMMAR)
        width, hidden = positional_sizes(arguments, ("IN", "H"), _GRAMMAR)
        return cls(width, hidden, activation_item(arguments), flag_item(arguments, "bias", True))

    def __str__(self) -> str:
        items = [f"residual:{self.width},{self.hidden}"]
        if self.act != "relu":
            items.append(f"act={self.act}")
        if not self.bias:
            items.append("bias=0")
        return ",".join(items)

    @cached_property
    def block(self) -> MLP:
        """g, the block without the skip connection: ``mlp:IN,H,IN``."""
        return MLP((self.width, self.hidden, self.width), self.act, self.bias)

    def build_module(self):
        import torch

        block = self.block.build_module()

        class Skip(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = block.layers  # the block's own parameter names: layers.0.weight, ...

            def forward(self, x):
                return x + block(x)

        return Skip()

    input_shape = property(lambda self: (self.width,))
    output_dim = property(lambda self: self.width)
    smooth = property(lambda self: self.block.smooth)

    def kink_values(self, theta, x):
        return self.block.kink_values(theta, x)

    def _laws(self, blocks):
        return self.block._laws(blocks)
