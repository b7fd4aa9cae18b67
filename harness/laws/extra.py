"""Which explicit laws of a data class are *extra*: conserved for that class but not for free data.

A law found for G-augmented data is extra exactly when some free-data gradient field moves it, i.e. when
∇h·X ≢ 0 for a generator X of the free class. The test is exact (sympy, ``harness.laws.explicit.verify_law``), so a
law is never called extra because of round-off.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.algebra.spectral import GAP_THRESHOLD, Gap, SpectralGap
from harness.laws.explicit import verify_law
from harness.laws.fields import build_field_family, parameter_symbols
from harness.model.family import Network


def extra_laws(network: Network, laws: list[str], loss: str = "mse") -> list[str]:
    """The laws (sympy strings in ``parameter_symbols(network)``) that free data under ``loss`` breaks."""
    import sympy

    if not laws:
        return []
    symbols = parameter_symbols(network)
    free = build_field_family(network, loss, "free", None)
    _, generators = free.sympy_generators(symbols)
    names = {s.name: s for s in symbols}
    return [law for law in laws if not verify_law(sympy.sympify(law, locals=names), symbols, generators)]  # pyright: ignore[reportCallIssue]  # sympy's sympify overloads omit ``locals`` for str input


def exact_surrogate(network: Network, group_spec: str) -> str | None:
    """The spec with every factor that has a catalogue surrogate replaced by it, or None if none has one.

    The one surrogate is ``rot:N`` (N ≥ 3) → quarter turns of the same planes (the rot record's ``surrogate``).
    For N ≥ 3 a rotation by 2π/N and the quarter turn often have the same invariant moments (e.g. both leave
    only aI among symmetric 2×2 matrices); whether they do for a given network is checked, not assumed
    (``same_moment_span``).
    """
    from harness.model.groups import parse_group

    spec = parse_group(group_spec)
    factors, changed = [], False
    for factor in spec.factors:
        surrogate = factor.kind.surrogate
        replacement = surrogate(factor, network.feature_dim) if surrogate is not None else None
        if replacement is not None:
            factors.append(f"{replacement}/{factor.output}")
            changed = True
        else:
            factors.append(str(factor))
    return "*".join(factors) if changed else None


def same_moment_span(network: Network, first, second, loss: str = "mse", seed: int = 0) -> tuple[bool, dict]:
    """Whether two groups give the same span of augmented moment tuples (float SVD with an explicit gap)."""
    import numpy as np

    bases = [
        build_field_family(network, loss, "augmented", group, exact=False, seed=seed).basis for group in (first, second)
    ]

    def rank(rows):
        rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-300)
        gap = SpectralGap.of(np.linalg.svd(rows, compute_uv=False))
        return gap.rank, gap.ratio

    (r1, g1), (r2, g2), (r12, g12) = rank(bases[0]), rank(bases[1]), rank(np.vstack(bases))
    evidence = {"ranks": [r1, r2, r12], "gaps": [g1, g2, g12], "threshold": GAP_THRESHOLD}
    clear = min(g1, g2, g12) >= GAP_THRESHOLD
    return clear and r1 == r2 == r12, evidence


def explicit_extra_laws(network: Network, group, count, loss: str = "mse", seed: int = 0) -> tuple[list[str], dict]:
    """Extra laws of ``count`` (a LawCount of the augmented class) in explicit form, with how they were found.

    Exact groups: the count's own explicit laws. Float groups (rot:N): the explicit laws of an exact surrogate
    group whose augmented moment span is numerically the same, so that its fields are the same fields; else
    the laws found exactly on the class's own moment span read as rationals (``rational_moment_basis``), each
    kept only if it is also a law, to round-off, of the float group's fields.
    """
    if group.exact:
        return extra_laws(network, list(count.explicit_laws), loss), {"source": "exact count"}
    found, evidence = _from_surrogate_group(network, group, count, loss, seed)
    if found:
        return found, evidence
    # The quarter-turn surrogate can have a different moment span (rot:6 on degree-2 features acts by 120° on
    # their 2-dimensional part, the quarter turn by 180°): the class's own span, rationalised, is the surrogate.
    rational, rational_evidence = _from_rational_moment_span(network, group, loss, seed)
    return rational, {**rational_evidence, "group_surrogate": evidence}


def _from_surrogate_group(network: Network, group, count, loss: str, seed: int) -> tuple[list[str], dict]:
    from harness.laws.counting import count_laws
    from harness.model.groups import build_group

    surrogate = exact_surrogate(network, group.spec)
    if surrogate is None:
        return [], {"source": "none: float group without an exact surrogate"}
    surrogate_group = build_group(surrogate, network)
    same, evidence = same_moment_span(network, group, surrogate_group, loss, seed)
    evidence = {"source": f"exact surrogate {surrogate}", "same_moment_span": same, **evidence}
    if not same:
        return [], evidence
    exact = count_laws(network, "augmented", loss, surrogate_group, seed=seed, find_explicit=None)
    evidence["surrogate_laws"] = exact.laws
    if exact.laws != count.laws:
        return [], {**evidence, "source": f"surrogate {surrogate} counts {exact.laws} laws, not {count.laws}"}
    return extra_laws(network, list(exact.explicit_laws), loss), evidence


RATIONAL_DENOMINATOR = 720  # largest denominator tried when reading a float moment basis as rationals
RATIONAL_TOLERANCE = 1e-9  # a rationalised basis must reproduce the float one this closely (entries are O(1))
LAW_TOLERANCE = 1e-8  # |∇h·X_w| relative to |∇h||X_w| allowed to a candidate on the float group's own fields


def rational_moment_basis(basis, *, max_denominator: int = RATIONAL_DENOMINATOR, tolerance: float = RATIONAL_TOLERANCE):
    """The reduced row echelon form of the span of ``basis`` (float rows) with rational entries, or None.

    The span of a float group's augmented moments often has a rational basis although the group's matrices
    are irrational (e.g. the symmetric matrices commuting with a rotation by 2π/N are aI for N ≥ 3); the
    echelon form is unique, so if the span is rational its entries are small fractions, read off here.
    """
    from fractions import Fraction

    import numpy as np
    import scipy.linalg

    basis = np.asarray(basis, dtype=float)
    rank = basis.shape[0]
    if rank == 0:
        return None
    _, _, pivots = scipy.linalg.qr(basis, pivoting=True)  # pyright: ignore[reportAssignmentType]  # scipy stubs: a union of tuple sizes
    columns = np.sort(pivots[:rank])
    echelon = np.linalg.solve(basis[:, columns], basis)
    rows = [[Fraction(float(v)).limit_denominator(max_denominator) for v in row] for row in echelon]
    if np.abs(np.array([[float(v) for v in row] for row in rows]) - echelon).max() > tolerance:
        return None
    return rows


def _from_rational_moment_span(network: Network, group, loss: str, seed: int) -> tuple[list[str], dict]:
    """Extra laws found exactly on the class's rationalised moment span, then checked on its float fields."""
    import numpy as np
    import sympy

    from harness.algebra import modular
    from harness.laws.explicit import find_laws
    from harness.laws.fields import FieldFamily

    family = build_field_family(network, loss, "augmented", group, exact=False, seed=seed)
    rows = rational_moment_basis(family.basis)
    if rows is None:
        return [], {"source": "none: the float group's moment span has no small rational basis"}
    residues = np.array([[modular.from_rational(v) for v in row] for row in rows], dtype=np.int64)
    exact = FieldFamily(
        network,
        loss,
        "augmented",
        None,
        residues,
        True,
        kind=family.kind,
        points=tuple(("tuple", np.array(row, dtype=object)) for row in rows),
        description=f"rational moment span of {group.spec}",
    )
    symbols = parameter_symbols(network)
    _, generators = exact.sympy_generators(symbols)
    candidates = extra_laws(network, [str(law.expression) for law in find_laws(symbols, generators, seed=seed)], loss)
    # The exact search ran on the rationalised span; each candidate must also be a law of the float group's own
    # fields (∇h·X_w = 0 at random points, to LAW_TOLERANCE), or it is dropped.
    rng = np.random.default_rng([seed, 53])
    names = {s.name: s for s in symbols}
    kept, residuals = [], {}
    for text in candidates:
        expression = sympy.sympify(text, locals=names)  # pyright: ignore[reportCallIssue]  # sympy's sympify overloads omit ``locals`` for str input
        gradient = sympy.lambdify(symbols, [sympy.diff(expression, s) for s in symbols], "numpy")
        worst = 0.0
        for _ in range(3):
            theta = network.random_theta(rng)
            grad = np.asarray(gradient(*theta), dtype=float)
            fields = family.evaluate_at(family.basis, theta)
            scale = np.linalg.norm(grad) * np.linalg.norm(fields, axis=1) + 1e-300
            worst = max(worst, float(np.max(np.abs(fields @ grad) / scale)))
        residuals[text] = worst
        if worst <= LAW_TOLERANCE:
            kept.append(text)
    return kept, {
        "source": f"rational moment span of {group.spec} ({len(rows)} tuples)",
        "float_residuals": residuals,
        "tolerance": LAW_TOLERANCE,
    }


# --- formula-free drift: is a field outside Lie(F_MSE-aug)(θ)? -------------------------------------------------

OUTSIDE_RESIDUAL = 1e-6  # ρ above this (and far above the basis's own round-off) leaves the MSE leaf
TANGENT_RESIDUAL = 1e-9  # ρ below this is round-off: the field is tangent to the MSE leaf at θ
ROUND_OFF_MARGIN = 1e3  # ρ must also exceed σ_{r+1}/σ_r (the basis's own error) by this factor to count


@dataclass(frozen=True)
class LeafTangency:
    """Where fields X_j(θ) sit relative to L = Lie(F)(θ) of a polynomial-loss class (formula-free drift).

    ``outcome``: 'outside' (some X_j has a component outside L far above round-off: the class's laws that
    are not laws of every X_j move), 'tangent' (every X_j ∈ L to round-off: all the class's laws are
    conserved by them at θ), 'inconclusive' (no clear gap at rank r, or ρ in between). ``residuals`` are
    ρ_j = ‖(I − P_L)X_j‖/‖X_j‖; ``moved`` is the dimension of the span of the normalised residuals, the
    number of independent laws of the class (beyond those every X_j conserves) that the X_j move at θ;
    ``reachable`` is the most any gradient field can move at θ: dim(L + Jᵀ(θ)(V_ℓ ⊗ R^K)) − r, V_ℓ the span
    of the loss's output gradients (laws moved only by brackets are invisible to a pointwise test).
    """

    outcome: str
    reason: str
    rank: int
    singular_values: tuple[float, ...]
    gap: float
    residuals: tuple[float, ...]
    moved: int
    residual_singular_values: tuple[float, ...] = ()
    reachable: int | None = None

    def to_evidence(self) -> dict:
        """The evidence a verdict carries (``singular_values`` + ``gap`` are drawn as spectrum.png)."""
        return {
            "singular_values": list(self.singular_values),
            "gap": Gap(self.rank, self.gap, GAP_THRESHOLD).to_dict(),
            "leaf_tangency": {
                "outcome": self.outcome,
                "reason": self.reason,
                "rank": self.rank,
                "residuals": list(self.residuals),
                "moved": self.moved,
                "reachable": self.reachable,
                "residual_singular_values": list(self.residual_singular_values),
            },
        }


def leaf_tangency(
    network: Network, group, count, fields, theta, *, loss: str = "mse", field_loss="mse", seed: int = 0
) -> LeafTangency:
    """Whether the vectors ``fields`` (X_j(θ), rows) lie in Lie(F)(θ), F the class counted by ``count``.

    ``count`` is a conclusive LawCount of the augmented class under ``loss`` (mse or quartic), so the rank
    r = D − laws of Lie(F) at generic θ is known exactly. L is spanned by the top-r right singular vectors of
    the matrix of generated fields at θ (``harness.laws.lie.trace_matrix_at``, brackets up to the level where the
    count's rank stopped growing), accepted only if the numerical rank there (``SpectralGap.of``, the one
    gap rule) is r with a gap of at least GAP_THRESHOLD. Sound because h is a law of the class near generic
    θ iff ∇h ⊥ L near θ (Frobenius), so every law of the class is conserved by X near θ iff X ∈ L there:
    a component of X(θ) outside L moves some law of the class. ``field_loss`` is the loss of the X_j (its
    output-gradient span bounds ``reachable``).
    """
    import numpy as np

    from harness.laws.lie import trace_matrix_at

    if count.laws is None:
        raise ValueError("leaf_tangency needs a conclusive count")
    theta = np.asarray(theta, dtype=float)
    D = network.n_params
    r = D - count.laws
    family = build_field_family(network, loss, "augmented", group, exact=group.exact, seed=seed).as_float()
    ranks = list(count.lie_rank_by_level)
    depth = next((level for level, rank in enumerate(ranks, start=1) if rank >= r), max(len(ranks), 1))
    matrix = trace_matrix_at(family, theta, depth=depth, seed=seed)
    _, singular, right = (
        np.linalg.svd(matrix, full_matrices=False) if matrix.size else (None, np.zeros(0), np.zeros((0, D)))
    )
    spectral = SpectralGap.of(singular)
    rank, gap = spectral.rank, spectral.ratio
    shown = tuple(float(v) for v in singular[: r + 2])
    fields = np.atleast_2d(np.asarray(fields, dtype=float))
    norms = np.linalg.norm(fields, axis=1)

    def result(outcome, reason, residuals=(), moved=0, residual_singular=(), reachable=None):
        return LeafTangency(
            outcome,
            reason,
            r,
            shown,
            float(gap) if rank == r else 0.0,
            tuple(residuals),
            moved,
            tuple(float(v) for v in residual_singular),
            reachable,
        )

    if rank != r or not spectral.clear:
        return result(
            "inconclusive",
            f"no gap: the generated fields at θ have numerical rank {rank} (gap "
            f"{gap:.3g}), the exact count says {r} (threshold {GAP_THRESHOLD:g})",
        )
    if not np.all(norms > 0):
        return result("inconclusive", "a field vanishes at θ")
    basis = right[:r]

    def outside_parts(rows):
        rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-300)
        vectors = rows - (rows @ basis.T) @ basis
        return vectors, np.linalg.svd(vectors, compute_uv=False)

    residual_vectors, residual_singular = outside_parts(fields)
    residuals = np.linalg.norm(residual_vectors, axis=1)
    floor = max(float(singular[r] / singular[r - 1]) if r < singular.size and r > 0 else 0.0, 2.2e-16)
    outside = max(OUTSIDE_RESIDUAL, ROUND_OFF_MARGIN * floor)
    moved = int(np.sum(residual_singular > outside))
    pointwise = _pointwise_span(network, field_loss, theta)
    reachable = int(np.sum(outside_parts(pointwise)[1] > outside)) if pointwise.size else 0
    unclear = int(np.sum((residual_singular > TANGENT_RESIDUAL) & (residual_singular <= outside)))
    worst = float(residuals.max())
    numbers = (
        f"ρ = {worst:.3g} (outside above {outside:.3g}, tangent below {TANGENT_RESIDUAL:g}), rank {r}, gap {gap:.3g}"
    )
    if unclear:
        return result(
            "inconclusive",
            f"a residual between round-off and clear: {numbers}",
            residuals,
            moved,
            residual_singular,
            reachable,
        )
    if moved:
        return result(
            "outside",
            f"{moved} independent direction(s) of X outside Lie(F)(θ) (at most {reachable} "
            f"reachable by a gradient at θ): {numbers}",
            residuals,
            moved,
            residual_singular,
            reachable,
        )
    return result(
        "tangent", f"every field lies in Lie(F)(θ) to round-off: {numbers}", residuals, 0, residual_singular, reachable
    )


def _pointwise_span(network: Network, loss, theta):
    """Rows spanning Jᵀ(θ)(V_ℓ ⊗ R^K) at a float θ: every value a gradient field of ``loss`` can take at θ."""
    from harness.laws.fields import output_gradient_family
    from harness.laws.pointwise import output_span
    from harness.model.losses import get_loss

    family = output_gradient_family(network, output_span(get_loss(loss), network.n_outputs), exact=False)
    return family.evaluate_at(family.basis, theta)
