"""Discovery of properties: every ``prop_*.py`` module of a properties folder that defines a ``PROPERTY``.

Properties are discovered, never registered: every ``prop_*.py`` module of the properties folder that
defines a ``PROPERTY`` (a ``harness.verdicts.property.Property``) is one. ``discover_properties`` is shared by
``flowlaws run`` (to select what to run), ``flowlaws replay`` (to find a stored scenario's check) and
``flowlaws list``.

The default properties folder is ``<project>/properties`` when the project (``harness.environment``: the
working directory or FLOWLAWS_HOME) has one, else the installed ``properties`` package's folder, which
ships the property template as package data (``flowlaws list --template`` prints it). The engine never
imports ``properties`` by name: it finds the folder through the import system and imports files from it.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib
import importlib.resources
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness import environment
from harness.errors import InvalidInput

if TYPE_CHECKING:  # the property protocol (and the model it imports) is loaded only when properties are found
    from harness.verdicts.property import Property

TEMPLATE_NAME = "prop_template.py.example"


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
        raise InvalidInput(
            f"no properties folder: {str(local)!r} does not exist and no 'properties' package is "
            "installed; pass --properties-dir"
        )
    return installed


def property_template() -> str:
    """The text of the property template, shipped as package data of ``properties``."""
    return importlib.resources.files("properties").joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")


@dataclass(frozen=True)
class DiscoveredProperty:
    """A property found in a ``prop_*.py`` module."""

    property: Property
    module: str  # the module's stem, e.g. ``prop_augmentation_adds_no_laws``
    path: Path

    @builtins.property  # the field ``property`` shadows the builtin in the class body
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
    if spec is None or spec.loader is None:
        raise ImportError(f"no module loader for {path}")
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
            raise InvalidInput(
                f"property module {path.name} failed to import: {type(error).__name__}: {error}"
            ) from None
        prop = getattr(module, "PROPERTY", None)
        if isinstance(prop, Property):
            found.append(DiscoveredProperty(prop, path.stem, path))
    return found
