"""Counting for analytic non-polynomial losses: pointwise spans of ∇L (DESIGN.md §1–2).

Laws depend only on the pointwise span W_θ = span{∇L_data(θ)} over the data sets of the class. For free data
under a loss whose output gradients span V_ℓ, W_θ = Jᵀ(θ)(V_ℓ ⊗ R^K), whose Lie algebra is counted exactly
(mod p) from the family {Jᵀ vec C : C ∈ V_ℓ ⊗ R^K}. The class's span at a random θ (float SVD over many random
data sets, the one gap rule ``harness.algebra.spectral``) is compared with it: equal spans give the free
count; unequal spans (at every θ tried) or no clear gap: inconclusive. huber is counted the same way and
flagged: it is not analytic (outside Theorem 1).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from harness.algebra import modular
from harness.algebra.spectral import GAP_THRESHOLD, SpectralGap
from harness.laws.budget import UNLIMITED
from harness.laws.fields import orbit, output_gradient_family
from harness.laws.lie import generate_lie_algebra
from harness.laws.published import published_law_texts, verify_published_laws
from harness.laws.results import CountMethod, LawCount, StopReason, certify
from harness.model.family import Network
from harness.model.groups import Group
from harness.model.losses import Loss
from harness.model.numpy_reference import loss_gradient

POINTWISE_ATTEMPTS = 4  # random θ (and input scales) tried before the pointwise spans are called different
POINTWISE_NUMERATOR = 10**6  # pointwise-span θ = a / 2^20 with integer a in [−10^6, 10^6]: entries in about [−1, 1]
POINTWISE_DENOMINATOR = 2**20


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


def pointwise_gradients(
    network: Network,
    loss: Loss,
    group: Group | None,
    theta: np.ndarray,
    rng,
    n_sets: int,
    points_per_set: int = 2,
    input_scale: float = 1.0,
) -> np.ndarray:
    """∇L(θ) for ``n_sets`` random data sets (orbit-closed under ``group`` when given), as rows."""
    rows = []
    for _ in range(n_sets):
        x = input_scale * rng.standard_normal((points_per_set, network.input_dim))
        y = _random_targets(loss, rng, points_per_set * network.rows_per_sample, network.n_outputs)
        y = y.reshape(points_per_set, network.output_dim)
        xs, ys = orbit(x, y, group, None)
        psi = network.features(xs)
        targets = network.target_rows(ys)
        loss.check_targets(targets, network.n_outputs)
        rows.append(loss_gradient(network, loss, psi, targets, theta, mean=False))  # a span: scale is irrelevant
    return np.stack(rows)


def count_pointwise(network, data_class, loss, group, seed, max_depth, max_samples, *, budget=UNLIMITED) -> LawCount:
    D = network.n_params
    notes = []
    if loss.loss_class == "non-analytic":
        notes.append(
            f"{loss.name} is not analytic: outside Theorem 1's hypotheses; counted by the same "
            "pointwise-span comparison"
        )
    span = output_span(loss, network.n_outputs)
    free_family = output_gradient_family(network, span, exact=True, description=f"free data, V_ℓ of {loss.name}")
    free_known = verify_published_laws(free_family, seed=seed)
    free_generation = generate_lie_algebra(
        free_family,
        target_rank=D - free_known.count,
        max_depth=max_depth,
        max_samples=max_samples,
        seed=seed,
        budget=budget,
        phase="free-data Lie rank",
    )
    free = certify(free_generation, D, free_known.count)
    free_laws, free_certificate = free.laws, free.certificate
    if free.inconsistency:
        notes.append(f"free count inconclusive: {free.inconsistency}")

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
        theta_mod = np.array(
            [modular.from_rational(Fraction(int(a), POINTWISE_DENOMINATOR)) for a in numerators], dtype=np.int64
        )
        free_rank = modular.rank(free_family.evaluate_at(free_family.basis, theta_mod))
        gradients = pointwise_gradients(
            network,
            loss,
            acting,
            theta,
            rng,
            n_sets=2 * free_rank + 10,
            input_scale=2.0 ** (attempt % 3 - 1) if attempt else 1.0,
        )
        norms = np.linalg.norm(gradients, axis=1, keepdims=True)
        gradients = gradients[norms[:, 0] > 0] / norms[norms[:, 0] > 0]
        singular = np.linalg.svd(gradients, compute_uv=False) if gradients.size else np.zeros(0)
        spectral = SpectralGap.of(singular)
        attempts.append((spectral, free_rank, singular))
        if spectral.clear and spectral.rank == free_rank:
            break
    spectral, free_rank, singular = attempts[-1]
    rank, gap = spectral.rank, spectral.ratio
    shown = tuple(float(v) for v in singular[: rank + 2])
    laws = None
    tried = f" ({len(attempts)} random θ tried)" if len(attempts) > 1 else ""
    if spectral.clear and rank == free_rank:
        laws = free_laws
        reason = StopReason.POINTWISE_SPAN_EQUAL
        notes.append(f"pointwise span of {data_class} gradients = free span (dimension {rank}) at a random θ{tried}")
    elif all(g.clear and g.rank < f for g, f, _ in attempts):
        reason = StopReason.POINTWISE_SPAN_DIFFERS
        notes.append(
            f"pointwise span of {data_class} gradients has dimension {rank}, the free span {free_rank}, at "
            f"every θ tried{tried}: Theorem 1's genericity does not apply here; count inconclusive"
        )
    else:
        notes.append(
            f"pointwise span: no clear singular-value gap (largest ratio {gap:.3g}, threshold {GAP_THRESHOLD:g}){tried}"
        )
        reason = StopReason.NO_CLEAR_GAP
    certificate = free_certificate if laws is not None else None
    texts, latex = published_law_texts(network, free_known)
    if laws is None and free_laws is not None and reason == StopReason.POINTWISE_SPAN_EQUAL:
        reason = free_generation.stop_reason
    return LawCount(
        arch=str(network),
        group=group.spec if group is not None else None,
        data=data_class,
        loss=loss.name,
        D=D,
        laws=laws,
        free_laws=free_laws,
        lie_rank_by_level=free_generation.rank_by_level if laws is not None else (),
        free_lie_rank_by_level=free_generation.rank_by_level,
        certified=certificate is not None and laws is not None,
        certificate=certificate,
        method=CountMethod.POINTWISE_SPAN,
        stop_reason=reason,
        verified_laws=free_known.count,
        explicit_laws=tuple(texts),
        explicit_laws_latex=tuple(latex),
        singular_values=shown,
        gap=spectral.as_gap(),
        n_generators=free_family.n_fields,
        notes=tuple(notes),
        seed=seed,
    )
