"""Property 1: the tensorized network equals its torch reference.

Statement: for every family, f(θ, x) = Φ(θ)Ψ(x) computed from the exact sparse polynomial Φ and the
features Ψ equals the network computed the ordinary way in torch (float64), and the parameter gradient
J(θ)ᵀ vec(G) equals torch autograd's, both to 1e-10 relative. Everything else in flowlaws (integrators,
counting, laws) reads the network through Φ and Ψ, so this is the property the rest stands on.

The class, and which data sets stand for it. The claim is an identity for every θ and every input x (no loss,
no data class): each drawn (θ₀, x) is a member, a mismatch on one is a real counterexample, and there is no
quantifier over a class of data sets to sample.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.model.family import FAMILIES
from harness.model.scenario import Scenario
from harness.model.torch_reference import reference_output_and_gradient
from harness.verdicts.property import Property, enforce
from harness.verdicts.verdict import Verdict
from strategies import scenarios

TOLERANCE = 1e-10


def check(scenario: Scenario) -> Verdict:
    built = scenario.build()
    network, x = built.network, built.data.x
    rng = np.random.default_rng(scenario.seed + 1)
    cotangent = rng.standard_normal((x.shape[0], network.output_dim))
    torch_output, torch_gradient = reference_output_and_gradient(network, built.theta0, x, cotangent)
    output = network.predict(built.theta0, x)
    # ∇_θ Σ⟨c, f⟩ = Jᵀ vec(G) with G = Σ_rows c_r Ψ_rᵀ.
    gradient = network.polynomial.vjp(built.theta0, network.target_rows(cotangent).T @ network.features(x))
    output_error = np.abs(output - torch_output).max() / max(1.0, np.abs(torch_output).max())
    gradient_error = np.abs(gradient - torch_gradient).max() / max(1.0, np.abs(torch_gradient).max())
    evidence = dict(output_error=float(output_error), gradient_error=float(gradient_error), tolerance=TOLERANCE)
    if max(output_error, gradient_error) <= TOLERANCE:
        return Verdict.holds("Φ(θ)Ψ(x) and Jᵀvec(G) match torch", **evidence)
    return Verdict.violated("tensorized network differs from its torch reference", **evidence)


PROPERTY = Property(
    id="torch-reference",
    title="Tensorized networks equal their torch reference",
    statement="For every family, Φ(θ)Ψ(x) and J(θ)ᵀvec(G) agree with torch autograd to 1e-10 relative.",
    reference="DESIGN.md §1 (tensorizable networks f(θ, x) = Φ(θ)Ψ(x))",
    check=check,
)


@pytest.mark.property
@pytest.mark.parametrize("family", FAMILIES)
@given(data=st.data())
def test_tensorized_network_matches_torch(family, data):
    scenario = data.draw(scenarios(families=(family,), data=("free",)), label="scenario")
    enforce(PROPERTY, scenario)
