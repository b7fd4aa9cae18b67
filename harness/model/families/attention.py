"""The lightning self-attention family Y = ((X W_Q)(X W_K)ᵀ ∘ W) X W_V on n tokens (DESIGN.md §1; theory.md O16).

Per token i: Y_i = Φ Ψ_i(X) with Φ_{c,(a,b,e)} = (W_Q W_Kᵀ)_{ab} (W_V)_{ec} and
Ψ_i(X)_{(a,b,e)} = x_{ia} Σ_j W_ij x_{jb} x_{je}; the mask and decay enter Ψ only. The one family with
several feature rows per sample (one per token) and token positions for ``tokens-*`` groups.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from harness.algebra import modular
from harness.errors import InvalidInput
from harness.kernels.families import attention as dense_kernel
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

ATTENTION_MASKS = ("none", "causal")
DECAYS = (1.0, 0.5)  # λ of the causal decay mask the strategies draw; 1.0 first so shrinking removes the decay


@dataclass(frozen=True)
class AttentionNetwork(Network):
    """Lightning self-attention Y = ((X W_Q)(X W_K)ᵀ ∘ W) X W_V on n tokens of dimension d.

    W_Q, W_K ∈ R^{d×dk}, W_V ∈ R^{d×dv}; W is all ones (Henry–Marchetti–Kohn), or with ``mask=causal``
    W_ij = λ^{i−j} for j ≤ i and 0 otherwise (TransNormerLLM's Lightning Attention; λ = ``decay``).
    """

    n: int
    d: int
    dk: int
    dv: int
    mask: str = "none"
    decay: float = 1.0
    family = "attention"
    usage = "attention:n=N,d=D,dk=A,dv=B[,mask=causal][,decay=λ]"
    has_tokens = True

    @classmethod
    def from_spec(cls, arguments: SpecArguments, limits: SizeLimits) -> AttentionNetwork:
        keywords = arguments.keywords
        allowed = {"n", "d", "dk", "dv", "mask", "decay"}
        if arguments.positional or not {"n", "d", "dk", "dv"} <= set(keywords) or not set(keywords) <= allowed:
            raise arguments.invalid(
                "attention takes n=,d=,dk=,dv= and optionally mask=causal, decay=λ; e.g. attention:n=4,d=3,dk=2,dv=2"
            )
        decay = arguments.decimal(keywords.get("decay", "1.0"), "decay")
        return cls(
            *(arguments.integer(keywords[key], key) for key in ("n", "d", "dk", "dv")),
            mask=keywords.get("mask", "none"),
            decay=decay,
            limits=limits,
        )

    def __post_init__(self):
        for name in ("n", "d", "dk", "dv"):
            positive(name, getattr(self, name), "attention size")
        if self.mask not in ATTENTION_MASKS:
            raise InvalidInput(f"attention mask={self.mask!r} is not one of {ATTENTION_MASKS}")
        if not (isinstance(self.decay, (int, float)) and math.isfinite(self.decay) and 0 < self.decay <= 1):
            raise InvalidInput(f"attention decay={self.decay!r} must be a number in (0, 1]")
        if self.decay != 1.0 and self.mask != "causal":
            raise InvalidInput(f"attention decay={self.decay!r} needs mask=causal (decay weights λ^(i−j), j ≤ i)")
        self._check_size()

    def sizes(self) -> dict[str, int]:
        n, d, dk, dv = int(self.n), int(self.d), int(self.dk), int(self.dv)
        return {
            "max_tokens": n,
            "max_inputs": n * max(d, dv),
            "max_params": d * (2 * dk + dv),
            "max_features": d**3,
            "max_factors": 3 * dv * d**3 * dk,
        }

    def __str__(self) -> str:
        text = f"attention:n={self.n},d={self.d},dk={self.dk},dv={self.dv}"
        if self.mask != "none":
            text += f",mask={self.mask}"
        if self.decay != 1.0:
            text += f",decay={self.decay!r}"
        return text

    input_dim = property(lambda self: self.n * self.d)
    output_dim = property(lambda self: self.n * self.dv)
    feature_dim = property(lambda self: self.d)
    n_outputs = property(lambda self: self.dv)
    n_features = property(lambda self: self.d**3)
    rows_per_sample = property(lambda self: self.n)
    n_tokens = property(lambda self: self.n)
    token_positions = property(lambda self: self.n)
    feature_degree = property(lambda self: 3)

    @cached_property
    def token_weights(self) -> np.ndarray:
        """W ∈ R^{n×n}: ones, or the causal decay weights λ^{i−j} (j ≤ i)."""
        if self.mask == "none":
            return np.ones((self.n, self.n))
        i, j = np.indices((self.n, self.n))
        return np.where(j <= i, float(self.decay) ** (i - j), 0.0)

    def exact_token_weights(self) -> list[list[Fraction]]:
        """W_ij = λ^{i−j} (j ≤ i) or 1, with λ read from the spec as the exact decimal the user wrote."""
        decay = Fraction(repr(float(self.decay)))
        n = self.n
        if self.mask == "none":
            return [[Fraction(1)] * n for _ in range(n)]
        return [[decay ** (i - j) if j <= i else Fraction(0) for j in range(n)] for i in range(n)]

    def _block_shapes(self):
        return [("WQ", (self.d, self.dk)), ("WK", (self.d, self.dk)), ("WV", (self.d, self.dv))]

    def _monomials(self):
        Q, K, V = self.blocks
        d, dk, dv = self.d, self.dk, self.dv
        out, variables = [], []
        for c, a, b, e, h in itertools.product(range(dv), range(d), range(d), range(d), range(dk)):
            out.append(c * d**3 + (a * d + b) * d + e)
            variables.append((Q.offset + a * dk + h, K.offset + b * dk + h, V.offset + e * dv + c))
        return out, [1] * len(out), variables

    @property
    def dense_gradient(self) -> DenseGradient:
        """Φ_c = vec(W_Q W_Kᵀ) W_V[:, c]ᵀ (``harness.kernels.families.attention``); no table, no weights."""
        d, dk, dv = self.d, self.dk, self.dv
        return DenseGradient(dense_kernel.STRUCTURE, (d, dk, dv), work=dense_kernel.work_length(d, dk, dv))

    def _features(self, x):
        X = x.reshape(-1, self.n, self.d)
        pair = np.einsum("ij,sjb,sje->sibe", self.token_weights, X, X)
        psi = np.einsum("sia,sibe->siabe", X, pair)
        return psi.reshape(-1, self.d**3)

    def exact_features(self, x, multiply, modulus):
        n, d, points = self.n, self.d, x.shape[0]
        weights = self.exact_token_weights()
        if modulus is not None:
            weights = np.array([[modular.from_rational(w) for w in row] for row in weights], dtype=np.int64)
        else:
            weights = np.array(weights, dtype=object)
        X = x.reshape(points, n, d)
        outer = multiply(X[:, :, :, None], X[:, :, None, :])  # (P, j, b, e)
        pair = multiply(weights[None, :, :, None, None], outer[:, None, :, :, :])  # (P, i, j, b, e)
        pair = pair.sum(axis=2)
        if modulus is not None:
            pair = pair % modulus
        psi = multiply(X[:, :, :, None, None], pair[:, :, None, :, :])  # (P, i, a, b, e)
        return psi.reshape(points, n, d**3)

    def torch_forward(self, weights: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        X = x.reshape(-1, self.n, self.d)
        scores = (X @ weights["WQ"]) @ (X @ weights["WK"]).transpose(1, 2)
        scores = scores * x.new_tensor(self.token_weights)
        return (scores @ (X @ weights["WV"])).reshape(x.shape[0], -1)

    def lift_feature_action(self, matrix, *, output: bool = False):
        return np.kron(np.eye(self.n, dtype=np.asarray(matrix).dtype), np.asarray(matrix))

    def lift_token_action(self, permutation: np.ndarray, *, output: bool = False) -> np.ndarray:
        width = self.dv if output else self.d
        return np.kron(np.asarray(permutation), np.eye(width, dtype=np.asarray(permutation).dtype))

    def token_parts(self, rho_in: np.ndarray, rho_out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(P, A, B) with ρ_in = P ⊗ A and ρ_out = P ⊗ B (P a token permutation), or None if not of that form."""
        n, d, dv = self.n, self.d, self.dv
        rho_in = np.asarray(rho_in, dtype=float)
        rho_out = np.asarray(rho_out, dtype=float)
        blocks_in = rho_in.reshape(n, d, n, d).transpose(0, 2, 1, 3)
        blocks_out = rho_out.reshape(n, dv, n, dv).transpose(0, 2, 1, 3)
        permutation = np.zeros((n, n))
        feature, output = None, None
        for i in range(n):
            nonzero = [j for j in range(n) if np.abs(blocks_in[i, j]).max() > 0]
            if len(nonzero) != 1:
                return None
            j = nonzero[0]
            permutation[i, j] = 1.0
            if feature is None or output is None:
                feature, output = blocks_in[i, j], blocks_out[i, j]
            if np.abs(blocks_in[i, j] - feature).max() > 1e-12 or np.abs(blocks_out[i, j] - output).max() > 1e-12:
                return None
        if feature is None or output is None or np.abs(np.kron(permutation, output) - rho_out).max() > 1e-12:
            return None
        return permutation, feature, output

    def feature_parts(self, rho_in, rho_out):
        parts = self.token_parts(rho_in, rho_out)
        return None if parts is None else (parts[1], parts[2])

    def _block_action(self, feature, output, rho_in, rho_out, carrier, splits):
        h = hidden_matrix(self.dk, carrier, splits)  # W_Q W_Kᵀ is unchanged by W_Q, W_K ↦ W_Q Hᵀ, W_K Hᵀ

        def act(blocks):
            return {
                "WQ": feature @ blocks["WQ"] @ h.T,
                "WK": feature @ blocks["WK"] @ h.T,
                "WV": feature @ blocks["WV"] @ output.T,
            }

        return act

    def _laws(self, blocks):
        Q, K, V = blocks["WQ"], blocks["WK"], blocks["WV"]
        values, scales, index = gram_difference(Q, K)
        names = [f"(W_QᵀW_Q − W_KᵀW_K)[{a},{b}]" for a, b in index]
        # Rescaling (W_Q, W_V) ↦ (λW_Q, W_V/λ) leaves the trilinear f unchanged; its generator
        # diag(I, 0, −I) is symmetric, so ‖W_Q‖² − ‖W_V‖² is conserved by every gradient flow.
        q2, v2 = (Q * Q).sum(), (V * V).sum()
        values.append(q2 - v2)
        if Q.dtype != object:
            scales.append(q2 + v2)
        names.append("‖W_Q‖² − ‖W_V‖²")
        return values, scales, names

    @property
    def published_laws_complete(self) -> bool:
        return self.n >= 2  # theory.md O16: one token has extra laws

    @staticmethod
    def _token_counts(budget: SizeBudget, shape: ShapeRequirements) -> list[int]:
        top = budget.max_tokens if shape.max_tokens is None else min(budget.max_tokens, shape.max_tokens)
        return list(range(shape.min_tokens, top + 1))

    @staticmethod
    def _masks(budget: SizeBudget, shape: ShapeRequirements) -> tuple[str, ...]:
        return tuple(m for m in budget.masks if m == "none" or not shape.unmasked)

    @classmethod
    def feature_dims(cls, budget: SizeBudget, shape: ShapeRequirements) -> list[int]:
        P, F = budget.max_params, budget.max_features
        if not cls._token_counts(budget, shape) or not cls._masks(budget, shape):
            return []
        return [d for d in shape.feature_dims(P) if d * (2 + smallest_outputs(d, shape)) <= P and d**3 <= F]

    @classmethod
    def size_draws(cls, budget: SizeBudget, shape: ShapeRequirements) -> SizeDraws:
        P = budget.max_params
        d = yield SizeChoice("token dimension d", tuple(cls.feature_dims(budget, shape)))
        tokens = yield SizeChoice("tokens n", tuple(cls._token_counts(budget, shape)))
        dv = yield from outputs_draw(d, P // d - 2, shape)  # D = d(2 dk + dv)
        dk = yield SizeChoice("key width dk", low=1, high=(P // d - dv) // 2)
        mask = yield SizeChoice("mask", cls._masks(budget, shape))
        decay = (yield SizeChoice("decay λ", DECAYS)) if mask == "causal" else 1.0
        return cls(tokens, d, dk, dv, mask=mask, decay=decay)
