"""How many independent conservation laws a network has for a data class and a loss (DESIGN.md §1–2).

The number is D − dim Lie(F)(θ) at generic θ (Marcotte, Gribonval, Peyré 2023, Thm 3.3), F the gradient
fields of the data class. ``count_laws`` returns a ``LawCount`` carrying its evidence.

* Polynomial losses (mse, quartic): F is a finite family of polynomial fields (``harness.laws.fields``); its Lie
  algebra is generated level by level (``harness.laws.lie``), exactly modulo p for signed-permutation groups and
  in float64 with an SVD gap for rotations. The count is
  - certified by laws when Lie rank ρ and s verified independent laws meet, ρ + s = D (ρ is a lower bound of
    dim Lie, D − s an upper bound);
  - certified by involutive closure when a bracket level adds nothing at two random points (Frobenius: the
    trace is then the whole Lie algebra, see ``harness.laws.lie``);
  - otherwise inconclusive (``laws`` is None), never a guess.
  Laws are verified modulo p at two random points (∇h·X_w = 0 for every basis field, Schwartz–Zippel):
  the network's published laws for any D, and the explicit laws of ``harness.laws.explicit`` (exact sympy) for small D.
* Analytic non-polynomial losses: the pointwise span of ∇L over many random data sets of the class at a
  random θ is compared (float SVD with a gap) with the span of the free class, Jᵀ(θ)(V_ℓ ⊗ R^K), whose
  dimension is exact (mod p). Laws depend only on the pointwise span, so equal spans give the free count,
  itself counted exactly from the family {Jᵀ vec C : C ∈ V_ℓ ⊗ R^K}. Unequal spans or no clear gap:
  inconclusive. huber is counted the same way and flagged: it is not analytic (outside Theorem 1).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np

from harness.algebra import modular
from harness.algebra.modular import PRIME
from harness.errors import InvalidInput
from harness.laws.fields import (
    DATA_CLASSES,
    GAP_THRESHOLD,
    FieldFamily,
    build_field_family,
    numerical_rank,
    output_gradient_family,
    parameter_symbols,
)
from harness.laws.lie import LieGeneration, generate_lie_algebra
from harness.model.data import check_seed
from harness.model.groups import Group, build_group
from harness.model.losses import Loss, get_loss
from harness.model.networks import Network, parse_network

METHODS = ("auto", "exact", "float")
EXPLICIT_MAX_PARAMS = 16  # sympy's explicit-law search is practical up to about this many parameters
MAX_DEPTH_LIMIT = 32  # bracket levels; the known traps close by depth 3, and each level costs more than the last
MAX_SAMPLES_LIMIT = 1_000_000  # random fields drawn in all by the Lie generation (each a D-vector)
POINTWISE_ATTEMPTS = 4  # random θ (and input scales) tried before the pointwise spans are called different
POINTWISE_NUMERATOR = 10**6  # pointwise-span θ = a / 2^20 with integer a in [−10^6, 10^6]: entries in about [−1, 1]
POINTWISE_DENOMINATOR = 2**20


@dataclass(frozen=True)
class LawCount:
    """The number of independent conservation laws and the evidence behind it.

    ``laws`` is None when inconclusive. ``certificate`` is 'laws' (Lie rank + verified laws = D) or
    'involutive' (closure at two random points); ``certified`` is True for either.
    """

    arch: str
    group: str | None
    data: str
    loss: str
    D: int
    laws: int | None
    free_laws: int | None
    extra_laws: int | None
    lie_rank_by_level: tuple[int, ...]
    free_lie_rank_by_level: tuple[int, ...]
    certified: bool
    certificate: str | None
    method: str
    stop_reason: str
    verified_laws: int
    explicit_laws: tuple[str, ...] = ()
    explicit_laws_latex: tuple[str, ...] = ()
    singular_values: tuple[float, ...] = ()
    gap: float | None = None
    n_generators: int = 0
    notes: tuple[str, ...] = ()
    seed: int = 0
    seconds: float = 0.0

    @property
    def conclusive(self) -> bool:
        return self.laws is not None

    def to_dict(self) -> dict:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
            if isinstance(value, float) and not math.isfinite(value):
                data[key] = None
        return data


# --- laws verified modulo p (or in float) ---------------------------------------------------------------

class _Dual:
    """A number with its gradient with respect to θ (a sparse dict index → value), mod p or in float.

    Running a published law's formula on these gives h(θ) and ∇h(θ) exactly; the gradients of the laws
    (Gram differences of blocks) are sparse, so dicts keep this fast even for D = 800.
    """

    __slots__ = ("value", "grad", "modulus")

    def __init__(self, value, grad, modulus):
        self.value, self.grad, self.modulus = value, grad, modulus

    def _lift(self, other):
        if isinstance(other, _Dual):
            return other
        if self.modulus is not None:
            return _Dual(modular.from_rational(Fraction(other)), {}, self.modulus)
        return _Dual(float(other), {}, None)

    def _reduce(self, value):
        return value % self.modulus if self.modulus is not None else value

    def _combine(self, value, first, first_factor, second, second_factor):
        grad = {}
        for source, factor in ((first, first_factor), (second, second_factor)):
            if factor == 0:
                continue
            for index, entry in source.items():
                grad[index] = grad.get(index, 0) + factor * entry
        if self.modulus is not None:
            grad = {index: entry % self.modulus for index, entry in grad.items()}
        return _Dual(self._reduce(value), grad, self.modulus)

    def __add__(self, other):
        other = self._lift(other)
        return self._combine(self.value + other.value, self.grad, 1, other.grad, 1)

    __radd__ = __add__

    def __neg__(self):
        return self._combine(-self.value, self.grad, -1, {}, 0)

    def __sub__(self, other):
        other = self._lift(other)
        return self._combine(self.value - other.value, self.grad, 1, other.grad, -1)

    def __rsub__(self, other):
        return self._lift(other) - self

    def __mul__(self, other):
        other = self._lift(other)
        return self._combine(self.value * other.value, self.grad, other.value, other.grad, self.value)

    __rmul__ = __mul__


_GRADIENT_CACHE: dict = {}


def law_gradients(network: Network, theta: np.ndarray, exact: bool) -> np.ndarray:
    """∇h(θ) of the network's published laws (rows), exactly mod p or in float64."""
    key = (str(network), type(network).__qualname__, exact, np.asarray(theta).tobytes())
    if key not in _GRADIENT_CACHE:
        if len(_GRADIENT_CACHE) > 16:  # the free and augmented checks of one count share their points
            _GRADIENT_CACHE.clear()
        _GRADIENT_CACHE[key] = _law_gradients(network, theta, exact)
    return _GRADIENT_CACHE[key].copy()


def _law_gradients(network: Network, theta: np.ndarray, exact: bool) -> np.ndarray:
    D = network.n_params
    modulus = PRIME if exact else None
    dtype = np.int64 if exact else float
    duals = np.empty(D, dtype=object)
    for i in range(D):
        duals[i] = _Dual(int(theta[i]) % PRIME if exact else float(theta[i]), {i: 1}, modulus)
    rows = []
    for expression in network.known_law_expressions(duals):
        row = np.zeros(D, dtype=dtype)
        if isinstance(expression, _Dual) and expression.grad:
            indices = np.fromiter(expression.grad.keys(), dtype=np.int64)
            row[indices] = np.fromiter(expression.grad.values(), dtype=dtype)
        rows.append(row)
    return np.stack(rows) if rows else np.zeros((0, D), dtype=dtype)


@dataclass(frozen=True)
class VerifiedLaws:
    """The published laws that are laws of the family (∇h·X_w = 0 for every basis w at two random points),
    and a maximal independent subset of them (rank of their gradients at a random point)."""

    names: tuple[str, ...]
    verified: tuple[int, ...]
    independent: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.independent)


def verify_published_laws(family: FieldFamily, *, seed: int = 0, rejected_tolerance: float = 1e-9) -> VerifiedLaws:
    """Check the network's published laws against every generator of ``family``."""
    network = family.network
    names = tuple(network.known_law_names())
    if not names or family.n_fields == 0:
        return VerifiedLaws(names, tuple(range(len(names))), ())
    rng = np.random.default_rng([seed, 11])
    ok = np.ones(len(names), dtype=bool)
    for _ in range(2):
        theta = family.random_point(rng)
        gradients = law_gradients(network, theta, family.exact)  # the last point also serves independence
        values = family.evaluate_at(family.basis, theta)
        if family.exact:
            ok &= ~np.any(modular.matmul(gradients, values.T), axis=1)
        else:
            products = np.abs(gradients @ values.T)
            scale = np.linalg.norm(gradients, axis=1)[:, None] * np.linalg.norm(values, axis=1)[None, :]
            ok &= np.all(products <= rejected_tolerance * np.maximum(scale, 1e-300), axis=1)
    verified = np.flatnonzero(ok)
    gradients = gradients[verified]
    if family.exact:
        mask = modular.EchelonBasis(network.n_params).add(gradients)
        independent = verified[mask]
    else:
        independent = verified[_float_independent(gradients)]
    return VerifiedLaws(names, tuple(int(i) for i in verified), tuple(int(i) for i in independent))


def _float_independent(rows: np.ndarray) -> np.ndarray:
    mask = np.zeros(rows.shape[0], dtype=bool)
    chosen = []
    for i, row in enumerate(rows):
        trial = np.array(chosen + [row])
        s = np.linalg.svd(trial / np.linalg.norm(trial, axis=1, keepdims=True), compute_uv=False)
        if s[-1] > 1e-8:
            chosen.append(row)
            mask[i] = True
    return mask


# --- inputs ----------------------------------------------------------------------------------------------

def _resolve(network, data_class, loss, group, method) -> tuple[Network, str, Loss, Group | None, bool]:
    network = parse_network(network) if not isinstance(network, Network) else network
    loss = get_loss(loss)
    if data_class not in DATA_CLASSES:
        raise InvalidInput(f"data class {data_class!r} is not one of {DATA_CLASSES}")
    if method not in METHODS:
        raise InvalidInput(f"method {method!r} is not one of {METHODS}")
    if group is not None and not isinstance(group, Group):
        group = build_group(str(group), network)
    if group is not None:
        group.check_network(network)
    if data_class == "augmented" and group is None:
        raise InvalidInput("data class 'augmented' needs a group (e.g. --group cyclic/trivial)")
    acting = group if data_class == "augmented" else None
    if method == "exact" and acting is not None and not acting.exact:
        raise InvalidInput(
            f"group {acting.spec} acts by floats (not a signed permutation); method 'exact' needs an integral "
            "action such as flip, cyclic, swap, sym, signperm, spm; use method 'float' or 'auto'"
        )
    exact = method == "exact" or (method == "auto" and (acting is None or acting.exact))
    if loss.targets == "pm1" and network.n_outputs != 1:
        raise InvalidInput(f"{loss.name} loss needs a scalar output per row (m = 1), but {network} has "
                           f"m = {network.n_outputs}")
    if loss.targets == "prob" and network.n_outputs < 2:
        raise InvalidInput(f"cross-entropy needs at least 2 outputs (classes); {network} has {network.n_outputs}")
    return network, data_class, loss, group, exact


def _check_options(seed, max_depth, find_explicit, max_samples, explicit_max_params) -> tuple[int, int, int, int]:
    """count_laws' numeric options as ints, or InvalidInput naming the first bad one and what is allowed."""
    def integer(name, value, low, high):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
            raise InvalidInput(f"{name}={value!r} must be an integer from {low:,} to {high:,}")
        return int(value)

    seed = check_seed(seed)
    max_depth = integer("max_depth", max_depth, 1, MAX_DEPTH_LIMIT)
    if find_explicit not in (None, True, False):
        raise InvalidInput(f"find_explicit={find_explicit!r} must be True, False or None (search when D is small)")
    max_samples = integer("max_samples", max_samples, 1, MAX_SAMPLES_LIMIT)
    explicit_max_params = integer("explicit_max_params", explicit_max_params, 0, 10_000)
    return seed, max_depth, max_samples, explicit_max_params


# --- polynomial losses -------------------------------------------------------------------------------------

def count_laws(network, data_class: str = "free", loss="mse", group=None, *, seed: int = 0, max_depth: int = 8,
               find_explicit: bool | None = None, method: str = "auto", max_samples: int = 20000,
               explicit_max_params: int = EXPLICIT_MAX_PARAMS) -> LawCount:
    """The number of independent conservation laws of ``network`` for ``data_class`` data and ``loss``.

    ``find_explicit``: search explicit laws with ``harness.laws.explicit`` (True), never (False), or when D is at most
    ``explicit_max_params`` and the published laws do not already certify the count (None).
    """
    start = time.perf_counter()
    seed, max_depth, max_samples, explicit_max_params = _check_options(seed, max_depth, find_explicit, max_samples,
                                                                       explicit_max_params)
    network, data_class, loss, group, exact = _resolve(network, data_class, loss, group, method)
    if find_explicit and not exact:
        raise InvalidInput("explicit laws need exact arithmetic: use a signed-permutation group (not rot:N) or "
                           "method 'exact'")
    if loss.is_polynomial:
        result = _count_polynomial(network, data_class, loss, group, exact, seed, max_depth, find_explicit,
                                   max_samples, explicit_max_params, free_exact=method != "float")
    else:
        result = _count_pointwise(network, data_class, loss, group, seed, max_depth, max_samples)
    return _with_time(result, time.perf_counter() - start)


def _with_time(result: LawCount, seconds: float) -> LawCount:
    values = asdict(result)
    values["seconds"] = round(seconds, 4)
    return LawCount(**values)


def _count_from(generation: LieGeneration, D: int, verified: int) -> tuple[int | None, str | None]:
    if generation.rank + verified > D:
        raise RuntimeError(
            f"Lie rank {generation.rank} plus {verified} verified independent laws exceeds D = {D}: "
            "a verified law or a rank is wrong"
        )
    if generation.rank + verified == D:
        return D - generation.rank, "laws"
    if generation.stop_reason == "involutive":
        return D - generation.rank, "involutive"
    return None, None


def _count_polynomial(network, data_class, loss, group, exact, seed, max_depth, find_explicit, max_samples,
                      explicit_max_params, *, free_exact: bool) -> LawCount:
    D = network.n_params
    family = build_field_family(network, loss.name, data_class, group, exact=exact, seed=seed)
    notes = []
    if not exact and family.moment_gap is not None and family.moment_gap < GAP_THRESHOLD:
        notes.append(f"moment span decided without a clear gap ({family.moment_gap:.3g})")
    # Free data involve no group, so their count is exact even beside a rotation group (unless float is forced).
    free_family = family if data_class == "free" else build_field_family(network, loss.name, "free", None,
                                                                         exact=free_exact, seed=seed)
    free_known = verify_published_laws(free_family, seed=seed)
    free_generation = generate_lie_algebra(free_family, target_rank=D - free_known.count, max_depth=max_depth,
                                           max_samples=max_samples, seed=seed)
    free_laws, _ = _count_from(free_generation, D, free_known.count)
    if data_class == "free":
        known, generation = free_known, free_generation
    else:
        known = verify_published_laws(family, seed=seed)
        generation = generate_lie_algebra(family, target_rank=D - known.count, max_depth=max_depth,
                                          max_samples=max_samples, seed=seed)
    verified = known.count
    explicit, latex = _published_law_texts(network, known)
    wants_explicit = find_explicit or (find_explicit is None and generation.rank + verified < D)
    if wants_explicit and D > explicit_max_params:
        notes.append(f"explicit-law search skipped: D = {D} > {explicit_max_params} (sympy); published laws only")
    elif wants_explicit and exact:
        found = _explicit_laws(family, known, seed)
        if found is not None:
            verified, explicit, latex = max(verified, found[0]), found[1], found[2]
        else:
            notes.append("harness.laws.explicit is not available: no explicit-law search")
    laws, certificate = _count_from(generation, D, verified)
    if not generation.conclusive and certificate is None:
        notes.append(f"inconclusive: {generation.stop_reason}")
    notes += list(generation.notes)
    singular = generation.singular_values
    gap = generation.gap
    if not exact and not singular and family.moment_singular_values:
        singular, gap = family.moment_singular_values, family.moment_gap
    return LawCount(
        arch=str(network), group=group.spec if group is not None else None, data=data_class, loss=loss.name, D=D,
        laws=laws, free_laws=free_laws,
        extra_laws=(laws - free_laws) if laws is not None and free_laws is not None else None,
        lie_rank_by_level=generation.rank_by_level, free_lie_rank_by_level=free_generation.rank_by_level,
        certified=certificate is not None, certificate=certificate,
        method="exact-modular" if exact else "float-svd",
        stop_reason=generation.stop_reason,
        verified_laws=verified, explicit_laws=tuple(explicit), explicit_laws_latex=tuple(latex),
        singular_values=tuple(singular), gap=gap, n_generators=family.n_fields, notes=tuple(notes), seed=seed,
    )


def _published_law_texts(network: Network, known: VerifiedLaws) -> tuple[list[str], list[str]]:
    if network.n_params > 64:
        names = [known.names[i] for i in known.independent]
        return names, names
    import sympy

    expressions = network.known_law_expressions(np.array(parameter_symbols(network), dtype=object))
    chosen = [sympy.expand(expressions[i]) for i in known.independent]
    return [str(e) for e in chosen], [sympy.latex(e) for e in chosen]


def _explicit_laws(family: FieldFamily, known: VerifiedLaws, seed: int):
    """(count, strings, latex) of the published laws plus ``harness.laws.explicit.find_laws``, mutually independent."""
    try:
        from harness.laws import explicit as law_search
    except ModuleNotFoundError as error:
        if error.name != "harness.laws.explicit":
            raise
        return None
    import sympy

    symbols, generators = family.sympy_generators()
    published = family.network.known_law_expressions(np.array(symbols, dtype=object))
    candidates = [sympy.expand(published[i]) for i in known.independent]
    candidates += [law.expression for law in law_search.find_laws(symbols, generators, seed=seed)]
    if not candidates:
        return 0, [], []
    chosen = [candidates[i] for i in law_search.independent(candidates, symbols, seed=seed)]
    return len(chosen), [str(e) for e in chosen], [sympy.latex(e) for e in chosen]


# --- analytic losses: pointwise spans -------------------------------------------------------------------------

def output_span(loss: Loss, n_outputs: int) -> np.ndarray:
    """A basis (rows) of V_ℓ = span_y ∇_f ℓ(f, y), the same for every f (the loss's gradient directions)."""
    if loss.targets == "prob":  # softmax(f)·Σy − y over probability vectors y: the sum-zero hyperplane
        basis = np.zeros((n_outputs - 1, n_outputs), dtype=np.int64)
        for a in range(n_outputs - 1):
            basis[a, a], basis[a, -1] = 1, -1
        return basis
    return np.eye(n_outputs, dtype=np.int64)


def _random_targets(loss: Loss, rng, rows: int, m: int) -> np.ndarray:
    if loss.targets == "pm1":
        return rng.choice([-1.0, 1.0], size=(rows, m))
    if loss.targets == "prob":
        weights = rng.exponential(size=(rows, m))
        return weights / weights.sum(axis=1, keepdims=True)
    return rng.standard_normal((rows, m))


def pointwise_gradients(network: Network, loss: Loss, group: Group | None, theta: np.ndarray, rng,
                        n_sets: int, points_per_set: int = 2, input_scale: float = 1.0) -> np.ndarray:
    """∇L(θ) for ``n_sets`` random data sets (orbit-closed under ``group`` when given), as rows."""
    from harness.laws.fields import _orbit

    rows = []
    phi = network.phi(theta)
    for _ in range(n_sets):
        x = input_scale * rng.standard_normal((points_per_set, network.input_dim))
        y = _random_targets(loss, rng, points_per_set * network.rows_per_sample, network.n_outputs)
        y = y.reshape(points_per_set, network.output_dim)
        xs, ys = _orbit(x, y, group, None)
        psi = network.features(xs)
        targets = network.target_rows(ys)
        loss.check_targets(targets, network.n_outputs)
        _, grads = _loss_rows(loss, psi @ phi.T, targets)
        rows.append(network.polynomial.vjp(theta, grads.T @ psi))
    return np.stack(rows)


def _loss_rows(loss: Loss, predictions, targets):
    from harness.kernels.losses import loss_rows

    return loss_rows(loss.kernel_id, np.ascontiguousarray(predictions, dtype=np.float64),
                     np.ascontiguousarray(targets, dtype=np.float64))


def _count_pointwise(network, data_class, loss, group, seed, max_depth, max_samples) -> LawCount:
    D = network.n_params
    notes = []
    if loss.loss_class == "non-analytic":
        notes.append(f"{loss.name} is not analytic: outside Theorem 1's hypotheses; counted by the same "
                     "pointwise-span comparison")
    span = output_span(loss, network.n_outputs)
    free_family = output_gradient_family(network, span, exact=True, description=f"free data, V_ℓ of {loss.name}")
    free_known = verify_published_laws(free_family, seed=seed)
    free_generation = generate_lie_algebra(free_family, target_rank=D - free_known.count, max_depth=max_depth,
                                           max_samples=max_samples, seed=seed)
    free_laws, free_certificate = _count_from(free_generation, D, free_known.count)

    # The augmented span is contained in the free one and its dimension is lower semicontinuous, so equality at
    # ONE θ (with a clear gap) proves equality on an open dense set. A weakly excited direction at one θ is not
    # evidence of a smaller span: try a few θ and input scales before calling the spans different.
    acting = group if data_class == "augmented" else None
    attempts = []
    for attempt in range(POINTWISE_ATTEMPTS):
        rng = np.random.default_rng([seed, 13, attempt])
        # Dyadic θ = a / 2^20 is exact in float, so the float gradients and the exact rank see the same θ. The
        # numerators come from a wide range: small ones (|a| ≤ 6) often gave two equal coordinates, a point with a
        # nontrivial stabiliser where the augmented span really is smaller (a false "span differs").
        numerators = rng.integers(-POINTWISE_NUMERATOR, POINTWISE_NUMERATOR + 1, D)
        numerators[numerators == 0] = 1
        theta = numerators / float(POINTWISE_DENOMINATOR)
        theta_mod = np.array([modular.from_rational(Fraction(int(a), POINTWISE_DENOMINATOR)) for a in numerators],
                             dtype=np.int64)
        free_rank = modular.rank(free_family.evaluate_at(free_family.basis, theta_mod))
        gradients = pointwise_gradients(network, loss, acting, theta, rng, n_sets=2 * free_rank + 10,
                                        input_scale=2.0 ** (attempt % 3 - 1) if attempt else 1.0)
        norms = np.linalg.norm(gradients, axis=1, keepdims=True)
        gradients = gradients[norms[:, 0] > 0] / norms[norms[:, 0] > 0]
        singular = np.linalg.svd(gradients, compute_uv=False) if gradients.size else np.zeros(0)
        rank, gap = numerical_rank(singular)
        attempts.append((rank, gap, free_rank, singular))
        if gap >= GAP_THRESHOLD and rank == free_rank:
            break
    rank, gap, free_rank, singular = attempts[-1]
    shown = tuple(float(v) for v in singular[: rank + 2])
    laws = None
    tried = f" ({len(attempts)} random θ tried)" if len(attempts) > 1 else ""
    if gap >= GAP_THRESHOLD and rank == free_rank:
        laws = free_laws
        reason = "pointwise-span-equal"
        notes.append(f"pointwise span of {data_class} gradients = free span (dimension {rank}) at a random θ{tried}")
    elif all(g >= GAP_THRESHOLD and r < f for r, g, f, _ in attempts):
        reason = "pointwise-span-differs"
        notes.append(f"pointwise span of {data_class} gradients has dimension {rank}, the free span {free_rank}, at "
                     f"every θ tried{tried}: Theorem 1's genericity does not apply here; count inconclusive")
    else:
        notes.append(f"pointwise span: no clear singular-value gap (largest ratio {gap:.3g}, threshold "
                     f"{GAP_THRESHOLD:g}){tried}")
        reason = "no-clear-gap"
    certificate = free_certificate if laws is not None else None
    texts, latex = _published_law_texts(network, free_known)
    if laws is None and free_laws is not None and reason == "pointwise-span-equal":
        reason = free_generation.stop_reason
    return LawCount(
        arch=str(network), group=group.spec if group is not None else None, data=data_class, loss=loss.name, D=D,
        laws=laws, free_laws=free_laws,
        extra_laws=(laws - free_laws) if laws is not None and free_laws is not None else None,
        lie_rank_by_level=free_generation.rank_by_level if laws is not None else (),
        free_lie_rank_by_level=free_generation.rank_by_level,
        certified=certificate is not None and laws is not None, certificate=certificate, method="pointwise-span",
        stop_reason=reason, verified_laws=free_known.count,
        explicit_laws=tuple(texts), explicit_laws_latex=tuple(latex),
        singular_values=shown, gap=gap, n_generators=free_family.n_fields, notes=tuple(notes), seed=seed,
    )
