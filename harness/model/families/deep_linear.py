"""The deep linear family Φ = W_L ⋯ W_1 (DESIGN.md §1): Ψ(x) = x, published laws W_{i+1}ᵀW_{i+1} − W_iW_iᵀ.

W_i ∈ R^{n_i × n_{i−1}} for widths (n_0 = IN, …, n_L = OUT); Φ has one monomial per path through the layers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.errors import InvalidInput
from harness.kernels.families import deep_linear as deep_linear_kernel
from harness.model.family import (
    DenseGradient,
    Network,
    SizeLimits,
)
from harness.model.family_parts import gram_difference, hidden_matrix, positive
from harness.model.size_rules import SizeChoice, outputs_draw, smallest_outputs

if TYPE_CHECKING:
    import torch

    from harness.model.size_rules import ShapeRequirements, SizeBudget, SizeDraws
    from harness.model.specs import SpecArguments


def _params(widths: list[int]) -> int:
    return sum(a * b for a, b in zip(widths, widths[1:]))


@dataclass(frozen=True)
class DeepLinearNetwork(Network):
    """Deep linear network Φ = W_L ⋯ W_1 with W_i ∈ R^{n_i × n_{i−1}}, widths (n_0 = IN, …, n_L = OUT)."""

    widths: tuple[int, ...]
    family = "deep-linear"
    usage = "deep-linear:IN,H1,...,OUT"

    @classmethod
    def from_spec(cls, arguments: SpecArguments, limits: SizeLimits) -> DeepLinearNetwork:
        if arguments.keywords:
            raise arguments.invalid("deep-linear takes widths only, e.g. deep-linear:2,2,1,1")
        widths = tuple(arguments.integer(p, f"widths[{i}]") for i, p in enumerate(arguments.positional))
        return cls(widths, limits=limits)

    def __post_init__(self):
        if not isinstance(self.widths, tuple):
            raise InvalidInput(f"deep-linear widths={self.widths!r} must be a tuple of integers")
        if len(self.widths) < 3:
            raise InvalidInput(f"deep-linear needs IN, at least one hidden width and OUT; got widths {self.widths!r}")
        for i, width in enumerate(self.widths):
            positive(f"widths[{i}]", width, "deep-linear width")
        self._check_size()

    def sizes(self) -> dict[str, int]:
        widths = [int(w) for w in self.widths]
        layers = len(widths) - 1
        if layers > self.limits.max_layers:  # the path count below grows with every layer
            return {"max_layers": layers}
        return {
            "max_layers": layers,
            "max_inputs": max(widths[0], widths[-1]),
            "max_params": _params(widths),
            "max_features": widths[0],
            "max_factors": layers * math.prod(widths),
        }  # one monomial per path through the layers

    def __str__(self) -> str:
        return "deep-linear:" + ",".join(map(str, self.widths))

    input_dim = property(lambda self: self.widths[0])
    output_dim = property(lambda self: self.widths[-1])
    feature_dim = property(lambda self: self.widths[0])
    n_outputs = property(lambda self: self.widths[-1])
    n_features = property(lambda self: self.widths[0])
    feature_degree = property(lambda self: 1)

    def _block_shapes(self):
        return [(f"W{i}", (self.widths[i], self.widths[i - 1])) for i in range(1, len(self.widths))]

    def _monomials(self):
        # Φ[a, k] = Σ over paths k = j_0 → j_1 → … → j_L = a of Π_i W_i[j_i, j_{i−1}].
        out, variables = [], []
        widths, blocks = self.widths, self.blocks
        for path in itertools.product(*[range(w) for w in widths]):
            out.append(path[-1] * widths[0] + path[0])
            variables.append(
                tuple(blocks[i - 1].offset + path[i] * widths[i - 1] + path[i - 1] for i in range(1, len(widths)))
            )
        return out, [1] * len(out), variables

    @property
    def dense_gradient(self) -> DenseGradient:
        widths = tuple(int(w) for w in self.widths)
        work = deep_linear_kernel.work_length(widths)
        return DenseGradient(deep_linear_kernel.STRUCTURE, (len(widths) - 1, *widths), work=work)

    def _features(self, x):
        return x

    def exact_features(self, x, multiply, modulus):
        return x.reshape(x.shape[0], 1, -1)

    def torch_forward(self, weights: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        h = x
        for i in range(1, len(self.widths)):
            h = h @ weights[f"W{i}"].T
        return h

    def _block_action(self, feature, output, rho_in, rho_out, carrier, splits):
        layers = len(self.widths) - 1
        actions = [rho_in] + [hidden_matrix(w, carrier, splits) for w in self.widths[1:-1]] + [rho_out]

        def act(blocks):
            return {f"W{i}": actions[i] @ blocks[f"W{i}"] @ actions[i - 1].T for i in range(1, layers + 1)}

        return act

    def _laws(self, blocks):
        values, scales, names = [], [], []
        for i in range(1, len(self.widths) - 1):
            # W_{i+1}ᵀW_{i+1} − W_i W_iᵀ is the Gram difference of W_{i+1} and W_iᵀ.
            v, s, index = gram_difference(blocks[f"W{i + 1}"], blocks[f"W{i}"].T)
            values += v
            scales += s
            names += [f"(W{i + 1}ᵀW{i + 1} − W{i}W{i}ᵀ)[{a},{b}]" for a, b in index]
        return values, scales, names

    @property
    def published_laws_complete(self) -> bool:
        return min(self.widths) >= 2  # narrower layers carry extra laws (theory.md O4)

    @classmethod
    def _feature_dims(cls, budget: SizeBudget, shape: ShapeRequirements, hidden_layers: int) -> list[int]:
        P, F = budget.max_params, budget.max_features
        return [
            n for n in shape.feature_dims(P) if n + (hidden_layers - 1) + smallest_outputs(n, shape) <= P and n <= F
        ]

    @classmethod
    def feature_dims(cls, budget: SizeBudget, shape: ShapeRequirements) -> list[int]:
        return cls._feature_dims(budget, shape, 1)

    @classmethod
    def size_draws(cls, budget: SizeBudget, shape: ShapeRequirements) -> SizeDraws:
        P = budget.max_params
        depths = tuple(L for L in range(2, budget.max_layers + 1) if cls._feature_dims(budget, shape, L - 1))
        layers = yield SizeChoice("weight matrices L", depths)
        n = yield SizeChoice("inputs", tuple(cls._feature_dims(budget, shape, layers - 1)))
        m = yield from outputs_draw(n, P - n - (layers - 2), shape)
        widths = [n] + [1] * (layers - 1) + [m]
        for i in range(1, layers):
            # Widest hidden layer i that still fits with the later hidden widths at 1 (D grows with every width).
            largest = 1
            while _params(widths[:i] + [largest + 1] + widths[i + 1 :]) <= P:
                largest += 1
            widths[i] = yield SizeChoice(f"hidden width {i}", low=1, high=largest)
        return cls(tuple(widths))
