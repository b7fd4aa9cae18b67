"""The generator fields F of a data class under a polynomial loss, evaluated at jets (DESIGN.md §1–2).

For a polynomial loss the gradient field of a data set depends on the data only through a moment tuple w,
linearly: X_w(θ) = −J(θ)ᵀ vec G_w(Φ(θ)).
- MSE, ℓ = ½‖f − y‖²: w = (M, C) = (Σ_r ψ_rψ_rᵀ, Σ_r y_rψ_rᵀ) and G_w = ΦM − C.
- Quartic, ℓ = ¼Σ_a (f_a − y_a)⁴: w = (T4, T3, T2, T1) = Σ_r (ψ^{⊗4}, y_a ψ^{⊗3}, y_a² ψ^{⊗2}, y_a³ ψ) and
  G_w[a, k] = Σ Φ_aiΦ_ajΦ_al T4[i,j,l,k] − 3 Σ Φ_aiΦ_aj T3[a,i,j,k] + 3 Σ Φ_ai T2[a,i,k] − T1[a,k].
(Sums, not means: spans do not see the factor 1/N.) F is spanned by X_w over a basis of the *achievable*
moment span of the class, found by sampling: random integer data points (a whole token sequence for
attention), the tuple of each point (for the augmented class the sum over the point's orbit, since an
augmented data set is a union of orbits), and an exact basis grown mod p until ``patience`` consecutive
draws add nothing. A draw from a span not yet exhausted fails to grow it with probability at most
degree/(2R + 1) (Schwartz–Zippel over the integers in [−R, R]); patience is set so that stopping early has
probability < 1e−9. The sampled span is always inside the true one, so Lie ranks stay sound lower bounds.
This treats every family alike, including masked attention where no ρ_Ψ exists.

The float family (rotation groups, whose moments are irrational) takes Gaussian points and the span from an
SVD with an explicit gap (``harness.algebra.spectral``).

Long on purpose: one concept (``FieldFamily``); its exact, float and output-gradient variants share helpers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from harness.algebra import modular
from harness.algebra.jets import EXACT, FLOAT, JetArithmetic, PolynomialJets, jets_of
from harness.algebra.modular import PRIME
from harness.algebra.spectral import Gap, SpectralGap
from harness.errors import InvalidInput
from harness.model.data import check_data_class
from harness.model.family import Network
from harness.model.groups import Group

MOMENT_KINDS = ("mse", "quartic")
_FALSE_STOP_PROBABILITY = 1e-9


# --- exact and float features Ψ ---------------------------------------------------------------------


def exact_features(network: Network, x: np.ndarray, modulus: int | None = PRIME) -> np.ndarray:
    """Ψ of every row of integer inputs x (P, input_dim), as (P, rows, K): residues mod p (int64) or,
    with ``modulus=None``, exact Python integers/fractions (object array). Agrees with ``network.features``."""
    exact = modulus is not None

    def multiply(a, b):
        return (a * b) % modulus if exact else a * b

    x = np.asarray(x)
    if exact:
        x = np.mod(x.astype(np.int64), modulus)
    else:
        x = x.astype(object)
    return network.exact_features(x, multiply, modulus)


def _tuple_size(network: Network, kind: str) -> int:
    K, m = network.n_features, network.n_outputs
    return K * K + m * K if kind == "mse" else K**4 + m * K**3 + m * K * K + m * K


def point_tuples(kind: str, psi: np.ndarray, y: np.ndarray, modulus: int | None) -> np.ndarray:
    """The moment tuple w of each point: psi (P, rows, K), y (P, rows, m) → (P, W), summed over rows."""
    exact = modulus is not None

    def multiply(a, b):
        return (a * b) % modulus if exact else a * b

    def total(a, axis):
        s = a.sum(axis=axis)
        return s % modulus if exact else s

    points = psi.shape[0]
    psi2 = multiply(psi[:, :, :, None], psi[:, :, None, :])  # (P, r, K, K)
    if kind == "mse":
        M = total(psi2, 1)
        C = total(multiply(y[:, :, :, None], psi[:, :, None, :]), 1)
        return np.concatenate([M.reshape(points, -1), C.reshape(points, -1)], axis=1)
    psi3 = multiply(psi2[:, :, :, :, None], psi[:, :, None, None, :])
    T4 = total(multiply(psi3[..., None], psi[:, :, None, None, None, :]), 1)
    y2 = multiply(y, y)
    y3 = multiply(y2, y)
    T3 = total(multiply(y[:, :, :, None, None, None], psi3[:, :, None]), 1)
    T2 = total(multiply(y2[:, :, :, None, None], psi2[:, :, None]), 1)
    T1 = total(multiply(y3[:, :, :, None], psi[:, :, None, :]), 1)
    return np.concatenate([t.reshape(points, -1) for t in (T4, T3, T2, T1)], axis=1)


# --- the family --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FieldFamily:
    """F = span{X_w : w in ``basis``} for one network, loss kind, data class and group.

    ``basis`` holds moment tuples (rows): residues mod p when ``exact`` (each the tuple of an integer data
    point or its orbit, kept in ``points`` so the same fields can be rebuilt with exact rationals for sympy),
    floats otherwise. ``moment_singular_values``/``moment_gap`` record how a float span was decided.
    """

    network: Network
    loss: str
    data_class: str
    group: Group | None
    basis: np.ndarray
    exact: bool
    kind: str = "mse"
    points: tuple = ()
    moment_singular_values: tuple = ()
    moment_gap: Gap | None = None
    description: str = ""
    _jets: PolynomialJets = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self):
        if self._jets is None:
            object.__setattr__(self, "_jets", jets_of(self.network))

    @property
    def n_params(self) -> int:
        return self.network.n_params

    @property
    def n_fields(self) -> int:
        return int(self.basis.shape[0])

    @property
    def arithmetic(self) -> JetArithmetic:
        return EXACT if self.exact else FLOAT

    def random_point(self, rng: np.random.Generator) -> np.ndarray:
        """A random θ: uniform residues mod p (exact) or N(0, 1) entries (float)."""
        if self.exact:
            return rng.integers(0, PRIME, self.n_params, dtype=np.int64)
        return rng.standard_normal(self.n_params)

    def random_combinations(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` random elements of the moment span (rows): X at them are random elements of F."""
        if self.exact:
            coefficients = rng.integers(0, PRIME, (count, self.n_fields), dtype=np.int64)
            return modular.matmul(coefficients, self.basis)
        return rng.standard_normal((count, self.n_fields)) @ self.basis

    def _moments(self, w: np.ndarray) -> list[np.ndarray]:
        K, m = self.network.n_features, self.network.n_outputs
        sizes = [(K, K), (m, K)] if self.kind == "mse" else [(K, K, K, K), (m, K, K, K), (m, K, K), (m, K)]
        parts, offset = [], 0
        for shape in sizes:
            size = int(np.prod(shape))
            parts.append(w[:, offset : offset + size].reshape((w.shape[0],) + shape))
            offset += size
        return parts

    def _constant_jet(self, values: np.ndarray, like: np.ndarray) -> np.ndarray:
        jet = np.zeros((like.shape[0],) + values.shape, dtype=like.dtype)
        jet[0] = values
        return jet

    def cotangent(self, w: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """G_w(Φ̃) for moment tuples w (S, W) and a jet Φ̃ (2^j, S or 1, m, K)."""
        arithmetic = self.arithmetic
        matmul = modular.matmul if self.exact else np.matmul
        if self.kind == "mse":
            M, C = self._moments(w)
            product = matmul(phi, M)
            return arithmetic.subtract(product, self._constant_jet(C, product))
        T4, T3, T2, T1 = self._moments(w)
        S, K = w.shape[0], self.network.n_features
        m = self.network.n_outputs
        three = 3
        inner = matmul(phi, T4.reshape(S, K, K**3)).reshape(phi.shape[:1] + (S, m, K, K * K))
        inner = arithmetic.subtract(
            inner, self._constant_jet(arithmetic.scale(T3.reshape(S, m, K, K * K), three), inner)
        )
        middle = arithmetic.normalise(arithmetic.multiply(phi[..., :, :, None], inner).sum(axis=-2))  # (…, m, K²)
        middle = arithmetic.add(middle, self._constant_jet(arithmetic.scale(T2.reshape(S, m, K * K), three), middle))
        middle = middle.reshape(middle.shape[:-1] + (K, K))
        outer = arithmetic.normalise(arithmetic.multiply(phi[..., :, :, None], middle).sum(axis=-2))  # (…, m, K)
        return arithmetic.subtract(outer, self._constant_jet(T1, outer))

    def evaluate(self, w: np.ndarray, point: np.ndarray) -> np.ndarray:
        """X_w(θ̃) = −J(θ̃)ᵀ vec G_w(Φ(θ̃)) for tuples w (S, W) at a jet θ̃ (2^j, S or 1, D) → (2^j, S, D)."""
        arithmetic = self.arithmetic
        phi = self._jets.phi(arithmetic, point)
        cotangent = self.cotangent(w, phi)
        return arithmetic.negate(self._jets.vjp(arithmetic, point, cotangent))

    def evaluate_at(self, w: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """X_w(θ) at a plain point θ (D,) for tuples w (S, W) → (S, D)."""
        point = np.asarray(theta, dtype=self.arithmetic.dtype)[None, None, :]
        rows = []
        for start in range(0, w.shape[0], 256):  # chunks bound the (S, T·degree) temporaries
            rows.append(self.evaluate(w[start : start + 256], point)[0])
        return np.concatenate(rows) if rows else np.zeros((0, self.n_params), dtype=point.dtype)

    def as_float(self) -> "FieldFamily":
        """The same fields X_w with a float64 basis (exact rational tuples, each scaled to norm 1: same span).

        An exact family's basis holds residues mod p, which mean nothing at a real point; its stored integer
        points rebuild the rational tuples, so the float family spans the same real space F.
        """
        if not self.exact:
            return self
        tuples = self.exact_tuples().astype(float)
        norms = np.linalg.norm(tuples, axis=1, keepdims=True)
        tuples = tuples[norms[:, 0] > 0] / norms[norms[:, 0] > 0]
        return FieldFamily(
            self.network,
            self.loss,
            self.data_class,
            self.group,
            tuples,
            False,
            kind=self.kind,
            description=f"{self.description} (float copy)",
        )

    # --- sympy --------------------------------------------------------------------------------------
    def exact_tuples(self) -> np.ndarray:
        """The basis tuples as exact rationals (object array), rebuilt from the stored integer points."""
        if not self.exact or not self.points:
            raise InvalidInput(
                f"the field family of {self.network} ({self.description or self.data_class}) has no exact "
                "rational basis (float group or float path); explicit laws need an exact (signed-permutation) group"
            )
        rows = []
        for item in self.points:
            if isinstance(item[0], str):  # a tuple given directly (output-gradient families)
                rows.append(np.asarray(item[1], dtype=object))
                continue
            x, y = item
            xs, ys = orbit(x[None, :], y[None, :], self.group if self.data_class == "augmented" else None, None)
            psi = exact_features(self.network, xs, None)
            targets = ys.astype(object).reshape(psi.shape[0], psi.shape[1], -1)
            rows.append(point_tuples(self.kind, psi, targets, None).sum(axis=0))
        return np.stack(rows)

    def sympy_generators(self, symbols=None):
        """(symbols, generators): each generator X_w as D sympy expressions with exact rational coefficients.

        X_w = −∇L_w with the potential L_w = ½⟨ΦM, Φ⟩ − ⟨C, Φ⟩ (MSE; M symmetric) or its quartic analogue.
        """
        import sympy

        if symbols is None:
            symbols = parameter_symbols(self.network)
        symbols = list(symbols)
        if len(symbols) != self.n_params:
            raise InvalidInput(f"need {self.n_params} symbols for {self.network}, got {len(symbols)}")
        tuples = self.exact_tuples()
        phi = self.network.phi(np.array(symbols, dtype=object))
        generators = []
        for row in tuples:
            moments = [np.vectorize(sympy.Rational, otypes=[object])(part[0]) for part in self._moments(row[None, :])]
            if self.kind == "mse":
                M, C = moments
                potential = sympy.Rational(1, 2) * (phi * (phi @ M)).sum() - (C * phi).sum()
            else:
                T4, T3, T2, T1 = moments
                potential = 0
                for a in range(phi.shape[0]):
                    f = phi[a]
                    f2 = np.multiply.outer(f, f)
                    f3 = np.multiply.outer(f2, f)
                    potential += sympy.Rational(1, 4) * (np.multiply.outer(f3, f) * T4).sum()
                    potential -= (f3 * T3[a]).sum()
                    potential += sympy.Rational(3, 2) * (f2 * T2[a]).sum()
                    potential -= (f * T1[a]).sum()
            potential = sympy.expand(potential)
            generators.append([sympy.expand(-sympy.diff(potential, s)) for s in symbols])
        return symbols, generators


def parameter_symbols(network: Network) -> list:
    """One sympy symbol per parameter, named after its block and index (e.g. V_10 for V[1, 0])."""
    import sympy

    names = []
    for block in network.blocks:
        for index in np.ndindex(*block.shape):
            separator = "" if max(block.shape) <= 10 else "_"
            names.append(f"{block.name}_{separator.join(map(str, index))}")
    return list(sympy.symbols(names, real=True))


# --- building families -------------------------------------------------------------------------------


def orbit(x: np.ndarray, y: np.ndarray, group: Group | None, modulus: int | None) -> tuple[np.ndarray, np.ndarray]:
    """All (ρ_in(g)x, ρ_out(g)y), g ∈ G, for points x (P, in), y (P, out), stacked g-major: (|G|·P, …)."""
    if group is None:
        return x, y
    if group.exact:
        ins = np.stack(group.inputs).astype(x.dtype if x.dtype != object else object)
        outs = np.stack(group.outputs).astype(y.dtype if y.dtype != object else object)
    else:
        ins, outs = np.stack(group.inputs), np.stack(group.outputs)
    xs = np.einsum("gij,pj->gpi", ins, x) if x.dtype != object else np.stack([x @ g.T for g in ins])
    ys = np.einsum("gij,pj->gpi", outs, y) if y.dtype != object else np.stack([y @ g.T for g in outs])
    xs = xs.reshape(-1, x.shape[1])
    ys = ys.reshape(-1, y.shape[1])
    if modulus is not None:
        xs, ys = np.mod(xs, modulus), np.mod(ys, modulus)
    return xs, ys


def _tuple_degree(network: Network, kind: str) -> int:
    """Degree of the moment tuple as a polynomial in the data point (x, y): the highest is ψψᵀ (or ψ^{⊗4})."""
    return (2 if kind == "mse" else 4) * network.feature_degree


def _check_class(network: Network, kind: str, data_class: str, group: Group | None) -> None:
    if kind not in MOMENT_KINDS:
        raise InvalidInput(f"moment kind {kind!r} not one of {MOMENT_KINDS} (polynomial losses: mse, quartic)")
    check_data_class(data_class)
    if data_class == "augmented":
        if group is None:
            raise InvalidInput("data class 'augmented' needs a group (e.g. --group cyclic/trivial)")
        group.check_network(network)


def build_field_family(
    network: Network,
    loss: str = "mse",
    data_class: str = "free",
    group: Group | None = None,
    *,
    exact: bool = True,
    seed: int = 0,
    integer_range: int | None = None,
) -> FieldFamily:
    """F for ``network`` under ``loss`` (mse or quartic) and the data class, from sampled data points."""
    _check_class(network, loss, data_class, group)
    acting = group if data_class == "augmented" else None
    if exact and acting is not None and not acting.exact:
        raise InvalidInput(f"group {acting.spec} is a float action; the exact path needs a signed-permutation group")
    rng = np.random.default_rng(seed)
    width = _tuple_size(network, loss)
    description = f"{loss}, {data_class}" + (f" under {acting.spec}" if acting is not None else "")
    if exact:
        return _sample_exact(network, loss, data_class, acting, rng, width, description, integer_range)
    return _sample_float(network, loss, data_class, acting, rng, width, description)


def _sample_exact(network, kind, data_class, group, rng, width, description, integer_range) -> FieldFamily:
    degree = _tuple_degree(network, kind) + 1
    bound = integer_range or max(6, 2 * degree)
    failure = degree / (2 * bound + 1)  # Schwartz–Zippel bound for one draw that should have grown the span
    patience = max(3, math.ceil(math.log(_FALSE_STOP_PROBABILITY) / math.log(failure)))
    basis = modular.EchelonBasis(width)
    chosen_points, chosen_tuples = [], []
    misses, draws = 0, 0
    batch = 8
    while misses < patience:
        if draws > 4 * width + 50 * patience:
            raise RuntimeError(f"moment span of {network} ({description}) did not stabilise after {draws} draws")
        x = rng.integers(-bound, bound + 1, (batch, network.input_dim), dtype=np.int64)
        y = rng.integers(-bound, bound + 1, (batch, network.output_dim), dtype=np.int64)
        xs, ys = orbit(x, y, group, PRIME)
        psi = exact_features(network, xs, PRIME)
        targets = ys.reshape(psi.shape[0], psi.shape[1], -1)
        tuples = point_tuples(kind, psi, targets, PRIME)
        order = group.order if group is not None else 1
        tuples = tuples.reshape(order, batch, width).sum(axis=0) % PRIME
        new = basis.add(tuples)
        for i in range(batch):
            draws += 1
            if new[i]:
                misses = 0
                chosen_points.append((x[i], y[i]))
                chosen_tuples.append(tuples[i])
            else:
                misses += 1
        batch = min(64, 2 * batch) if new.all() else 8
    rows = np.stack(chosen_tuples) if chosen_tuples else np.zeros((0, width), dtype=np.int64)
    return FieldFamily(
        network, kind, data_class, group, rows, True, kind=kind, points=tuple(chosen_points), description=description
    )


def _sample_float(network, kind, data_class, group, rng, width, description) -> FieldFamily:
    """Gaussian points in batches until 16 more draws than the numerical rank (or the full width) are in."""
    order = group.order if group is not None else 1
    tuples = np.zeros((0, width))
    while True:
        batch = 32
        x = rng.standard_normal((batch, network.input_dim))
        y = rng.standard_normal((batch, network.output_dim))
        xs, ys = orbit(x, y, group, None)
        psi = network.features(xs).reshape(xs.shape[0], network.rows_per_sample, -1)
        targets = ys.reshape(psi.shape[0], psi.shape[1], -1)
        new = point_tuples(kind, psi, targets, None).reshape(order, batch, width).sum(axis=0)
        new /= np.linalg.norm(new, axis=1, keepdims=True)
        tuples = np.concatenate([tuples, new])
        _, singular, right = np.linalg.svd(tuples, full_matrices=False)
        gap = SpectralGap.of(singular)
        r = gap.rank
        if r + 16 <= tuples.shape[0] or tuples.shape[0] >= width + 16:
            break
    return FieldFamily(
        network,
        kind,
        data_class,
        group,
        right[:r],
        False,
        kind=kind,
        moment_singular_values=tuple(float(v) for v in singular[: r + 2]),
        moment_gap=gap.as_gap(),
        description=description,
    )


def output_gradient_family(
    network: Network, output_span: np.ndarray, *, exact: bool = True, description: str = ""
) -> FieldFamily:
    """F = {θ ↦ J(θ)ᵀ vec(C) : C ∈ V ⊗ R^K} for a span V ⊆ R^m of loss gradients ∇_f ℓ (rows of ``output_span``).

    Free data under a loss whose gradients ∇_f ℓ(f, y) span V for every f has exactly this pointwise span
    (W_θ = Jᵀ(V ⊗ R^K)); the laws depend only on the pointwise span, so this family counts them. Encoded as
    the MSE tuple (M, C) = (0, C), whose field is −Jᵀ vec(Φ·0 − C) = Jᵀ vec C.
    """
    K, m = network.n_features, network.n_outputs
    output_span = np.asarray(output_span)
    rows = []
    for v in output_span:
        for k in range(K):
            C = np.zeros((m, K), dtype=np.int64 if exact else float)
            C[:, k] = v
            rows.append(np.concatenate([np.zeros(K * K, dtype=C.dtype), C.reshape(-1)]))
    basis = np.stack(rows)
    if exact:
        basis = np.mod(basis, PRIME)
    points = tuple(("tuple", row.astype(object)) for row in np.stack(rows)) if exact else ()
    return FieldFamily(
        network,
        "mse",
        "free",
        None,
        basis,
        exact,
        kind="mse",
        points=points,
        description=description or "output-gradient span",
    )
