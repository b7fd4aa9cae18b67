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
    example: ClassVar[str]  # a valid spec, shown by ``flowlaws list`` with its D and law count
    smoothness: ClassVar[str]  # when f is real-analytic in θ, and when piecewise (kinks checked)
    published: ClassVar[str]  # the published laws ``_laws`` returns, with their source

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


def check_activation(model: object, act: str) -> None:
    """Refuse an activation name outside ``ACTIVATIONS`` when a zoo model is built directly (not from a spec)."""
    if act not in ACTIVATIONS:
        raise InvalidInput(f"{type(model).__name__}: act={act!r} is not one of {', '.join(ACTIVATIONS)}")


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


def size_item(arguments: SpecArguments, key: str, default: int | None = None) -> int:
    """A ``KEY=N`` size item (N >= 1); ``default`` when absent (None: the item is required)."""
    if key not in arguments.keywords:
        if default is None:
            raise arguments.invalid(f"{key}= is required")
        return default
    return positive_size(arguments.integer(arguments.keywords[key], key), key, arguments.spec)


def positional_sizes(arguments: SpecArguments, names: tuple[str, ...], grammar: str) -> tuple[int, ...]:
    """Exactly ``len(names)`` positional sizes, each an integer >= 1, named in the error texts."""
    if len(arguments.positional) != len(names):
        raise arguments.invalid(f"needs {len(names)} sizes {','.join(names)} ({grammar})")
    values = tuple(arguments.integer(text, name) for text, name in zip(arguments.positional, names))
    for value, name in zip(values, names):
        positive_size(value, name, arguments.spec)
    return values


# --- published laws shared by the zoo --------------------------------------------------------------------
# A law h is returned with a scale: the size of the terms it balances, so that a drift |Δh| can be judged
# relative to what h is made of (as the tensorizable families do).


def neuron_balances(incoming, outgoing, label: str):
    """‖incoming[j,:]‖² − ‖outgoing[:,j]‖² for each hidden unit j: the law of the rescaling symmetry
    (incoming[j] ↦ λ incoming[j], outgoing[:,j] ↦ outgoing[:,j]/λ) of a positively homogeneous unit."""
    values, scales, names = [], [], []
    for j in range(incoming.shape[0]):
        a, b = (incoming[j] ** 2).sum(), (outgoing[:, j] ** 2).sum()
        values.append(a - b)
        scales.append(a + b)
        names.append(label.format(j=j))
    return values, scales, names


def gram_balances(left, right, label: str):
    """The upper triangle of left leftᵀ − right rightᵀ: the laws of the GL(r) symmetry
    (left ↦ A left, right ↦ A^{-T} right) of a product leftᵀ ⋯ right, r = rows of left and right."""
    gram = left @ left.T - right @ right.T
    rows_left, rows_right = left.norm(dim=1), right.norm(dim=1)
    values, scales, names = [], [], []
    for a in range(gram.shape[0]):
        for b in range(a, gram.shape[1]):
            values.append(gram[a, b])
            scales.append(rows_left[a] * rows_left[b] + rows_right[a] * rows_right[b])
            names.append(label.format(a=a, b=b))
    return values, scales, names
