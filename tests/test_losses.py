"""Losses: registry, classes, gradients against finite differences, bad names."""

import numpy as np
import pytest

from harness.errors import InvalidInput
from harness.kernels import losses as kernels
from harness.model.losses import LOSS_CLASSES, LOSSES, Loss, LossClass, TargetDomain, get_loss, losses_of_class


def _inputs(loss, rng):
    if loss.targets == "prob":
        y = rng.dirichlet(np.ones(3), size=4)
        return rng.standard_normal((4, 3)), y
    if loss.targets == "pm1":
        return rng.standard_normal((4, 1)), rng.choice([-1.0, 1.0], size=(4, 1))
    return 2 * rng.standard_normal((4, 2)), rng.standard_normal((4, 2))


@pytest.mark.parametrize("name", list(LOSSES))
def test_gradient_matches_finite_differences(name):
    loss = get_loss(name)
    rng = np.random.default_rng(7)
    f, y = _inputs(loss, rng)
    grad = loss.gradient(f, y)
    step = 1e-6
    for r in range(f.shape[0]):
        for c in range(f.shape[1]):
            e = np.zeros_like(f)
            e[r, c] = step
            fd = (loss.value(f + e, y) - loss.value(f - e, y)) / (2 * step) * f.shape[0]
            assert abs(fd - grad[r, c]) < 1e-6 * max(1.0, abs(fd)), (name, r, c, fd, grad[r, c])


@pytest.mark.parametrize("name", list(LOSSES))
def test_torch_value_and_its_gradient_are_the_compiled_kernels(name):
    """The autodiff engine's torch loss is the kernels' loss: the same value and, by autograd, the same ∇_f ℓ."""
    import torch

    loss = get_loss(name)
    f, y = _inputs(loss, np.random.default_rng(11))
    f[0, 0] = 3.5  # a residual past huber's knee and in logcosh's linear regime
    predictions = torch.tensor(f, requires_grad=True)
    value = loss.torch_value(predictions, torch.tensor(y))
    value.backward()
    assert abs(value.item() - loss.value(f, y)) <= 1e-13 * max(1.0, abs(loss.value(f, y))), name
    assert predictions.grad is not None
    np.testing.assert_allclose(predictions.grad.numpy() * f.shape[0], loss.gradient(f, y), rtol=1e-12, atol=1e-14)


def test_every_class_has_a_loss_and_mse_is_quadratic():
    assert {loss.loss_class for loss in LOSSES.values()} == set(LOSS_CLASSES)
    assert get_loss("mse").degree == 2 and get_loss("quartic").degree == 4
    assert [loss.name for loss in losses_of_class("non-analytic")] == ["huber"]


def test_logcosh_is_stable_for_large_residuals():
    value = get_loss("logcosh").value(np.array([[800.0]]), np.array([[0.0]]))
    assert np.isfinite(value) and abs(value - (800 - np.log(2))) < 1e-9


def test_unknown_loss_names_the_allowed_ones():
    with pytest.raises(InvalidInput, match="unknown loss 'l2'; allowed: mse, quartic, logcosh"):
        get_loss("l2")
    with pytest.raises(InvalidInput, match="unknown loss class"):
        losses_of_class("convex")


def test_cross_entropy_target_checks():
    loss = get_loss("cross-entropy")
    with pytest.raises(InvalidInput, match="at least 2 outputs"):
        loss.check_targets(np.ones((1, 1)), 1)
    with pytest.raises(InvalidInput, match=r"target row 0 \[0.7, 0.7\] sums to 1.4"):
        loss.check_targets(np.array([[0.7, 0.7]]), 2)


def test_cross_entropy_on_sign_flipped_targets_says_what_is_wrong_and_what_is_allowed():
    """flowlaws' own augmented data with a /sign output action: y → −y is no probability vector."""
    loss = get_loss("cross-entropy")
    targets = np.array([[0.25, 0.75], [-0.25, -0.75]])
    with pytest.raises(InvalidInput) as error:
        loss.check_targets(targets, 2)
    message = str(error.value)
    assert "target row 1 [-0.25, -0.75] has a negative entry -0.75" in message
    assert "(such as /sign)" in message and "cannot be combined with cross-entropy" in message
    assert "Allowed: probability targets with /trivial or a permuting /same action" in message


def test_cross_entropy_refuses_flipped_data_from_the_scenario():
    from harness.dynamics.flow import GradientFlow
    from harness.model.scenario import Scenario

    scenario = Scenario("linear:3,2,2", "cross-entropy", "flip/sign", data="augmented", n_samples=3)
    with pytest.raises(InvalidInput, match=r"cross-entropy needs probability targets.*/sign"):
        built = scenario.build()
        GradientFlow(built.network, built.loss, built.data)


def test_a_loss_is_one_record_with_typed_class_and_target_domain():
    for loss in LOSSES.values():
        assert isinstance(loss.loss_class, LossClass) and isinstance(loss.targets, TargetDomain)
        assert loss.describe() == {"name": loss.name, "class": loss.loss_class.value, "formula": loss.formula}
    assert LOSS_CLASSES == ("quadratic", "polynomial", "analytic", "non-analytic")  # the strategies' order
    assert [domain.value for domain in TargetDomain] == ["real", "pm1", "prob"]  # values as stored before
    assert get_loss("mse").loss_class == "quadratic" and f"{get_loss('logistic').targets}" == "pm1"
    assert all(member.message for member in (*LossClass, *TargetDomain))
    # A record given plain strings still holds enum members.
    made = Loss("test-mse", kernels.MSE, "quadratic", "½‖f − y‖²", degree=2, targets="real")  # pyright: ignore[reportArgumentType]  (plain strings are the point)
    assert made.loss_class is LossClass.QUADRATIC and made.targets is TargetDomain.REAL
    with pytest.raises(ValueError):
        Loss("bad", kernels.MSE, "cubic", "?")  # pyright: ignore[reportArgumentType]  (the wrong input is the point)


def test_kernel_ids_are_the_kernels_constants_each_used_once():
    ids = [loss.kernel_id for loss in LOSSES.values()]
    assert sorted(ids) == sorted(kernels.KERNEL_IDS) and len(set(ids)) == len(ids)
    assert get_loss("mse").kernel_id == kernels.MSE == 0  # the integrators' moment path keys on it


@pytest.mark.parametrize(
    "domain, fitting, failing",
    [
        (TargetDomain.REAL, (1, 2, 5), ()),
        (TargetDomain.LABELS, (1,), (2, 3)),
        (TargetDomain.PROBABILITIES, (2, 4), (1,)),
    ],
)
def test_target_domain_says_which_outputs_it_needs(domain, fitting, failing):
    assert all(domain.fits(m) for m in fitting)
    assert not any(domain.fits(m) for m in failing)


def test_targets_made_from_predictions_lie_in_their_domain():
    rows = np.array([[0.5, -2.0, 3.0], [-1.0, 0.0, 1000.0]])
    labels = TargetDomain.LABELS.from_predictions(rows[:, :1])
    assert set(labels.ravel()) <= {-1.0, 1.0} and labels[0, 0] == 1.0 and labels[1, 0] == -1.0
    probabilities = TargetDomain.PROBABILITIES.from_predictions(rows)
    assert np.all(probabilities >= 0) and np.allclose(probabilities.sum(axis=1), 1.0)
    assert np.all(np.isfinite(probabilities))  # shifted before exp: no overflow at 1000
    assert TargetDomain.REAL.from_predictions(rows) is rows
    for name in ("logistic", "cross-entropy"):
        loss = get_loss(name)
        y = loss.targets.from_predictions(rows[:, :1] if loss.targets is TargetDomain.LABELS else rows)
        loss.check_targets(y, y.shape[1])  # what the domain makes, the loss accepts
