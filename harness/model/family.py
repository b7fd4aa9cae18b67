"""The network-family protocol: what a tensorizable family f(θ, x) = Φ(θ)Ψ(x) must provide (DESIGN.md §1).

A family is one module in ``harness/model/families/`` holding one frozen dataclass derived from ``Network``,
plus one ``register_family(cls)`` entry (``harness/model/families/__init__.py``). Everything else in flowlaws (the spec parser, the strategies, the
counting engine, the flows, the torch-reference property, ``flowlaws list`` and the reports) reads a family
only through this protocol and the registry ``FAMILIES``, so adding a family touches one module and one registry line.

To implement a new family, derive from ``Network`` and provide (as SciPy's ``OdeSolver`` lists for a solver):

1. ``family`` (the registry name, lower-case words joined by ``-``), ``usage`` (the spec grammar shown in
   error texts and ``flowlaws list``, e.g. ``linear:IN,HIDDEN,OUT``) and a classmethod
   ``from_spec(arguments, limits)`` building the network from a parsed ``SpecArguments`` (the positional items
   and ``KEY=VALUE`` items of the spec, with ``arguments.integer`` for checked integers); ``__str__`` must
   write the spec back, so that ``parse_network(str(net)) == net``.
2. ``__post_init__`` validating the sizes and calling ``self._check_size()``; ``sizes()`` returning the counts
   ``SizeLimits`` bounds (``max_params``, ``max_features``, ...) from the sizes alone, before anything is built.
3. The shapes: ``input_dim``, ``output_dim`` (per sample), ``feature_dim`` (the dimension a feature group acts
   on), ``n_outputs`` (m) and ``n_features`` (K); ``rows_per_sample`` (feature rows per sample, 1 unless the
   family has tokens) and ``token_positions`` (the token count a ``tokens-*`` group permutes, None without
   tokens) with ``lift_token_action`` and ``lift_feature_action``.
4. The parameter blocks: ``_block_shapes()``, a list of (name, shape) laid out in order over one flat θ.
5. Φ as an exact sparse polynomial map: ``_monomials()`` returning (output index, integer coefficient,
   variable tuple) per monomial; ``polynomial``/``phi`` are built from it.
6. ``dense_gradient``: a ``DenseGradient`` naming a compiled dense gradient kernel for this family, or None
   (the default: the generic monomial kernel is used).
7. The features Ψ: ``_features(x)`` in floats, ``exact_features(x, multiply, modulus)`` on integer residues or exact
   rationals (the counting engine's moments; must agree with ``_features``), and ``feature_degree``, the
   degree of Ψ as a polynomial in x. ρ_Ψ comes from ``feature_representation`` (solved, then checked).
8. ``torch_forward(weights, x)``: f computed the ordinary way in torch from the named blocks, the oracle the
   tensorized Φ/Ψ is checked against.
9. The parameter action R(g): ``_block_action(feature, output, rho_in, rho_out, carrier, splits)`` returning
   a map of the named blocks (or None), and ``feature_parts`` where ρ_in is not the feature action itself
   (tokens); ``parameter_action`` builds the D×D matrix from it.
10. Published laws: ``_laws(blocks)`` returning values, scales (float θ only) and names; and
    ``published_laws_complete``, the scope in which the literature claims they are all the laws for free data.
11. Size rules for the strategies: ``feature_dims(budget, shape)`` (the feasible feature dimensions) and
    ``size_draws(budget, shape)``, a generator yielding ``harness.model.size_rules.SizeChoice`` records (the
    strategy draws each and sends the value back) and returning the network; ``has_tokens`` says whether a
    token group can act.

Then add the class to ``FAMILIES`` with ``register_family(cls)`` (the built-in ones are registered, in order, in
``harness/model/families/__init__.py``; a test registers its own and removes it with ``unregister_family``).

The module is longer than ~400 lines on purpose: it is the protocol, one class whose every method a family
provides or may override is documented here beside its default, plus the few helpers the families share
(the Gram-difference laws, the hidden-unit matrix of R(g), the size check); splitting it would scatter the
one page a new family's author reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from harness.errors import InvalidInput
from harness.kernels.polynomial import PolynomialMap

if TYPE_CHECKING:
    import torch

    from harness.model.size_rules import ShapeRequirements, SizeBudget, SizeDraws
    from harness.model.specs import SpecArguments


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


@dataclass(frozen=True, eq=False)
class DenseGradient:
    """A compiled dense gradient for one family: the kernels' structure id and the arrays its kernel reads.

    The generic kernel sums over Φ's monomial table; a dense one uses the family's matrix form (e.g.
    ∇_U = G V, ∇_V = Gᵀ U for Φ = U Vᵀ) and gives the same numbers faster. ``shape`` is the family's integer
    header, ``table`` (int64 2-D) and ``weights`` (float64 1-D) its optional index table and coefficients,
    ``work`` the floats of scratch its kernel needs (``harness.kernels.families``).
    """

    structure: int
    shape: tuple[int, ...]
    table: np.ndarray | None = None
    weights: np.ndarray | None = None
    work: int = 0


BlockAction = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Network:
    """The protocol and common machinery of a family (see the module docstring for what a family provides)."""

    family: ClassVar[str] = "?"
    usage: ClassVar[str] = "?"
    has_tokens: ClassVar[bool] = False
    # Keyword-only and not compared, so every family's own sizes stay its positional fields and equality.
    limits: SizeLimits = field(default=DEFAULT_LIMITS, compare=False, repr=False, kw_only=True)

    # --- spec and size ----------------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, arguments: SpecArguments, limits: SizeLimits) -> Network:
        """The network named by the spec's argument list (the text after ``family:``)."""
        raise NotImplementedError

    def sizes(self) -> dict[str, int]:
        """The counts ``SizeLimits`` bounds, from the sizes alone (Python integers, nothing is built)."""
        raise NotImplementedError

    def _check_size(self) -> None:
        limits = self.limits
        if not isinstance(limits, SizeLimits):
            raise InvalidInput(f"limits={limits!r} must be a harness.model.family.SizeLimits")
        for name, value in self.sizes().items():
            limit = getattr(limits, name)
            if value > limit:
                shown = f"{value:,}" if value < 10**15 else f"about 10^{len(str(value)) - 1}"
                raise InvalidInput(
                    f"network {self} is too large: {_LIMIT_WHAT[name]} {shown} > limit {limit:,} "
                    f"(SizeLimits.{name}); use a smaller network, or raise the limit with limits=SizeLimits({name}=...)"
                )

    # --- shapes (every family defines the first five) ---------------------------------------------------
    @property
    def input_dim(self) -> int:
        raise NotImplementedError

    @property
    def output_dim(self) -> int:
        raise NotImplementedError

    @property
    def feature_dim(self) -> int:
        raise NotImplementedError

    @property
    def n_outputs(self) -> int:
        raise NotImplementedError

    @property
    def n_features(self) -> int:
        raise NotImplementedError

    @property
    def rows_per_sample(self) -> int:
        return 1

    @property
    def token_positions(self) -> int | None:
        """The number of token positions a ``tokens-*`` group permutes; None for a family without tokens."""
        return None

    @property
    def n_tokens(self) -> int:
        return 1

    # --- layout -------------------------------------------------------------------------------------
    def _block_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        raise NotImplementedError

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

    def flatten(self, blocks: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(blocks[b.name], dtype=float).reshape(-1) for b in self.blocks])

    def random_theta(self, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
        """A random θ with entries N(0, scale²): generic, so known laws are independent there."""
        return scale * rng.standard_normal(self.n_params)

    # --- Φ ------------------------------------------------------------------------------------------
    def _monomials(self) -> tuple[list[int], list[int], list[tuple[int, ...]]]:
        raise NotImplementedError

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
    def dense_gradient(self) -> DenseGradient | None:
        """The family's compiled dense gradient, or None for the generic monomial kernel."""
        return None

    # --- Ψ ------------------------------------------------------------------------------------------
    def _features(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def exact_features(self, x: np.ndarray, multiply: Callable[[Any, Any], Any], modulus: int | None) -> np.ndarray:
        """Ψ of integer inputs x (P, input_dim) as (P, rows, K), computed with ``multiply`` only.

        x holds residues mod ``modulus`` (int64) or, with ``modulus=None``, exact Python integers (objects);
        ``multiply`` reduces mod p when there is a modulus. Must agree with ``features`` on the same points.
        """
        raise NotImplementedError

    @property
    def feature_degree(self) -> int:
        """The degree of Ψ as a polynomial in x (the moment tuples have twice or four times this degree)."""
        raise NotImplementedError

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

    # --- torch reference ----------------------------------------------------------------------------
    def torch_forward(self, weights: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """f(θ, x) for a batch x (N, input_dim) computed the ordinary way from the named float64 blocks."""
        raise NotImplementedError

    # --- symmetry ------------------------------------------------------------------------------------
    def lift_feature_action(self, matrix: np.ndarray, *, output: bool = False) -> np.ndarray:
        """The action on the whole input (or output) vector of a matrix acting on one token's features."""
        return np.asarray(matrix)

    def lift_token_action(self, permutation: np.ndarray, *, output: bool = False) -> np.ndarray:
        """The action on the whole input (or output) vector of a permutation of the token positions."""
        raise InvalidInput(f"network {self} has no token positions to permute")

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
        err = np.abs(self.features(x_check @ np.asarray(rho_in, dtype=float).T) - self.features(x_check) @ rho.T).max()
        if err > tol * max(1.0, np.abs(psi_moved).max()):
            return None
        rounded = np.rint(rho)
        if np.abs(rho - rounded).max() < 1e-9:
            return rounded.astype(np.int64)
        return rho

    def feature_parts(self, rho_in: np.ndarray, rho_out: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(A, B), the actions of one group element on one token's features and outputs, or None if there are
        none. Without tokens they are ρ_in and ρ_out themselves."""
        return np.asarray(rho_in, dtype=float), np.asarray(rho_out, dtype=float)

    def _block_action(
        self,
        feature: np.ndarray,
        output: np.ndarray,
        rho_in: np.ndarray,
        rho_out: np.ndarray,
        carrier: np.ndarray | None,
        splits: tuple[int, ...],
    ) -> BlockAction | None:
        """The map θ's blocks ↦ R(g)θ's blocks for one element (``parameter_action``), or None if none."""
        return None

    def parameter_action(
        self, rho_in: np.ndarray, rho_out: np.ndarray, hidden: str = "trivial", splits: tuple[int, ...] | None = None
    ) -> np.ndarray | None:
        """R(g) ∈ R^{D×D} with f(R(g)θ, x) = ρ_out(g) f(θ, ρ_in(g)⁻¹x), for one group element; None if none.

        ``hidden`` says how hidden units move: ``trivial`` (not at all), ``input`` or ``output`` (the first units
        of each hidden layer carry the feature action on inputs, resp. outputs, restricted to the subrepresentation
        on the first b coordinates for the largest of ``splits`` that fits; the rest stay put). ``splits`` must be
        common to all group elements; by default only the full size.
        """
        rho_in = np.asarray(rho_in, dtype=float)
        rho_out = np.asarray(rho_out, dtype=float)
        parts = self.feature_parts(rho_in, rho_out)
        if parts is None:
            return None
        feature, output = parts
        carrier = {"trivial": None, "input": feature, "output": output}[hidden]
        splits = (carrier.shape[0],) if splits is None and carrier is not None else (splits or ())
        act = self._block_action(feature, output, rho_in, rho_out, carrier, splits)
        if act is None:
            return None
        basis = np.eye(self.n_params)
        return np.stack([self.flatten(act(self.unflatten(column))) for column in basis], axis=1)

    # --- published laws --------------------------------------------------------------------------------
    def _laws(self, blocks: dict[str, np.ndarray]) -> tuple[list, list, list[str]]:
        raise NotImplementedError

    @property
    def published_laws_complete(self) -> bool:
        """Whether the literature claims the published laws are all the laws for free data (MSE) here.

        A family states its own scope; the default claims nothing (outside a stated scope, extra laws may exist).
        """
        return False

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

    # --- size rules for the strategies -----------------------------------------------------------------
    @classmethod
    def feature_dims(cls, budget: SizeBudget, shape: ShapeRequirements) -> list[int]:
        """The feature dimensions whose smallest completion (every other size at its minimum) fits ``budget``.

        Parameter counts grow with every size, so this is exactly the set of feature dimensions some valid
        network of the family has.
        """
        raise NotImplementedError

    @classmethod
    def size_draws(cls, budget: SizeBudget, shape: ShapeRequirements) -> SizeDraws:
        """Yield each size to draw (smallest first, so shrinking goes to the smallest network), return the network."""
        raise NotImplementedError


# --- the registry -------------------------------------------------------------------------------------------
FAMILIES: dict[str, type[Network]] = {}


def register_family(cls: type[Network]) -> type[Network]:
    """Add a family to ``FAMILIES`` (usable as a class decorator); the registration order is the order in which
    the strategies draw families and shrink (simplest first)."""
    if not (isinstance(cls, type) and issubclass(cls, Network)) or cls.family in ("?", ""):
        raise InvalidInput(f"register_family needs a Network subclass with a family name, got {cls!r}")
    if cls.family in FAMILIES and FAMILIES[cls.family] is not cls:
        raise InvalidInput(f"a network family named {cls.family!r} is already registered")
    FAMILIES[cls.family] = cls
    return cls


def unregister_family(name: str) -> None:
    """Remove a family from ``FAMILIES`` (for tests that register a family of their own)."""
    FAMILIES.pop(name, None)


# The built-in families register themselves on import; importing them here means that reading FAMILIES
# (strategies, properties, ``flowlaws list``) always sees them. They import this module, which is complete
# by this line.
from harness.model import families  # noqa: E402, F401
