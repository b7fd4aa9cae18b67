"""1-D circular convolutions ``conv:N,C[,k=K][,act=relu][,bias=1]``: a shallow convolutional network on R^N.

The network of Marcotte, Gribonval, Peyré (ICML 2025, "Transformative or conservative?", eq. (16)) with one
input channel (c₀ = 1), C hidden channels (c₁ = C) and one output channel (c₂ = 1), every filter of length K:

    y = Σ_j u_j ⋆ σ(v_j ⋆ x + b_j) + c,        (w ⋆ x)[p] = Σ_{t<K} w[t] x[(p + t) mod N],

so x ∈ R^N ↦ y ∈ R^N, one output per position. Every circular convolution commutes with the cyclic shift of
the N positions, so f(θ, s·x) = s·f(θ, x): the network is equivariant to cyclic translations, and both
``cyclic/same`` (equivariant targets) and ``cyclic/trivial`` (invariant targets) are meaningful data classes.

Published laws (ICML 2025, Theorem 3.6, for σ = ReLU, V_ℓ = R^n, θ in Θ_conv): exactly c₁ laws,
h_j = Σ_k ‖u_{k,j}‖² − Σ_i ‖v_{j,i}‖², here ‖u_j‖² − ‖v_j‖² − b_j² (the hidden bias rescales with v_j, as in
the bias case of Theorem 3.4; leaky-relu has the same rescaling symmetry). For σ = linear the hidden channels
can be mixed by any A ∈ GL(C) (v ↦ A v, u ↦ A^{-T} u), whose laws are the channel Gram difference
⟨u_a, u_b⟩ − ⟨v_a, v_b⟩ − b_a b_b; these are derived here, not published (Theorem 3.6 is stated for ReLU),
and only a lower bound on the count: with K = N the Fourier modes decouple and each has its own symmetries
(the autodiff count finds 16 laws for conv:6,2,k=6,act=linear against 3 Gram laws), and without biases
some K < N have more too (4 against 3 for conv:5,2,k=4,act=linear,bias=0). Other activations: no published
law.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import InvalidInput
from harness.model.specs import SpecArguments
from harness.model.zoo.model import (
    ACTIVATIONS,
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
    positional_sizes,
    positive_size,
    size_item,
)

_GRAMMAR = "conv:N,C[,k=K][,act=" + "|".join(ACTIVATIONS) + "][,bias=0|1]"
DEFAULT_FILTER = 3  # filter length when k= is omitted (at most N)


def _default_filter(n: int) -> int:
    return min(DEFAULT_FILTER, n)


@dataclass(frozen=True)
class CircularConvolution(ZooModel):
    """x ∈ R^N ↦ Σ_j u_j ⋆ σ(v_j ⋆ x + b_j) + c ∈ R^N with C hidden channels and filters of length k ≤ N."""

    length: int
    channels: int
    filter: int
    act: str = "relu"
    bias: bool = True
    family = "conv"
    usage = _GRAMMAR
    example = "conv:6,2"
    smoothness = "act=relu|leaky-relu: piecewise linear (kinks checked); others smooth"
    published = "relu: one law per hidden channel, ‖v_j‖² + b_j² − ‖u_j‖² (Marcotte et al. ICML 2025, Thm 3.6); linear: the channel Gram differences (a lower bound); others: none"

    def __post_init__(self):
        check_activation(self, self.act)
        for name in ("length", "channels", "filter"):
            positive_size(getattr(self, name), name, str(self))
        if self.filter > self.length:
            raise InvalidInput(
                f"{type(self).__name__}: filter length k={self.filter} exceeds N={self.length}; allowed 1 <= k <= N"
            )

    @classmethod
    def from_spec(cls, arguments: SpecArguments) -> CircularConvolution:
        check_keywords(arguments, ("k", "act", "bias"), _GRAMMAR)
        length, channels = positional_sizes(arguments, ("N", "C"), _GRAMMAR)
        filter_length = size_item(arguments, "k", _default_filter(length))
        if filter_length > length:
            raise arguments.invalid(f"k={filter_length} is longer than the signal (N={length}); allowed 1 <= k <= N")
        return cls(length, channels, filter_length, activation_item(arguments), flag_item(arguments, "bias", True))

    def __str__(self) -> str:
        items = [f"conv:{self.length},{self.channels}"]
        if self.filter != _default_filter(self.length):
            items.append(f"k={self.filter}")
        if self.act != "relu":
            items.append(f"act={self.act}")
        if not self.bias:
            items.append("bias=0")
        return ",".join(items)

    def build_module(self):
        import torch

        k, channels, bias, sigma = self.filter, self.channels, self.bias, activation(self.act)

        def shifted(x, dim):  # x[..., (p + t) mod N, ...] stacked over t < k, as a last axis
            return torch.stack([torch.roll(x, -t, dims=dim) for t in range(k)], dim=-1)

        class Convolution(torch.nn.Module):
            def __init__(self):
                super().__init__()
                zeros = lambda *shape: torch.nn.Parameter(torch.zeros(shape, dtype=torch.float64))  # noqa: E731
                self.hidden_filters = zeros(channels, k)
                if bias:
                    self.hidden_bias = zeros(channels)
                self.output_filters = zeros(channels, k)
                if bias:
                    self.output_bias = zeros(1)

            def forward(self, x):
                z = shifted(x, -1) @ self.hidden_filters.T  # (B, N, C): v_j ⋆ x + b_j at every position
                hidden = sigma(z + self.hidden_bias if bias else z)
                y = torch.einsum("bnct,ct->bn", shifted(hidden, 1), self.output_filters)
                return y + self.output_bias if bias else y

        return Convolution()

    input_shape = property(lambda self: (self.length,))
    output_dim = property(lambda self: self.length)
    smooth = property(lambda self: self.act not in NON_SMOOTH)

    def kink_values(self, theta, x):
        """v_j ⋆ x + b_j at every position and channel: the entries entering σ."""
        if self.smooth:
            return None
        import torch

        blocks = self.unflatten(theta)
        shifts = torch.stack([torch.roll(x, -t, dims=-1) for t in range(self.filter)], dim=-1)
        pre = shifts @ blocks["hidden_filters"].T
        return (pre + blocks["hidden_bias"] if self.bias else pre).reshape(-1)

    def _laws(self, blocks):
        import torch

        if self.act not in HOMOGENEOUS:
            return [], [], []
        incoming = blocks["hidden_filters"]
        if self.bias:
            incoming = torch.cat([incoming, blocks["hidden_bias"][:, None]], dim=1)
        outgoing = blocks["output_filters"]
        if self.act == "linear":
            bias = " − b_{a} b_{b}" if self.bias else ""
            return gram_balances(outgoing, incoming, "⟨u_{a},u_{b}⟩ − ⟨v_{a},v_{b}⟩" + bias)
        bias = " + b_{j}²" if self.bias else ""
        return neuron_balances(incoming, outgoing.T, "‖v_{j}‖²" + bias + " − ‖u_{j}‖²")
