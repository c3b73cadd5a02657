"""An in-memory connector: the ``Connector`` contract over dicts, no HTTP, every call counted.

``mapsync test`` runs rule tests against it (the records a test gives are the systems' records), and the
engine's own tests use it as a fake system. Writes behave as the real systems' do where the engine depends
on it: a create returns the stored record with a new id, Fortnox-style line collections get new row ids on
every write (rows kept by id, rows without one new, rows left out removed).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from mapsync.connectors.base import ChangeBatch, NotFoundError, Record, RejectedError
from mapsync.connectors.catalogue import load_catalogue


class MemoryConnector:
    """Records per entity, a version counter for changed-since, and hooks to make writes fail."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.catalogue = load_catalogue(name)
        self.records: dict[str, dict[str, Record]] = {}
        self.versions: dict[tuple[str, str], int] = {}
        self.clock = itertools.count(1)
        self.now = 0
        self.calls: list[tuple[str, str]] = []
        self.reject: dict[str, str] = {}  # field value that makes a write fail -> message
        self.ids = itertools.count(1001)
        self.row_ids = itertools.count(1)

    def _id_field(self, entity: str) -> str:
        ent = self.catalogue.entity(entity)
        assert ent is not None, entity
        return ent.id_field

    def record_id(self, entity: str, record: Mapping[str, Any]) -> str:
        return str(record[self._id_field(entity)])

    def seed(self, entity: str, record: Record) -> Record:
        """Put a record in as if a user made it (counts as a change)."""
        record = dict(record)
        field = self._id_field(entity)
        if field not in record:
            record[field] = next(self.ids) if self.name == "webcrm" else str(next(self.ids))
        rid = str(record[field])
        self.records.setdefault(entity, {})[rid] = record
        self.now = next(self.clock)
        self.versions[(entity, rid)] = self.now
        return record

    def edit(self, entity: str, rid: str, **changes: Any) -> None:
        self.records[entity][rid].update(changes)
        self.now = next(self.clock)
        self.versions[(entity, rid)] = self.now

    def all(self, entity: str) -> list[Record]:
        return list(self.records.get(entity, {}).values())

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] in ("create", "update", "delete")]

    # -- the Connector contract ----------------------------------------------------------------------
    def cursor_now(self) -> str:
        return str(self.now)

    def read_changes(self, entity: str, cursor: str | None, fields: frozenset[str]) -> ChangeBatch:
        self.calls.append(("read", entity))
        since = int(cursor) if cursor else 0
        now = str(self.now)
        records = [copy.deepcopy(r) for rid, r in self.records.get(entity, {}).items()
                   if self.versions[(entity, rid)] > since]

        def gen() -> Iterator[Record]:
            yield from records

        return ChangeBatch(gen(), now)

    def get(self, entity: str, record_id: str) -> Record | None:
        self.calls.append(("get", entity))
        record = self.records.get(entity, {}).get(str(record_id))
        return copy.deepcopy(record) if record is not None else None

    def find(self, entity: str, field_name: str, value: Any) -> list[Record]:
        self.calls.append(("find", entity))
        return [copy.deepcopy(r) for r in self.records.get(entity, {}).values()
                if r.get(field_name) not in (None, "") and str(r.get(field_name)) == str(value)]

    def _check(self, values: Mapping[str, Any]) -> None:
        for value in values.values():
            if isinstance(value, str) and value in self.reject:
                raise RejectedError(self.reject[value], status=400, code="2000359")

    def _rows(self, entity: str, old: Record | None, values: dict[str, Any]) -> dict[str, Any]:
        """Fortnox row rules: rows with only a RowId are kept, with fields updated, without RowId new,
        omitted rows removed, and new RowIds for every row after each write."""
        ent = self.catalogue.entity(entity)
        assert ent is not None
        for name, info in ent.fields.items():
            if not info.lines or name not in values:
                continue
            line_id = self.catalogue.entities[info.lines].id_field
            existing = {str(r[line_id]): r for r in (old or {}).get(name, [])}
            rows = []
            for row in values[name]:
                if line_id in row and str(row[line_id]) in existing:
                    rows.append({**existing[str(row[line_id])], **row})
                else:
                    rows.append({k: v for k, v in row.items() if k != line_id})
            for row in rows:
                row[line_id] = next(self.row_ids)
            values[name] = rows
        return values

    def create(self, entity: str, values: Mapping[str, Any]) -> Record:
        self.calls.append(("create", entity))
        self._check(values)
        return copy.deepcopy(self.seed(entity, self._rows(entity, None, _nested(values))))

    def update(self, entity: str, record_id: str, changes: Mapping[str, Any]) -> Record:
        self.calls.append(("update", entity))
        self._check(changes)
        if str(record_id) not in self.records.get(entity, {}):
            raise NotFoundError(f"{entity} {record_id} not found", status=404)
        old = self.records[entity][str(record_id)]
        changes = self._rows(entity, old, _nested(changes))
        self.edit(entity, str(record_id), **{k: _merged(old.get(k), v) for k, v in changes.items()})
        return copy.deepcopy(self.records[entity][str(record_id)])

    def delete(self, entity: str, record_id: str) -> None:
        self.calls.append(("delete", entity))
        if self.records.get(entity, {}).pop(str(record_id), None) is None:
            raise NotFoundError(f"{entity} {record_id} not found", status=404)

    def close(self) -> None:
        pass


def _nested(values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``values`` with dotted keys (``mainAddress.city``, as the engine writes nested fields) turned
    into nested mappings, as the real clients send them."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        *parents, leaf = str(key).split(".")
        target = out
        for part in parents:
            child = target.get(part)
            if not isinstance(child, dict):
                child = target[part] = {}
            target = child
        target[leaf] = _merged(target.get(leaf), copy.deepcopy(value))
    return out


def _merged(old: Any, new: Any) -> Any:
    """A partial update of a nested mapping keeps the keys it does not name (Visma.net's PUT)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **{k: _merged(old.get(k), v) for k, v in new.items()}}
    return new
