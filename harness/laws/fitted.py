"""Candidate polynomial conservation laws of any torch model, fitted numerically and then verified along flows.

A polynomial h(θ) = Σ_α c_α θ^α (1 ≤ |α| ≤ degree ≤ 2; constants are not laws) is conserved for a data class 𝒟
iff ∇h(θ)·X_S(θ) = 0 for every generator field X_S = ∇_θ L_S of a data set S ∈ 𝒟 at every θ (Marcotte, Gribonval,
Peyré 2023, Definition 2.3). Each pair (θ_i, S) is one linear condition on the coefficients c:
Σ_α c_α ∇θ^α(θ_i)·X_S(θ_i) = 0; ``fit_polynomial_laws`` stacks such conditions at many random points θ_i for random
data sets of the class (free, or G-augmented: ``harness.laws.autodiff.class_datasets``, the fields by its
``gradient_field``) and reads the candidate laws off the null space of the stacked
matrix: singular values by SVD, the rank by the one gap rule (``harness.algebra.spectral.SpectralGap``), and no
count at all (inconclusive) without a clear gap.

Fitted is not verified: a null vector is a law of the sampled fields only. Each candidate is then integrated along
gradient flows of fresh data sets of the class (``harness.dynamics.model_flow``) and judged by the one drift rule
(``DriftRule``: conserved, drifts or inconclusive); ``FittedLaws`` keeps both, and says which.

Work is bounded before it starts: the full quadratic ansatz has (D+1)(D+2)/2 − 1 monomials, refused past
``MAX_MONOMIALS`` (D ≤ 40 at degree 2; degree 1 reaches D = 860), and the stacked matrix is refused past
``MAX_MATRIX_ENTRIES`` numbers. For a non-smooth model (ReLU) each field is the gradient of the smooth piece f is
on at (θ_i, S), the same piece nearby for random θ_i and data (genericity; ``TorchModel.kink_values``).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from harness.algebra.spectral import SpectralGap
from harness.dynamics.conservation import EXPLICIT_LAWS, DriftOutcome, DriftRule, ExplicitLaw
from harness.dynamics.model_flow import ModelFlow, judge_model_laws
from harness.errors import InvalidInput
from harness.jsonable import plain
from harness.laws.autodiff import class_datasets, gradient_field
from harness.model.data import DataClass, check_data_class, check_seed
from harness.model.groups import build_group
from harness.model.losses import get_loss
from harness.model.torch_model import TorchModel
from harness.model.zoo import parse_model

MAX_DEGREE = 2
MAX_MONOMIALS = 860  # (D+1)(D+2)/2 − 1 at D = 40: the full quadratic ansatz; the SVD is then ~1 s here
MAX_MATRIX_ENTRIES = 4_000_000  # conditions × monomials of the stacked matrix (32 MB of float64)
OVERSAMPLING = 3  # default conditions per unknown coefficient
DEFAULT_SETS = 4  # data sets (fields) drawn at each point
DEFAULT_SAMPLES = 3  # samples per drawn data set (before augmentation)
VERIFY_SAMPLES = 8  # samples of each verification flow's data set (before augmentation)
EXTRA_FLOWS = 2  # verification flows that may be drawn again when one does not finish
DISPLAY_CUTOFF = 1e-9  # coefficients below this (relative to a law's largest) are left out of its text only


class FitOutcome(str, enum.Enum):
    """What the null space said: laws found, none (full rank at a clear gap), or no clear gap."""

    def __str__(self) -> str:
        return self.value

    FOUND = "found"
    NONE = "none"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Monomials:
    """The monomials θ^α, 1 ≤ |α| ≤ degree, of θ ∈ R^D: the variables of each, as index tuples (i,) or (i, j)."""

    n_params: int
    degree: int

    @staticmethod
    def count(n_params: int, degree: int) -> int:
        """How many monomials of degree 1 to ``degree`` in D variables (D, or (D+1)(D+2)/2 − 1 at degree 2)."""
        return n_params if degree == 1 else (n_params + 1) * (n_params + 2) // 2 - 1

    @cached_property
    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The quadratic monomials θ_i θ_j (i ≤ j) as two index arrays (empty at degree 1)."""
        if self.degree < 2:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        first, second = np.triu_indices(self.n_params)
        return first.astype(np.int64), second.astype(np.int64)

    @property
    def size(self) -> int:
        return self.n_params + self.pairs[0].size

    def variables(self, index: int) -> tuple[int, ...]:
        if index < self.n_params:
            return (index,)
        first, second = self.pairs
        return int(first[index - self.n_params]), int(second[index - self.n_params])

    def values(self, theta: np.ndarray) -> np.ndarray:
        """θ^α for every monomial, (P,)."""
        first, second = self.pairs
        return np.concatenate([theta, theta[first] * theta[second]])

    def gradients(self, theta: np.ndarray) -> np.ndarray:
        """∇θ^α for every monomial, (P, D)."""
        first, second = self.pairs
        rows = np.zeros((self.size, self.n_params))
        rows[np.arange(self.n_params), np.arange(self.n_params)] = 1.0
        quadratic = np.arange(self.n_params, self.size)
        rows[quadratic, first] += theta[second]
        rows[quadratic, second] += theta[first]
        return rows

    def conditions(self, theta: np.ndarray, fields: np.ndarray) -> np.ndarray:
        """∇θ^α(θ)·X(θ) for each field X (rows of ``fields``, (n, D)): one condition row (P,) per field."""
        first, second = self.pairs
        return np.concatenate([fields, fields[:, first] * theta[second] + fields[:, second] * theta[first]], axis=1)


def parameter_names(model: TorchModel) -> list[str]:
    """A readable name per entry of θ: the module's parameter name and the entry's index, e.g. layers.0.weight[1,0]."""
    names = []
    for block in model.blocks:
        for index in np.ndindex(*block.shape) if block.shape else [()]:
            names.append(f"{block.name}[{','.join(map(str, index))}]" if index else block.name)
    return names


def law_text(coefficients: np.ndarray, monomials: Monomials, names: list[str]) -> str:
    """Σ c_α θ^α as text (``a² + b² − c²``); coefficients below ``DISPLAY_CUTOFF`` of the largest are not shown."""
    largest = float(np.abs(coefficients).max()) if coefficients.size else 0.0
    terms = []
    for index in np.flatnonzero(np.abs(coefficients) > DISPLAY_CUTOFF * largest):
        variables = monomials.variables(int(index))
        if len(variables) == 1:
            word = names[variables[0]]
        elif variables[0] == variables[1]:
            word = names[variables[0]] + "²"
        else:
            word = names[variables[0]] + "·" + names[variables[1]]
        value = float(coefficients[index])
        size = abs(value)
        factor = "" if math.isclose(size, 1.0, rel_tol=1e-9) else f"{size:.6g} "
        terms.append(("− " if value < 0 else "+ ") + factor + word)
    if not terms:
        return "0"
    text = " ".join(terms)
    return text[2:] if text.startswith("+ ") else "−" + text[1:]


@dataclass(frozen=True)
class LawVerification:
    """One fitted law along flows of the class: ``conserved`` on every flow, ``drifts`` on one, else inconclusive."""

    law: str
    outcome: str
    reasons: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"law": self.law, "outcome": self.outcome, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class FittedLaws:
    """Candidate laws h_k(θ) = Σ_α coefficients[k, α] θ^α fitted in the null space of the stacked conditions.

    ``outcome`` is found / none / inconclusive (no clear gap: then ``coefficients`` is empty and ``count`` None);
    ``singular_values`` and ``gap`` are the evidence of the rank; ``verifications`` says, per law, what the drift
    rule found along ``n_flows`` flows (empty when not verified). ``verified`` is True only when every law was
    judged conserved on every flow.
    """

    model: str
    data_class: str
    loss: str
    group: str | None
    degree: int
    outcome: FitOutcome
    reason: str
    coefficients: np.ndarray = field(repr=False)  # (laws, P) over ``monomials``, each law with a pivot entry 1
    texts: tuple[str, ...]
    singular_values: np.ndarray = field(repr=False)
    gap: SpectralGap
    n_points: int
    n_conditions: int
    monomials: Monomials = field(repr=False)
    verifications: tuple[LawVerification, ...] = ()
    source: TorchModel | None = field(default=None, repr=False, compare=False)  # the model itself (for ``verify``)

    @property
    def count(self) -> int | None:
        return None if self.outcome is FitOutcome.INCONCLUSIVE else len(self.texts)

    @property
    def verified(self) -> bool:
        return bool(self.verifications) and all(v.outcome == DriftOutcome.CONSERVED for v in self.verifications)

    def values(self, theta) -> np.ndarray:
        """h_k(θ) for every fitted law."""
        return self.coefficients @ self.monomials.values(np.asarray(theta, dtype=float))

    def gradients(self, theta) -> np.ndarray:
        """∇h_k(θ) for every fitted law, (laws, D)."""
        return self.coefficients @ self.monomials.gradients(np.asarray(theta, dtype=float))

    def explicit_laws(self) -> list[ExplicitLaw]:
        """Each fitted law as the ``ExplicitLaw`` the drift rule judges."""
        return [_explicit_law(row, text, self.monomials) for row, text in zip(self.coefficients, self.texts)]

    def to_dict(self) -> dict:
        return plain(
            {
                "model": self.model,
                "data_class": self.data_class,
                "loss": self.loss,
                "group": self.group,
                "degree": self.degree,
                "outcome": self.outcome.value,
                "reason": self.reason,
                "count": self.count,
                "laws": list(self.texts),
                "verified": self.verified,
                "verifications": [v.to_dict() for v in self.verifications],
                "singular_values": self.singular_values.tolist(),
                "gap": self.gap.as_gap().to_dict(),
                "n_points": self.n_points,
                "n_conditions": self.n_conditions,
            }
        )


def _explicit_law(coefficients: np.ndarray, text: str, monomials: Monomials) -> ExplicitLaw:
    return ExplicitLaw(
        text=text,
        value=lambda *theta: float(coefficients @ monomials.values(np.asarray(theta))),
        gradient=lambda *theta: coefficients @ monomials.gradients(np.asarray(theta)),
    )


def fit_polynomial_laws(
    model,
    data_class: str,
    loss,
    group=None,
    *,
    degree: int = 2,
    n_points: int | None = None,
    seed: int = 0,
    n_sets: int = DEFAULT_SETS,
    n_samples: int = DEFAULT_SAMPLES,
    n_flows: int = 2,
    rule: DriftRule = EXPLICIT_LAWS,
) -> FittedLaws:
    """The polynomial laws of degree ≤ ``degree`` of ``model`` for the data class, fitted and then verified.

    At each of ``n_points`` random θ_i (default: enough for ``OVERSAMPLING`` conditions per coefficient),
    ``n_sets`` random data sets of the class give the fields X_S(θ_i) = ∇L_S(θ_i); the stacked conditions
    ∇θ^α(θ_i)·X_S(θ_i) (rows normalised, columns equilibrated: neither changes the null space) are decomposed by
    SVD and the rank is set by the one gap rule with a unique gap. The null space, mapped back to coefficients
    and reduced so that each law has coefficient 1 on a pivot monomial of its own, is the basis of candidate
    laws. Each is then judged along ``n_flows`` flows of fresh class data (``verify``; 0: not verified).

    The count is of linearly independent polynomials: with a law h of degree 1, h² is a second one of degree 2
    (functionally dependent); for laws of degree 2 (the rescaling and Gram laws) their products have degree 4.
    """
    model = parse_model(model)
    data_class = check_data_class(data_class, "data_class")
    loss = get_loss(loss)
    if isinstance(degree, bool) or degree not in range(1, MAX_DEGREE + 1):
        raise InvalidInput(f"degree={degree!r} is not allowed; allowed: 1 or 2 (polynomial laws of degree ≤ 2)")
    if data_class == DataClass.AUGMENTED and group is None:
        raise InvalidInput("data class 'augmented' needs a group (e.g. group='flip/trivial')")
    built_group = build_group(group, model) if isinstance(group, str) else group  # type: ignore[arg-type]
    n_monomials = Monomials.count(model.n_params, degree)
    if n_monomials > MAX_MONOMIALS:
        raise InvalidInput(
            f"model {model} has D = {model.n_params} parameters: degree {degree} has {n_monomials:,} monomials, above "
            f"the limit of {MAX_MONOMIALS:,}; allowed: degree 2 for D ≤ 40, degree 1 for D ≤ {MAX_MONOMIALS}"
        )
    for name, value in (("n_sets", n_sets), ("n_samples", n_samples)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInput(f"{name}={value!r} must be a positive integer")
    if isinstance(n_flows, bool) or not isinstance(n_flows, int) or n_flows < 0:
        raise InvalidInput(f"n_flows={n_flows!r} must be a non-negative integer (0: fitted, not verified)")
    if n_points is None:
        n_points = -(-OVERSAMPLING * n_monomials // n_sets)
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 1:
        raise InvalidInput(f"n_points={n_points!r} must be a positive integer")
    n_conditions = n_points * n_sets
    if n_conditions <= n_monomials:
        raise InvalidInput(
            f"n_points={n_points} × n_sets={n_sets} = {n_conditions} conditions cannot determine {n_monomials} "
            f"coefficients; allowed: n_points ≥ {n_monomials // n_sets + 1}"
        )
    if n_conditions * n_monomials > MAX_MATRIX_ENTRIES:
        raise InvalidInput(
            f"n_points={n_points}: {n_conditions:,} conditions × {n_monomials:,} monomials exceed "
            f"{MAX_MATRIX_ENTRIES:,} numbers; allowed: n_points ≤ {MAX_MATRIX_ENTRIES // (n_monomials * n_sets)}"
        )
    import torch

    rng = np.random.default_rng(check_seed(seed))
    monomials = Monomials(model.n_params, degree)
    matrix = np.empty((n_conditions, n_monomials))
    for point in range(n_points):
        theta = model.random_theta(rng)
        sets = class_datasets(
            model, data_class, loss, built_group, n_sets=n_sets, rng=rng, theta=theta, samples=n_samples
        )
        point_theta = torch.as_tensor(theta)
        fields = np.array([gradient_field(model, data, loss)(point_theta).detach().numpy() for data in sets])
        matrix[point * n_sets : (point + 1) * n_sets] = monomials.conditions(theta, fields)
    fitted = _null_space(matrix, monomials)
    coefficients, gap, values = fitted
    names = parameter_names(model)
    spec_group = None if built_group is None else str(built_group.spec)
    if gap.clear:
        texts = tuple(law_text(row, monomials, names) for row in coefficients)
        outcome = FitOutcome.FOUND if texts else FitOutcome.NONE
        reason = (
            f"{len(texts)} independent polynomial law(s) of degree ≤ {degree}: null space of {n_conditions} "
            f"conditions on {n_monomials} coefficients at rank {gap.rank}, gap {gap.ratio:.3g} ≥ {gap.threshold:g}"
        )
    else:
        texts, outcome, reason, coefficients = (), FitOutcome.INCONCLUSIVE, gap.reason, np.zeros((0, n_monomials))
    result = FittedLaws(
        model=str(model),
        data_class=data_class,
        loss=loss.name,
        group=spec_group,
        degree=degree,
        outcome=outcome,
        reason=reason,
        coefficients=coefficients,
        texts=texts,
        singular_values=values,
        gap=gap,
        n_points=n_points,
        n_conditions=n_conditions,
        monomials=monomials,
        source=model,
    )
    if not texts or n_flows == 0:
        return result
    return verify(result, n_flows=n_flows, seed=int(rng.integers(2**63)), rule=rule)


def _null_space(matrix: np.ndarray, monomials: Monomials) -> tuple[np.ndarray, SpectralGap, np.ndarray]:
    """The null space of the stacked conditions as reduced coefficient rows, the gap that set it, the spectrum."""
    import scipy.linalg

    rows = np.linalg.norm(matrix, axis=1)
    matrix = matrix[rows > 0] / rows[rows > 0, None]
    columns = np.linalg.norm(matrix, axis=0)
    columns[columns == 0] = 1.0  # a monomial no field moves: its column stays zero, a law of its own
    wide = matrix.shape[0] < monomials.size  # zero rows dropped: then the full V holds the null space
    _, values, right = np.linalg.svd(matrix / columns, full_matrices=wide)
    spectrum = np.zeros(monomials.size)
    spectrum[: values.size] = values  # fewer rows than monomials cannot happen (refused), zero rows can
    gap = SpectralGap.of(spectrum, unique=True)
    null = right[gap.rank :] / columns  # back to coefficients of the monomials
    if null.shape[0] == 0:
        return np.zeros((0, monomials.size)), gap, spectrum
    _, _, pivots = scipy.linalg.qr(null, pivoting=True)  # pyright: ignore[reportAssignmentType]
    pivots = np.sort(np.asarray(pivots)[: null.shape[0]])
    reduced = np.linalg.solve(null[:, pivots], null)  # coefficient 1 on its own pivot, 0 on the others'
    reduced[np.abs(reduced) < 1e-12 * np.abs(reduced).max(axis=1, keepdims=True)] = 0.0
    leading = np.argmax(reduced != 0, axis=1)  # for reading: laws in monomial order, each led by a + sign
    reduced = reduced[np.argsort(leading, kind="stable")]
    reduced *= np.sign(reduced[np.arange(reduced.shape[0]), np.argmax(reduced != 0, axis=1)])[:, None]
    return reduced, gap, spectrum


def verify(
    fitted: FittedLaws,
    *,
    n_flows: int = 2,
    seed: int = 0,
    n_samples: int = VERIFY_SAMPLES,
    rule: DriftRule = EXPLICIT_LAWS,
) -> FittedLaws:
    """``fitted`` with each of its laws judged along ``n_flows`` flows of fresh data of its class from random θ₀.

    A law is ``drifts`` when it drifts on a flow, ``conserved`` when it is conserved on ``n_flows`` flows that
    finished, else ``inconclusive``; every flow's reason is kept. A flow whose integration does not finish (a ReLU
    flow sliding along a kink ends with max_steps: ``harness.dynamics.model_flow.DEFAULT_MODEL_MAX_STEPS``) judges
    nothing and is replaced by a fresh one, at most ``EXTRA_FLOWS`` times.
    """
    if isinstance(n_flows, bool) or not isinstance(n_flows, int) or n_flows < 1:
        raise InvalidInput(f"n_flows={n_flows!r} must be a positive integer")
    model, loss = parse_model(fitted.model if fitted.source is None else fitted.source), get_loss(fitted.loss)
    group = build_group(fitted.group, model) if fitted.group else None  # type: ignore[arg-type]
    rng = np.random.default_rng(check_seed(seed))
    laws = fitted.explicit_laws()
    calls: list[list[str]] = [[] for _ in laws]
    reasons: list[list[str]] = [[] for _ in laws]
    finished = 0
    for _ in range(n_flows + EXTRA_FLOWS):
        if finished == n_flows:
            break
        theta0 = model.random_theta(rng)
        data = class_datasets(model, fitted.data_class, loss, group, n_sets=1, rng=rng, theta=theta0, samples=n_samples)
        judged = judge_model_laws(ModelFlow(model, loss, data[0]), theta0, laws, rule=rule)
        ok = all(j.status == "ok" for j in judged.judgements)
        finished += ok
        for call, reason, judgement in zip(calls, reasons, judged.judgements):
            reason.append(judgement.reason)
            if ok:
                call.append(judgement.outcome)
    verifications = []
    for law, call, reason in zip(laws, calls, reasons):
        if DriftOutcome.DRIFTS.value in call:
            outcome = DriftOutcome.DRIFTS.value
        elif len(call) == n_flows and set(call) == {DriftOutcome.CONSERVED.value}:
            outcome = DriftOutcome.CONSERVED.value
        else:
            outcome = DriftOutcome.INCONCLUSIVE.value
        verifications.append(LawVerification(law.text, outcome, tuple(reason)))
    return replace(fitted, verifications=tuple(verifications))
