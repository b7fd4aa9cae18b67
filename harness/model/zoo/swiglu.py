"""SwiGLU feed-forward blocks ``swiglu:IN,H,OUT[,bias=1]``: x ↦ W_down (SiLU(W_gate x + b_gate) ⊙ (W_up x + b_up)) + b_down.

The gated feed-forward network of Shazeer (2020, "GLU variants improve Transformer"), as Tran et al.
(arXiv 2606.17816, ICML 2026, §4.1, "Conservation laws for modern neural architectures") study it; their
block has no biases (``bias=0`` here), ``bias=1`` adds one to each of the three maps.

Published laws (Tran et al., Theorem 4.2): the up projection's row i and the down projection's column i
rescale inversely (W_up[i,:] ↦ λ W_up[i,:], W_down[:,i] ↦ W_down[:,i]/λ leaves f unchanged since the
product is linear in the up branch), so each hidden unit i carries the norm-difference law
‖W_up[i,:]‖² (+ b_up[i]²) − ‖W_down[:,i]‖²; the gate row cannot be rescaled (SiLU is not homogeneous).
Their theorem characterises the laws through this symmetry; the count the autodiff engine measures is
compared with H, the number of these laws.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.model.specs import SpecArguments
from harness.model.zoo.model import (
    ZooModel,
    check_keywords,
    flag_item,
    neuron_balances,
    positional_sizes,
    positive_size,
)

_GRAMMAR = "swiglu:IN,H,OUT[,bias=0|1]"


@dataclass(frozen=True)
class SwiGLU(ZooModel):
    """The SwiGLU block with H hidden units from R^IN to R^OUT."""

    width: int
    hidden: int
    outputs: int
    bias: bool = True
    family = "swiglu"
    usage = _GRAMMAR
    example = "swiglu:3,4,2"
    smoothness = "smooth (SiLU)"
    published = "one law per hidden unit, ‖W_up[i,:]‖² + b_up[i]² − ‖W_down[:,i]‖² (Tran et al. 2026, Thm 4.2)"

    def __post_init__(self):
        for name, value in (("IN", self.width), ("H", self.hidden), ("OUT", self.outputs)):
            positive_size(value, name, str(self))

    @classmethod
    def from_spec(cls, arguments: SpecArguments) -> SwiGLU:
        check_keywords(arguments, ("bias",), _GRAMMAR)
        width, hidden, outputs = positional_sizes(arguments, ("IN", "H", "OUT"), _GRAMMAR)
        return cls(width, hidden, outputs, flag_item(arguments, "bias", True))

    def __str__(self) -> str:
        return f"swiglu:{self.width},{self.hidden},{self.outputs}" + ("" if self.bias else ",bias=0")

    def build_module(self):
        import torch

        width, hidden, outputs, bias = self.width, self.hidden, self.outputs, self.bias

        class GatedFeedForward(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.gate = torch.nn.Linear(width, hidden, bias=bias, dtype=torch.float64)
                self.up = torch.nn.Linear(width, hidden, bias=bias, dtype=torch.float64)
                self.down = torch.nn.Linear(hidden, outputs, bias=bias, dtype=torch.float64)

            def forward(self, x):
                return self.down(torch.nn.functional.silu(self.gate(x)) * self.up(x))

        return GatedFeedForward()

    input_shape = property(lambda self: (self.width,))
    output_dim = property(lambda self: self.outputs)

    def _laws(self, blocks):
        import torch

        up = blocks["up.weight"]
        if self.bias:
            up = torch.cat([up, blocks["up.bias"][:, None]], dim=1)
        bias = " + b_up[{j}]²" if self.bias else ""
        return neuron_balances(up, blocks["down.weight"], "‖W_up[{j},:]‖²" + bias + " − ‖W_down[:,{j}]‖²")
