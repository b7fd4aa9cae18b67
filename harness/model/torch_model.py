"""Models beyond tensorizable networks: any ``torch.nn.Module`` f(θ, x), θ its parameters flattened (issue 11).

The exact engine needs f = Φ(θ)Ψ(x) with Φ polynomial; the autodiff engine (``harness.laws.autodiff``) needs
only f(θ, x) and its derivatives, which torch gives for any module. ``TorchModel`` is that protocol:

* ``module`` (float64 ``torch.nn.Module``; its parameter *values* never matter, θ is passed in) and the
  per-sample shapes ``input_shape`` and ``output_dim``; ``blocks`` lays the module's parameters out over one
  flat θ in ``named_parameters`` order, and ``forward(theta, x)`` evaluates f through
  ``torch.func.functional_call`` on flat input rows x ∈ R^{N×input_dim}, so any group acting on R^{input_dim}
  acts on the data unchanged;
* the group-facing shapes the group catalogue reads from a network (``input_dim``, ``output_dim``,
  ``feature_dim``, ``n_outputs``, ``token_positions``, ``lift_feature_action``, ``lift_token_action``): a token
  model (``tokens=True``) has input (n, d), and feature groups act on each token's d coordinates;
* ``smooth`` (False for ReLU-type activations: the engine then checks the activation pattern,
  ``kink_values``) and the published laws ``_laws(blocks)`` on torch tensors, so that their gradients come
  from autograd.

Zoo models (``harness.model.zoo``) are frozen dataclasses with a spec string; ``network_from_module`` wraps a
module a researcher wrote; ``TensorizableModel`` presents a tensorizable ``Network`` through its
``torch_forward`` so both engines count the same set-up; ``load_module('PATH.py:CLASS')`` is the CLI's
``--module``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from harness.errors import InvalidInput
from harness.model.family import Block, Network

if TYPE_CHECKING:
    import torch

MAX_MODEL_PARAMS = 100_000  # D of a torch model: the autodiff count holds D-vectors per generated field


class TorchModel:
    """f(θ, x) computed by a torch module: the protocol every autodiff model provides (see the module doc)."""

    family: ClassVar[str] = "module"
    usage: ClassVar[str] = "--module path.py:Class"
    tokens: ClassVar[bool] = False  # True: input_shape is (n, d), rows are tokens, token groups can act

    # --- what a model provides -------------------------------------------------------------------------
    def build_module(self) -> torch.nn.Module:
        raise NotImplementedError

    @property
    def input_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def output_dim(self) -> int:
        raise NotImplementedError

    @property
    def smooth(self) -> bool:
        """Whether f is real-analytic in θ (False for ReLU / leaky-ReLU: piecewise, see ``kink_values``)."""
        return True

    def kink_values(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor | None:
        """The pre-activations entering a non-smooth activation (flattened), or None for a smooth model.

        The autodiff count differentiates the smooth piece f is on at (θ, x); it is the same piece in a
        neighbourhood when no entry is 0, which random θ and x give almost surely (genericity).
        """
        return None

    def _laws(self, blocks: Mapping[str, torch.Tensor]) -> tuple[list, list, list[str]]:
        """Published laws as torch scalars: values, scales (the size of the terms they balance) and names."""
        return [], [], []

    # --- derived ---------------------------------------------------------------------------------------
    @cached_property
    def module(self) -> torch.nn.Module:
        import torch

        module = self.build_module()
        if not isinstance(module, torch.nn.Module):
            raise InvalidInput(f"model {self}: build_module returned {type(module).__name__}, not a torch.nn.Module")
        return module

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        blocks, offset = [], 0
        for name, parameter in self.module.named_parameters():
            blocks.append(Block(name, tuple(parameter.shape), offset))
            offset += parameter.numel()
        return tuple(blocks)

    @property
    def n_params(self) -> int:
        return sum(block.size for block in self.blocks)

    @property
    def input_dim(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def feature_dim(self) -> int:
        return self.input_shape[-1] if self.tokens else self.input_dim

    @property
    def token_positions(self) -> int | None:
        return self.input_shape[0] if self.tokens else None

    @property
    def n_outputs(self) -> int:
        """Outputs per loss row: per token for a token model, else all outputs of a sample."""
        return self.output_dim // self.input_shape[0] if self.tokens else self.output_dim

    @property
    def rows_per_sample(self) -> int:
        return self.input_shape[0] if self.tokens else 1

    def lift_feature_action(self, matrix: np.ndarray, *, output: bool = False) -> np.ndarray:
        """The action on a whole input (or output) vector of a matrix acting on one token's features."""
        matrix = np.asarray(matrix)
        return np.kron(np.eye(self.input_shape[0], dtype=matrix.dtype), matrix) if self.tokens else matrix

    def lift_token_action(self, permutation: np.ndarray, *, output: bool = False) -> np.ndarray:
        """The action on a whole input (or output) vector of a permutation of the token positions."""
        if not self.tokens:
            raise InvalidInput(f"model {self} has no token positions to permute")
        permutation = np.asarray(permutation)
        width = self.n_outputs if output else self.input_shape[-1]
        return np.kron(permutation, np.eye(width, dtype=permutation.dtype))

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """The named parameter tensors as views of θ."""
        return {b.name: theta[b.offset : b.offset + b.size].reshape(b.shape) for b in self.blocks}

    def forward(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """f(θ, x) for flat input rows x (N, input_dim): output rows (N, output_dim)."""
        from torch.func import functional_call

        out = functional_call(self.module, self.unflatten(theta), (x.reshape(x.shape[0], *self.input_shape),))
        return out.reshape(x.shape[0], self.output_dim)

    def loss_rows(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """f(θ, x) as the loss's rows (N·rows_per_sample, n_outputs)."""
        return self.forward(theta, x).reshape(-1, self.n_outputs)

    @property
    def n_features(self) -> int:  # what a sample occupies beside its targets (data-size checks read it)
        return self.input_dim // self.rows_per_sample

    def target_rows(self, y: np.ndarray) -> np.ndarray:
        """Target rows (N·rows_per_sample, n_outputs) of per-sample targets y (N, output_dim)."""
        return np.asarray(y).reshape(-1, self.n_outputs)

    def predict(self, theta, x) -> np.ndarray:
        """f(θ, x) in NumPy (teacher targets, reports)."""
        import torch

        with torch.no_grad():
            out = self.forward(torch.tensor(np.asarray(theta, dtype=float)), torch.tensor(np.asarray(x, dtype=float)))
        return out.numpy()

    def loss(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, loss) -> torch.Tensor:
        """L_S(θ) = mean over rows of ℓ(f_r(θ), y_r) for the data set S = (x, y), differentiable in θ."""
        return loss.torch_value(self.loss_rows(theta, x), y.reshape(-1, self.n_outputs))

    def theta_of_module(self) -> np.ndarray:
        """The module's own parameter values as one flat θ (float64)."""
        values = [p.detach().reshape(-1).numpy() for _, p in self.module.named_parameters()]
        return np.concatenate(values) if values else np.zeros(0)

    def random_theta(self, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
        """A generic θ: independent normal entries of standard deviation ``scale`` / √(fan-in) per block."""
        parts = []
        for block in self.blocks:
            fan_in = block.shape[-1] if len(block.shape) > 1 else 1
            parts.append(rng.standard_normal(block.size) * scale / np.sqrt(fan_in))
        return np.concatenate(parts) if parts else np.zeros(0)

    @property
    def law_names(self) -> list[str]:
        import torch

        return self._laws(self.unflatten(torch.zeros(self.n_params, dtype=torch.float64)))[2]

    def known_laws(self, theta) -> tuple[np.ndarray, np.ndarray]:
        """Values h_i(θ) of the published laws and their scales, as for a ``Network``."""
        import torch

        values, scales, _ = self._laws(self.unflatten(torch.as_tensor(np.asarray(theta, dtype=float))))
        as_array = lambda items: np.array([float(v) for v in items], dtype=float)  # noqa: E731
        return as_array(values), as_array(scales)

    def law_function(self, theta: torch.Tensor) -> torch.Tensor:
        """The published laws' values as one tensor (n_laws,), differentiable in θ (for ∇h)."""
        import torch

        values = self._laws(self.unflatten(theta))[0]
        return torch.stack(values) if values else theta.new_zeros(0)

    def check_size(self) -> None:
        if self.n_params > MAX_MODEL_PARAMS:
            raise InvalidInput(
                f"model {self} has D = {self.n_params:,} parameters; the autodiff engine handles at most "
                f"{MAX_MODEL_PARAMS:,}"
            )


class ModuleModel(TorchModel):
    """A researcher's own ``torch.nn.Module`` with its per-sample input shape (``network_from_module``)."""

    def __init__(self, module: Any, input_shape, *, name: str | None = None, tokens: bool = False, smooth=True):
        import torch

        if not isinstance(module, torch.nn.Module):
            raise InvalidInput(
                f"network_from_module needs a torch.nn.Module, got {type(module).__name__} {module!r:.60}"
            )
        shape = _input_shape(input_shape)
        for parameter_name, parameter in module.named_parameters():
            if parameter.dtype != torch.float64:
                raise InvalidInput(
                    f"module {type(module).__name__}: parameter {parameter_name} is {parameter.dtype}; flowlaws "
                    "works in float64 (call module.double() first)"
                )
        if tokens and len(shape) != 2:
            raise InvalidInput(f"a token model needs input_shape (n, d), got {shape}")
        self._module, self._shape, self._tokens, self._smooth = module, shape, tokens, bool(smooth)
        self._name = name or type(module).__name__
        self.__dict__["module"] = module
        self._output_dim = _probe_output(module, shape, self._name)
        self.check_size()

    def build_module(self):
        return self._module

    input_shape = property(lambda self: self._shape)
    output_dim = property(lambda self: self._output_dim)
    smooth = property(lambda self: self._smooth)

    @property
    def tokens(self) -> bool:  # type: ignore[override]
        return self._tokens

    def kink_values(self, theta, x):
        """The module's own ``kink_values(x)`` (its pre-activations of ReLU-type units) evaluated at θ, when it
        defines one; else None (a non-smooth module without it cannot have its activation pattern checked)."""
        import torch
        from torch.func import functional_call

        if self._smooth or not callable(getattr(self._module, "kink_values", None)):
            return None
        module = self._module

        class Kinks(torch.nn.Module):  # functional_call runs forward: route it to the module's kink_values
            def __init__(self):
                super().__init__()
                self.inner = module

            def forward(self, x):
                return getattr(self.inner, "kink_values")(x)  # the user's method (torch types it as a Tensor)

        weights = {f"inner.{name}": value for name, value in self.unflatten(theta).items()}
        values = functional_call(Kinks(), weights, (x.reshape(x.shape[0], *self._shape),))
        return values.reshape(-1)

    def __str__(self) -> str:
        return f"module:{self._name}"

    def __repr__(self) -> str:
        return f"ModuleModel({self._name}, input_shape={self._shape})"


def _input_shape(input_shape) -> tuple[int, ...]:
    items = (input_shape,) if isinstance(input_shape, (int, np.integer)) else input_shape
    try:
        ok = all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in items)
        shape = tuple(int(n) for n in items) if ok else ()
    except TypeError:
        ok, shape = False, ()
    if not ok or not shape or any(n < 1 for n in shape):
        raise InvalidInput(f"input_shape {input_shape!r} must be a positive integer or a tuple of them, e.g. (3,)")
    return shape


def _probe_output(module, shape: tuple[int, ...], name: str) -> int:
    """The per-sample output size, from one forward pass on two zero samples (a wrong shape fails here)."""
    import torch

    try:
        with torch.no_grad():
            out = module(torch.zeros((2, *shape), dtype=torch.float64))
    except Exception as error:  # the module's own error: say which shape it was given
        raise InvalidInput(
            f"module {name} fails on a batch of inputs of shape (N, {', '.join(map(str, shape))}): "
            f"{type(error).__name__}: {error}; pass the per-sample input_shape the module expects"
        ) from None
    if not isinstance(out, torch.Tensor) or out.ndim < 1 or out.shape[0] != 2:
        raise InvalidInput(f"module {name} must return a tensor with the batch first, got {type(out).__name__}")
    if out.dtype != torch.float64:
        raise InvalidInput(f"module {name} returns {out.dtype}; flowlaws works in float64")
    return int(np.prod(out.shape[1:])) if out.ndim > 1 else 1


def network_from_module(module, input_shape, *, name: str | None = None, tokens: bool = False, smooth: bool = True):
    """A ``TorchModel`` for any float64 ``torch.nn.Module`` whose forward maps (N, *input_shape) to (N, ...)."""
    return ModuleModel(module, input_shape, name=name, tokens=tokens, smooth=smooth)


def _shape_text(text: str) -> tuple[int, ...]:
    """``3`` or ``2,3`` (the CLI's ``--input-shape``) as a tuple of sizes."""
    items = text.split(",")
    if not all(item.isascii() and item.isdigit() for item in items):
        raise InvalidInput(f"--input-shape {text!r} must be positive integers separated by commas, e.g. 3 or 2,3")
    return _input_shape(tuple(int(item) for item in items))


def load_module(text: str, input_shape=None) -> TorchModel:
    """The model of ``--module PATH.py:CLASS``: the file imported, ``CLASS()`` built with no arguments.

    The per-sample input shape is ``input_shape`` (a tuple, an int or the CLI's text ``2,3``), else the class's
    ``input_shape`` attribute; the class may also set ``tokens = True`` (input (n, d), token groups act) and
    ``smooth = False`` (ReLU-type activations), with a method ``kink_values(x)`` returning the pre-activations
    of those units so that the activation pattern can be checked. Each way this can fail is one
    ``InvalidInput`` naming it.
    """
    import importlib.util
    import inspect
    import sys
    from pathlib import Path

    import torch

    if not isinstance(text, str) or text.count(":") < 1 or not all(text.rpartition(":")[::2]):
        raise InvalidInput(f"--module {text!r} must be PATH.py:CLASS, e.g. --module my_net.py:Net")
    path_text, _, class_name = text.rpartition(":")
    path = Path(path_text)
    if path.suffix != ".py":
        raise InvalidInput(f"--module {text!r}: {path_text!r} is not a Python file (PATH.py:CLASS)")
    if not path.is_file():
        raise InvalidInput(f"--module {text!r}: no file {path_text!r} (from {Path.cwd()})")
    spec = importlib.util.spec_from_file_location(f"flowlaws_module_{abs(hash(str(path.resolve())))}", path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"--module {text!r}: {path_text!r} cannot be imported as a Python module")
    namespace = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = namespace  # dataclasses and pickling look their module up there
    try:
        spec.loader.exec_module(namespace)
    except Exception as error:  # the file's own error, named
        del sys.modules[spec.name]
        raise InvalidInput(
            f"--module {text!r}: importing {path_text} failed: {type(error).__name__}: {error}"
        ) from None
    cls = getattr(namespace, class_name, None)
    if cls is None:
        found = sorted(n for n, v in vars(namespace).items() if inspect.isclass(v) and issubclass(v, torch.nn.Module))
        raise InvalidInput(
            f"--module {text!r}: {path_text} has no {class_name!r}; its torch.nn.Module classes: "
            f"{', '.join(found) or 'none'}"
        )
    if not (inspect.isclass(cls) and issubclass(cls, torch.nn.Module)):
        raise InvalidInput(f"--module {text!r}: {class_name} is a {type(cls).__name__}, not a torch.nn.Module subclass")
    try:
        module = cls()
    except Exception as error:
        raise InvalidInput(
            f"--module {text!r}: {class_name}() failed ({type(error).__name__}: {error}); the class must be "
            "constructible with no arguments"
        ) from None
    if input_shape is None:
        input_shape = getattr(module, "input_shape", None)
        if input_shape is None:
            raise InvalidInput(
                f"--module {text!r}: no input shape; pass --input-shape (e.g. 3 or 2,3) or set the class "
                f"attribute input_shape = (3,) on {class_name}"
            )
    shape = _shape_text(input_shape) if isinstance(input_shape, str) else input_shape
    tokens, smooth = getattr(module, "tokens", False), getattr(module, "smooth", True)
    return network_from_module(module, shape, name=text, tokens=bool(tokens), smooth=bool(smooth))


class TensorizableModel(TorchModel):
    """A tensorizable ``Network`` seen as a torch model (its ``torch_forward``), for the autodiff engine."""

    def __init__(self, network: Network):
        if not isinstance(network, Network):
            raise InvalidInput(f"TensorizableModel needs a Network, got {type(network).__name__}")
        self.network = network

    def build_module(self):
        import torch

        network = self.network

        class Blocks(torch.nn.Module):
            def __init__(self):
                super().__init__()
                for block in network.blocks:
                    self.register_parameter(
                        block.name, torch.nn.Parameter(torch.zeros(block.shape, dtype=torch.float64))
                    )

            def forward(self, x):
                weights = {block.name: getattr(self, block.name) for block in network.blocks}
                return network.torch_forward(weights, x.reshape(x.shape[0], -1))

        return Blocks()

    input_shape = property(lambda self: (self.network.input_dim,))
    output_dim = property(lambda self: self.network.output_dim)
    feature_dim = property(lambda self: self.network.feature_dim)
    n_outputs = property(lambda self: self.network.n_outputs)
    token_positions = property(lambda self: self.network.token_positions)
    rows_per_sample = property(lambda self: self.network.rows_per_sample)
    mask = property(lambda self: getattr(self.network, "mask", "none"))  # token groups need mask=none

    def lift_feature_action(self, matrix, *, output: bool = False):
        return self.network.lift_feature_action(matrix, output=output)

    def lift_token_action(self, permutation, *, output: bool = False):
        return self.network.lift_token_action(permutation, output=output)

    def known_laws(self, theta):
        return self.network.known_laws(theta)

    @property
    def law_names(self) -> list[str]:
        return list(self.network._laws(self.network.unflatten(np.zeros(self.network.n_params)))[2])

    def law_function(self, theta):
        import torch

        blocks = {b.name: theta[b.offset : b.offset + b.size].reshape(b.shape) for b in self.network.blocks}
        values = self.network._laws(blocks)[0]  # type: ignore[arg-type]  (the laws are polynomials: tensors do)
        return torch.stack([torch.as_tensor(v) for v in values]) if values else theta.new_zeros(0)

    def __str__(self) -> str:
        return str(self.network)

    def __repr__(self) -> str:
        return f"TensorizableModel({self.network})"
