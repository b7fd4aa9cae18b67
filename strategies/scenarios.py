"""Hypothesis strategy for whole scenarios: network → group acting on it → loss fitting both → data → seed.

A ``harness.model.scenario.Scenario`` names everything by spec strings and draws its arrays (data set, θ₀) from
an integer seed, so a drawn scenario is small to store and replays exactly. The draw is consistent by
construction, in this order:

1. the family, then a group kind and output action that some network of that family within the budget
   admits (a table computed when the strategy is built). The family comes first so that shrinking keeps
   what a condition needs: asked for attention, it lowers the kind to flip without leaving attention
   (drawing the kind first leaves local minima such as tokens-cyclic, which only attention has);
2. a network of that family of the shape the group needs (``strategies.groups.shape_for``);
3. the group of that kind on that network;
4. a loss class and a loss whose targets suit the network and survive the group's output action;
5. the data class (free or G-augmented), the sample count N, the target kind and the seed.

Every choice list starts with its simplest entry and sizes are drawn from small to large, so shrinking
goes toward ``linear:1,1,1 | flip/trivial | free | mse | N=1 | seed=0``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from harness.model.data import DATA_CLASSES, TARGET_KINDS, DataClass
from harness.model.families.attention import ATTENTION_MASKS
from harness.model.family import FAMILIES
from harness.model.groups import OUTPUT_ACTIONS
from harness.model.losses import LOSS_CLASSES, get_loss
from harness.model.scenario import Scenario
from harness.model.specs import parse_network
from strategies.data import SEEDS
from strategies.groups import (
    ALL_KINDS,
    DEFAULT_MAX_ORDER,
    draw_group,
    group_kind,
    group_kind_names,
    output_actions,
    shape_for,
)
from strategies.losses import draw_loss
from strategies.networks import (
    ANY_SHAPE,
    NetworkBudget,
    check_choices,
    check_integer_argument,
    draw_labelled,
    draw_network,
    family_is_feasible,
)


def coverage_key(scenario: Scenario) -> tuple[str, str, str]:
    """(family, group kind, loss class) of a scenario: the axes the theorem properties must range over."""
    return (parse_network(scenario.network).family, group_kind(scenario.group), get_loss(scenario.loss).loss_class)


def scenario_output_actions(scenario: Scenario) -> tuple[str, ...]:
    """The output actions of the scenario's group (empty without a group)."""
    return output_actions(scenario.group)


def _in_canonical_order(chosen: tuple[str, ...], canonical: Iterable[str]) -> tuple[str, ...]:
    # Shrinking goes to the first entry of every choice list, so lists follow the simple-first catalogue
    # order whatever order the caller wrote.
    return tuple(name for name in canonical if name in chosen)


@st.composite
def _scenarios(
    draw,
    table,
    budget: NetworkBudget,
    max_order: int,
    outputs: tuple[str, ...],
    loss_classes: tuple[str, ...],
    data_classes: tuple[str, ...],
    min_samples: int,
    max_samples: int,
    targets: tuple[str, ...],
    theta_scale: float,
) -> Scenario:
    family = draw_labelled(draw, st.sampled_from([family for family, _ in table]), "family")
    kinds = dict(table)[family]
    if kinds is None:  # scenarios without a group
        network = draw_network(draw, family, budget, ANY_SHAPE)
        group = None
        event("group kind: none")
    else:
        kind = draw_labelled(draw, st.sampled_from([kind for kind, _ in kinds]), "group kind")
        output = draw_labelled(draw, st.sampled_from(dict(kinds)[kind]), "output action")
        shape = shape_for(kind, output, max_order)
        assert shape is not None  # the table lists only outputs whose shape_for is a shape
        network = draw_network(draw, family, budget, shape)
        group = draw_group(draw, network, kind, output, max_order, outputs)
    loss = draw_loss(draw, loss_classes, network, group)
    data = draw_labelled(draw, st.sampled_from(data_classes), "data class")
    n_samples = draw_labelled(draw, st.integers(min_samples, max_samples), "samples N")
    target_kind = draw_labelled(draw, st.sampled_from(targets), "targets")
    seed = draw_labelled(draw, SEEDS, "seed")
    event(f"data: {data}")
    scenario = Scenario(
        network=str(network),
        loss=loss,
        group=group,
        data=data,
        n_samples=n_samples,
        seed=seed,
        targets=target_kind,
        theta_scale=theta_scale,
    )
    note(f"scenario: {scenario}")
    return scenario


def scenarios(
    families=FAMILIES,
    group_kinds: str | Iterable[str] | None = ALL_KINDS,
    outputs=OUTPUT_ACTIONS,
    loss_kinds=LOSS_CLASSES,
    data=DATA_CLASSES,
    *,
    max_params: int = 16,
    max_features: int = 27,
    max_degree: int = 3,
    max_layers: int = 3,
    max_tokens: int = 3,
    masks=ATTENTION_MASKS,
    max_order: int = DEFAULT_MAX_ORDER,
    min_samples: int = 1,
    max_samples: int = 8,
    targets=TARGET_KINDS,
    theta_scale: float = 1.0,
) -> st.SearchStrategy[Scenario]:
    """Scenarios (network, group with output action, loss, data class, N, seed) consistent by construction.

    ``families``, ``group_kinds`` (None: no group, free data only), ``outputs``, ``loss_kinds`` (loss
    classes) and ``data`` restrict the axes; the network budget is as in ``networks()`` and |G| <=
    ``max_order``. A family is left out when no network of it within the budget admits any requested group
    kind and output action; none left is an ``InvalidArgument``.
    """
    function = "scenarios"
    families = _in_canonical_order(check_choices(function, "families", families, FAMILIES), FAMILIES)
    outputs = _in_canonical_order(check_choices(function, "outputs", outputs, OUTPUT_ACTIONS), OUTPUT_ACTIONS)
    loss_classes = _in_canonical_order(check_choices(function, "loss_kinds", loss_kinds, LOSS_CLASSES), LOSS_CLASSES)
    data_classes = _in_canonical_order(check_choices(function, "data", data, DATA_CLASSES), DATA_CLASSES)
    targets = _in_canonical_order(check_choices(function, "targets", targets, TARGET_KINDS), TARGET_KINDS)
    budget = NetworkBudget.checked(
        function,
        max_params=max_params,
        max_features=max_features,
        max_degree=max_degree,
        max_layers=max_layers,
        max_tokens=max_tokens,
        masks=masks,
    )
    max_order = check_integer_argument(function, "max_order", max_order, 2)
    min_samples = check_integer_argument(function, "min_samples", min_samples, 1)
    max_samples = check_integer_argument(function, "max_samples", max_samples, min_samples)
    if (
        isinstance(theta_scale, bool)
        or not isinstance(theta_scale, (int, float))
        or not (math.isfinite(theta_scale) and theta_scale > 0)
    ):
        raise InvalidArgument(f"scenarios(theta_scale={theta_scale!r}): theta_scale must be a finite number > 0")

    table = []
    if group_kinds is None:
        if DataClass.AUGMENTED in data_classes:
            raise InvalidArgument(
                f"scenarios(group_kinds=None, data={data!r}): augmented data needs a group; pass data=('free',) "
                "or some group kinds"
            )
        table = [(family, None) for family in families if family_is_feasible(family, budget)]
    else:
        all_kinds = group_kind_names()
        group_kinds = all_kinds if group_kinds == ALL_KINDS else group_kinds
        group_kinds = _in_canonical_order(check_choices(function, "group_kinds", group_kinds, all_kinds), all_kinds)
        for family in families:
            kinds = []
            for kind in group_kinds:
                actions = []
                for output in outputs:
                    shape = shape_for(kind, output, max_order)
                    if shape is not None and family_is_feasible(family, budget, shape):
                        actions.append(output)
                if actions:
                    kinds.append((kind, tuple(actions)))
            if kinds:
                table.append((family, tuple(kinds)))
    if not table:
        raise InvalidArgument(
            f"scenarios(families={families!r}, group_kinds={group_kinds!r}, outputs={outputs!r}, "
            f"max_params={max_params!r}, max_features={max_features!r}, max_order={max_order!r}): no network of these "
            "families within the budget admits any of these group kinds with these output actions (swap, cyclic, spm "
            "need 2 features; dihedral 3; rot an even number; same needs as many outputs as features; tokens-* need "
            "attention without mask)"
        )
    return _scenarios(
        tuple(table),
        budget,
        max_order,
        outputs,
        loss_classes,
        data_classes,
        min_samples,
        max_samples,
        targets,
        float(theta_scale),
    )


__all__ = ["coverage_key", "scenario_output_actions", "scenarios"]
