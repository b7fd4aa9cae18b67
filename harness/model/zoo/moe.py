"""Mixtures of experts ``moe:IN,H,OUT,E[,act=relu][,bias=1]``: x ↦ Σ_e softmax(W_g x + b_g)_e f_e(x).

A dense softmax-gated mixture of E experts, each expert f_e the two-layer perceptron ``mlp:IN,H,OUT`` (same
activation and bias), as in Tran et al. (arXiv 2606.17816, ICML 2026, §4.3, dense MoE, eq. (8)); their
experts may be any block, ours are MLPs so that each expert brings its own published laws.

Published laws. Per expert (Tran et al., Theorem 4.5: the laws of a dense MoE are the experts' laws and the
gate's): a positively homogeneous σ rescales each expert's hidden neurons, so each carries the MLP's
‖W₁[j,:]‖² + b₁[j]² − ‖W₂[:,j]‖² (σ = linear: the Gram laws); the gate weight p_e = g_e(x) multiplies the
whole expert, so no rescaling couples gate and expert. The gate: softmax is unchanged by adding one vector to
every row of W_g (and one number to every b_g[e]), a translation symmetry whose laws are linear,
Σ_e W_g[e, i] for each input coordinate i and Σ_e b_g[e] (as for the softmax layer of Marcotte, Gribonval,
Peyré, ICML 2025, Proposition 3.11).
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

_GRAMMAR = "moe:IN,H,OUT,E[,act=" + "|".join(ACTIVATIONS) + "][,bias=0|1]"


@dataclass(frozen=True)
class MixtureOfExperts(ZooModel):
    """E experts ``mlp:IN,H,OUT`` mixed by a softmax gate on R^IN."""

    width: int
    hidden: int
    outputs: int
    experts: int
    act: str = "relu"
    bias: bool = True
    family = "moe"
    usage = _GRAMMAR
    example = "moe:2,3,1,2"
    smoothness = "as its experts (act=relu|leaky-relu: piecewise); the softmax gate is smooth"
    published = "each expert's mlp laws and the gate's Σ_e W_g[e,i], Σ_e b_g[e] (Tran et al. 2026, Thm 4.5; Marcotte et al. ICML 2025, Prop 3.11)"

    def __post_init__(self):
        check_activation(self, self.act)
        for name, value in (("IN", self.width), ("H", self.hidden), ("OUT", self.outputs), ("E", self.experts)):
            positive_size(value, name, str(self))

    @classmethod
    def from_spec(cls, arguments: SpecArguments) -> MixtureOfExperts:
        check_keywords(arguments, ("act", "bias"), _GRAMMAR)
        sizes = positional_sizes(arguments, ("IN", "H", "OUT", "E"), _GRAMMAR)
        return cls(*sizes, act=activation_item(arguments), bias=flag_item(arguments, "bias", True))

    def __str__(self) -> str:
        items = [f"moe:{self.width},{self.hidden},{self.outputs},{self.experts}"]
        if self.act != "relu":
            items.append(f"act={self.act}")
        if not self.bias:
            items.append("bias=0")
        return ",".join(items)

    @cached_property
    def expert(self) -> MLP:
        """The architecture every expert has: ``mlp:IN,H,OUT``."""
        return MLP((self.width, self.hidden, self.outputs), self.act, self.bias)

    def build_module(self):
        import torch

        width, count, bias, expert = self.width, self.experts, self.bias, self.expert

        class Mixture(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.gate = torch.nn.Linear(width, count, bias=bias, dtype=torch.float64)
                self.experts = torch.nn.ModuleList(expert.build_module() for _ in range(count))

            def forward(self, x):
                weights = torch.softmax(self.gate(x), dim=-1)  # (B, E)
                outputs = torch.stack([f(x) for f in self.experts], dim=1)  # (B, E, OUT)
                return (weights[..., None] * outputs).sum(dim=1)

        return Mixture()

    input_shape = property(lambda self: (self.width,))
    output_dim = property(lambda self: self.outputs)
    smooth = property(lambda self: self.expert.smooth)

    def expert_blocks(self, blocks, e: int) -> dict:
        """Expert e's parameter tensors under the names its own ``mlp`` uses."""
        prefix = f"experts.{e}."
        return {name.removeprefix(prefix): value for name, value in blocks.items() if name.startswith(prefix)}

    def kink_values(self, theta, x):
        import torch

        if self.smooth:
            return None
        blocks = self.unflatten(theta)
        expert_thetas = [
            torch.cat([t.reshape(-1) for t in self.expert_blocks(blocks, e).values()]) for e in range(self.experts)
        ]
        kinks = [self.expert.kink_values(t, x) for t in expert_thetas]
        return torch.cat([k for k in kinks if k is not None])

    def _laws(self, blocks):
        values, scales, names = [], [], []
        for e in range(self.experts):
            expert_values, expert_scales, expert_names = self.expert._laws(self.expert_blocks(blocks, e))
            values += expert_values
            scales += expert_scales
            names += [f"expert {e}: {name}" for name in expert_names]
        gate = blocks["gate.weight"]  # (E, IN)
        for i in range(self.width):
            values.append(gate[:, i].sum())
            scales.append(gate[:, i].abs().sum())
            names.append(f"Σ_e W_g[e,{i}]")
        if self.bias:
            values.append(blocks["gate.bias"].sum())
            scales.append(blocks["gate.bias"].abs().sum())
            names.append("Σ_e b_g[e]")
        return values, scales, names
