"""Finding a record's partner on the other side: links, match keys, parent keys.

A record with no link is matched by the mapping's ``match`` keys, in order: a unique record on the
other side that is not linked yet is its partner; several are an error (the engine will not guess).
On a first read (no cursor) a side's batch holds every record, so keys are looked up among the
records read (``KeyIndex`` in memory, or the pass's spill on disk) instead of one API ``find`` per
record. A child record (a delivery) gets its parent's id on the other side by translating its
parent key through the parent mapping's links.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any, Protocol

from mapsync.connectors.base import Connector
from mapsync.engine.extractors import MISSING, FieldPath
from mapsync.engine.ruleset import Side
from mapsync.engine.state import Link, StateStore
from mapsync.engine.sync.bound import BoundMapping
from mapsync.engine.sync.fieldmerge import RuleError
from mapsync.engine.sync.values import is_empty

Record = dict[str, Any]


class SkipRecord(Exception):
    """This record is not synced this pass, for the reason given (not an error)."""


def link_of(store: StateStore, mapping: str, side: Side, record_id: str) -> Link | None:
    """The link of a record of ``side`` in ``mapping``, if any."""
    lookup = store.link_by_crm if side is Side.CRM else store.link_by_erp
    return lookup(mapping, record_id)


class RecordsByKey(Protocol):
    """The records of a side read in full, by match-key value: ``KeyIndex``, or ``spill.SpilledKeyIndex``."""

    def find(self, path: FieldPath, value: Any) -> list[Record]: ...


class KeyIndex:
    """All records of one side, indexed on demand by a match-key field (exact text equality, as ``find``)."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.by_field: dict[str, dict[str, list[Record]]] = {}

    def find(self, path: FieldPath, value: Any) -> list[Record]:
        if path.name not in self.by_field:
            index: dict[str, list[Record]] = {}
            for record in self.records:
                key = path.get(record)
                if key is not MISSING and not is_empty(key):
                    index.setdefault(str(key), []).append(record)
            self.by_field[path.name] = index
        return self.by_field[path.name].get(str(value), [])


class Matcher:
    """Match keys and parent keys of one pass; ``complete`` holds the sides read in full this mapping."""

    def __init__(self, connectors: Mapping[Side, Connector], store: StateStore) -> None:
        self.connectors = connectors
        self.store = store
        self.complete: dict[Side, RecordsByKey] = {}
        # records already paired in this pass, not yet linked (a pass keeps them in its spill)
        self.claimed: Container[tuple[Side, str]] = set()

    def match(self, bound: BoundMapping, source: Side, record: Record) -> Record | None:
        """The unlinked record on the other side that the match keys point to, if exactly one."""
        mapping = bound.mapping
        target = source.other
        entity = mapping.entity(target)
        for key in mapping.match:
            value = key.side(source).get(record)
            if value is MISSING or is_empty(value):
                continue
            index = self.complete.get(target)
            candidates = (index.find(key.side(target), value) if index is not None
                          else self.connectors[target].find(entity, key.side(target).name, value))
            free = [c for c in candidates
                    if (target, rid := self.connectors[target].record_id(entity, c)) not in self.claimed
                    and link_of(self.store, mapping.name, target, rid) is None]
            if len(free) > 1:
                raise RuleError(f"{len(free)} {target.value} records have {key.side(target).name} = {value!r}; "
                                "cannot tell which one to link")
            if free:
                return free[0]
        return None

    def parent_value(self, bound: BoundMapping, source: Side, record: Record) -> tuple[FieldPath, Any] | None:
        """The target's parent-key field and value, translated through the parent mapping's links."""
        mapping = bound.mapping
        if mapping.parent_key is None or mapping.parent is None:
            return None
        target = source.other
        source_field = mapping.parent_key.side(source)
        value = source_field.get(record)
        if value is MISSING or is_empty(value):
            raise SkipRecord(f"it has no {source_field.name}, so no {mapping.parent} record")
        link = link_of(self.store, mapping.parent, source, str(value))
        if link is None:
            raise SkipRecord(f"its {source_field.name} {value} is not a synced {mapping.parent} record "
                             "(not linked; check the parent's conditions)")
        parent_id: Any = link.erp_id if target is Side.ERP else link.crm_id
        info = bound.entity(target).field(mapping.parent_key.side(target).name)
        if info is not None and info.type == "integer":
            parent_id = int(parent_id)
        return mapping.parent_key.side(target), parent_id
