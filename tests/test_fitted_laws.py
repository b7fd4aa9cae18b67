"""Candidate polynomial laws (``harness.laws.fitted``): the null space of the stacked conditions, then flows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from harness.errors import InvalidInput
from harness.laws.fitted import FitOutcome, Monomials, fit_polynomial_laws, parameter_names, verify
from harness.model.torch_model import network_from_module
from harness.model.zoo import MLP, parse_model


def published_gradients(model, theta: np.ndarray) -> np.ndarray:
    """∇h(θ) of the model's published laws, (laws, D)."""
    return torch.autograd.functional.jacobian(model.law_function, torch.tensor(theta)).numpy()


def spans_the_published_laws(fitted, model, rng) -> bool:
    """At random θ, the fitted laws' gradients and the published ones' span the same space."""
    for _ in range(3):
        theta = model.random_theta(rng)
        ours, theirs = fitted.gradients(theta), published_gradients(model, theta)
        rank = np.linalg.matrix_rank
        if not rank(ours) == rank(theirs) == rank(np.vstack([ours, theirs])) == len(fitted.texts):
            return False
    return True


class SummedWeights(torch.nn.Module):
    """f(a, b, x) = (a + b + ε b²) x: a − b is a law when ε = 0 (∇L ∝ (1, 1)), and nearly one for small ε."""

    def __init__(self, epsilon: float = 0.0):
        super().__init__()
        self.a = torch.nn.Parameter(torch.ones(1, dtype=torch.float64))
        self.b = torch.nn.Parameter(torch.ones(1, dtype=torch.float64))
        self.epsilon = epsilon

    def forward(self, x):
        return (self.a + self.b + self.epsilon * self.b**2) * x


def test_monomials_count_and_conditions():
    monomials = Monomials(5, 2)
    assert monomials.size == Monomials.count(5, 2) == 6 * 7 // 2 - 1 and Monomials(5, 1).size == 5
    rng = np.random.default_rng(0)
    theta, field = rng.standard_normal(5), rng.standard_normal((1, 5))
    assert np.allclose(monomials.conditions(theta, field)[0], monomials.gradients(theta) @ field[0], atol=1e-14)
    assert monomials.variables(5) == (0, 0) and monomials.variables(6) == (0, 1)


# --- the published laws, found and verified ------------------------------------------------------------------


@pytest.mark.parametrize("data_class,loss,group", [("free", "mse", None), ("augmented", "logcosh", "flip/trivial")])
def test_a_relu_mlp_has_one_quadratic_law_per_hidden_neuron(data_class, loss, group):
    """Marcotte, Gribonval, Peyré (NeurIPS 2023): two-layer ReLU networks, one rescaling law per hidden neuron."""
    model = parse_model("mlp:2,3,1")
    assert isinstance(model, MLP)
    fitted = fit_polynomial_laws(model, data_class, loss, group, seed=3, n_flows=1)
    hidden = model.widths[1]
    assert fitted.outcome is FitOutcome.FOUND and fitted.count == hidden == len(model.law_names), fitted.reason
    assert spans_the_published_laws(fitted, model, np.random.default_rng(2))
    assert fitted.gap.clear and fitted.gap.rank == fitted.monomials.size - hidden
    assert fitted.verified and [v.outcome for v in fitted.verifications] == ["conserved"] * hidden
    assert "layers.0.weight[0,0]² + layers.0.weight[0,1]² + layers.0.bias[0]² − layers.1.weight[0,0]²" in fitted.texts
    record = fitted.to_dict()
    assert record["count"] == hidden and record["verified"] and record["gap"]["index"] == fitted.gap.rank


def test_a_linear_mlp_has_the_gram_laws():
    model = parse_model("mlp:2,3,1,act=linear")
    fitted = fit_polynomial_laws(model, "free", "mse", seed=3, n_flows=0)
    assert fitted.count == len(model.law_names) == 6, fitted.reason  # (W2ᵀW2 − [W1 b1][W1 b1]ᵀ), upper triangle
    assert spans_the_published_laws(fitted, model, np.random.default_rng(4))
    assert not fitted.verified and fitted.verifications == ()  # fitted, not verified: n_flows=0


def test_a_tanh_mlp_has_no_quadratic_law():
    fitted = fit_polynomial_laws("mlp:2,3,1,act=tanh", "free", "mse", seed=5)
    assert fitted.outcome is FitOutcome.NONE and fitted.count == 0 and fitted.texts == (), fitted.reason
    assert fitted.gap.rank == fitted.monomials.size and not fitted.verified


def test_a_linear_law_and_its_square():
    """h = a − b is a law of (a + b)x; at degree 2 so is h² = a² − 2ab + b² (dependent, linearly independent)."""
    model = network_from_module(SummedWeights(), (1,), name="summed")
    linear = fit_polynomial_laws(model, "free", "mse", degree=1, seed=0, n_flows=1)
    assert linear.texts == ("a[0] − b[0]",) and linear.verified, linear
    quadratic = fit_polynomial_laws(model, "free", "mse", degree=2, seed=0, n_flows=0)
    assert quadratic.count == 2, quadratic.texts
    assert quadratic.gradients(np.array([0.3, -0.7])).shape == (2, 2)


def test_a_near_law_is_inconclusive_not_counted():
    """With ε = 1e-8, a − b is almost a law: two spectral gaps (at ε and at round-off), so no count."""
    model = network_from_module(SummedWeights(1e-8), (1,), name="nearly")
    fitted = fit_polynomial_laws(model, "free", "mse", degree=1, seed=0)
    assert fitted.outcome is FitOutcome.INCONCLUSIVE and fitted.count is None, fitted.gap
    assert "two spectral gaps" in fitted.reason and fitted.texts == () and fitted.coefficients.shape == (0, 2)


def test_a_corrupted_fitted_law_is_refuted_along_flows():
    """Fitted is not verified: the verification can fail (a planted wrong coefficient drifts)."""
    fitted = fit_polynomial_laws("mlp:2,3,1", "free", "mse", seed=1, n_flows=0)
    wrong = fitted.coefficients.copy()
    wrong[0] *= np.where(wrong[0] < 0, 0.5, 1.0)  # −‖W2[:,0]‖² becomes −½‖W2[:,0]‖²
    planted = verify(replace(fitted, coefficients=wrong, texts=("wrong",) + fitted.texts[1:]), n_flows=1, seed=2)
    outcomes = [v.outcome for v in planted.verifications]
    assert outcomes == ["drifts", "conserved", "conserved"] and not planted.verified, planted.verifications


def test_parameter_names_follow_the_blocks():
    names = parameter_names(parse_model("mlp:2,3,1"))
    assert names[:3] == ["layers.0.weight[0,0]", "layers.0.weight[0,1]", "layers.0.weight[1,0]"]
    assert names[6:9] == ["layers.0.bias[0]", "layers.0.bias[1]", "layers.0.bias[2]"] and len(names) == 13


@pytest.mark.parametrize(
    "arguments,options,message",
    [
        (("mlp:5,6,1", "free", "mse"), {}, "D = 43 parameters: degree 2 has 989 monomials, above the limit of 860"),
        (("mlp:2,3,1", "free", "mse"), {"degree": 3}, "degree=3 is not allowed; allowed: 1 or 2"),
        (("mlp:2,3,1", "free", "mse"), {"n_points": 10}, "40 conditions cannot determine 104 coefficients"),
        (("mlp:2,3,1", "free", "mse"), {"n_points": 10**6}, "exceed 4,000,000 numbers"),
        (("mlp:2,3,1", "all", "mse"), {}, "data_class 'all' is not one of"),
        (("mlp:2,3,1", "augmented", "mse"), {}, "needs a group"),
        (("mlp:2,3,1", "free", "mse"), {"n_flows": -1}, "n_flows=-1 must be a non-negative integer"),
        (("mlp:2,3,1", "free", "l1"), {}, "unknown loss 'l1'"),
        (("mlp:2,3,1", "augmented", "mse", "cube/trivial"), {}, "cube"),
    ],
)
def test_bad_input_is_refused_before_any_work(arguments, options, message):
    with pytest.raises(InvalidInput) as error:
        fit_polynomial_laws(*arguments, **options)
    assert message in str(error.value)


def test_degree_one_reaches_larger_models():
    fitted = fit_polynomial_laws("mlp:5,6,1", "free", "mse", degree=1, seed=0, n_flows=0)
    assert fitted.outcome is FitOutcome.NONE and fitted.monomials.size == 43  # a ReLU MLP has no linear law
