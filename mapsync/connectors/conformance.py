"""What the connector conformance suite (``tests/connectors/test_conformance.py``) writes to each connector.

Each connector's folder holds its cases (``mapsync/connectors/<name>/conformance.py``, ``CASES``): one
``ConformanceCase`` per entity the suite exercises, with values the product accepts. The suite runs them
against the connector over its simulator and against the in-memory connector, so adding a connector to the
registry with its folder is all it takes to have it covered (``cases``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ConformanceCase:
    """One entity of one connector, and the values the suite writes to it."""

    connector: str
    entity: str
    create: Mapping[str, Any]  # a record the product accepts
    change: Mapping[str, Any]  # a partial update of one field that ``create`` set
    kept: str  # a field ``create`` set that ``change`` leaves alone
    find_by: str  # a field ``find`` can search by
    unknown_id: str = "999999"
    fields: frozenset[str] = field(default_factory=frozenset)  # fields the rules read


def cases(connector: str) -> tuple[ConformanceCase, ...]:
    """The cases of ``connector`` (``mapsync.connectors.<connector>.conformance.CASES``)."""
    found: tuple[ConformanceCase, ...] = importlib.import_module(f"mapsync.connectors.{connector}.conformance").CASES
    return found
