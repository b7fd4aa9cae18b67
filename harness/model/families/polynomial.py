"""The polynomial-activation family f(x) = Σ_j u_j (v_jᵀx)^k (DESIGN.md §1; theory.md O9).

Φ = Σ_j u_j ⊗ v_j^{⊗k} on the basis of degree-k monomials x^α (Ψ(x) = (x^α)_α); published laws
k‖u_j‖² − ‖v_j‖², one per hidden unit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from harness.algebra.monomials import index_tuples
from harness.errors import InvalidInput
from harness.kernels.families import polynomial as dense_kernel
from harness.model.family import (
    DenseGradient,
    Network,
    SizeLimits,
)
from harness.model.family_parts import hidden_matrix, positive
from harness.model.size_rules import SizeChoice, outputs_draw, smallest_outputs

if TYPE_CHECKING:
    import torch

    from harness.model.size_rules import ShapeRequirements, SizeBudget, SizeDraws
    from harness.model.specs import SpecArguments


@dataclass(frozen=True)
class PolynomialNetwork(Network):
    """f(x) = Σ_j u_j (v_jᵀx)^k: Φ = Σ_j u_j ⊗ v_j^{⊗k} on the basis of degree-k monomials x^α."""

    n_in: int
    hidden: int
    n_out: int
    k: int
    family = "poly"
    usage = "poly:IN,HIDDEN,OUT,k=K"

    @classmethod
    def from_spec(cls, arguments: SpecArguments, limits: SizeLimits) -> PolynomialNetwork:
        if len(arguments.positional) != 3 or set(arguments.keywords) != {"k"}:
            raise arguments.invalid("poly takes IN,HIDDEN,OUT,k=K, e.g. poly:3,2,1,k=2")
        n_in, hidden, n_out = (arguments.integer(p, n) for p, n in zip(arguments.positional, ("IN", "HIDDEN", "OUT")))
        return cls(n_in, hidden, n_out, arguments.integer(arguments.keywords["k"], "k"), limits=limits)

    def __post_init__(self):
        for name in ("n_in", "hidden", "n_out"):
            positive(name, getattr(self, name), "poly network size")
        positive("k", self.k, "poly activation degree", minimum=2)
        self._check_size()

    def sizes(self) -> dict[str, int]:
        n, r, m, k = int(self.n_in), int(self.hidden), int(self.n_out), int(self.k)
        if k > self.limits.max_degree:  # C(n + k − 1, k) below is astronomically large for large k
            return {"max_degree": k}
        features = math.comb(n + k - 1, k)
        return {
            "max_degree": k,
            "max_inputs": max(n, m),
            "max_params": r * (n + m),
            "max_features": features,
            "max_factors": (k + 1) * m * r * features,
        }

    def __str__(self) -> str:
        return f"poly:{self.n_in},{self.hidden},{self.n_out},k={self.k}"

    input_dim = property(lambda self: self.n_in)
    output_dim = property(lambda self: self.n_out)
    feature_dim = property(lambda self: self.n_in)
    n_outputs = property(lambda self: self.n_out)
    feature_degree = property(lambda self: self.k)

    @cached_property
    def exponents(self) -> list[tuple[int, ...]]:
        return index_tuples(self.n_in, self.k)

    @property
    def n_features(self) -> int:
        return len(self.exponents)

    def _block_shapes(self):
        return [("U", (self.n_out, self.hidden)), ("V", (self.n_in, self.hidden))]

    def _monomials(self):
        U, V = self.blocks
        out, coef, variables = [], [], []
        for index, multiset in enumerate(self.exponents):
            counts = np.bincount(multiset, minlength=self.n_in)
            multinomial = math.factorial(self.k) // math.prod(math.factorial(int(c)) for c in counts)
            if multinomial >= 2**63:  # reachable only with a raised SizeLimits.max_degree
                raise InvalidInput(f"network {self}: the coefficient {multinomial} of Φ does not fit an int64")
            for a, j in itertools.product(range(self.n_out), range(self.hidden)):
                out.append(a * self.n_features + index)
                coef.append(multinomial)
                variables.append((U.offset + a * self.hidden + j, *[V.offset + i * self.hidden + j for i in multiset]))
        return out, coef, variables

    @property
    def dense_gradient(self) -> DenseGradient:
        """Φ = U P on the monomial basis (``harness.kernels.families.polynomial``): table = the multisets α."""
        n, r, m, k, features = self.n_in, self.hidden, self.n_out, self.k, self.n_features
        # mult(α) read off Φ's own monomials (those of a = 0, j = 0 come every m·r entries), so it is defined once
        weights = self.polynomial.coef[:: m * r].astype(np.float64)
        return DenseGradient(
            dense_kernel.STRUCTURE,
            (n, r, m, k, features),
            table=np.asarray(self.exponents, dtype=np.int64).reshape(features, k),
            weights=weights,
            work=dense_kernel.work_length(n, r, m, k, features),
        )

    def _features(self, x):
        return np.stack([np.prod(x[:, list(m)], axis=1) for m in self.exponents], axis=1)

    def exact_features(self, x, multiply, modulus):
        columns = []
        for multiset in self.exponents:
            value = x[:, multiset[0]]
            for i in multiset[1:]:
                value = multiply(value, x[:, i])
            columns.append(value)
        return np.stack(columns, axis=1).reshape(x.shape[0], 1, -1)

    def torch_forward(self, weights: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return ((x @ weights["V"]) ** self.k) @ weights["U"].T

    def _block_action(self, feature, output, rho_in, rho_out, carrier, splits):
        if carrier is not None and not np.all(np.isin(carrier, (-1.0, 0.0, 1.0))):
            return None  # (v_jᵀx)^k is only permuted (and signed) by signed permutations of the hidden units
        h = hidden_matrix(self.hidden, carrier, splits)
        h_power = np.abs(h) * np.sign(h) ** self.k  # u_j picks up σ^k when v_j picks up σ

        def act(blocks):
            return {"U": rho_out @ blocks["U"] @ h_power.T, "V": rho_in @ blocks["V"] @ h.T}

        return act

    def _laws(self, blocks):
        U, V = blocks["U"], blocks["V"]
        values, scales, names = [], [], []
        for j in range(self.hidden):
            u2, v2 = (U[:, j] * U[:, j]).sum(), (V[:, j] * V[:, j]).sum()
            values.append(self.k * u2 - v2)
            scales.append(self.k * u2 + v2 if U.dtype != object else None)
            names.append(f"{self.k}‖u_{j}‖² − ‖v_{j}‖²")
        return values, [s for s in scales if s is not None], names

    @property
    def published_laws_complete(self) -> bool:
        return True  # theory.md O9 (given at least two entries of Φ)

    @classmethod
    def feature_dims(cls, budget: SizeBudget, shape: ShapeRequirements) -> list[int]:
        P, F = budget.max_params, budget.max_features
        return [n for n in shape.feature_dims(P) if n + smallest_outputs(n, shape) <= P and math.comb(n + 1, 2) <= F]

    @classmethod
    def size_draws(cls, budget: SizeBudget, shape: ShapeRequirements) -> SizeDraws:
        P, F = budget.max_params, budget.max_features
        n = yield SizeChoice("inputs", tuple(cls.feature_dims(budget, shape)))
        degrees = tuple(k for k in range(2, budget.max_degree + 1) if math.comb(n + k - 1, k) <= F)
        k = yield SizeChoice("activation degree k", degrees)
        m = yield from outputs_draw(n, P - n, shape)
        hidden = yield SizeChoice("hidden width r", low=1, high=P // (n + m))
        return cls(n, hidden, m, k)
