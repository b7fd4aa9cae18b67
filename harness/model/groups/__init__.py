"""Finite symmetry groups of the data: the catalogue of group kinds, group specs and the closed groups.

``catalogue`` holds one ``GroupKind`` record per kind (``register_group_kind`` adds one); ``spec`` parses
``cyclic/trivial*flip/sign``-style specs and builds them on a network; ``group`` is the closed ``Group`` of
element pairs (ρ_in(g), ρ_out(g)); ``permutations`` the signed-permutation arithmetic the exact kinds share.
This package's names are the group API that the rest of flowlaws imports.
"""

from harness.model.groups.catalogue import (
    CATALOGUE,
    ActsOn,
    ArgumentChooser,
    GroupKind,
    get_group_kind,
    register_group_kind,
    unregister_group_kind,
)
from harness.model.groups.group import DEFAULT_MAX_BYTES, DEFAULT_ORDER_CAP, Group
from harness.model.groups.permutations import signed_permutation_order
from harness.model.groups.spec import (
    OUTPUT_ACTIONS,
    GroupFactor,
    GroupSpec,
    build_group,
    expected_order,
    factor_dimension,
    factor_order,
    parse_group,
)

__all__ = [
    "CATALOGUE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_ORDER_CAP",
    "OUTPUT_ACTIONS",
    "ActsOn",
    "ArgumentChooser",
    "Group",
    "GroupFactor",
    "GroupKind",
    "GroupSpec",
    "build_group",
    "expected_order",
    "factor_dimension",
    "factor_order",
    "get_group_kind",
    "parse_group",
    "register_group_kind",
    "signed_permutation_order",
    "unregister_group_kind",
]
