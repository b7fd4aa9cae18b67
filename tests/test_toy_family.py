"""A toy family added from this file alone reaches every part of flowlaws through the registry.

The toy is the diagonal linear network f(x) = Σ_k u_k v_k x_k (``diag:N``): Φ = (u_0v_0, …, u_{N−1}v_{N−1}),
Ψ(x) = x, D = 2N. Its published laws are u_k² − v_k² (the rescaling u_k ↦ λu_k, v_k ↦ v_k/λ of each unit).

Independent count: for free data and MSE the fields are X_w = −J(θ)ᵀ(ΦM − C) over all moments, and C alone
already spans every output direction, so F = span{∇Φ_k} = span{X_k = v_k ∂_{u_k} + u_k ∂_{v_k}}. Each X_k moves
only the pair (u_k, v_k), so [X_j, X_k] = 0 for j ≠ k and Lie(F) = F; at a generic θ the N fields are
independent (disjoint supports), so the count is D − N = N. The test computes the rank of these hand-written
fields at a random θ rather than trusting the reasoning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.dynamics.conservation import compile_law, judge_drift
from harness.dynamics.flow import GradientFlow, integrate, law_drift
from harness.errors import InvalidInput
from harness.laws.counting import count_laws
from harness.laws.fields import parameter_symbols
from harness.model.data import random_dataset
from harness.model.family import FAMILIES, Network, SizeLimits, register_family, unregister_family
from harness.model.family_parts import positive
from harness.model.losses import get_loss
from harness.model.scenario import Scenario
from harness.model.size_rules import SizeChoice
from harness.model.specs import parse_network
from harness.verdicts.verdict import Status
from properties.prop_free_count import check as free_count_check
from properties.prop_torch_reference import check as torch_reference_check
from strategies import networks


@dataclass(frozen=True)
class DiagonalNetwork(Network):
    """f(x) = Σ_k u_k v_k x_k: Φ = u ⊙ v ∈ R^{1×N}, Ψ(x) = x."""

    n_in: int
    family = "diag"
    usage = "diag:N"

    @classmethod
    def from_spec(cls, arguments, limits: SizeLimits) -> DiagonalNetwork:
        if len(arguments.positional) != 1 or arguments.keywords:
            raise arguments.invalid("diag takes exactly N, e.g. diag:3")
        return cls(arguments.integer(arguments.positional[0], "N"), limits=limits)

    def __post_init__(self):
        positive("n_in", self.n_in, "diag network size")
        self._check_size()

    def sizes(self):
        return {
            "max_inputs": self.n_in,
            "max_params": 2 * self.n_in,
            "max_features": self.n_in,
            "max_factors": 2 * self.n_in,
        }

    def __str__(self):
        return f"diag:{self.n_in}"

    input_dim = property(lambda self: self.n_in)
    output_dim = property(lambda self: 1)
    feature_dim = property(lambda self: self.n_in)
    n_outputs = property(lambda self: 1)
    n_features = property(lambda self: self.n_in)
    feature_degree = property(lambda self: 1)

    def _block_shapes(self):
        return [("u", (self.n_in,)), ("v", (self.n_in,))]

    def _monomials(self):
        return list(range(self.n_in)), [1] * self.n_in, [(k, self.n_in + k) for k in range(self.n_in)]

    def _features(self, x):
        return x

    def exact_features(self, x, multiply, modulus):
        return x.reshape(x.shape[0], 1, -1)

    def torch_forward(self, weights: Mapping, x):
        return (x * (weights["u"] * weights["v"])).sum(dim=1, keepdim=True)

    def _laws(self, blocks):
        u, v = blocks["u"], blocks["v"]
        values = [u[k] * u[k] - v[k] * v[k] for k in range(self.n_in)]
        scales = [] if u.dtype == object else [u[k] * u[k] + v[k] * v[k] for k in range(self.n_in)]
        return values, scales, [f"u_{k}² − v_{k}²" for k in range(self.n_in)]

    @property
    def published_laws_complete(self):
        return True  # the count in the module docstring

    @classmethod
    def feature_dims(cls, budget, shape):
        P, F = budget.max_params, budget.max_features
        return [
            n for n in shape.feature_dims(P) if 2 * n <= P and n <= F and (n == 1 or not shape.outputs_match_features)
        ]

    @classmethod
    def size_draws(cls, budget, shape):
        n = yield SizeChoice("inputs", tuple(cls.feature_dims(budget, shape)))
        return cls(n)


@pytest.fixture
def toy():
    register_family(DiagonalNetwork)
    yield DiagonalNetwork
    unregister_family("diag")
    assert "diag" not in FAMILIES


def test_the_toy_is_not_registered_outside_the_fixture():
    assert "diag" not in FAMILIES
    with pytest.raises(InvalidInput, match="unknown network spec"):
        parse_network("diag:3")


def test_parse_network_reads_the_registry(toy):
    network = parse_network("diag:3")
    assert network == DiagonalNetwork(3) and str(network) == "diag:3" and network.n_params == 6
    assert network.token_positions is None
    with pytest.raises(InvalidInput, match="diag:N"):  # the usage text lists the registered families
        parse_network("nonsense:1")
    with pytest.raises(InvalidInput, match="diag takes exactly N"):
        parse_network("diag:3,4")


def test_the_networks_strategy_draws_the_toy(toy):
    assert find(networks(families=("diag",)), lambda n: n.n_in >= 2) == DiagonalNetwork(2)
    assert find(networks(), lambda n: n.family == "diag").family == "diag"  # the default families are the registry


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_every_drawn_toy_fits_the_budget(data):
    register_family(DiagonalNetwork)
    try:
        network = data.draw(networks(families=("diag",), max_params=8))
        assert isinstance(network, DiagonalNetwork) and network.n_params <= 8
    finally:
        unregister_family("diag")


def _hand_fields(theta: np.ndarray, n: int) -> np.ndarray:
    """The fields X_k = v_k ∂_{u_k} + u_k ∂_{v_k} (columns) at θ = (u, v)."""
    fields = np.zeros((2 * n, n))
    for k in range(n):
        fields[k, k], fields[n + k, k] = theta[n + k], theta[k]
    return fields


@pytest.mark.parametrize("n", [2, 3, 4])
def test_count_laws_counts_the_toy_and_agrees_with_the_hand_computed_fields(toy, n):
    network = parse_network(f"diag:{n}")
    count = count_laws(network, "free", "mse", seed=0, find_explicit=False)
    theta = network.random_theta(np.random.default_rng(n))
    independent = network.n_params - np.linalg.matrix_rank(_hand_fields(theta, n))
    assert count.conclusive and count.laws == independent == n
    # Property 3 (the free count equals the published laws) holds for the toy, with its own scope.
    assert free_count_check(Scenario(f"diag:{n}", "mse", seed=1)).status is Status.HOLDS


def test_a_gradient_flow_integrates_the_toy_and_its_laws_are_judged_conserved(toy):
    network = parse_network("diag:3")
    rng = np.random.default_rng(2)
    flow = GradientFlow(network, get_loss("mse"), random_dataset(network, 6, rng))
    theta0 = network.random_theta(rng)
    trajectory = integrate(flow, theta0, 1.0, "dp5", rtol=1e-10, atol=1e-12, n_save=10)
    assert trajectory.ok
    drift = law_drift(network, trajectory)
    assert drift.names == ("u_0² − v_0²", "u_1² − v_1²", "u_2² − v_2²") and drift.largest is not None
    assert drift.largest < 1e-8
    symbols = np.array(parameter_symbols(network), dtype=object)
    laws = [compile_law(network, h) for h in network.known_law_expressions(symbols)]
    judgements, _ = judge_drift(flow, theta0, laws + [compile_law(network, "u_0**2")])  # and one planted non-law
    assert [j.outcome for j in judgements] == ["conserved"] * 3 + ["drifts"]


def test_the_torch_reference_holds_for_the_toy(toy):
    assert torch_reference_check(Scenario("diag:3", "mse", seed=3)).status is Status.HOLDS


def test_flowlaws_list_shows_the_toy(toy, capsys):
    assert main(["list"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("Network families:"))
    assert line.endswith(", attention, diag")
