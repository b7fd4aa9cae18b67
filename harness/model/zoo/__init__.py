"""The model zoo: torch models with spec strings (``mlp:2,3,1,act=relu``), one module each, registered here.

``parse_model`` is the one entry for every model the autodiff engine counts: a zoo spec, a tensorizable
family's spec (seen through its ``torch_forward``, ``TensorizableModel``), a ``Network`` or a ``TorchModel``
(such as ``network_from_module``'s). A zoo model is a frozen dataclass deriving from ``ZooModel`` with
``family``, ``usage``, ``from_spec(arguments)`` and ``__str__`` writing the spec back
(``parse_model(str(m)) == m``); adding one is a module here and one ``register_model`` line below.

The zoo (each module's docstring names the paper whose definition it follows and the laws it publishes):
``mlp`` (perceptrons), ``conv`` (1-D circular convolutions, cyclic-equivariant), ``residual`` (x + block),
``softmax-attention`` (one layer, optional rotary encoding), ``swiglu`` (gated feed-forward), ``moe``
(softmax-gated mixture of mlp experts). ``flowlaws list`` shows them with their grammar and laws.
"""

from __future__ import annotations

from harness.errors import InvalidInput
from harness.model.family import FAMILIES, Network
from harness.model.specs import check_spec_text, parse_network, spec_family, split_spec, usage
from harness.model.torch_model import TensorizableModel, TorchModel
from harness.model.zoo.model import ZooModel

ZOO: dict[str, type[ZooModel]] = {}


def register_model(cls: type[ZooModel]) -> type[ZooModel]:
    """Add a zoo model class under its ``family`` name (which no tensorizable family may already use)."""
    if cls.family in ZOO or cls.family in FAMILIES:
        raise InvalidInput(f"model family {cls.family!r} is already registered")
    ZOO[cls.family] = cls
    return cls


def zoo_usage() -> str:
    """The spec grammar of every zoo model, for error texts and ``flowlaws list``."""
    return " · ".join(cls.usage for cls in ZOO.values())


def parse_model(spec) -> TorchModel:
    """The torch model named by ``spec``: a zoo spec, a tensorizable family's spec, a ``Network`` or a model."""
    if isinstance(spec, TorchModel):
        return spec
    if isinstance(spec, Network):
        return TensorizableModel(spec)
    check_spec_text(spec, "model", "mlp:2,3,1")
    family = spec_family(spec)
    if family in FAMILIES:
        return TensorizableModel(parse_network(spec))
    if family not in ZOO:
        raise InvalidInput(f"unknown model spec {spec!r}; use one of: {zoo_usage()} · {usage()}")
    _, arguments = split_spec(spec)
    try:
        model = ZOO[family].from_spec(arguments)
    except InvalidInput as error:
        message = str(error)
        raise InvalidInput(message if spec in message else f"model spec {spec!r}: {message}") from None
    model.check_size()
    return model


# The registry above must exist first; registration order is the order ``flowlaws list`` shows.
from harness.model.zoo.attention import SoftmaxAttention  # noqa: E402
from harness.model.zoo.conv import CircularConvolution  # noqa: E402
from harness.model.zoo.mlp import MLP  # noqa: E402
from harness.model.zoo.moe import MixtureOfExperts  # noqa: E402
from harness.model.zoo.residual import ResidualBlock  # noqa: E402
from harness.model.zoo.swiglu import SwiGLU  # noqa: E402

for _model in (MLP, CircularConvolution, ResidualBlock, SoftmaxAttention, SwiGLU, MixtureOfExperts):
    register_model(_model)

__all__ = [
    "MLP",
    "ZOO",
    "CircularConvolution",
    "MixtureOfExperts",
    "ResidualBlock",
    "SoftmaxAttention",
    "SwiGLU",
    "ZooModel",
    "parse_model",
    "register_model",
    "zoo_usage",
]
