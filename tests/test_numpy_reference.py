"""harness.model.numpy_reference: the one NumPy reference gradient against finite differences and the dense Jacobian."""

import numpy as np
import pytest

from harness.model.losses import get_loss
from harness.model.numpy_reference import loss_gradient
from harness.model.specs import parse_network


def _problem(spec, seed=0):
    network = parse_network(spec)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((5, network.input_dim))
    y = rng.standard_normal((5 * network.rows_per_sample, network.n_outputs)).reshape(5, network.output_dim)
    theta = rng.standard_normal(network.n_params)
    return network, network.features(x), network.target_rows(y), theta


@pytest.mark.parametrize(
    "spec", ["linear:3,2,2", "deep-linear:2,2,2,1", "poly:2,2,1,k=2", "attention:n=2,d=2,dk=1,dv=1"]
)
@pytest.mark.parametrize("loss_name", ["mse", "logcosh"])
def test_gradient_matches_finite_differences_of_the_loss(spec, loss_name):
    network, psi, targets, theta = _problem(spec)
    loss = get_loss(loss_name)

    def value(t):
        return loss.value(psi @ network.phi(t).T, targets)

    step = 1e-6
    numeric = np.array([(value(theta + step * e) - value(theta - step * e)) / (2 * step) for e in np.eye(theta.size)])
    np.testing.assert_allclose(loss_gradient(network, loss, psi, targets, theta), numeric, rtol=1e-6, atol=1e-7)


def test_gradient_is_the_dense_jacobian_formula_and_the_sum_is_rows_times_the_mean():
    network, psi, targets, theta = _problem("linear:3,2,2", seed=3)
    loss = get_loss("cauchy")
    cotangent = loss.gradient(psi @ network.phi(theta).T, targets).T @ psi / psi.shape[0]
    dense = network.polynomial.jacobian(theta).T @ cotangent.reshape(-1)
    mean = loss_gradient(network, loss, psi, targets, theta)
    np.testing.assert_allclose(mean, dense, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        loss_gradient(network, loss, psi, targets, theta, mean=False), psi.shape[0] * mean, rtol=1e-12, atol=1e-14
    )
