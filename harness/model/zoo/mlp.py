"""Multilayer perceptrons ``mlp:IN,H1,...,OUT[,act=relu][,bias=1]``: x ↦ W_L σ(⋯ σ(W_1 x + b_1) ⋯) + b_L.

Published laws (Marcotte, Gribonval, Peyré, NeurIPS 2023, for ReLU; Du, Hu, Lee 2018 for homogeneous
activations): a positively homogeneous σ (relu, leaky-relu) gives each hidden neuron j of layer ℓ the
rescaling law ‖W_ℓ[j,:]‖² + b_ℓ[j]² − ‖W_{ℓ+1}[:,j]‖²; a linear σ gives the whole Gram difference
W_{ℓ+1}ᵀW_{ℓ+1} − [W_ℓ b_ℓ][W_ℓ b_ℓ]ᵀ (upper triangle). Other activations: no published law.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import InvalidInput
from harness.model.specs import SpecArguments
from harness.model.zoo.model import (
    HOMOGENEOUS,
    NON_SMOOTH,
    ZooModel,
    activation,
    activation_item,
    check_activation,
    check_keywords,
    flag_item,
    gram_balances,
    neuron_balances,
    positive_size,
)

_GRAMMAR = "mlp:IN,H1,...,OUT[,act=relu|leaky-relu|tanh|gelu|silu|linear][,bias=0|1]"


@dataclass(frozen=True)
class MLP(ZooModel):
    """A fully connected network with one activation between layers; bias on every layer when ``bias``."""

    widths: tuple[int, ...]
    act: str = "relu"
    bias: bool = True
    family = "mlp"
    usage = _GRAMMAR
    example = "mlp:2,3,1"
    smoothness = "act=relu|leaky-relu: piecewise linear (kinks checked); tanh, gelu, silu, linear: smooth"
    published = "relu/leaky-relu: one rescaling law per hidden neuron (Marcotte et al. NeurIPS 2023; Du, Hu, Lee 2018); linear: the Gram differences of consecutive layers; tanh/gelu/silu: none (Tran et al. 2026, Thm 4.1: only constants)"

    def __post_init__(self):
        check_activation(self, self.act)
        if len(self.widths) < 3:
            raise InvalidInput(f"MLP widths {self.widths!r}: need IN, at least one hidden width and OUT ({_GRAMMAR})")
        for i, width in enumerate(self.widths):
            positive_size(width, f"width {i + 1}", str(self))

    @classmethod
    def from_spec(cls, arguments: SpecArguments) -> MLP:
        check_keywords(arguments, ("act", "bias"), _GRAMMAR)
        if len(arguments.positional) < 3:
            raise arguments.invalid(f"mlp needs IN, at least one hidden width and OUT ({_GRAMMAR}), e.g. mlp:2,3,1")
        widths = tuple(arguments.integer(p, f"width {i + 1}") for i, p in enumerate(arguments.positional))
        for i, width in enumerate(widths):
            positive_size(width, f"width {i + 1}", arguments.spec)
        return cls(widths, activation_item(arguments), flag_item(arguments, "bias", True))

    def __str__(self) -> str:
        items = [",".join(map(str, self.widths))]
        if self.act != "relu":
            items.append(f"act={self.act}")
        if not self.bias:
            items.append("bias=0")
        return "mlp:" + ",".join(items)

    def build_module(self):
        import torch

        sigma = activation(self.act)
        widths, bias = self.widths, self.bias

        class Perceptron(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = torch.nn.ModuleList(
                    torch.nn.Linear(a, b, bias=bias, dtype=torch.float64) for a, b in zip(widths, widths[1:])
                )

            def forward(self, x):
                for layer in self.layers[:-1]:
                    x = sigma(layer(x))
                return self.layers[-1](x)

        return Perceptron()

    input_shape = property(lambda self: (self.widths[0],))
    output_dim = property(lambda self: self.widths[-1])
    smooth = property(lambda self: self.act not in NON_SMOOTH)

    def kink_values(self, theta, x):
        import torch

        if self.smooth:
            return None
        blocks = self.unflatten(theta)
        values, sigma = [], activation(self.act)
        for i in range(len(self.widths) - 2):
            z = x @ blocks[f"layers.{i}.weight"].T
            if self.bias:
                z = z + blocks[f"layers.{i}.bias"]
            values.append(z.reshape(-1))
            x = sigma(z)
        return torch.cat(values)

    def _laws(self, blocks):
        import torch

        if self.act not in HOMOGENEOUS:
            return [], [], []
        values, scales, names = [], [], []
        for i in range(len(self.widths) - 2):
            incoming = blocks[f"layers.{i}.weight"]
            if self.bias:
                incoming = torch.cat([incoming, blocks[f"layers.{i}.bias"][:, None]], dim=1)
            outgoing = blocks[f"layers.{i + 1}.weight"]
            w_in, w_out = f"W{i + 1}", f"W{i + 2}"
            if self.act == "linear":
                stacked = f"[{w_in} b{i + 1}]" if self.bias else w_in
                label = f"({w_out}ᵀ{w_out} − {stacked}{stacked}ᵀ)" + "[{a},{b}]"
                laws = gram_balances(outgoing.T, incoming, label)
            else:
                bias = f" + b{i + 1}[{{j}}]²" if self.bias else ""
                laws = neuron_balances(incoming, outgoing, f"‖{w_in}[{{j}},:]‖²{bias} − ‖{w_out}[:,{{j}}]‖²")
            for into, new in zip((values, scales, names), laws):
                into.extend(new)
        return values, scales, names
