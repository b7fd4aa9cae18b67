"""``ZooModel``: a torch model named by a spec string, and the spec items the zoo models share."""

from __future__ import annotations

from typing import ClassVar

from harness.errors import InvalidInput
from harness.model.specs import SpecArguments
from harness.model.torch_model import TorchModel

ACTIVATIONS = ("relu", "leaky-relu", "tanh", "gelu", "silu", "linear")
NON_SMOOTH = ("relu", "leaky-relu")  # piecewise linear: the count holds on one activation pattern
HOMOGENEOUS = ("relu", "leaky-relu", "linear")  # σ(a z) = a σ(z) for a > 0: one rescaling law per neuron
LEAKY_SLOPE = 0.1


class ZooModel(TorchModel):
    """Base of the zoo's frozen dataclasses: a spec grammar (``usage``) and its parser (``from_spec``)."""

    family: ClassVar[str]
    usage: ClassVar[str]

    @classmethod
    def from_spec(cls, arguments: SpecArguments) -> ZooModel:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self})"


def activation(name: str):
    """The torch function of a zoo activation name."""
    import torch

    return {
        "relu": torch.relu,
        "leaky-relu": lambda z: torch.nn.functional.leaky_relu(z, LEAKY_SLOPE),
        "tanh": torch.tanh,
        "gelu": torch.nn.functional.gelu,
        "silu": torch.nn.functional.silu,
        "linear": lambda z: z,
    }[name]


def activation_item(arguments: SpecArguments, default: str = "relu", allowed: tuple[str, ...] = ACTIVATIONS) -> str:
    value = arguments.keywords.get("act", default)
    if value not in allowed:
        raise arguments.invalid(f"act={value!r} is not one of {', '.join(allowed)}")
    return value


def flag_item(arguments: SpecArguments, key: str, default: bool) -> bool:
    value = arguments.keywords.get(key, "1" if default else "0")
    if value not in ("0", "1"):
        raise arguments.invalid(f"{key}={value!r} must be 0 or 1")
    return value == "1"


def check_keywords(arguments: SpecArguments, allowed: tuple[str, ...], grammar: str) -> None:
    unknown = sorted(set(arguments.keywords) - set(allowed))
    if unknown:
        raise arguments.invalid(f"unknown item {unknown[0]}=; allowed keys: {', '.join(allowed)} ({grammar})")


def positive_size(value: int, what: str, spec: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{what} = {value!r} in {spec}: sizes must be integers >= 1")
    return value
