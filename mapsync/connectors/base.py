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
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, Self, runtime_checkable

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


@dataclass(frozen=True)
class CursorFormat:
    """How a connector writes its cursor: ``format`` a time as the product's changed-since filter value,
    ``parse`` a stored cursor back (``ValueError`` when it cannot)."""

    parse: Callable[[str], datetime]
    format: Callable[[datetime], str]


class ConnectorBase:
    """The parts of ``Connector`` every client implements alike, given its ``entities`` (their id fields).

    ``find`` answers an empty value with no records and a search by the id field with ``get``; any
    other search goes to the client's ``_find_by_field``.

    ``read_changes`` is one template for every product:

    1. the new cursor is taken *before* reading (``cursor_now``: the client's clock minus ``overlap``, written
       by ``cursor_format``); the stored cursor is read back (an unreadable one is ``RejectedError``);
    2. the client's ``_changed_pages(entity, since, check)`` lists the records changed since then (``since``
       None: every record), page by page (``mapsync.connectors.http.paging``); when the product refuses the
       changed-since filter before the first page (``RejectedError``) and ``_read_all_when_refused`` says so,
       every record is listed instead;
    3. each row is vetted and de-duplicated by a ``ReadCheck`` (``integer_ids``: the product numbers its
       records);
    4. a row that lacks a field the rules read (``_wanted``), or that ``_complete`` finds wanting, is read in
       full with ``get`` (gone meanwhile: skipped).
    """

    name: str
    entities: Callable[[str], Any]  # the spec of an entity by name (``mapsync.connectors.entityspec.EntityTable``)
    integer_ids: bool = False
    overlap: timedelta
    cursor_format: CursorFormat
    _clock: Callable[[], float]

    @classmethod
    def from_settings(cls, settings: Mapping[str, str], *, token_store: Any = None, **options: Any) -> Self:
        """The client for a rule set's resolved connection settings (``mapsync.connectors.registry``)."""
        raise NotImplementedError

    @classmethod
    def from_env(cls, env: Mapping[str, str], **options: Any) -> Self:
        """The client from settings named as rule sets read them from the environment (``FORTNOX_CLIENT_ID``:
        ``ConnectorSpec.env_name``; empty means unset); ``FatalError`` without a base URL."""
        from mapsync.connectors.registry import CONNECTORS  # the registry imports this module

        spec = CONNECTORS[cls.name]
        settings = {name: env.get(spec.env_name(name)) or "" for name in spec.settings}
        if not settings.get("base_url"):
            raise FatalError(f"{cls.name}: {spec.env_name('base_url')} is not set")
        return cls.from_settings(settings, **options)

    def _id_field(self, entity_name: str) -> str:
        """The id field of the entity (its catalogue's; an unknown entity is ``RejectedError``)."""
        return str(self.entities(entity_name).id_field)

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

    def find(self, entity_name: str, field_name: str, value: Any) -> list[Record]:
        id_field = self._id_field(entity_name)
        if value is None or value == "":
            return []
        if field_name == id_field:
            found = self.get(entity_name, str(value))
            return [found] if found is not None else []
        return self._find_by_field(entity_name, field_name, value)

    # ----------------------------------------------------------------- read_changes
    def cursor_now(self) -> str:
        """A cursor for "from now on": the client's clock minus ``overlap``, as the product's filter value."""
        return self.cursor_format.format(datetime.fromtimestamp(self._clock(), UTC) - self.overlap)

    def read_changes(self, entity_name: str, cursor: str | None, fields: frozenset[str]) -> ChangeBatch:
        check = ReadCheck(self.name, entity_name, self._id_field(entity_name), integer_ids=self.integer_ids)
        new_cursor = self.cursor_now()  # taken before reading
        since = self._since(cursor)
        wanted = self._wanted(entity_name, fields)

        def records() -> Iterator[Record]:
            for page, changed in self._read_pages(entity_name, since, check):
                for record_id, row in check.rows(page):  # set aside: no usable id; kept once: served twice
                    full = row if self._complete(entity_name, row, wanted, changed) else self.get(entity_name,
                                                                                                   record_id)
                    if full is not None and check.full_ok(full, record_id):
                        yield full

        return ChangeBatch(records(), new_cursor, check)

    def _changed_pages(self, entity_name: str, since: str | None, check: ReadCheck) -> Iterator[list[Record]]:
        """The pages of the records of ``entity_name`` changed since ``since`` (None: of every record)."""
        raise NotImplementedError

    def _read_all_when_refused(self, entity_name: str) -> bool:
        """Whether a refused changed-since list is read whole instead (by default: no, the refusal stands)."""
        return False

    def _wanted(self, entity_name: str, fields: Iterable[str]) -> set[str]:
        """The top-level fields a record must have for the rules reading ``fields``."""
        return {top_field(f) for f in fields}

    def _complete(self, entity_name: str, row: Record, wanted: set[str], changed: bool) -> bool:
        """Whether a list ``row`` serves as the record (else it is read in full); ``changed``: the row came from
        the changed-since list (not from a list of every record)."""
        return wanted <= row.keys()

    def _read_pages(self, entity_name: str, since: str | None,
                    check: ReadCheck) -> Iterator[tuple[list[Record], bool]]:
        """``(page, changed)``: the changed-since pages, or every record's when there is no ``since`` or the
        product refused the filter before the first page (``_read_all_when_refused``)."""
        if since is not None:
            changed = self._changed_pages(entity_name, since, check)
            try:
                first = next(changed, None)
            except RejectedError:
                if not self._read_all_when_refused(entity_name):
                    raise
            else:
                if first is not None:
                    yield first, True
                    for page in changed:
                        yield page, True
                return
        for page in self._changed_pages(entity_name, None, check):
            yield page, False

    def _full_record(self, entity_name: str, item: Record, fields: Iterable[str]) -> Record | None:
        """The list ``item`` when it has every field of ``fields`` (the top-level key of each path),
        else the full record from ``get`` (None when it is gone meanwhile)."""
        if self._wanted(entity_name, fields) <= item.keys():
            return item
        return self.get(entity_name, self.record_id(entity_name, item))

    def _since(self, cursor: str | None) -> str | None:
        """A stored ``cursor`` read back and written as the product's filter value (``cursor_format``); None
        without a cursor, ``RejectedError`` when it cannot be read."""
        if not cursor:
            return None
        try:
            return self.cursor_format.format(self.cursor_format.parse(cursor))
        except ValueError:
            raise RejectedError(f"{self.name}: unreadable cursor {cursor!r}") from None
