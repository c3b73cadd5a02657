"""``RecordStore``: a simulator's data, kept as one JSON document.

Per entity: ``records`` (record by its key, a string), ``modified`` (the ISO UTC time each record
last changed) and any ``side_tables`` a product adds (one value per record, dropped with it). Beside
them, ``counters`` (number series) and ``auth`` (token state, kept by ``clear``). Every access goes
through one re-entrant ``lock``; callers hold it across read-modify-write sequences.

``save`` writes the document atomically (``JsonStateFile``) when a data directory is given; the
store reloads it on construction. Products subclass the store for their own keys, numbering and
stamps (a product's document may name ``modified`` differently: ``modified_key``).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from mapsync.connectors.simkit.persistence import JsonStateFile

Record = dict[str, Any]
Now = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class RecordStore:
    """Thread-safe container; callers hold ``lock`` across read-modify-write sequences."""

    side_tables: ClassVar[tuple[str, ...]] = ()  # attribute names of the products' per-record tables
    modified_key: ClassVar[str] = "modified"  # the name of ``modified`` in the saved document

    records: dict[str, dict[str, Record]]
    modified: dict[str, dict[str, str]]
    counters: dict[str, int]

    def __init__(
        self, data_dir: Path | str | None, *, file_name: str, entities: Sequence[str], now: Now = utc_now
    ) -> None:
        self.lock = threading.RLock()
        self.now = now
        self.entities = tuple(entities)
        self.auth: dict[str, Any] = {}
        self._file = JsonStateFile(data_dir, file_name)
        self._reset()
        self._load()

    # ------------------------------------------------------------------ persistence
    def _reset(self) -> None:
        """Empty tables and counters (products with more state extend this)."""
        self.records = {e: {} for e in self.entities}
        self.modified = {e: {} for e in self.entities}
        for name in self.side_tables:
            setattr(self, name, {e: {} for e in self.entities})
        self.counters = {}

    def _table_names(self) -> dict[str, str]:
        """The attribute name of each per-entity table, by its key in the saved document."""
        return {"records": "records", self.modified_key: "modified", **{name: name for name in self.side_tables}}

    def _load(self) -> None:
        data = self._file.load()
        if not data:
            return
        for key, name in self._table_names().items():
            stored = data.get(key, {})
            setattr(self, name, {e: stored.get(e, {}) for e in self.entities})
        self.counters.update(data.get("counters", {}))
        self._load_extra(data)
        self.auth = dict(data.get("auth", {}))

    def _load_extra(self, data: dict[str, Any]) -> None:
        """Read a product's own keys from the saved document (see ``_extra_state``)."""

    def _extra_state(self) -> dict[str, Any]:
        """A product's own keys for the saved document (written after ``counters``)."""
        return {}

    def save(self) -> None:
        with self.lock:
            tables = {key: getattr(self, name) for key, name in self._table_names().items()}
            self._file.save({**tables, "counters": self.counters, **self._extra_state(), "auth": self.auth})

    def clear(self) -> None:
        """Forget every record and counter (token state is kept)."""
        with self.lock:
            self._reset()
            self.save()

    # ------------------------------------------------------------------ records
    @staticmethod
    def order_key(key: str) -> tuple[int, int | str]:
        """Keys in order: numbers by value first, then the others as text."""
        return (0, int(key)) if key.isdigit() else (1, key)

    def get(self, entity: str, key: int | str) -> Record | None:
        """A copy of the record, or None."""
        with self.lock:
            record = self.records[entity].get(str(key))
            return copy.deepcopy(record) if record is not None else None

    def _set(self, entity: str, key: str, record: Record, when: datetime) -> None:
        """Store ``record`` as is (callers copy) and stamp it as modified ``when``."""
        self.records[entity][key] = record
        self.modified[entity][key] = when.astimezone(UTC).isoformat()

    def delete(self, entity: str, key: int | str) -> bool:
        """Drop the record and its entries in the other tables; whether it existed."""
        with self.lock:
            found = self.records[entity].pop(str(key), None) is not None
            self.modified[entity].pop(str(key), None)
            for name in self.side_tables:
                getattr(self, name)[entity].pop(str(key), None)
            return found

    def modified_at(self, entity: str, key: int | str) -> datetime:
        with self.lock:
            return datetime.fromisoformat(self.modified[entity][str(key)])

    def all_dated(self, entity: str) -> list[tuple[Record, datetime]]:
        """Every record (a copy) with its modification time, in ``order_key`` order."""
        with self.lock:
            keys = sorted(self.records[entity], key=self.order_key)
            return [(copy.deepcopy(self.records[entity][k]), self.modified_at(entity, k)) for k in keys]

    def is_empty(self) -> bool:
        with self.lock:
            return all(not self.records[e] for e in self.entities)

    # ------------------------------------------------------------------ numbering
    def next(self, series: str, *, start: int = 0) -> int:
        """The next value of a counter (the first is ``start + 1``)."""
        with self.lock:
            value = max(self.counters.get(series, start), start) + 1
            self.counters[series] = value
            return value

    def note(self, series: str, value: int) -> None:
        """Keep a counter ahead of a number chosen by the caller."""
        with self.lock:
            self.counters[series] = max(self.counters.get(series, 0), value)
