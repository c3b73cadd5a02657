"""The contract between the engine and every connector client.

A connector reads and writes records of named entities (``organisation``, ``customer``...) as plain
JSON-like dicts in the product's own field names, with wrappers removed (Fortnox ``{"Customer": ...}``)
and value wrappers removed (Visma.net ``{"name": {"value": ...}}``). It never sees rules.

Errors are grouped by what the engine should do about them (after the client's own retries):

- ``TransientError``: try the record again on a later pass (timeouts, 5xx, 429 after retries);
- ``RejectedError``: the target refused this record (4xx with the vendor's code and message);
  quarantine it, keep going;
- ``FatalError``: nothing else can work (auth refused, licence missing); stop the pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

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
