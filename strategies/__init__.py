"""Hypothesis strategies for flowlaws scenarios: a small, composable public vocabulary.

``networks()`` → harness ``Network``; ``groups(network)`` → group spec strings acting on it;
``losses(kind, network=, group=)`` → loss names; ``datasets(network, group, loss)`` → ``DataSet``;
``thetas(network)`` → θ ∈ R^D; ``scenarios()`` → ``Scenario`` composed consistently by construction.
Arguments are checked when a strategy is built (``hypothesis.errors.InvalidArgument``); every draw is
labelled (``note``) and ``event()`` records family, group kind, output action, loss class and data class.
``coverage_key(scenario)`` gives (family, group kind, loss class) for the reports. For torch models (issue 11):
``models()`` → zoo ``TorchModel`` (MLPs, SwiGLU, convolutions, residual blocks, softmax attention, mixtures of
experts) and ``model_groups(model)`` → group specs acting on one. The harness never imports this package.
"""

from strategies.data import datasets, thetas
from strategies.groups import group_kind, group_kind_names, groups, output_actions
from strategies.losses import losses
from strategies.models import model_groups, model_kind_names, models
from strategies.networks import networks
from strategies.scenarios import coverage_key, scenario_output_actions, scenarios

__all__ = [
    "coverage_key",
    "datasets",
    "group_kind",
    "group_kind_names",
    "groups",
    "losses",
    "model_groups",
    "model_kind_names",
    "models",
    "networks",
    "output_actions",
    "scenario_output_actions",
    "scenarios",
    "thetas",
]
