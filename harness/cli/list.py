"""``flowlaws list [--json] [--template]``: the properties, network families, groups, output actions and losses.

Properties are discovered, never registered: every ``prop_*.py`` module of the properties folder that
defines a ``PROPERTY`` (a ``harness.verdicts.property.Property``) is one. ``discover_properties`` is shared by
``flowlaws run`` (to select what to run) and ``flowlaws replay`` (to find a stored scenario's check).

The default properties folder is ``<project>/properties`` when the project (``harness.environment``: the
working directory or FLOWLAWS_HOME) has one, else the installed ``properties`` package's folder, which
ships the property template as package data (``flowlaws list --template`` prints it).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.resources
import importlib.util
import json
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from harness import environment
from harness.errors import InvalidInput

TEMPLATE_NAME = "prop_template.py.example"

# What each output action of a group spec does to the targets y (checked against harness.model.groups by
# tests/test_install.py). χ(g) is the sign character; the catalogue defines it on each generator.
OUTPUT_ACTIONS = {
    "trivial": "ρ_out(g) = I: y unchanged (invariant targets); the default when the action is omitted",
    "same": "ρ_out(g) = ρ_in(g): y transformed like x (equivariant targets); needs as many outputs as inputs "
            "(attention: dv = d, each token's output moved like its input; tokens-* groups permute the "
            "output tokens like the input tokens, for any dv)",
    "sign": "ρ_out(g) = χ(g)·I, y ↦ χ(g)·y with χ(g) = det ρ(g) = ±1, ρ(g) the permutation or signed "
            "permutation of the group's own coordinates (attention: of one token's d features, or of the n "
            "token positions for tokens-* groups); so swap: y ↦ −y, cyclic on n coordinates: (−1)^(n−1), "
            "rot:N: +1 (same as /trivial); flip is the exception: χ = −1 (y ↦ −y) for every n, while "
            "spm:-1,...,-n/sign (the same −I) has det = (−1)^n and leaves y unchanged for even n; in a product "
            "A*B each factor's generators keep their own χ",
}


def installed_properties_dir() -> Path | None:
    """The folder of the installed ``properties`` package (found by the import system), or None."""
    spec = importlib.util.find_spec("properties")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def default_properties_dir() -> Path:
    """``<project>/properties`` if that folder exists, else the installed ``properties`` package's folder."""
    local = environment.project_dir() / "properties"
    if local.is_dir():
        return local
    installed = installed_properties_dir()
    if installed is None:
        raise InvalidInput(f"no properties folder: {str(local)!r} does not exist and no 'properties' package is "
                           "installed; pass --properties-dir")
    return installed


def property_template() -> str:
    """The text of the property template, shipped as package data of ``properties``."""
    return importlib.resources.files("properties").joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")



@dataclass(frozen=True)
class DiscoveredProperty:
    """A property found in a ``prop_*.py`` module."""

    property: object  # harness.verdicts.property.Property
    module: str  # the module's stem, e.g. ``prop_augmentation_adds_no_laws``
    path: Path

    @property
    def id(self) -> str:
        return self.property.id


def _import_module_file(path: Path, directory: Path):
    installed = installed_properties_dir()
    if installed is not None and directory.resolve() == installed.resolve():
        return importlib.import_module(f"properties.{path.stem}")
    # Any other properties folder (e.g. a user's own): import by path under a private name so that it
    # never shadows the installed ``properties`` package.
    tag = hashlib.sha1(str(directory.resolve()).encode()).hexdigest()[:10]
    name = f"_flowlaws_properties_{tag}.{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def discover_properties(directory: str | Path | None = None) -> list[DiscoveredProperty]:
    """Every ``PROPERTY`` of the ``prop_*.py`` modules in ``directory`` (default: ``default_properties_dir()``).

    A module that fails to import is one ``InvalidInput`` naming the module and the error.
    """
    from harness.verdicts.property import Property

    directory = Path(directory) if directory is not None else default_properties_dir()
    if not directory.is_dir():
        raise InvalidInput(f"properties folder {str(directory)!r} does not exist")
    found = []
    for path in sorted(directory.glob("prop_*.py")):
        try:
            module = _import_module_file(path, directory)
        except Exception as error:  # a user's property with a bug: say which one, do not crash
            raise InvalidInput(f"property module {path.name} failed to import: {type(error).__name__}: {error}") from None
        prop = getattr(module, "PROPERTY", None)
        if isinstance(prop, Property):
            found.append(DiscoveredProperty(prop, path.stem, path))
    return found


def catalogue(directory: str | Path | None = None) -> dict:
    """What ``flowlaws list`` shows, as plain data."""
    from harness.model.family import FAMILIES
    from harness.model.groups import CATALOGUE
    from harness.model.groups import OUTPUT_ACTIONS as ACTIONS
    from harness.model.losses import LOSSES

    return {
        "properties": [{"id": p.id, "title": p.property.title, "module": p.module,
                        "exploration": p.property.exploration} for p in discover_properties(directory)],
        "families": list(FAMILIES),
        "groups": [{"spec": kind.usage, "description": kind.help} for kind in CATALOGUE.values()],
        "output_actions": [{"name": name, "meaning": OUTPUT_ACTIONS.get(name, "(undocumented)")} for name in ACTIONS],
        "losses": [loss.describe() for loss in LOSSES.values()],
    }


def add_parser(subparsers):
    parser = subparsers.add_parser("list", help="list properties, network families, groups, output actions and losses",
                                   description="List what a campaign can name. Group specs are FACTOR[/ACTION], "
                                               "joined by * (the group generated by all factors).")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--properties-dir", default=None,
                        help="folder of prop_*.py modules (default: ./properties, else the installed properties)")
    parser.add_argument("--template", action="store_true",
                        help="print the property template (e.g. flowlaws list --template > properties/prop_x.py)")
    parser.set_defaults(handler=run)
    return parser


def run(args) -> int:
    if args.template:
        sys.stdout.write(property_template())
        return 0
    listing = catalogue(args.properties_dir)
    if args.json:
        print(json.dumps(listing, indent=1))
        return 0
    print("Properties:")
    for prop in listing["properties"]:
        kind = "  (exploration)" if prop["exploration"] else ""
        print(f"  {prop['id']:<40} {prop['title']}{kind}")
    if not listing["properties"]:
        print("  (none found)")
    print("\nNetwork families: " + ", ".join(listing["families"]))
    names = [action["name"] for action in listing["output_actions"]]
    print("\nGroups (each FACTOR optionally /" + "|/".join(names) + "; products FACTOR*FACTOR):")
    for group in listing["groups"]:
        print(f"  {group['spec']:<16} {group['description']}")
    print("\nOutput actions (what g does to the targets y; ρ_in(g) acts on the inputs x):")
    for action in listing["output_actions"]:
        print(textwrap.fill(action["meaning"], width=110, initial_indent=f"  /{action['name']:<8} ",
                            subsequent_indent=" " * 12, break_on_hyphens=False))
    print("\nLosses:")
    for loss in listing["losses"]:
        print(f"  {loss['name']:<14} {loss['class']:<13} {loss['formula']}")
    return 0
