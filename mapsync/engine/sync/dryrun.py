"""A connector that reads for real and writes nowhere: what ``mapsync plan`` runs the pass with.

``plan`` is ``run`` with this connector in front of each system and a throwaway copy of the state store
(``StateStore.scratch_copy``), so both execute the same code and cannot disagree (docs/sync.md). Reads
go to the system. A create answers the values sent plus a placeholder id (``new-1``, or ``-1`` for a
numeric id field), or is refused as the system would refuse it when it gives an id that is already
taken; an update answers the record as it would be after the write. Both are remembered, so a record
"created" earlier in the plan can be read and updated again. A delete does nothing. What else a system
may refuse (a value it finds invalid) a plan cannot know: such a record is created in the plan and
quarantined in the run.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from typing import Any

from mapsync.connectors.base import ChangeBatch, Connector, Record, RejectedError
from mapsync.connectors.catalogue import Catalogue


def _deep_merge(record: Record, changes: Mapping[str, Any]) -> Record:
    out = dict(record)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class DryRunConnector:
    """Wraps a real connector: reads pass through, writes are answered as the system would, never sent."""

    def __init__(self, inner: Connector, catalogue: Catalogue) -> None:
        self.inner = inner
        self.name = inner.name
        self.catalogue = catalogue
        self._numbers = itertools.count(1)
        self._written: dict[tuple[str, str], Record] = {}  # what the plan created or updated, by id

    # -- reads ---------------------------------------------------------------------------------------
    def record_id(self, entity: str, record: Mapping[str, Any]) -> str:
        return self.inner.record_id(entity, record)

    def cursor_now(self) -> str:
        return self.inner.cursor_now()

    def read_changes(self, entity: str, cursor: str | None, fields: frozenset[str]) -> ChangeBatch:
        return self.inner.read_changes(entity, cursor, fields)

    def get(self, entity: str, record_id: str) -> Record | None:
        written = self._written.get((entity, str(record_id)))
        if written is not None:
            return copy.deepcopy(written)
        if str(record_id).startswith("new-") or str(record_id).startswith("-"):
            return None
        return self.inner.get(entity, record_id)

    def find(self, entity: str, field_name: str, value: Any) -> list[Record]:
        return self.inner.find(entity, field_name, value)

    # -- writes, answered but not sent ----------------------------------------------------------------
    def create(self, entity: str, values: Mapping[str, Any]) -> Record:
        record = copy.deepcopy(dict(values))
        info = self.catalogue.entity(entity)
        id_field = info.id_field if info is not None else "id"
        given = record.get(id_field)
        if given not in (None, ""):
            # The system refuses an id that is taken (a customer number): so does the plan, by asking it.
            if (entity, str(given)) in self._written or self.inner.get(entity, str(given)) is not None:
                raise RejectedError(f"{entity} {id_field} {given} is already taken (plan)", status=400)
        else:
            number = next(self._numbers)
            id_info = info.field(id_field) if info is not None else None
            record[id_field] = -number if id_info is not None and id_info.type == "integer" else f"new-{number}"
        self._written[(entity, str(record[id_field]))] = record
        return copy.deepcopy(record)

    def update(self, entity: str, record_id: str, changes: Mapping[str, Any]) -> Record:
        current = self.get(entity, record_id) or {}
        record = _deep_merge(current, changes)
        self._written[(entity, str(record_id))] = record
        return copy.deepcopy(record)

    def delete(self, entity: str, record_id: str) -> None:
        self._written.pop((entity, str(record_id)), None)

    def close(self) -> None:
        pass
