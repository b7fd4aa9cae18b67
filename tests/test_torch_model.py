"""Torch models (``harness.model.torch_model``, ``harness.model.zoo``): specs, shapes, gradients, laws, bad input."""

from typing import Any

import numpy as np
import pytest
import torch

from harness.dynamics.flow import GradientFlow
from harness.errors import InvalidInput
from harness.model.data import augment, random_dataset
from harness.model.groups import build_group
from harness.model.losses import get_loss
from harness.model.torch_model import load_module
from harness.model.torch_model import network_from_module as _network_from_module
from harness.model.zoo import parse_model as _parse_model


# Typed Any: build_group and random_dataset are annotated for a ``Network`` (a torch model offers the same
# shapes), and the tests read attributes of the concrete models (``network``).
def parse_model(spec) -> Any:
    return _parse_model(spec)


def network_from_module(module, shape) -> Any:
    return _network_from_module(module, shape)


@pytest.mark.parametrize("spec", ["mlp:2,3,1", "mlp:3,4,4,2,act=tanh,bias=0", "mlp:2,2,1,act=leaky-relu"])
def test_zoo_specs_round_trip(spec):
    model = parse_model(spec)
    assert str(model) == spec and parse_model(str(model)) == model


def test_mlp_shapes_and_parameter_layout():
    model = parse_model("mlp:3,4,2")
    assert model.n_params == 3 * 4 + 4 + 4 * 2 + 2
    assert [b.name for b in model.blocks] == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    theta = torch.tensor(model.random_theta(np.random.default_rng(0)))
    assert model.forward(theta, torch.zeros(5, 3, dtype=torch.float64)).shape == (5, 2)


@pytest.mark.parametrize("spec", ["linear:3,2,2", "deep-linear:2,2,2", "poly:2,2,1,k=2", "attention:n=2,d=2,dk=1,dv=1"])
@pytest.mark.parametrize("loss", ["mse", "logcosh"])
def test_a_tensorizable_family_seen_through_torch_has_the_flows_gradient(spec, loss):
    rng = np.random.default_rng(3)
    model = parse_model(spec)
    data = random_dataset(model.network, 7, rng)
    flow = GradientFlow(model.network, loss, data)
    theta = model.network.random_theta(rng)
    weights = torch.tensor(theta, requires_grad=True)
    model.loss(weights, torch.tensor(data.x), torch.tensor(data.y), get_loss(loss)).backward()
    reference = flow.gradient(theta)
    assert weights.grad is not None
    assert np.abs(weights.grad.numpy() - reference).max() <= 1e-12 * max(1.0, np.abs(reference).max())


@pytest.mark.parametrize(
    "spec", ["mlp:3,4,1", "mlp:2,3,3,2,act=leaky-relu", "mlp:3,2,1,bias=0", "mlp:2,3,1,act=linear"]
)
def test_published_mlp_laws_are_orthogonal_to_every_loss_gradient(spec):
    """∇h · ∇L_S = 0 for every data set S: the rescaling (or Gram) laws are conserved by every gradient flow."""
    rng = np.random.default_rng(5)
    model = parse_model(spec)
    theta = torch.tensor(model.random_theta(rng))
    law_gradients = torch.autograd.functional.jacobian(model.law_function, theta)
    assert law_gradients.shape[0] == len(model.law_names) > 0
    group = build_group("flip/trivial", model)
    for loss in ("mse", "logcosh"):
        data = augment(random_dataset(model, 6, rng), group)
        weights = theta.clone().requires_grad_()
        model.loss(weights, torch.tensor(data.x), torch.tensor(data.y), get_loss(loss)).backward()
        assert weights.grad is not None
        products = law_gradients @ weights.grad
        assert products.abs().max() <= 1e-12 * law_gradients.abs().max() * weights.grad.abs().max(), products


def test_a_wrong_law_is_not_orthogonal():
    """The check above can fail: a tanh network has no rescaling symmetry, so the ReLU law is not conserved."""
    rng = np.random.default_rng(5)
    relu, tanh = parse_model("mlp:3,4,1"), parse_model("mlp:3,4,1,act=tanh")
    theta = torch.tensor(relu.random_theta(rng))
    law_gradients = torch.autograd.functional.jacobian(relu.law_function, theta)
    data = random_dataset(tanh, 6, rng)
    weights = theta.clone().requires_grad_()
    tanh.loss(weights, torch.tensor(data.x), torch.tensor(data.y), get_loss("mse")).backward()
    assert (law_gradients @ weights.grad).abs().max() > 1e-3


class _Tiny(torch.nn.Module):
    def __init__(self, dtype=torch.float64):
        super().__init__()
        self.inner = torch.nn.Linear(3, 2, dtype=dtype)

    def forward(self, x):
        return self.inner(x).tanh().sum(dim=1, keepdim=True)


def test_a_researchers_module_is_a_model():
    model = network_from_module(_Tiny(), (3,))
    assert (model.n_params, model.input_dim, model.output_dim) == (8, 3, 1)
    assert str(model) == "module:_Tiny"
    assert build_group("cyclic/trivial", model).order == 3


@pytest.mark.parametrize(
    ("module", "shape", "fragment"),
    [
        ("not a module", (3,), "needs a torch.nn.Module, got str"),
        (_Tiny(), (4,), "fails on a batch of inputs of shape (N, 4)"),
        (_Tiny(torch.float32), (3,), "is torch.float32; flowlaws works in float64"),
        (_Tiny(), (0,), "must be a positive integer"),
    ],
)
def test_bad_modules_get_one_clear_error(module, shape, fragment):
    with pytest.raises(InvalidInput) as error:
        network_from_module(module, shape)
    assert fragment in str(error.value)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("mlp:2,1", "at least one hidden width"),
        ("mlp:2,0,1", "sizes must be integers >= 1"),
        ("mlp:2,3,1,act=sigmoid", "act='sigmoid' is not one of relu"),
        ("mlp:2,3,1,bias=2", "bias='2' must be 0 or 1"),
        ("mlp:2,3,1,depth=2", "unknown item depth="),
        ("cnn:2,3", "unknown model spec 'cnn:2,3'"),
    ],
)
def test_bad_model_specs_get_one_clear_error(spec, fragment):
    with pytest.raises(InvalidInput) as error:
        parse_model(spec)
    assert fragment in str(error.value)


def test_a_group_that_does_not_fit_the_model_is_refused():
    with pytest.raises(InvalidInput) as error:
        build_group("rot:3/trivial", parse_model("mlp:3,2,1"))
    assert "rot" in str(error.value)


_MODULE_FILE = """
import torch

class Net(torch.nn.Module):
    input_shape = (3,)
    smooth = False

    def __init__(self):
        super().__init__()
        self.inner = torch.nn.Linear(3, 2, dtype=torch.float64)
        self.outer = torch.nn.Linear(2, 1, dtype=torch.float64)

    def forward(self, x):
        return self.outer(torch.relu(self.inner(x)))

    def kink_values(self, x):
        return self.inner(x)

class Single(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = torch.nn.Linear(4, 1)

    def forward(self, x):
        return self.inner(x)

class Shapeless(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = torch.nn.Linear(2, 1, dtype=torch.float64)

    def forward(self, x):
        return self.inner(x)

class NeedsWidth(torch.nn.Module):
    def __init__(self, width):
        super().__init__()

not_a_module = 3

class Plain:
    pass
"""


@pytest.fixture
def module_file(tmp_path):
    path = tmp_path / "my_net.py"
    path.write_text(_MODULE_FILE)
    return path


def test_load_module_imports_the_class_and_reads_its_attributes(module_file):
    model = load_module(f"{module_file}:Net")
    assert (model.n_params, model.input_shape, model.output_dim, model.smooth) == (11, (3,), 1, False)
    assert str(model) == f"module:{module_file}:Net"
    assert load_module(f"{module_file}:Shapeless", "2").input_shape == (2,)


def test_a_modules_own_kink_values_are_evaluated_at_theta(module_file):
    model = load_module(f"{module_file}:Net")
    rng = np.random.default_rng(0)
    theta, x = torch.tensor(model.random_theta(rng)), torch.tensor(rng.standard_normal((4, 3)))
    blocks = model.unflatten(theta)
    expected = x @ blocks["inner.weight"].T + blocks["inner.bias"]
    kinks = model.kink_values(theta, x)
    assert kinks is not None and torch.equal(kinks, expected.reshape(-1))
    assert load_module(f"{module_file}:Shapeless", (2,)).kink_values(theta[:3], x[:, :2]) is None  # smooth


@pytest.mark.parametrize(
    ("item", "shape", "fragment"),
    [
        ("missing.py:Net", None, "no file 'missing.py'"),
        ("{file}", None, "must be PATH.py:CLASS"),
        ("{file}:", None, "must be PATH.py:CLASS"),
        ("{file}:Other", None, "has no 'Other'; its torch.nn.Module classes: NeedsWidth, Net, Shapeless, Single"),
        ("{file}:not_a_module", None, "not_a_module is a int, not a torch.nn.Module subclass"),
        ("{file}:Plain", None, "Plain is a type, not a torch.nn.Module subclass"),
        ("{file}:NeedsWidth", None, "must be constructible with no arguments"),
        ("{file}:Single", (4,), "is torch.float32; flowlaws works in float64"),
        ("{file}:Shapeless", None, "no input shape; pass --input-shape"),
        ("{file}:Shapeless", "2,x", "must be positive integers separated by commas"),
        ("{file}:Net", (4,), "fails on a batch of inputs of shape (N, 4)"),
    ],
)
def test_load_module_bad_input_gets_one_clear_error(module_file, item, shape, fragment):
    with pytest.raises(InvalidInput) as error:
        load_module(item.format(file=module_file), shape)
    assert fragment in str(error.value)


def test_load_module_names_the_files_own_import_error(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import torch\nraise RuntimeError('no GPU here')\n")
    with pytest.raises(InvalidInput) as error:
        load_module(f"{path}:Net")
    assert "importing" in str(error.value) and "RuntimeError: no GPU here" in str(error.value)
