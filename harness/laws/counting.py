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
* ``method="autodiff"`` (and ``auto`` for a torch model: a zoo spec, a ``TorchModel``): the fields ∇L_S of random
  data sets of the class and their brackets by automatic differentiation, ranks by SVD with a gap
  (``harness.laws.autodiff``); it runs on the tensorizable families too, so the two engines can be compared.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from harness.algebra.spectral import GAP_THRESHOLD
from harness.errors import InvalidInput
from harness.laws.budget import Budget
from harness.laws.fields import FieldFamily, build_field_family
from harness.laws.lie import generate_lie_algebra
from harness.laws.pointwise import count_pointwise
from harness.laws.published import VerifiedLaws, published_law_texts, verify_published_laws
from harness.laws.results import CountMethod, LawCount, StopReason, certify
from harness.model.data import check_data_class, check_seed
from harness.model.family import Network
from harness.model.groups import Group, build_group
from harness.model.losses import Loss, get_loss
from harness.model.specs import parse_network

__all__ = ["EXPLICIT_MAX_PARAMS", "MAX_DEPTH_LIMIT", "MAX_SAMPLES_LIMIT", "METHODS", "LawCount", "count_laws"]

METHODS = ("auto", "exact", "float", "autodiff")
EXPLICIT_MAX_PARAMS = 16  # sympy's explicit-law search is practical up to about this many parameters
MAX_DEPTH_LIMIT = 32  # bracket levels; the known traps close by depth 3, and each level costs more than the last
MAX_SAMPLES_LIMIT = 1_000_000  # random fields drawn in all by the Lie generation (each a D-vector)
MEMORY_LIMIT_BYTES = 8 << 30  # a third of this 24 GiB machine: the echelon bases below, with room for temporaries
_BYTES_PER_ENTRY = 8 * 3  # int64 entries, and matrix products hold about two float64 copies beside them


# --- inputs ----------------------------------------------------------------------------------------------


def _resolve(network, data_class, loss, group, method) -> tuple[Network, str, Loss, Group | None, bool]:
    network = parse_network(network) if not isinstance(network, Network) else network
    loss = get_loss(loss)
    check_data_class(data_class)
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
        raise InvalidInput(
            f"{loss.name} loss needs a scalar output per row (m = 1), but {network} has m = {network.n_outputs}"
        )
    if loss.targets == "prob" and network.n_outputs < 2:
        raise InvalidInput(f"cross-entropy needs at least 2 outputs (classes); {network} has {network.n_outputs}")
    return network, data_class, loss, group, exact


def integer_option(name: str, value, low: int, high: int) -> int:
    """A count's integer option in [low, high] as an int, or InvalidInput naming it (every engine's check)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise InvalidInput(f"{name}={value!r} must be an integer from {low:,} to {high:,}")
    return int(value)


def _check_options(seed, max_depth, find_explicit, max_samples, explicit_max_params) -> tuple[int, int, int, int]:
    """count_laws' numeric options as ints, or InvalidInput naming the first bad one and what is allowed."""
    integer = integer_option
    seed = check_seed(seed)
    max_depth = integer("max_depth", max_depth, 1, MAX_DEPTH_LIMIT)
    if find_explicit not in (None, True, False):
        raise InvalidInput(f"find_explicit={find_explicit!r} must be True, False or None (search when D is small)")
    max_samples = integer("max_samples", max_samples, 1, MAX_SAMPLES_LIMIT)
    explicit_max_params = integer("explicit_max_params", explicit_max_params, 0, 10_000)
    return seed, max_depth, max_samples, explicit_max_params


def check_memory(network: Network, loss: Loss) -> None:
    """Refuse, before any work, a count whose echelon bases would not fit in ``MEMORY_LIMIT_BYTES``.

    The counting keeps two dense bases mod p: the moment span, at most min(W, P) rows of width W (W the moment
    tuple's width, K² + mK for MSE, K⁴ + mK³ + mK² + mK for quartic; P the number of monomials of the tuple's
    degree in one data point (x, y), which bounds the span's dimension), and the Lie trace at θ* (D × D).
    """
    K, m, D = network.n_features, network.n_outputs, network.n_params
    quartic = loss.name == "quartic"
    width = K**4 + m * K**3 + m * K * K + m * K if quartic else K * K + m * K  # MSE also for the pointwise route
    degree = (4 if quartic else 2) * network.feature_degree
    monomials = math.comb(network.input_dim + network.output_dim + degree, degree)
    needed = _BYTES_PER_ENTRY * (width * min(width, monomials) + D * D)
    if needed > MEMORY_LIMIT_BYTES:
        raise InvalidInput(
            f"counting {network} under {loss.name} needs about {needed / 2**30:.1f} GiB for its bases (moment "
            f"width W = {width:,}, D = {D:,}); at most {MEMORY_LIMIT_BYTES / 2**30:.0f} GiB is allowed: use a "
            "smaller network (or mse instead of quartic)"
        )


# --- polynomial losses -------------------------------------------------------------------------------------


def count_laws(
    network,
    data_class: str = "free",
    loss: str | Loss = "mse",
    group=None,
    *,
    seed: int = 0,
    max_depth: int = 8,
    find_explicit: bool | None = None,
    method: str = "auto",
    max_samples: int = 20000,
    explicit_max_params: int = EXPLICIT_MAX_PARAMS,
    timeout: float | None = None,
    progress: Callable[[str, int, int, int], None] | None = None,
) -> LawCount:
    """The number of independent conservation laws of ``network`` for ``data_class`` data and ``loss``.

    ``find_explicit``: search explicit laws with ``harness.laws.explicit`` (True), never (False), or when D is at most
    ``explicit_max_params`` and the published laws do not already certify the count (None).
    ``timeout``: seconds; past them the Lie generation stops (``StopReason.TIMEOUT``, inconclusive, the ranks
    reached kept). ``progress(phase, level, rank, D)`` is called as the generation goes (``harness.laws.budget``).
    """
    start = time.perf_counter()
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0):
        raise InvalidInput(f"timeout={timeout!r} must be a positive number of seconds (or None: no limit)")
    budget = Budget(None if timeout is None else float(timeout), progress)
    seed, max_depth, max_samples, explicit_max_params = _check_options(
        seed, max_depth, find_explicit, max_samples, explicit_max_params
    )
    if method in ("exact", "float") and _is_torch_model(network):
        raise InvalidInput(
            f"{network} is a torch model, not a tensorizable network: method {method!r} needs a polynomial Φ(θ); "
            "use method 'autodiff' (or 'auto')"
        )
    if method == "autodiff" or (method == "auto" and _is_torch_model(network)):
        if find_explicit:
            raise InvalidInput(
                "explicit laws need the exact engine (a tensorizable network and method 'exact' or 'auto'); "
                "the autodiff engine counts laws without formulas"
            )
        from harness.laws.autodiff import count_laws_autodiff

        return count_laws_autodiff(
            network, data_class, loss, group, seed=seed, max_depth=max_depth, max_samples=max_samples, budget=budget
        )
    network, data_class, loss, group, exact = _resolve(network, data_class, loss, group, method)
    check_memory(network, loss)
    if find_explicit and not exact:
        raise InvalidInput(
            "explicit laws need exact arithmetic: use a signed-permutation group (not rot:N) or method 'exact'"
        )
    if loss.is_polynomial:
        result = _count_polynomial(
            network,
            data_class,
            loss,
            group,
            exact,
            seed,
            max_depth,
            find_explicit,
            max_samples,
            explicit_max_params,
            free_exact=method != "float",
            budget=budget,
        )
    else:
        result = count_pointwise(network, data_class, loss, group, seed, max_depth, max_samples, budget=budget)
    return _with_time(result, time.perf_counter() - start)


def _is_torch_model(network) -> bool:
    """Whether ``network`` names a model only the autodiff engine can count (a zoo spec or a ``TorchModel``)."""
    from harness.model.specs import spec_family
    from harness.model.torch_model import TorchModel
    from harness.model.zoo import ZOO

    if isinstance(network, TorchModel):
        return True
    return isinstance(network, str) and spec_family(network) in ZOO


def _with_time(result: LawCount, seconds: float) -> LawCount:
    return replace(result, seconds=round(seconds, 4))


def _count_polynomial(
    network,
    data_class,
    loss,
    group,
    exact,
    seed,
    max_depth,
    find_explicit,
    max_samples,
    explicit_max_params,
    *,
    free_exact: bool,
    budget: Budget,
) -> LawCount:
    D = network.n_params
    family = build_field_family(network, loss.name, data_class, group, exact=exact, seed=seed)
    notes = []
    moment_gap = family.moment_gap.ratio if family.moment_gap is not None else None
    if not exact and moment_gap is not None and moment_gap < GAP_THRESHOLD:
        notes.append(f"moment span decided without a clear gap ({moment_gap:.3g})")
    # Free data involve no group, so their count is exact even beside a rotation group (unless float is forced).
    free_family = (
        family
        if data_class == "free"
        else build_field_family(network, loss.name, "free", None, exact=free_exact, seed=seed)
    )
    free_known = verify_published_laws(free_family, seed=seed)
    free_generation = generate_lie_algebra(
        free_family,
        target_rank=D - free_known.count,
        max_depth=max_depth,
        max_samples=max_samples,
        seed=seed,
        budget=budget,
        phase="free-data Lie rank" if data_class != "free" else "Lie rank",
    )
    free = certify(free_generation, D, free_known.count)
    if free.inconsistency:
        notes.append(f"free count inconclusive: {free.inconsistency}")
    if data_class == "free":
        known, generation = free_known, free_generation
    else:
        known = verify_published_laws(family, seed=seed)
        generation = generate_lie_algebra(
            family,
            target_rank=D - known.count,
            max_depth=max_depth,
            max_samples=max_samples,
            seed=seed,
            budget=budget,
        )
    verified = known.count
    explicit, latex = published_law_texts(network, known)
    wants_explicit = find_explicit or (find_explicit is None and generation.rank + verified < D)
    if wants_explicit and D > explicit_max_params:
        notes.append(f"explicit-law search skipped: D = {D} > {explicit_max_params} (sympy); published laws only")
    elif wants_explicit and exact:
        found = _explicit_laws(family, known, seed)
        if found is not None:
            verified, explicit, latex = max(verified, found[0]), found[1], found[2]
        else:
            notes.append("harness.laws.explicit is not available: no explicit-law search")
    counted = certify(generation, D, verified)
    stop_reason = generation.stop_reason
    if counted.inconsistency:
        stop_reason = StopReason.INCONSISTENT
        notes.append(f"inconclusive: {counted.inconsistency}")
    elif not generation.conclusive and counted.certificate is None:
        notes.append(f"inconclusive: {generation.stop_reason.value}")
    notes += list(generation.notes)
    singular = generation.singular_values
    gap = generation.gap
    if not exact and not singular and family.moment_singular_values:
        singular, gap = family.moment_singular_values, family.moment_gap
    laws, free_laws = counted.laws, free.laws
    return LawCount(
        arch=str(network),
        group=group.spec if group is not None else None,
        data=data_class,
        loss=loss.name,
        D=D,
        laws=laws,
        free_laws=free_laws,
        lie_rank_by_level=generation.rank_by_level,
        free_lie_rank_by_level=free_generation.rank_by_level,
        certified=counted.certificate is not None,
        certificate=counted.certificate,
        method=CountMethod.EXACT_MODULAR if exact else CountMethod.FLOAT_SVD,
        stop_reason=stop_reason,
        verified_laws=verified,
        explicit_laws=tuple(explicit),
        explicit_laws_latex=tuple(latex),
        singular_values=tuple(singular),
        gap=gap,
        n_generators=family.n_fields,
        notes=tuple(notes),
        seed=seed,
    )


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
