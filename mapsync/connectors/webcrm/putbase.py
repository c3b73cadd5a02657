"""What a webCRM ``PUT`` is built on, and what it leaves stored: as few requests as are safe.

webCRM's ``PUT`` replaces the whole DTO and webCRM has no ETag, so an update sends the full record with
the changes merged in. Building it on a stale copy would revert what a user changed since (docs/sync.md,
guarantee 2), so the copy must be known current at the moment of the write; and the record the engine
records as the base must be what webCRM then holds. Two things here save requests without giving that up:

- ``ServedRows``: the full records this client served moments ago (a list or ``/Queries`` page), each with
  the instant it was last known current (taken *before* the request that read it). An update is built on
  one instead of a fresh ``GET`` when that instant is at most ``fresh_for`` seconds old. When it is older,
  one ``/Queries`` request proves every served row from that id on current at once: a row it returns was
  changed since (or is the newest of its page) and replaces the served one; the others are confirmed as of
  the moment the check was sent. It asks, per page served, for the rows of that page's id range stamped at
  or after the page's mark: webCRM's own time, the newest ``UpdatedAt`` the page held (webCRM stamps a later
  change later than anything it served before), so no clock skew is to be allowed for and the check answers
  only what changed. Rows of a page without stamps go by the client's clock minus the overlap (which also
  returns the rows changed shortly before they were read). The engine applies records in id order, so the
  check covers the rows still to come and none of the client's own earlier writes; one check runs at a time
  (records applied at once would otherwise each check the same rows). A row is
  used only when it carries every field a ``GET`` of the entity answered in this client (a ``PUT`` leaves
  a field it lacks at its default); until a ``GET`` has shown them, the update reads the record.
- ``stored_as_sent``: whether webCRM keeps a written value exactly as sent, by the field's catalogue type
  (a string, an integer, a boolean, an exact enum option). When every changed value is, the record after
  the ``PUT`` is the body sent and needs no ``GET``; otherwise (a number sent for a string field, a
  ``null`` number, a date, an unknown or read-only field) the client reads it back as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mapsync.connectors.catalogue import EntityCatalogue, FieldInfo
from mapsync.connectors.webcrm.queries import literal, parse_timestamp

Record = dict[str, Any]


@dataclass
class ServedRow:
    record: Record
    as_of: float  # client clock (seconds since the epoch): the record was current at that instant
    mark: str | None = None  # the newest ``UpdatedAt`` of its page, as webCRM wrote it (None: none there)


class ServedRows:
    """Full records served by a client, per entity and integer id, at most ``capacity`` per entity (oldest
    dropped first: a write-back to one costs a ``GET`` again). They are the very dicts the engine was handed
    (it decides a mapping's records before applying any, so it holds them anyway; it never changes them), so
    keeping them costs a reference each while the engine holds them. Thread-safe: records may be applied
    concurrently."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._rows: dict[str, OrderedDict[int, ServedRow]] = {}
        self._dto_fields: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def learn_fields(self, entity: str, record: Mapping[str, Any]) -> None:
        """The fields a ``GET`` of ``entity`` answered: a served row must carry them all to be PUT on."""
        with self._lock:
            self._dto_fields[entity] = self._dto_fields.get(entity, frozenset()) | frozenset(record)

    def complete(self, entity: str, record: Mapping[str, Any]) -> bool:
        known = self._dto_fields.get(entity)
        return known is not None and known <= record.keys()

    def remember(self, entity: str, record_id: int, record: Record, as_of: float, mark: str | None) -> None:
        with self._lock:
            rows = self._rows.setdefault(entity, OrderedDict())
            rows[record_id] = ServedRow(record, as_of, mark)  # the row the engine holds itself: no copy
            rows.move_to_end(record_id)
            while len(rows) > self.capacity:
                rows.popitem(last=False)

    def take(self, entity: str, record_id: int) -> ServedRow | None:
        with self._lock:
            return self._rows.get(entity, OrderedDict()).pop(record_id, None)

    def put_back(self, entity: str, record_id: int, row: ServedRow) -> None:
        self.remember(entity, record_id, row.record, row.as_of, row.mark)

    def from_id(self, entity: str, record_id: int) -> dict[int, ServedRow]:
        """The rows served with an id from ``record_id`` on (their record not copied)."""
        with self._lock:
            return {key: ServedRow(row.record, row.as_of, row.mark)
                    for key, row in self._rows.get(entity, OrderedDict()).items() if key >= record_id}

    def confirm(self, entity: str, ids: set[int], as_of: float, changed: Mapping[int, Record]) -> None:
        """A check sent at ``as_of`` covered ``ids``: ``changed`` holds those changed since (current as of the
        check); the others are unchanged, so current as of ``as_of``."""
        with self._lock:
            rows = self._rows.get(entity, OrderedDict())
            for key in ids:
                row = rows.get(key)
                if row is None or row.as_of > as_of:
                    continue  # taken meanwhile, or served again since the check was sent
                if key in changed:
                    rows[key] = ServedRow(changed[key], as_of, row.mark)
                else:
                    row.as_of = as_of


def newest_stamp(rows: list[Any], field: str) -> str | None:
    """The newest ``field`` (an ISO 8601 time) of ``rows`` as written there; None when no row has one."""
    newest: tuple[datetime, str] | None = None
    for row in rows:
        text = row.get(field) if isinstance(row, dict) else None
        if not isinstance(text, str):
            continue
        try:
            instant = parse_timestamp(text)
        except ValueError:
            continue
        if newest is None or instant > newest[0]:
            newest = (instant, text)
    return None if newest is None else newest[1]


def check_script(table: str, id_field: str, updated_field: str, covered: Mapping[int, ServedRow],
                 fallback: str) -> str:
    """The ``/Queries`` script answering the ``covered`` rows changed since they were served: per mark (one a
    page), the rows in its id range stamped at or after it (``fallback``, a time by the client's clock minus
    the overlap, for rows without one). A row is answered by its own page's condition, whatever the others."""
    groups: dict[str | None, tuple[int, int]] = {}
    for key, row in covered.items():
        low, high = groups.get(row.mark, (key, key))
        groups[row.mark] = (min(low, key), max(high, key))
    conditions = [
        f"({id_field} >= {literal(low)} AND {id_field} <= {literal(high)} AND "
        f"{updated_field} >= {literal(fallback if mark is None else mark)})"
        for mark, (low, high) in groups.items()
    ]
    return f"SELECT * FROM {table} WHERE {' OR '.join(conditions)} ORDER BY {id_field} ASC"


def stored_as_sent(info: FieldInfo | None, value: Any) -> bool:
    """Whether webCRM keeps ``value`` written to the field ``info`` exactly as sent (read back equal)."""
    if info is None or info.read_only or info.write_only:
        return False  # ignored on write, kept by the server, or never read back
    if info.type == "string":
        if value is None:
            return True
        return isinstance(value, str) and (info.enum is None or value in info.enum)
    if info.type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if info.type == "number":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and not value.is_integer())
    if info.type == "boolean":
        return isinstance(value, bool)
    return False  # dates and date-times may come back in another form; structures


def all_stored_as_sent(catalogue: EntityCatalogue | None, values: Mapping[str, Any]) -> bool:
    return catalogue is not None and all(stored_as_sent(catalogue.field(k), v) for k, v in values.items())
