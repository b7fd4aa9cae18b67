"""``flowlaws replay FILE``: re-run one stored scenario through its property's check and print the verdict.

FILE is a report's ``scenario.json``: the scenario (spec strings and the stored data set and θ₀) plus the
id of the property that judged it. Exit codes: 0 holds or inconclusive, 1 violated, 2 unreadable or
corrupted file, or a property id that no ``prop_*.py`` module (nor the self-check) defines.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

from harness.errors import InvalidInput
from harness.jsonable import dumps
from harness.model.scenario import SCENARIO_FORMAT, Scenario, read_record
from harness.verdicts.evidence import SERIES_KEY, DriftSeries
from harness.verdicts.property import Property


def add_parser(subparsers):
    parser = subparsers.add_parser("replay", help="re-run a stored scenario.json and print its verdict")
    parser.add_argument("file", metavar="FILE", help="a scenario.json from a report folder")
    parser.add_argument("--property", default=None, help="judge with this property id instead of the stored one")
    parser.add_argument("--properties-dir", default=None, help="folder of prop_*.py modules (default: properties/)")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.set_defaults(handler=run)
    return parser


def find_property(property_id: str, properties_dir: str | Path | None = None) -> Property:
    """The property with this id: a discovered ``prop_*.py`` module's, or the self-check's planted one."""
    from harness.verdicts.discovery import discover_properties
    from harness.verdicts.planted import PLANTED

    if property_id == PLANTED.id:
        return PLANTED
    discovered = discover_properties(properties_dir)
    for found in discovered:
        if found.id == property_id:
            return cast(Property, found.property)
    known = ", ".join(sorted([str(p.id) for p in discovered] + [PLANTED.id]))
    raise InvalidInput(f"scenario names property {property_id!r}, which no property module defines; known: {known}")


def load_stored(path: str | Path) -> tuple[dict, Scenario]:
    """The stored record and its built ``Scenario``; any defect is one ``InvalidInput``.

    The file is read with ``harness.model.scenario.read_record``'s bounds (a regular file of at most 16 MiB,
    UTF-8, strict JSON, no duplicate keys, nesting at most 8 deep), the record is checked field by field,
    and the scenario is built once, so that stored arrays of the wrong shape or an overflowing θ₀ are a
    corrupted file, not a verdict.
    """
    record = read_record(path)
    try:
        scenario = Scenario.from_dict(record)
        scenario.built  # noqa: B018 - the property's verdict reuses this build
    except InvalidInput as error:
        raise InvalidInput(f"scenario file {str(path)!r} is corrupted: {error}") from None
    return record, scenario


def run(args) -> int:
    record = read_record(args.file)
    own_case = isinstance(record, dict) and record.get("format") not in (None, SCENARIO_FORMAT)
    prop = None
    if own_case and (args.property or record.get("property")):
        prop = find_property(args.property or record["property"], args.properties_dir)
        own_case = prop.case_from_dict is not None
    else:
        own_case = False
    if not own_case:  # a Scenario: checked field by field before anything else (another format is refused here)
        record, scenario = load_stored(args.file)
    property_id = args.property or record.get("property")
    if not property_id:
        raise InvalidInput(f"scenario file {args.file!r} names no property; pass --property ID")
    prop = prop or find_property(property_id, args.properties_dir)
    if own_case and prop.case_from_dict is not None:
        try:  # a property's own case (a zoo model, a claim with sizes), read back by the property
            scenario = prop.case_from_dict(record)
        except InvalidInput as error:
            raise InvalidInput(f"case file {str(args.file)!r} is corrupted: {error}") from None
    verdict = prop.verdict(scenario)
    if args.json:
        print(dumps({"property": prop.id, "scenario": str(scenario), **verdict.to_dict()}, indent=1, sort_keys=False))
    else:
        print(f"property: {prop.id}: {prop.title}")
        print(f"scenario: {scenario}")
        print(f"verdict:  {verdict.status.value}: {verdict.reason}")
        evidence = verdict.to_dict()["evidence"]
        drawn = SERIES_KEY if DriftSeries.from_evidence(evidence) is not None else None
        for key, value in evidence.items():
            if key == drawn:  # the drift curves: a report draws them (drift.png), a terminal cannot
                continue
            text = dumps(value, sort_keys=False)
            print(f"  {key}: {text if len(text) <= 200 else text[:200] + ' …'}")
    sys.stdout.flush()
    return 1 if verdict.is_violation else 0
