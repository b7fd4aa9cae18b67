"""The two-layer linear family f(x) = U Vᵀ x (DESIGN.md §1): Φ = U Vᵀ, Ψ(x) = x, published laws UᵀU − VᵀV.

U ∈ R^{OUT×r}, V ∈ R^{IN×r}; dense gradient ∇_U = G V, ∇_V = Gᵀ U (``harness.kernels.families.linear``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.kernels.families import linear as linear_kernel
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


@dataclass(frozen=True)
class LinearNetwork(Network):
    """Two-layer linear network f(x) = U Vᵀ x, U ∈ R^{OUT×r}, V ∈ R^{IN×r}: Φ = U Vᵀ, Ψ(x) = x."""

    n_in: int
    hidden: int
    n_out: int
    family = "linear"
    usage = "linear:IN,HIDDEN,OUT"

    @classmethod
    def from_spec(cls, arguments: SpecArguments, limits: SizeLimits) -> LinearNetwork:
        if len(arguments.positional) != 3 or arguments.keywords:
            raise arguments.invalid("linear takes exactly IN,HIDDEN,OUT, e.g. linear:3,2,2")
        sizes = (arguments.integer(p, n) for p, n in zip(arguments.positional, ("IN", "HIDDEN", "OUT")))
        return cls(*sizes, limits=limits)

    def __post_init__(self):
        for name in ("n_in", "hidden", "n_out"):
            positive(name, getattr(self, name), "linear network size")
        self._check_size()

    def sizes(self) -> dict[str, int]:
        n, r, m = int(self.n_in), int(self.hidden), int(self.n_out)
        return {"max_inputs": max(n, m), "max_params": r * (n + m), "max_features": n, "max_factors": 2 * m * n * r}

    def __str__(self) -> str:
        return f"linear:{self.n_in},{self.hidden},{self.n_out}"

    input_dim = property(lambda self: self.n_in)
    output_dim = property(lambda self: self.n_out)
    feature_dim = property(lambda self: self.n_in)
    n_outputs = property(lambda self: self.n_out)
    n_features = property(lambda self: self.n_in)
    feature_degree = property(lambda self: 1)

    def _block_shapes(self):
        return [("U", (self.n_out, self.hidden)), ("V", (self.n_in, self.hidden))]

    def _monomials(self):
        U, V = self.blocks
        out, variables = [], []
        for a, k, j in itertools.product(range(self.n_out), range(self.n_in), range(self.hidden)):
            out.append(a * self.n_in + k)
            variables.append((U.offset + a * self.hidden + j, V.offset + k * self.hidden + j))
        return out, [1] * len(out), variables

    @property
    def dense_gradient(self) -> DenseGradient:
        return DenseGradient(linear_kernel.STRUCTURE, (self.n_out, self.n_in, self.hidden))

    def _features(self, x):
        return x

    def exact_features(self, x, multiply, modulus):
        return x.reshape(x.shape[0], 1, -1)

    def torch_forward(self, weights: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return x @ weights["V"] @ weights["U"].T

    def _block_action(self, feature, output, rho_in, rho_out, carrier, splits):
        h = hidden_matrix(self.hidden, carrier, splits)

        def act(blocks):
            return {"U": rho_out @ blocks["U"] @ h.T, "V": rho_in @ blocks["V"] @ h.T}

        return act

    def _laws(self, blocks):
        values, scales, index = gram_difference(blocks["U"], blocks["V"])
        return values, scales, [f"(UᵀU − VᵀV)[{a},{b}]" for a, b in index]

    @property
    def published_laws_complete(self) -> bool:
        return True  # Marcotte–Gribonval–Peyré 2023, Cor. 4.4 (given at least two entries of Φ)

    @classmethod
    def feature_dims(cls, budget: SizeBudget, shape: ShapeRequirements) -> list[int]:
        P, F = budget.max_params, budget.max_features
        return [n for n in shape.feature_dims(P) if n + smallest_outputs(n, shape) <= P and n <= F]

    @classmethod
    def size_draws(cls, budget: SizeBudget, shape: ShapeRequirements) -> SizeDraws:
        P = budget.max_params
        n = yield SizeChoice("inputs", tuple(cls.feature_dims(budget, shape)))
        m = yield from outputs_draw(n, P - n, shape)
        hidden = yield SizeChoice("hidden width r", low=1, high=P // (n + m))  # D = r(n + m)
        return cls(n, hidden, m)


__all__ = ["LinearNetwork"]
