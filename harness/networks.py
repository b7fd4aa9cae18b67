"""Tensorizable networks f(θ, x) = Φ(θ) Ψ(x) (DESIGN.md §1), one class per family.

Each network knows its parameter layout (named blocks over one flat θ ∈ R^D), Φ(θ) as an exact sparse
polynomial map (``harness.polynomial``), the features Ψ(x), and the conservation laws published for it.
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
from harness.polynomial import PolynomialMap

FAMILIES = ("linear", "deep-linear", "poly", "attention")


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
    family = "linear"

    def __post_init__(self):
        for name in ("n_in", "hidden", "n_out"):
            _positive(name, getattr(self, name), "linear network size")

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
    family = "deep-linear"

    def __post_init__(self):
        if len(self.widths) < 3:
            raise InvalidInput(
                f"deep-linear needs IN, at least one hidden width and OUT; got widths {self.widths!r}"
            )
        for i, width in enumerate(self.widths):
            _positive(f"widths[{i}]", width, "deep-linear width")

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
    family = "poly"

    def __post_init__(self):
        for name in ("n_in", "hidden", "n_out"):
            _positive(name, getattr(self, name), "poly network size")
        _positive("k", self.k, "poly activation degree", minimum=2)

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
            multinomial = math.factorial(self.k) // int(np.prod([math.factorial(c) for c in counts]))
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


_SPEC = re.compile(r"^\s*([a-z-]+)\s*:\s*(.*?)\s*$")


def parse_network(spec: str) -> Network:
    """The network named by a spec string such as ``linear:3,2,2`` or ``attention:n=4,d=3,dk=2,dv=2``."""
    if isinstance(spec, Network):
        return spec
    try:
        return _parse_network(spec)
    except InvalidInput as error:
        message = str(error)
        raise InvalidInput(message if "spec" in message else f"network spec {spec!r}: {message}") from None


def _parse_network(spec: str) -> Network:
    match = _SPEC.match(str(spec))
    if not match or match.group(1) not in FAMILIES:
        raise InvalidInput(
            f"unknown network spec {spec!r}; use one of: linear:IN,HIDDEN,OUT · deep-linear:IN,H1,...,OUT · "
            "poly:IN,HIDDEN,OUT,k=K · attention:n=N,d=D,dk=A,dv=B[,mask=causal][,decay=λ]"
        )
    family, body = match.groups()
    parts = [p.strip() for p in body.split(",")] if body else []
    positional = [p for p in parts if "=" not in p]
    keywords = dict(p.split("=", 1) for p in parts if "=" in p)

    def integer(text: str, what: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise InvalidInput(f"{what}={text!r} in network spec {spec!r} is not an integer") from None

    if family == "linear":
        if len(positional) != 3 or keywords:
            raise InvalidInput(f"network spec {spec!r}: linear takes exactly IN,HIDDEN,OUT, e.g. linear:3,2,2")
        return LinearNetwork(*(integer(p, n) for p, n in zip(positional, ("IN", "HIDDEN", "OUT"))))
    if family == "deep-linear":
        if keywords:
            raise InvalidInput(f"network spec {spec!r}: deep-linear takes widths only, e.g. deep-linear:2,2,1,1")
        return DeepLinearNetwork(tuple(integer(p, "width") for p in positional))
    if family == "poly":
        if len(positional) != 3 or set(keywords) != {"k"}:
            raise InvalidInput(f"network spec {spec!r}: poly takes IN,HIDDEN,OUT,k=K, e.g. poly:3,2,1,k=2")
        return PolynomialNetwork(
            *(integer(p, n) for p, n in zip(positional, ("IN", "HIDDEN", "OUT"))), integer(keywords["k"], "k")
        )
    allowed = {"n", "d", "dk", "dv", "mask", "decay"}
    if positional or not {"n", "d", "dk", "dv"} <= set(keywords) or not set(keywords) <= allowed:
        raise InvalidInput(
            f"network spec {spec!r}: attention takes n=,d=,dk=,dv= and optionally mask=causal, decay=λ; "
            "e.g. attention:n=4,d=3,dk=2,dv=2"
        )
    try:
        decay = float(keywords.get("decay", 1.0))
    except ValueError:
        raise InvalidInput(f"decay={keywords['decay']!r} in network spec {spec!r} is not a number") from None
    return AttentionNetwork(
        *(integer(keywords[key], key) for key in ("n", "d", "dk", "dv")), mask=keywords.get("mask", "none"), decay=decay
    )
