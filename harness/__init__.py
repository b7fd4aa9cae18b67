"""flowlaws' engine: networks, groups, data, losses, flows, counting, laws, verdicts, reports.

The public API, for notebooks and scripts, is the names in ``__all__`` (kept stable; everything else may
move between releases)::

    from harness import parse_network, parse_group, build_group, get_loss, DataSet, augment
    from harness import GradientFlow, integrate, count_laws, Scenario, Verdict

    net = parse_network("linear:3,1,1")
    count = count_laws(net, "augmented", "mse", build_group("cyclic/trivial", net))
    count.laws, count.free_laws, count.certified

Importing ``harness`` has no side effects. The process-wide set-up (one thread per process, the Numba
cache folder; ``harness.environment.configure``) must happen before numba or torch are imported: the
first use of a public name does it (explicit settings in the environment win), and the ``flowlaws``
command and the pytest plugin call it before anything else.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("flowlaws")  # the one version source: pyproject.toml, through the installed metadata
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"

# Public name -> the module that defines it. Imported on first use (PEP 562), after configure().
_PUBLIC = {
    "configure": "harness.environment",
    "InvalidInput": "harness.errors",
    "Network": "harness.model.family",
    "parse_network": "harness.model.specs",
    "TorchModel": "harness.model.torch_model",
    "network_from_module": "harness.model.torch_model",
    "parse_model": "harness.model.zoo",
    "Group": "harness.model.groups",
    "parse_group": "harness.model.groups",
    "build_group": "harness.model.groups",
    "Loss": "harness.model.losses",
    "get_loss": "harness.model.losses",
    "DataSet": "harness.model.data",
    "augment": "harness.model.data",
    "Scenario": "harness.model.scenario",
    "GradientFlow": "harness.dynamics.flow",
    "integrate": "harness.dynamics.flow",
    "integrate_many": "harness.dynamics.many",
    "ModelFlow": "harness.dynamics.model_flow",
    "integrate_model": "harness.dynamics.model_flow",
    "FlowBatch": "harness.dynamics.many",
    "LawCount": "harness.laws.counting",
    "count_laws": "harness.laws.counting",
    "Verdict": "harness.verdicts.verdict",
    "Status": "harness.verdicts.verdict",
}

__all__ = [  # the same names as _PUBLIC (a test checks it), written out for readers and type checkers
    "DataSet",
    "FlowBatch",
    "GradientFlow",
    "Group",
    "InvalidInput",
    "LawCount",
    "Loss",
    "ModelFlow",
    "Network",
    "Scenario",
    "Status",
    "TorchModel",
    "Verdict",
    "__version__",
    "augment",
    "build_group",
    "configure",
    "count_laws",
    "get_loss",
    "integrate",
    "integrate_many",
    "integrate_model",
    "network_from_module",
    "parse_group",
    "parse_model",
    "parse_network",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    from harness import environment

    environment.configure()
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))


if TYPE_CHECKING:  # what type checkers and editors see; at run time the names are loaded lazily
    from harness.dynamics.flow import GradientFlow, integrate
    from harness.dynamics.many import FlowBatch, integrate_many
    from harness.environment import configure
    from harness.errors import InvalidInput
    from harness.laws.counting import LawCount, count_laws
    from harness.model.data import DataSet, augment
    from harness.model.family import Network
    from harness.model.groups import Group, build_group, parse_group
    from harness.model.losses import Loss, get_loss
    from harness.model.scenario import Scenario
    from harness.model.specs import parse_network
    from harness.verdicts.verdict import Status, Verdict
