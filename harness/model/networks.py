"""Tensorizable networks f(θ, x) = Φ(θ) Ψ(x) (DESIGN.md §1), one class per family.

Each network knows its parameter layout (named blocks over one flat θ ∈ R^D), Φ(θ) as an exact sparse
polynomial map (``harness.kernels.polynomial``), the features Ψ(x), and the conservation laws published for it.
Spec strings round-trip: ``parse_network(str(net)) == net``.

Shapes. A sample x ∈ R^{input_dim} yields ``rows_per_sample`` feature rows Ψ ∈ R^K and the prediction of
row r is Φ(θ) Ψ_r ∈ R^m. Only attention has several rows (one per token); the loss is the mean of ℓ over
all rows of all samples, so a data set is, for the flow, just a (rows, K) feature matrix and a (rows, m)
target matrix.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from harness.errors import InvalidInput
from harness.kernels.polynomial import PolynomialMap

FAMILIES = ("linear", "deep-linear", "poly", "attention")


@dataclass(frozen=True)
class SizeLimits:
    """The largest network flowlaws builds, checked from the spec's numbers before Φ or Ψ is built.

    Every bound is a count, not a memory figure, so it can be checked with integer arithmetic: a refused
    network costs nothing. Defaults leave room above the largest networks in use (``linear:50,50,50``,
    D = 5000, in the counting benchmarks); pass ``limits=SizeLimits(max_params=...)`` to raise one.
    """

    max_params: int = 10_000  # D, the length of θ
    max_features: int = 10_000  # K, the number of features (monomials x^α for poly, d³ for attention)
    max_factors: int = 2_000_000  # T · degree: the size of Φ's monomial table (``PolynomialMap.variables``)
    max_layers: int = 16  # weight matrices of a deep linear network (the degree of Φ)
    max_degree: int = 20  # poly activation degree k: k! < 2⁶³, so every multinomial coefficient is an exact int64
    max_inputs: int = 10_000  # coordinates of one sample's input or output vector (n·d and n·dv for attention)
    max_tokens: int = 1_000  # attention tokens n (the n×n token weights)

    def __post_init__(self):
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"SizeLimits({name}={value!r}): {name} must be an integer >= 1")


DEFAULT_LIMITS = SizeLimits()

_LIMIT_WHAT = {
    "max_params": "parameters D",
    "max_features": "features K",
    "max_factors": "monomial factors of Φ (monomials × degree)",
    "max_layers": "weight matrices",
    "max_degree": "activation degree k (k! must fit an int64)",
    "max_inputs": "input or output coordinates per sample",
    "max_tokens": "tokens n",
}


@dataclass(frozen=True)
class Block:
    """A named parameter tensor stored row-major at θ[offset : offset + size]."""

    name: str
    shape: tuple[int, ...]
    offset: int

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


def _layout(named_shapes: list[tuple[str, tuple[int, ...]]]) -> tuple[Block, ...]:
    blocks, offset = [], 0
    for name, shape in named_shapes:
        blocks.append(Block(name, shape, offset))
        offset += int(np.prod(shape))
    return tuple(blocks)


def _gram_difference(first: np.ndarray, second: np.ndarray) -> tuple[list, list, list]:
    """Upper-triangle entries of firstᵀfirst − secondᵀsecond, their scales and names (a ≤ b).

    The scale of entry (a, b) is ‖first_a‖‖first_b‖ + ‖second_a‖‖second_b‖ (columns), the size of the two
    terms whose difference the law is; drift is judged relative to it.
    """
    values, scales, index = [], [], []
    gram = first.T @ first - second.T @ second
    if first.dtype == object or second.dtype == object:
        norms_first = norms_second = None
    else:
        norms_first = np.sqrt((first * first).sum(axis=0))
        norms_second = np.sqrt((second * second).sum(axis=0))
    for a in range(gram.shape[0]):
        for b in range(a, gram.shape[1]):
            values.append(gram[a, b])
            if norms_first is not None:
                scales.append(norms_first[a] * norms_first[b] + norms_second[a] * norms_second[b])
            index.append((a, b))
    return values, scales, index


@dataclass(frozen=True)
class Network:
    """Common machinery; subclasses define the layout, Φ's monomials, Ψ and the known laws."""

    family = "?"

    # --- size ---------------------------------------------------------------------------------------
    def sizes(self) -> dict[str, int]:
        """The counts ``SizeLimits`` bounds, from the sizes alone (Python integers, nothing is built)."""
        raise NotImplementedError

    def _check_size(self) -> None:
        limits = self.limits
        if not isinstance(limits, SizeLimits):
            raise InvalidInput(f"limits={limits!r} must be a harness.model.networks.SizeLimits")
        for name, value in self.sizes().items():
            limit = getattr(limits, name)
            if value > limit:
                shown = f"{value:,}" if value < 10**15 else f"about 10^{len(str(value)) - 1}"
                raise InvalidInput(
                    f"network {self} is too large: {_LIMIT_WHAT[name]} {shown} > limit {limit:,} "
                    f"(SizeLimits.{name}); use a smaller network, or raise the limit with limits=SizeLimits({name}=...)"
                )

    # --- layout -------------------------------------------------------------------------------------
    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        return _layout(self._block_shapes())

    @property
    def n_params(self) -> int:
        return sum(block.size for block in self.blocks)

    def unflatten(self, theta) -> dict[str, np.ndarray]:
        """Views of θ as its named blocks (works for float and sympy object arrays)."""
        theta = np.asarray(theta)
        if theta.shape != (self.n_params,):
            raise InvalidInput(f"theta has shape {theta.shape}; {self} needs a flat vector of length {self.n_params}")
        return {b.name: theta[b.offset : b.offset + b.size].reshape(b.shape) for b in self.blocks}

    def flatten(self, blocks: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(blocks[b.name], dtype=float).reshape(-1) for b in self.blocks])

    def random_theta(self, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
        """A random θ with entries N(0, scale²): generic, so known laws are independent there."""
        return scale * rng.standard_normal(self.n_params)

    # --- Φ and Ψ -------------------------------------------------------------------------------------
    @cached_property
    def polynomial(self) -> PolynomialMap:
        out, coef, variables = self._monomials()
        return PolynomialMap(
            n_params=self.n_params,
            shape=(self.n_outputs, self.n_features),
            out=np.asarray(out, dtype=np.int64),
            coef=np.asarray(coef, dtype=np.int64),
            variables=np.asarray(variables, dtype=np.int64).reshape(len(out), -1),
        )

    def phi(self, theta) -> np.ndarray:
        """Φ(θ) ∈ R^{m×K}."""
        return self.polynomial.evaluate(theta)

    @property
    def rows_per_sample(self) -> int:
        return 1

    def features(self, x) -> np.ndarray:
        """Ψ of every row of every sample: an (N·rows_per_sample, K) array."""
        x = self._check_inputs(x)
        return self._features(x)

    def target_rows(self, y) -> np.ndarray:
        """Targets arranged like the feature rows: (N·rows_per_sample, m)."""
        y = np.asarray(y, dtype=float)
        if y.ndim != 2 or y.shape[1] != self.output_dim:
            raise InvalidInput(f"targets have shape {y.shape}; {self} needs (N, {self.output_dim})")
        return y.reshape(-1, self.n_outputs)

    def predict(self, theta, x) -> np.ndarray:
        """f(θ, x) = Φ(θ)Ψ(x) for every sample: (N, output_dim)."""
        rows = self.features(x) @ self.phi(np.asarray(theta, dtype=float)).T
        return rows.reshape(-1, self.output_dim)

    def _check_inputs(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise InvalidInput(f"inputs have shape {x.shape}; {self} needs (N, {self.input_dim})")
        return x

    # --- symmetry ------------------------------------------------------------------------------------
    @property
    def n_tokens(self) -> int:
        return 1

    @property
    def token_positions(self) -> int | None:
        """The number of token positions a tokens-* group permutes; None for families without tokens."""
        return None

    def lift_feature_action(self, matrix: np.ndarray, *, output: bool = False) -> np.ndarray:
        """The action on the whole input (or output) vector of a matrix acting on one token's features."""
        return np.asarray(matrix)

    def feature_representation(self, rho_in: np.ndarray, *, tol: float = 1e-9) -> np.ndarray | None:
        """ρ_Ψ(g) with Ψ(ρ_in(g) x) = ρ_Ψ(g) Ψ(x) for all x, or None when Ψ is not equivariant for ρ_in.

        Found by solving on random inputs and checked on fresh ones; for signed permutations the result
        is exactly integral and returned as such.
        """
        rng = np.random.default_rng(0)
        samples = 4 * self.n_features + 8
        x = rng.standard_normal((samples, self.input_dim))
        psi = self.features(x).reshape(samples, -1)
        psi_moved = self.features(x @ np.asarray(rho_in, dtype=float).T).reshape(samples, -1)
        if self.rows_per_sample != 1:
            return None
        solution, *_ = np.linalg.lstsq(psi, psi_moved, rcond=None)
        rho = solution.T
        x_check = rng.standard_normal((samples, self.input_dim))
        err = np.abs(
            self.features(x_check @ np.asarray(rho_in, dtype=float).T) - self.features(x_check) @ rho.T
        ).max()
        if err > tol * max(1.0, np.abs(psi_moved).max()):
            return None
        rounded = np.rint(rho)
        if np.abs(rho - rounded).max() < 1e-9:
            return rounded.astype(np.int64)
        return rho

    # --- known laws ----------------------------------------------------------------------------------
    def known_laws(self, theta) -> tuple[np.ndarray, np.ndarray]:
        """Values h_i(θ) of the published laws and their scales (size of the terms they balance)."""
        values, scales, _ = self._laws(self.unflatten(np.asarray(theta, dtype=float)))
        return np.asarray(values, dtype=float), np.asarray(scales, dtype=float)

    def known_law_expressions(self, theta) -> list:
        """The published laws evaluated on an object array θ (e.g. sympy symbols)."""
        values, _, _ = self._laws(self.unflatten(np.asarray(theta, dtype=object)))
        return list(values)

    def known_law_names(self) -> list[str]:
        return self._laws(self.unflatten(np.zeros(self.n_params)))[2]


def _positive(name: str, value: int, what: str, minimum: int = 1) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise InvalidInput(f"{what} {name}={value!r} must be an integer >= {minimum}")
    return int(value)


@dataclass(frozen=True)
class LinearNetwork(Network):
    """Two-layer linear network f(x) = U Vᵀ x, U ∈ R^{OUT×r}, V ∈ R^{IN×r}: Φ = U Vᵀ, Ψ(x) = x."""

    n_in: int
    hidden: int
    n_out: int
    limits: SizeLimits = field(default=DEFAULT_LIMITS, compare=False, repr=False, kw_only=True)
    family = "linear"

    def __post_init__(self):
        for name in ("n_in", "hidden", "n_out"):
            _positive(name, getattr(self, name), "linear network size")
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

    def _block_shapes(self):
        return [("U", (self.n_out, self.hidden)), ("V", (self.n_in, self.hidden))]

    def _monomials(self):
        U, V = self.blocks
        out, variables = [], []
        for a, k, j in itertools.product(range(self.n_out), range(self.n_in), range(self.hidden)):
            out.append(a * self.n_in + k)
            variables.append((U.offset + a * self.hidden + j, V.offset + k * self.hidden + j))
        return out, [1] * len(out), variables

    def _features(self, x):
        return x

    def _laws(self, blocks):
        values, scales, index = _gram_difference(blocks["U"], blocks["V"])
        return values, scales, [f"(UᵀU − VᵀV)[{a},{b}]" for a, b in index]


@dataclass(frozen=True)
class DeepLinearNetwork(Network):
    """Deep linear network Φ = W_L ⋯ W_1 with W_i ∈ R^{n_i × n_{i−1}}, widths (n_0 = IN, …, n_L = OUT)."""

    widths: tuple[int, ...]
    limits: SizeLimits = field(default=DEFAULT_LIMITS, compare=False, repr=False, kw_only=True)
    family = "deep-linear"

    def __post_init__(self):
        if not isinstance(self.widths, tuple):
            raise InvalidInput(f"deep-linear widths={self.widths!r} must be a tuple of integers")
        if len(self.widths) < 3:
            raise InvalidInput(
                f"deep-linear needs IN, at least one hidden width and OUT; got widths {self.widths!r}"
            )
        for i, width in enumerate(self.widths):
            _positive(f"widths[{i}]", width, "deep-linear width")
        self._check_size()

    def sizes(self) -> dict[str, int]:
        widths = [int(w) for w in self.widths]
        layers = len(widths) - 1
        if layers > self.limits.max_layers:  # the path count below grows with every layer
            return {"max_layers": layers}
        return {"max_layers": layers, "max_inputs": max(widths[0], widths[-1]),
                "max_params": sum(a * b for a, b in zip(widths, widths[1:])), "max_features": widths[0],
                "max_factors": layers * math.prod(widths)}  # one monomial per path through the layers

    def __str__(self) -> str:
        return "deep-linear:" + ",".join(map(str, self.widths))

    input_dim = property(lambda self: self.widths[0])
    output_dim = property(lambda self: self.widths[-1])
    feature_dim = property(lambda self: self.widths[0])
    n_outputs = property(lambda self: self.widths[-1])
    n_features = property(lambda self: self.widths[0])

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

    def _features(self, x):
        return x

    def _laws(self, blocks):
        values, scales, names = [], [], []
        for i in range(1, len(self.widths) - 1):
            # W_{i+1}ᵀW_{i+1} − W_i W_iᵀ is the Gram difference of W_{i+1} and W_iᵀ.
            v, s, index = _gram_difference(blocks[f"W{i + 1}"], blocks[f"W{i}"].T)
            values += v
            scales += s
            names += [f"(W{i + 1}ᵀW{i + 1} − W{i}W{i}ᵀ)[{a},{b}]" for a, b in index]
        return values, scales, names


def monomial_exponents(n_vars: int, degree: int) -> list[tuple[int, ...]]:
    """Sorted variable multisets (i_1 ≤ … ≤ i_k) indexing the degree-k monomials x_{i_1}⋯x_{i_k}."""
    return list(itertools.combinations_with_replacement(range(n_vars), degree))


@dataclass(frozen=True)
class PolynomialNetwork(Network):
    """f(x) = Σ_j u_j (v_jᵀx)^k: Φ = Σ_j u_j ⊗ v_j^{⊗k} on the basis of degree-k monomials x^α."""

    n_in: int
    hidden: int
    n_out: int
    k: int
    limits: SizeLimits = field(default=DEFAULT_LIMITS, compare=False, repr=False, kw_only=True)
    family = "poly"

    def __post_init__(self):
        for name in ("n_in", "hidden", "n_out"):
            _positive(name, getattr(self, name), "poly network size")
        _positive("k", self.k, "poly activation degree", minimum=2)
        self._check_size()

    def sizes(self) -> dict[str, int]:
        n, r, m, k = int(self.n_in), int(self.hidden), int(self.n_out), int(self.k)
        if k > self.limits.max_degree:  # C(n + k − 1, k) below is astronomically large for large k
            return {"max_degree": k}
        features = math.comb(n + k - 1, k)
        return {"max_degree": k, "max_inputs": max(n, m), "max_params": r * (n + m), "max_features": features,
                "max_factors": (k + 1) * m * r * features}

    def __str__(self) -> str:
        return f"poly:{self.n_in},{self.hidden},{self.n_out},k={self.k}"

    input_dim = property(lambda self: self.n_in)
    output_dim = property(lambda self: self.n_out)
    feature_dim = property(lambda self: self.n_in)
    n_outputs = property(lambda self: self.n_out)

    @cached_property
    def exponents(self) -> list[tuple[int, ...]]:
        return monomial_exponents(self.n_in, self.k)

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

    def _features(self, x):
        return np.stack([np.prod(x[:, list(m)], axis=1) for m in self.exponents], axis=1)

    def _laws(self, blocks):
        U, V = blocks["U"], blocks["V"]
        values, scales, names = [], [], []
        for j in range(self.hidden):
            u2, v2 = (U[:, j] * U[:, j]).sum(), (V[:, j] * V[:, j]).sum()
            values.append(self.k * u2 - v2)
            scales.append(self.k * u2 + v2 if U.dtype != object else None)
            names.append(f"{self.k}‖u_{j}‖² − ‖v_{j}‖²")
        return values, [s for s in scales if s is not None], names


ATTENTION_MASKS = ("none", "causal")


@dataclass(frozen=True)
class AttentionNetwork(Network):
    """Lightning self-attention Y = ((X W_Q)(X W_K)ᵀ ∘ W) X W_V on n tokens of dimension d.

    W_Q, W_K ∈ R^{d×dk}, W_V ∈ R^{d×dv}; W is all ones (Henry–Marchetti–Kohn), or with ``mask=causal``
    W_ij = λ^{i−j} for j ≤ i and 0 otherwise (TransNormerLLM's Lightning Attention; λ = ``decay``).
    Per token i: Y_i = Φ Ψ_i(X) with Φ_{c,(a,b,e)} = (W_Q W_Kᵀ)_{ab} (W_V)_{ec} and
    Ψ_i(X)_{(a,b,e)} = x_{ia} Σ_j W_ij x_{jb} x_{je}; the mask and decay enter Ψ only.
    """

    n: int
    d: int
    dk: int
    dv: int
    mask: str = "none"
    decay: float = 1.0
    limits: SizeLimits = field(default=DEFAULT_LIMITS, compare=False, repr=False, kw_only=True)
    family = "attention"

    def __post_init__(self):
        for name in ("n", "d", "dk", "dv"):
            _positive(name, getattr(self, name), "attention size")
        if self.mask not in ATTENTION_MASKS:
            raise InvalidInput(f"attention mask={self.mask!r} is not one of {ATTENTION_MASKS}")
        if not (isinstance(self.decay, (int, float)) and math.isfinite(self.decay) and 0 < self.decay <= 1):
            raise InvalidInput(f"attention decay={self.decay!r} must be a number in (0, 1]")
        if self.decay != 1.0 and self.mask != "causal":
            raise InvalidInput(f"attention decay={self.decay!r} needs mask=causal (decay weights λ^(i−j), j ≤ i)")
        self._check_size()

    def sizes(self) -> dict[str, int]:
        n, d, dk, dv = int(self.n), int(self.d), int(self.dk), int(self.dv)
        return {"max_tokens": n, "max_inputs": n * max(d, dv), "max_params": d * (2 * dk + dv),
                "max_features": d**3, "max_factors": 3 * dv * d**3 * dk}

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

    @cached_property
    def token_weights(self) -> np.ndarray:
        """W ∈ R^{n×n}: ones, or the causal decay weights λ^{i−j} (j ≤ i)."""
        if self.mask == "none":
            return np.ones((self.n, self.n))
        i, j = np.indices((self.n, self.n))
        return np.where(j <= i, float(self.decay) ** (i - j), 0.0)

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

    def _features(self, x):
        X = x.reshape(-1, self.n, self.d)
        pair = np.einsum("ij,sjb,sje->sibe", self.token_weights, X, X)
        psi = np.einsum("sia,sibe->siabe", X, pair)
        return psi.reshape(-1, self.d**3)

    def lift_feature_action(self, matrix, *, output: bool = False):
        return np.kron(np.eye(self.n, dtype=np.asarray(matrix).dtype), np.asarray(matrix))

    def lift_token_action(self, permutation: np.ndarray, *, output: bool = False) -> np.ndarray:
        width = self.dv if output else self.d
        return np.kron(np.asarray(permutation), np.eye(width, dtype=np.asarray(permutation).dtype))

    def _laws(self, blocks):
        Q, K, V = blocks["WQ"], blocks["WK"], blocks["WV"]
        values, scales, index = _gram_difference(Q, K)
        names = [f"(W_QᵀW_Q − W_KᵀW_K)[{a},{b}]" for a, b in index]
        # Rescaling (W_Q, W_V) ↦ (λW_Q, W_V/λ) leaves the trilinear f unchanged; its generator
        # diag(I, 0, −I) is symmetric, so ‖W_Q‖² − ‖W_V‖² is conserved by every gradient flow.
        q2, v2 = (Q * Q).sum(), (V * V).sum()
        values.append(q2 - v2)
        if Q.dtype != object:
            scales.append(q2 + v2)
        names.append("‖W_Q‖² − ‖W_V‖²")
        return values, scales, names


MAX_SPEC_LENGTH = 10_000  # characters of a network or group spec string (spm on n coordinates needs ~4n)
MAX_DIGITS = 18  # digits of one size in a spec: any larger number is refused by the size limits anyway
_FAMILY = re.compile(r"([a-z]+(?:-[a-z]+)*):(.*)", re.ASCII | re.DOTALL)
_INTEGER = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:e-?[0-9]+)?", re.ASCII)
_KEY = re.compile(r"[a-z]+", re.ASCII)
_USAGE = ("linear:IN,HIDDEN,OUT · deep-linear:IN,H1,...,OUT · poly:IN,HIDDEN,OUT,k=K · "
          "attention:n=N,d=D,dk=A,dv=B[,mask=causal][,decay=λ]")


def check_spec_text(spec, kind: str, example: str) -> str:
    """``spec`` if it is a plain ASCII spec string without whitespace, else one ``InvalidInput``.

    Shared by the network and group parsers: Python's ``int`` and ``float`` accept full-width digits,
    ``1_0`` and surrounding spaces, so specs are checked character by character before any number is read.
    """
    if not isinstance(spec, str):
        raise InvalidInput(f"{kind} spec must be a string such as {example}, got {type(spec).__name__} {spec!r:.80}")
    if len(spec) > MAX_SPEC_LENGTH:
        raise InvalidInput(f"{kind} spec of {len(spec):,} characters is longer than {MAX_SPEC_LENGTH}; e.g. {example}")
    if not spec:
        raise InvalidInput(f"{kind} spec '' is empty; e.g. {example}")
    for character in spec:
        if character.isspace():
            raise InvalidInput(f"{kind} spec {spec!r} contains whitespace; write it without spaces, e.g. {example}")
        if not character.isascii() or not character.isprintable():
            raise InvalidInput(
                f"{kind} spec {spec!r} contains the character {character!r}; specs use ASCII letters, digits and "
                f"punctuation only (e.g. {example})"
            )
    return spec


def parse_spec_integer(text: str, what: str, spec: str, kind: str, *, signed: bool = False) -> int:
    """One integer of a spec: ASCII digits without leading zeros or ``_``, at most ``MAX_DIGITS`` digits."""
    body = text[1:] if signed and text.startswith("-") else text
    if not _INTEGER.fullmatch(body):
        allowed = "an integer" if signed else "a non-negative integer"
        raise InvalidInput(
            f"{what}={text!r} in {kind} spec {spec!r} is not {allowed} (ASCII digits, no leading zeros)"
        )
    if len(body) > MAX_DIGITS:
        raise InvalidInput(f"{what} in {kind} spec {spec!r} has {len(body)} digits; at most {MAX_DIGITS} are allowed")
    return int(text)


def parse_network(spec: str, *, limits: SizeLimits = DEFAULT_LIMITS) -> Network:
    """The network named by a spec string such as ``linear:3,2,2`` or ``attention:n=4,d=3,dk=2,dv=2``.

    ``limits`` bounds its size (``SizeLimits``); a spec outside them is refused before anything is built.
    """
    if isinstance(spec, Network):
        return spec
    try:
        return _parse_network(spec, limits)
    except InvalidInput as error:
        message = str(error)
        named = "spec" in message or (isinstance(spec, str) and spec in message)
        raise InvalidInput(message if named else f"network spec {spec!r}: {message}") from None


def _parse_network(spec: str, limits: SizeLimits) -> Network:
    check_spec_text(spec, "network", "linear:3,2,2")
    match = _FAMILY.fullmatch(spec)
    if not match or match.group(1) not in FAMILIES:
        raise InvalidInput(f"unknown network spec {spec!r}; use one of: {_USAGE}")
    family, body = match.groups()
    positional, keywords = [], {}
    for item in body.split(",") if body else []:
        if not item:
            raise InvalidInput(f"network spec {spec!r} has an empty item (two commas in a row, or one at an end)")
        if "=" in item:
            key, value = item.split("=", 1)
            if not _KEY.fullmatch(key) or not value:
                raise InvalidInput(f"network spec {spec!r}: {item!r} is not KEY=VALUE with a lower-case key")
            if key in keywords:
                raise InvalidInput(f"network spec {spec!r} gives {key}= twice")
            keywords[key] = value
        else:
            positional.append(item)

    def integer(text: str, what: str) -> int:
        # Signed, so that a negative size reaches the class's own "must be an integer >= 1".
        return parse_spec_integer(text, what, spec, "network", signed=True)

    if family == "linear":
        if len(positional) != 3 or keywords:
            raise InvalidInput(f"network spec {spec!r}: linear takes exactly IN,HIDDEN,OUT, e.g. linear:3,2,2")
        return LinearNetwork(*(integer(p, n) for p, n in zip(positional, ("IN", "HIDDEN", "OUT"))), limits=limits)
    if family == "deep-linear":
        if keywords:
            raise InvalidInput(f"network spec {spec!r}: deep-linear takes widths only, e.g. deep-linear:2,2,1,1")
        return DeepLinearNetwork(tuple(integer(p, f"widths[{i}]") for i, p in enumerate(positional)), limits=limits)
    if family == "poly":
        if len(positional) != 3 or set(keywords) != {"k"}:
            raise InvalidInput(f"network spec {spec!r}: poly takes IN,HIDDEN,OUT,k=K, e.g. poly:3,2,1,k=2")
        return PolynomialNetwork(
            *(integer(p, n) for p, n in zip(positional, ("IN", "HIDDEN", "OUT"))), integer(keywords["k"], "k"),
            limits=limits,
        )
    allowed = {"n", "d", "dk", "dv", "mask", "decay"}
    if positional or not {"n", "d", "dk", "dv"} <= set(keywords) or not set(keywords) <= allowed:
        raise InvalidInput(
            f"network spec {spec!r}: attention takes n=,d=,dk=,dv= and optionally mask=causal, decay=λ; "
            "e.g. attention:n=4,d=3,dk=2,dv=2"
        )
    decay = keywords.get("decay", "1.0")
    if not _NUMBER.fullmatch(decay):
        raise InvalidInput(f"decay={decay!r} in network spec {spec!r} is not a decimal number such as 0.5")
    return AttentionNetwork(
        *(integer(keywords[key], key) for key in ("n", "d", "dk", "dv")), mask=keywords.get("mask", "none"),
        decay=float(decay), limits=limits,
    )
