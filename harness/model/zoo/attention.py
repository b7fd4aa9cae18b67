"""Softmax attention ``softmax-attention:n=N,d=D,dk=K,dv=V[,heads=H][,rope=0|1][,base=B]`` on N tokens of R^D.

The layer of Marcotte, Gribonval, Peyré (ICML 2025, "Transformative or conservative?", eq. (18)), with the
query/key width dk and the value width dv apart (their d₁ = dk = dv):

    g(θ, X) = softmax(X Qᵀ K Xᵀ) X Vᵀ O ∈ R^{N×D},   Q, K ∈ R^{dk×D},  V, O ∈ R^{dv×D},

softmax over each row, no 1/√dk (a constant factor changes no law), output row by row (a token model: each
token's output lives in R^D, so feature groups act per token and token groups permute the rows). ``heads=H``
is the multi-head layer of their eq. (19), Σ_h softmax(X Q_hᵀ K_h Xᵀ) X V_hᵀ O_h, each head with its own
dk and dv (Q, K, V, O stacked row-wise, head h in rows h·dk.. and h·dv..; the standard layout).
``rope=1`` adds rotary position encoding (Su et al., RoFormer, 2021; one of the encodings of Tran et al.,
arXiv 2606.17816, Theorem 4.4): token i's query and key are rotated by R_i = ⊕_m R(i ω_m) on the coordinate
planes (2m, 2m+1), ω_m = B^{−2m/dk} (B = ``base``, default 10000), so the score of tokens i, j is
q_iᵀ R_{j−i} k_j.

Published laws. Without rope (ICML 2025, Corollary 3.9, for N ≥ 2 and [Q K], [V O] of full rank): all laws are
functions of QQᵀ − KKᵀ and VVᵀ − OOᵀ; they come from the symmetries (Q, K) ↦ (AQ, A^{−T}K), A ∈ GL(dk), and
(V, O) ↦ (BV, B^{−T}O), B ∈ GL(dv), since QᵀK and VᵀO are unchanged. With rope (derived here, agreeing with
Tran et al. Theorem 4.4's per-frequency-block laws): the score is q_iᵀ R_{j−i} k_j, and A survives iff
AᵀR_t A^{−T} = R_t for every relative position t, i.e. Aᵀ commutes with every R_t. For pairwise distinct
frequencies in (0, π) the commutant of {R_t} is ⊕_m {a_m I + b_m J} (J the 2×2 rotation generator), and a
law of a linear symmetry δQ = SQ, δK = −SᵀK is the quadratic ½⟨S, QQᵀ − KKᵀ⟩ only for S symmetric: S =
⊕_m a_m I. So rope keeps dk/2 Q/K laws, one per frequency plane, ‖Q_{2m}‖² + ‖Q_{2m+1}‖² − ‖K_{2m}‖² −
‖K_{2m+1}‖² (rows of Q and K), instead of dk(dk+1)/2; the V/O laws are untouched. With H heads these laws
hold for each head (ICML 2025, Corollary 3.10, which leaves completeness open; Tran et al., Theorem 4.3,
state it for multi-head attention): the symmetries act on each head's blocks separately.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import InvalidInput
from harness.model.specs import SpecArguments
from harness.model.zoo.model import (
    ZooModel,
    check_keywords,
    flag_item,
    gram_balances,
    neuron_balances,
    positive_size,
    size_item,
)

_GRAMMAR = "softmax-attention:n=N,d=D,dk=K,dv=V[,heads=H][,rope=0|1][,base=B]"
ROPE_BASE = 10_000  # RoFormer's base: ω_m = base^(−2m/dk)


@dataclass(frozen=True)
class SoftmaxAttention(ZooModel):
    """softmax(X Qᵀ K Xᵀ) X Vᵀ O on n tokens of dimension d, optionally with rotary position encoding."""

    tokens_count: int
    dim: int
    key_dim: int
    value_dim: int
    rope: bool = False
    base: int = ROPE_BASE
    heads: int = 1
    family = "softmax-attention"
    usage = _GRAMMAR
    example = "softmax-attention:n=3,d=2,dk=2,dv=2"
    smoothness = "smooth (softmax)"
    published = (
        "QQᵀ − KKᵀ and VVᵀ − OOᵀ (Marcotte et al. ICML 2025, Cor 3.9); rope=1: one Q/K law per rotation plane "
        "(derived; Tran et al. 2026, Thm 4.4) and VVᵀ − OOᵀ; heads=H: these per head (Cor 3.10; Tran et al. Thm 4.3)"
    )
    tokens = True

    def __post_init__(self):
        for name in ("tokens_count", "dim", "key_dim", "value_dim", "heads"):
            positive_size(getattr(self, name), name, type(self).__name__)
        if self.rope and self.key_dim % 2:
            raise InvalidInput(f"{self}: rope=1 rotates coordinate pairs, so dk = {self.key_dim} must be even")
        if self.base < 2:
            raise InvalidInput(f"{self}: base={self.base} must be an integer >= 2")

    @classmethod
    def from_spec(cls, arguments: SpecArguments) -> SoftmaxAttention:
        check_keywords(arguments, ("n", "d", "dk", "dv", "heads", "rope", "base"), _GRAMMAR)
        if arguments.positional:
            raise arguments.invalid(
                f"takes KEY=VALUE items only ({_GRAMMAR}), e.g. softmax-attention:n=3,d=2,dk=2,dv=2"
            )
        n, d, dk, dv = (size_item(arguments, key) for key in ("n", "d", "dk", "dv"))
        rope = flag_item(arguments, "rope", False)
        if rope and dk % 2:
            raise arguments.invalid(f"rope=1 rotates coordinate pairs: dk={dk} must be even")
        if "base" in arguments.keywords and not rope:
            raise arguments.invalid("base= sets the rotary frequencies and needs rope=1")
        base = size_item(arguments, "base", ROPE_BASE)
        if base < 2:
            raise arguments.invalid(f"base={base} must be an integer >= 2")
        return cls(n, d, dk, dv, rope, base, size_item(arguments, "heads", 1))

    def __str__(self) -> str:
        text = f"softmax-attention:n={self.tokens_count},d={self.dim},dk={self.key_dim},dv={self.value_dim}"
        if self.heads != 1:
            text += f",heads={self.heads}"
        if self.rope:
            text += ",rope=1" + (f",base={self.base}" if self.base != ROPE_BASE else "")
        return text

    def frequencies(self):
        """ω_m = base^(−2m/dk), m < dk/2: the rotation speed of coordinate plane (2m, 2m+1)."""
        import torch

        return float(self.base) ** (-torch.arange(0, self.key_dim, 2, dtype=torch.float64) / self.key_dim)

    def build_module(self):
        import torch

        n, d, dk, dv, heads = self.tokens_count, self.dim, self.key_dim, self.value_dim, self.heads
        angles = torch.arange(n, dtype=torch.float64)[:, None] * self.frequencies()[None, :] if self.rope else None

        def rotate(q):  # (B, H, n, dk): token i's coordinate plane m rotated by i ω_m, in every head
            assert angles is not None
            even, odd = q[..., 0::2], q[..., 1::2]
            cos, sin = angles.cos(), angles.sin()
            return torch.stack([cos * even - sin * odd, sin * even + cos * odd], dim=-1).reshape(q.shape)

        class Attention(torch.nn.Module):
            def __init__(self):
                super().__init__()
                zeros = lambda *shape: torch.nn.Parameter(torch.zeros(shape, dtype=torch.float64))  # noqa: E731
                self.query, self.key = zeros(heads * dk, d), zeros(heads * dk, d)
                self.value, self.output = zeros(heads * dv, d), zeros(heads * dv, d)

            def forward(self, x):  # x (B, n, d); per head: (B, H, n, dk) queries and keys, (B, H, n, dv) values
                split = lambda z, width: z.reshape(*z.shape[:-1], heads, width).transpose(-2, -3)  # noqa: E731
                queries, keys = split(x @ self.query.T, dk), split(x @ self.key.T, dk)
                if angles is not None:
                    queries, keys = rotate(queries), rotate(keys)
                weights = torch.softmax(queries @ keys.transpose(-1, -2), dim=-1)
                mixed = (weights @ split(x @ self.value.T, dv)).transpose(-2, -3)  # (B, n, H, dv)
                return mixed.reshape(*mixed.shape[:-2], heads * dv) @ self.output

        return Attention()

    input_shape = property(lambda self: (self.tokens_count, self.dim))
    output_dim = property(lambda self: self.tokens_count * self.dim)

    def _laws(self, blocks):
        values, scales, names = [], [], []
        dk, dv = self.key_dim, self.value_dim
        for h in range(self.heads):
            head = f"head {h}: " if self.heads > 1 else ""
            query, key = (blocks[name][h * dk : (h + 1) * dk] for name in ("query", "key"))
            value, output = (blocks[name][h * dv : (h + 1) * dv] for name in ("value", "output"))
            if self.rope:  # rows 2m and 2m+1 of Q_h (and of K_h) form plane m's block
                planes = dk // 2
                plane_values, plane_scales, _ = neuron_balances(
                    query.reshape(planes, -1), key.reshape(planes, -1).T, ""
                )
                plane_names = [
                    f"{head}‖Q[{2 * m}]‖² + ‖Q[{2 * m + 1}]‖² − ‖K[{2 * m}]‖² − ‖K[{2 * m + 1}]‖²"
                    for m in range(planes)
                ]
                laws = (plane_values, plane_scales, plane_names)
            else:
                laws = gram_balances(query, key, head + "(QQᵀ − KKᵀ)[{a},{b}]")
            for into, new in zip((values, scales, names), laws):
                into.extend(new)
            for into, new in zip((values, scales, names), gram_balances(value, output, head + "(VVᵀ − OOᵀ)[{a},{b}]")):
                into.extend(new)
        return values, scales, names
