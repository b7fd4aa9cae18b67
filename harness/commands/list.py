"""``flowlaws list [--json]``: the properties, network families, groups and losses a campaign can name.

Properties are discovered, never registered: every ``prop_*.py`` module of the properties folder that
defines a ``PROPERTY`` (a ``harness.property.Property``) is one. ``discover_properties`` is shared by
``flowlaws run`` (to select what to run) and ``flowlaws replay`` (to find a stored scenario's check).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InvalidInput

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_PROPERTIES_DIR = PROJECT_ROOT / "properties"


@dataclass(frozen=True)
class DiscoveredProperty:
    """A property found in a ``prop_*.py`` module."""

    property: object  # harness.property.Property
    module: str  # the module's stem, e.g. ``prop_augmentation_adds_no_laws``
    path: Path

    @property
    def id(self) -> str:
        return self.property.id


def _import_module_file(path: Path, directory: Path):
    if directory.resolve() == DEFAULT_PROPERTIES_DIR.resolve():
        return importlib.import_module(f"properties.{path.stem}")
    # A properties folder outside the project (e.g. a user's own): import by path under a private name
    # so that it never shadows the project's ``properties`` package.
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
    """Every ``PROPERTY`` of the ``prop_*.py`` modules in ``directory`` (default: the project's), by module name.

    A module that fails to import is one ``InvalidInput`` naming the module and the error.
    """
    from harness.property import Property

    directory = Path(directory) if directory is not None else DEFAULT_PROPERTIES_DIR
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
    from harness.groups import CATALOGUE, OUTPUT_ACTIONS
    from harness.losses import LOSSES
    from harness.networks import FAMILIES

    return {
        "properties": [{"id": p.id, "title": p.property.title, "module": p.module,
                        "exploration": p.property.exploration} for p in discover_properties(directory)],
        "families": list(FAMILIES),
        "groups": [{"spec": spec, "description": text} for spec, text in CATALOGUE.items()],
        "output_actions": list(OUTPUT_ACTIONS),
        "losses": [{"name": loss.name, "class": loss.loss_class, "formula": loss.formula}
                   for loss in LOSSES.values()],
    }


def add_parser(subparsers):
    parser = subparsers.add_parser("list", help="list properties, network families, groups and losses")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--properties-dir", default=None, help="folder of prop_*.py modules (default: properties/)")
    parser.set_defaults(handler=run)
    return parser


def run(args) -> int:
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
    print("\nGroups (each optionally /" + "|/".join(listing["output_actions"]) + ", products with *):")
    for group in listing["groups"]:
        print(f"  {group['spec']:<16} {group['description']}")
    print("\nLosses:")
    for loss in listing["losses"]:
        print(f"  {loss['name']:<14} {loss['class']:<13} {loss['formula']}")
    return 0
