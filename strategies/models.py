"""Hypothesis strategies for the model zoo: ``models()`` draws torch models, ``model_groups(model)`` groups on them.

``models(kinds=..., activations=..., max_params=300)`` draws a zoo model (``harness.model.zoo``): MLPs with
ReLU, leaky-ReLU, tanh, GELU, SiLU or linear activations, with and without bias; SwiGLU blocks; 1-D circular
convolutions (ReLU or linear); residual blocks; softmax attention layers (one or two heads) with or without
rotary encoding; small mixtures of experts. Each kind is a list of size draws (``_SizeDraw``) and a formula for D, so sizes
are built, not filtered: each size is drawn from the values that still leave room for the smallest
completion within ``max_params``, smallest first. Every choice shrinks toward its first option: within a kind
toward bias=0, the first activation (relu) and the smallest sizes (``mlp:1,1,1,bias=0``); across kinds
Hypothesis prefers fewer choices, so the smallest draw overall is the kind with the fewest sizes.

``model_groups(model)`` draws a group spec from the catalogue that acts on the model by construction (the
same rules as ``strategies.groups``, which read only the shapes a torch model shares with a network):
catalogue groups on the input features, cyclic translations, reflections and flips for a convolution's
signal, token permutations for attention. The harness never imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from harness.errors import InvalidInput
from harness.model.groups import OUTPUT_ACTIONS
from harness.model.torch_model import TorchModel
from harness.model.zoo import parse_model
from harness.model.zoo.model import ACTIVATIONS
from strategies.groups import (
    ALL_KINDS,
    DEFAULT_MAX_ORDER,
    _groups,
    group_kind_names,
    kind_acts_on,
    kind_requirements,
)
from strategies.networks import check_choices, check_integer_argument, draw_labelled

DEFAULT_MAX_PARAMS = 300  # D ≲ 300: an autodiff count of such a model takes seconds


@dataclass(frozen=True)
class _SizeDraw:
    """One size of a kind: its label and range; ``values_of`` may set its values from the sizes drawn before."""

    label: str
    low: int
    high: int
    values_of: Callable[[dict], list[int]] | None = None

    def values(self, drawn: dict) -> list[int]:
        """The allowed values, smallest first."""
        return self.values_of(drawn) if self.values_of is not None else list(range(self.low, self.high + 1))


@dataclass(frozen=True)
class _Kind:
    """A zoo family as the strategies draw it: sizes, flags, D(sizes) and the spec the sizes name."""

    name: str
    sizes: tuple[_SizeDraw, ...]
    n_params: Callable[[dict], int]
    spec: Callable[[dict], str]
    activations: tuple[str, ...] = ()  # drawn as "act" (empty: the kind has no activation)
    flags: tuple[str, ...] = ("bias",)  # drawn as booleans, False first (bias=0 shrinks simplest)


def _mlp_params(s: dict) -> int:
    widths = [s["IN"]] + [s[f"H{i}"] for i in range(1, s["layers"] + 1)] + [s["OUT"]]
    return sum(a * b + b * s["bias"] for a, b in zip(widths, widths[1:]))


def _mlp_spec(s: dict) -> str:
    widths = [s["IN"]] + [s[f"H{i}"] for i in range(1, s["layers"] + 1)] + [s["OUT"]]
    return "mlp:" + ",".join(map(str, widths)) + f",act={s['act']},bias={int(s['bias'])}"


def _hidden_width(i: int) -> _SizeDraw:  # H_i exists only when the drawn depth reaches i (else fixed to 1)
    return _SizeDraw(f"H{i}", 1, 8, lambda s: list(range(1, 9)) if s["layers"] >= i else [1])


_KINDS = {
    kind.name: kind
    for kind in (
        _Kind(
            "mlp",
            (
                _SizeDraw("IN", 1, 4),
                _SizeDraw("layers", 1, 2),
                _hidden_width(1),
                _hidden_width(2),
                _SizeDraw("OUT", 1, 3),
            ),
            _mlp_params,
            _mlp_spec,
            ("relu", "leaky-relu", "tanh", "gelu", "silu", "linear"),
        ),
        _Kind(
            "swiglu",
            (_SizeDraw("IN", 1, 4), _SizeDraw("H", 1, 8), _SizeDraw("OUT", 1, 3)),
            lambda s: 2 * (s["IN"] * s["H"] + s["H"] * s["bias"]) + s["H"] * s["OUT"] + s["OUT"] * s["bias"],
            lambda s: f"swiglu:{s['IN']},{s['H']},{s['OUT']},bias={int(s['bias'])}",
        ),
        _Kind(
            "conv",
            (_SizeDraw("N", 2, 8), _SizeDraw("C", 1, 4), _SizeDraw("k", 1, 8, lambda s: list(range(1, s["N"] + 1)))),
            lambda s: 2 * s["C"] * s["k"] + (s["C"] + 1) * s["bias"],
            lambda s: f"conv:{s['N']},{s['C']},k={s['k']},act={s['act']},bias={int(s['bias'])}",
            ("relu", "linear"),
        ),
        _Kind(
            "residual",
            (_SizeDraw("IN", 1, 4), _SizeDraw("H", 1, 8)),
            lambda s: 2 * s["IN"] * s["H"] + (s["H"] + s["IN"]) * s["bias"],
            lambda s: f"residual:{s['IN']},{s['H']},act={s['act']},bias={int(s['bias'])}",
            ("relu", "leaky-relu", "tanh", "gelu", "silu", "linear"),
        ),
        _Kind(
            "softmax-attention",
            (
                _SizeDraw("n", 2, 4),
                _SizeDraw("d", 1, 3),
                _SizeDraw("dk", 1, 4, lambda s: [2, 4] if s["rope"] else [1, 2, 3]),
                _SizeDraw("dv", 1, 3),
                _SizeDraw("heads", 1, 2),
            ),
            lambda s: 2 * s["heads"] * (s["dk"] + s["dv"]) * s["d"],
            lambda s: (
                f"softmax-attention:n={s['n']},d={s['d']},dk={s['dk']},dv={s['dv']},heads={s['heads']},"
                f"rope={int(s['rope'])}"
            ),
            flags=("rope",),
        ),
        _Kind(
            "moe",
            (_SizeDraw("IN", 1, 3), _SizeDraw("H", 1, 4), _SizeDraw("OUT", 1, 2), _SizeDraw("E", 2, 3)),
            lambda s: (
                s["E"]
                * (
                    s["IN"]
                    + s["bias"]
                    + s["IN"] * s["H"]
                    + s["H"] * s["bias"]
                    + s["H"] * s["OUT"]
                    + s["OUT"] * s["bias"]
                )
            ),
            lambda s: f"moe:{s['IN']},{s['H']},{s['OUT']},{s['E']},act={s['act']},bias={int(s['bias'])}",
            ("relu", "leaky-relu", "tanh", "gelu", "silu", "linear"),
        ),
    )
}


def model_kind_names() -> tuple[str, ...]:
    """The zoo families ``models`` can draw, in the order they are offered and shrunk."""
    return tuple(_KINDS)


def _smallest(kind: _Kind, drawn: dict) -> int:
    """D of the smallest completion of the choices ``drawn`` so far (flags off, every later size lowest)."""
    sizes = {flag: False for flag in kind.flags} | drawn
    for size in kind.sizes:
        if size.label not in sizes:
            sizes[size.label] = size.values(sizes)[0]
    return kind.n_params(sizes)


def _draw_model(draw, kind: _Kind, activations: tuple[str, ...], max_params: int) -> TorchModel:
    """A model of ``kind``: each choice from the values whose smallest completion has D <= max_params."""
    drawn: dict = {}
    for flag in kind.flags:
        options = [False] + ([True] if _smallest(kind, {**drawn, flag: True}) <= max_params else [])
        drawn[flag] = draw_labelled(draw, st.sampled_from(options), flag)
    if kind.activations:
        drawn["act"] = draw_labelled(draw, st.sampled_from([a for a in activations if a in kind.activations]), "act")
    for size in kind.sizes:
        fitting = [v for v in size.values(drawn) if _smallest(kind, {**drawn, size.label: v}) <= max_params]
        drawn[size.label] = draw_labelled(draw, st.sampled_from(fitting), size.label)
    model = parse_model(kind.spec(drawn))
    assert model.n_params == kind.n_params(drawn) <= max_params, (str(model), model.n_params)
    event(f"model family: {kind.name}")
    if kind.activations:
        event(f"activation: {drawn['act']}")
    note(f"model: {model}")
    return model


@st.composite
def _models(draw, kinds: tuple[_Kind, ...], activations: tuple[str, ...], max_params: int) -> TorchModel:
    kind = draw_labelled(draw, st.sampled_from(kinds), "model family")
    return _draw_model(draw, kind, activations, max_params)


def models(
    kinds: str | Iterable[str] = ALL_KINDS, activations=ACTIVATIONS, *, max_params: int = DEFAULT_MAX_PARAMS
) -> st.SearchStrategy[TorchModel]:
    """Zoo models with D <= ``max_params``, e.g. ``mlp:2,3,1,act=relu,bias=1``, as ``TorchModel`` objects.

    ``kinds`` from ``model_kind_names()`` (``"all"``: every one): mlp (1 or 2 hidden layers), swiglu, conv
    (relu or linear), residual, softmax-attention (1 or 2 heads, rope or not), moe (2 or 3 experts). ``activations``
    restricts the activations drawn (kinds with none of them left are dropped; swiglu and attention have
    none to choose). Shrinks toward bias=0, relu and the smallest sizes of a kind.
    """
    function = "models"
    names = check_choices(function, "kinds", model_kind_names() if kinds == ALL_KINDS else kinds, model_kind_names())
    activations = check_choices(function, "activations", activations, ACTIVATIONS)
    ordered = tuple(a for a in ACTIVATIONS if a in activations)  # relu first, whatever the caller's order
    max_params = check_integer_argument(function, "max_params", max_params, 1)
    feasible = tuple(
        _KINDS[name]
        for name in names
        if (not _KINDS[name].activations or set(_KINDS[name].activations) & set(ordered))
        and _smallest(_KINDS[name], {}) <= max_params
    )
    if not feasible:
        smallest = {name: _smallest(_KINDS[name], {}) for name in names}
        raise InvalidArgument(
            f"models(kinds={kinds!r}, activations={activations!r}, max_params={max_params!r}): no model fits; the "
            f"smallest D of each kind: {smallest}"
        )
    return _models(feasible, ordered, max_params)


def check_model_argument(function: str, model) -> TorchModel:
    try:
        return parse_model(model)
    except InvalidInput as error:
        raise InvalidArgument(f"{function}(model={model!r}): {error}") from None


def model_groups(
    model, kinds: str | Iterable[str] = ALL_KINDS, outputs=OUTPUT_ACTIONS, *, max_order: int = DEFAULT_MAX_ORDER
) -> st.SearchStrategy[str]:
    """Group specs (ρ_in, ρ_out) acting on ``model`` (a ``TorchModel`` or a zoo spec) with |G| <= ``max_order``.

    The kinds and output actions of ``strategies.groups.groups``, offered where they act on this model: feature
    groups on the input coordinates (a convolution's N positions: cyclic translations, the dihedral group with
    its reflections, flip, ...; a token model's d features per token), token groups on attention's positions,
    ``same`` only when each row has as many outputs as features. Shrinks toward ``flip/trivial``.
    """
    function = "model_groups"
    model = check_model_argument(function, model)
    all_kinds = group_kind_names()
    kinds = check_choices(function, "kinds", all_kinds if kinds == ALL_KINDS else kinds, all_kinds)
    outputs = check_choices(function, "outputs", outputs, OUTPUT_ACTIONS)
    max_order = check_integer_argument(function, "max_order", max_order, 2)
    ordered_outputs = tuple(o for o in OUTPUT_ACTIONS if o in outputs)
    choices = []
    for kind in (k for k in all_kinds if k in kinds):
        actions = tuple(o for o in ordered_outputs if kind_acts_on(kind, o, model, max_order, ordered_outputs))  # type: ignore[arg-type]
        if actions:
            choices.append((kind, actions))
    if not choices:
        raise InvalidArgument(
            f"model_groups(model={str(model)!r}, kinds={kinds!r}, outputs={outputs!r}, max_order={max_order!r}): "
            f"none of these groups acts on a model with feature dimension {model.feature_dim}, "
            f"{model.token_positions or 'no'} token positions and {model.n_outputs} outputs per row "
            f"({kind_requirements(kinds)}; same needs m = n)"
        )
    return _groups(model, tuple(choices), max_order, ordered_outputs)  # type: ignore[arg-type]


__all__ = ["DEFAULT_MAX_PARAMS", "check_model_argument", "model_groups", "model_kind_names", "models"]
