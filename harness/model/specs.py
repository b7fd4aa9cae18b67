"""Spec strings: the shared character and integer rules, and ``parse_network``, which dispatches on the registry.

A network spec is ``family:ITEMS`` with ITEMS a comma-separated list of positional items and ``KEY=VALUE``
items. This module checks the text, splits the items (``SpecArguments``) and hands them to the family named
before the colon (``FAMILIES``); the family reads its own argument list (``Network.from_spec``). The usage
and error texts list the registered families, so a registered family is parsed and named without an edit here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.errors import InvalidInput
from harness.model.family import DEFAULT_LIMITS, FAMILIES, Network, SizeLimits

MAX_SPEC_LENGTH = 10_000  # characters of a network or group spec string (spm on n coordinates needs ~4n)
MAX_DIGITS = 18  # digits of one size in a spec: any larger number is refused by the size limits anyway
_FAMILY = re.compile(r"([a-z]+(?:-[a-z]+)*):(.*)", re.ASCII | re.DOTALL)
_INTEGER = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:e-?[0-9]+)?", re.ASCII)
_KEY = re.compile(r"[a-z]+", re.ASCII)


def usage() -> str:
    """The spec grammar of every registered family, for error texts and ``flowlaws list``."""
    return " · ".join(cls.usage for cls in FAMILIES.values())


def check_spec_text(spec, kind: str, example: str) -> str:
    """``spec`` if it is a plain ASCII spec string without whitespace, else one ``InvalidInput``.

    Shared by the network and group parsers: Python's ``int`` and ``float`` accept full-width digits,
    ``1_0`` and surrounding spaces, so specs are checked character by character before any number is read.
    """
    if not isinstance(spec, str):
        raise InvalidInput(f"{kind} spec must be a string such as {example}, got {type(spec).__name__} {spec!r:.80}")
    if len(spec) > MAX_SPEC_LENGTH:
        raise InvalidInput(f"{kind} spec of {len(spec):,} characters is longer than {MAX_SPEC_LENGTH}; e.g. {example}")
    if not spec:
        raise InvalidInput(f"{kind} spec '' is empty; e.g. {example}")
    for character in spec:
        if character.isspace():
            raise InvalidInput(f"{kind} spec {spec!r} contains whitespace; write it without spaces, e.g. {example}")
        if not character.isascii() or not character.isprintable():
            raise InvalidInput(
                f"{kind} spec {spec!r} contains the character {character!r}; specs use ASCII letters, digits and "
                f"punctuation only (e.g. {example})"
            )
    return spec


def parse_spec_integer(text: str, what: str, spec: str, kind: str, *, signed: bool = False) -> int:
    """One integer of a spec: ASCII digits without leading zeros or ``_``, at most ``MAX_DIGITS`` digits."""
    body = text[1:] if signed and text.startswith("-") else text
    if not _INTEGER.fullmatch(body):
        allowed = "an integer" if signed else "a non-negative integer"
        raise InvalidInput(f"{what}={text!r} in {kind} spec {spec!r} is not {allowed} (ASCII digits, no leading zeros)")
    if len(body) > MAX_DIGITS:
        raise InvalidInput(f"{what} in {kind} spec {spec!r} has {len(body)} digits; at most {MAX_DIGITS} are allowed")
    return int(text)


@dataclass(frozen=True)
class SpecArguments:
    """The items of a network spec after ``family:``: positional items in order and ``KEY=VALUE`` items."""

    spec: str
    positional: tuple[str, ...]
    keywords: dict[str, str] = field(default_factory=dict)

    def integer(self, text: str, what: str) -> int:
        """A size item. Signed, so that a negative size reaches the family's own "must be an integer >= 1"."""
        return parse_spec_integer(text, what, self.spec, "network", signed=True)

    def decimal(self, text: str, what: str) -> float:
        """A plain decimal item such as 0.5 (no sign, no ``_``, no ``inf``)."""
        if not _NUMBER.fullmatch(text):
            raise InvalidInput(f"{what}={text!r} in network spec {self.spec!r} is not a decimal number such as 0.5")
        return float(text)

    def invalid(self, message: str) -> InvalidInput:
        """The error for an argument list the family does not accept: ``message`` names the grammar."""
        return InvalidInput(f"network spec {self.spec!r}: {message}")


def parse_network(spec: str | Network, *, limits: SizeLimits = DEFAULT_LIMITS) -> Network:
    """The network named by a spec string such as ``linear:3,2,2`` or ``attention:n=4,d=3,dk=2,dv=2``.

    ``limits`` bounds its size (``SizeLimits``); a spec outside them is refused before anything is built.
    """
    if isinstance(spec, Network):
        return spec
    try:
        return _parse_network(spec, limits)
    except InvalidInput as error:
        message = str(error)
        named = "spec" in message or (isinstance(spec, str) and spec in message)
        raise InvalidInput(message if named else f"network spec {spec!r}: {message}") from None


def _parse_network(spec: str, limits: SizeLimits) -> Network:
    check_spec_text(spec, "network", "linear:3,2,2")
    match = _FAMILY.fullmatch(spec)
    if not match or match.group(1) not in FAMILIES:
        raise InvalidInput(f"unknown network spec {spec!r}; use one of: {usage()}")
    family, arguments = split_spec(spec)
    return FAMILIES[family].from_spec(arguments, limits)


def spec_family(spec: str) -> str | None:
    """The family name before the colon of a spec string, or None when the text is not ``family:ITEMS``."""
    match = _FAMILY.fullmatch(spec) if isinstance(spec, str) else None
    return match.group(1) if match else None


def split_spec(spec: str) -> tuple[str, SpecArguments]:
    """``family:ITEMS`` split into the family name and its positional and ``KEY=VALUE`` items (text checked first)."""
    check_spec_text(spec, "network", "linear:3,2,2")
    match = _FAMILY.fullmatch(spec)
    if not match:
        raise InvalidInput(f"network spec {spec!r} is not FAMILY:ITEMS, e.g. linear:3,2,2 or mlp:2,3,1")
    family, body = match.groups()
    positional, keywords = [], {}
    for item in body.split(",") if body else []:
        if not item:
            raise InvalidInput(f"network spec {spec!r} has an empty item (two commas in a row, or one at an end)")
        if "=" in item:
            key, value = item.split("=", 1)
            if not _KEY.fullmatch(key) or not value:
                raise InvalidInput(f"network spec {spec!r}: {item!r} is not KEY=VALUE with a lower-case key")
            if key in keywords:
                raise InvalidInput(f"network spec {spec!r} gives {key}= twice")
            keywords[key] = value
        else:
            positional.append(item)
    return family, SpecArguments(spec, tuple(positional), keywords)
