"""The contract between the engine and every connector client.

A connector reads and writes records of named entities (``organisation``, ``customer``...) as plain
JSON-like dicts in the product's own field names, with wrappers removed (Fortnox ``{"Customer": ...}``)
and value wrappers removed (Visma.net ``{"name": {"value": ...}}``). It never sees rules.

Errors are grouped by what the engine should do about them (after the client's own retries):

- ``TransientError``: try the record again on a later pass (timeouts, 5xx, 429 after retries);
- ``RejectedError``: the target refused this record (4xx with the vendor's code and message);
  quarantine it, keep going;
- ``FatalError``: nothing else can work (auth refused, licence missing); stop the pass.

``ConnectorBase`` holds the parts of the contract every client implements alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from mapsync.connectors.fields import top_field
from mapsync.connectors.readcheck import ReadCheck, id_problem

Record = dict[str, Any]


class ConnectorError(Exception):
    """Base of every error a connector raises. ``str()`` never contains secrets."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"code {self.code}")
        return " | ".join(parts)


class TransientError(ConnectorError):
    """Worth retrying later: timeouts, connection resets, 5xx, rate limits that outlasted retries."""


class RejectedError(ConnectorError):
    """The target refused this record (validation, business rule, locked document, not found)."""


class NotFoundError(RejectedError):
    """The record does not exist (any more) in the target."""


class ConflictError(RejectedError):
    """Optimistic concurrency failed (Visma.net ``If-Match``): the record changed since it was read."""


class FatalError(ConnectorError):
    """Nothing more can work in this pass: authentication refused, licence missing, bad base URL."""


@dataclass(frozen=True)
class ChangeBatch:
    """Records changed since a cursor, and the cursor to store once they are all durably handled.

    ``records`` may be a lazy iterator (pages are fetched as it is consumed). ``cursor`` is an opaque
    string the connector understands next time; it is taken *before* reading starts, so a change made
    during the read is seen again next pass (comparison with the base makes re-reads harmless).
    """

    records: Iterator[Record]
    cursor: str
    check: ReadCheck | None = None  # what the read set aside (filled as ``records`` is consumed)

    def kept(self, ids: Callable[[Record], str]) -> list[Record]:
        """Every record read, less those found ambiguous later in the read (two records under one id)."""
        records = list(self.records)
        if self.check is None:
            return records
        return [r for r in records if self.check.keep(ids(r))]


@dataclass(frozen=True)
class EntityInfo:
    """What a connector knows about one of its entities at run time (from its catalogue)."""

    name: str
    id_field: str
    fields: frozenset[str] = field(default_factory=frozenset)


@runtime_checkable
class Connector(Protocol):
    """What the engine calls. Implementations take an ``httpx.Client`` or transport in their constructor."""

    name: str

    def record_id(self, entity: str, record: Mapping[str, Any]) -> str:
        """The id of a record of ``entity`` as a string (CustomerNumber, OrganisationId...)."""
        ...

    def cursor_now(self) -> str:
        """A cursor meaning "from now on" (with the connector's safety overlap)."""
        ...

    def read_changes(self, entity: str, cursor: str | None, fields: frozenset[str]) -> ChangeBatch:
        """Every record of ``entity`` changed since ``cursor`` (all records when ``cursor`` is None).

        ``fields`` are the fields the rules read; when a list response is a reduced subset that lacks
        one of them, the connector fetches the full record.
        """
        ...

    def get(self, entity: str, record_id: str) -> Record | None:
        """One full record, or None when it does not exist."""
        ...

    def find(self, entity: str, field_name: str, value: Any) -> list[Record]:
        """Full records whose ``field_name`` equals ``value`` exactly (used for match keys)."""
        ...

    def create(self, entity: str, values: Mapping[str, Any]) -> Record:
        """Create a record; returns the full record as stored by the target (with its new id)."""
        ...

    def update(self, entity: str, record_id: str, changes: Mapping[str, Any]) -> Record:
        """Partial update: only ``changes`` are sent. Returns the full record after the update."""
        ...

    def delete(self, entity: str, record_id: str) -> None:
        """Delete a record (only entities whose API allows it, e.g. webCRM quotation lines)."""
        ...

    def close(self) -> None:
        """Release the HTTP client."""
        ...


class ConnectorBase:
    """The parts of ``Connector`` every client implements alike, given each entity's id field.

    ``find`` answers an empty value with no records and a search by the id field with ``get``; any
    other search goes to the client's ``_find_by_field``. ``_full_record`` and ``_since`` are steps
    of ``read_changes``.
    """

    name: str

    def _id_field(self, entity_name: str) -> str:
        """The id field of the entity (an unknown entity raises the client's error)."""
        raise NotImplementedError

    def get(self, entity_name: str, record_id: str) -> Record | None:
        raise NotImplementedError

    def _find_by_field(self, entity_name: str, field_name: str, value: Any) -> list[Record]:
        """``find`` for a non-empty ``value`` of a field other than the id field."""
        raise NotImplementedError

    def record_id(self, entity_name: str, record: Mapping[str, Any]) -> str:
        """The id; ``RejectedError`` for a record without a usable one (a lying API: never the id "None")."""
        id_field = self._id_field(entity_name)
        value = record.get(id_field) if isinstance(record, Mapping) else None
        problem = f"it has no {id_field}" if not isinstance(record, Mapping) or id_field not in record else (
            id_problem(value, id_field, integer=False))
        if problem is not None:
            raise RejectedError(f"{self.name}: a {entity_name} record cannot be used: {problem}")
        return str(value)

    def _read_check(self, entity_name: str, *, integer_ids: bool) -> ReadCheck:
        return ReadCheck(self.name, entity_name, self._id_field(entity_name), integer_ids=integer_ids)

    def find(self, entity_name: str, field_name: str, value: Any) -> list[Record]:
        id_field = self._id_field(entity_name)
        if value is None or value == "":
            return []
        if field_name == id_field:
            found = self.get(entity_name, str(value))
            return [found] if found is not None else []
        return self._find_by_field(entity_name, field_name, value)

    def _full_record(self, entity_name: str, item: Record, fields: Iterable[str]) -> Record | None:
        """The list ``item`` when it has every field of ``fields`` (the top-level key of each path),
        else the full record from ``get`` (None when it is gone meanwhile)."""
        if {top_field(f) for f in fields} <= item.keys():
            return item
        return self.get(entity_name, self.record_id(entity_name, item))

    def _since(
        self, cursor: str | None, parse: Callable[[str], datetime], format: Callable[[datetime], str]
    ) -> str | None:
        """A stored ``cursor`` read back (``parse``) and written as the product's filter value
        (``format``); None without a cursor, ``RejectedError`` when it cannot be read."""
        if not cursor:
            return None
        try:
            return format(parse(cursor))
        except ValueError:
            raise RejectedError(f"{self.name}: unreadable cursor {cursor!r}") from None
