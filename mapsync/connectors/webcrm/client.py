"""``WebcrmClient``: the webCRM REST API as a ``mapsync.connectors.base.Connector``.

Entities ``organisation``, ``person``, ``delivery``, ``quotation_line``, ``catalogue_item``
(quotation-line linked data) and ``opportunity``, as the DTOs the REST endpoints return.

- Reading changes: with a cursor, ``GET /Queries?script=SELECT * FROM <Table> WHERE
  <Table>UpdatedAt >= '<cursor>' ORDER BY <Id> ASC&formatCustomFields=true``, paged with
  ``Page``/``Size`` until an empty page (ordering by id keeps paging stable while records change);
  without a cursor, the REST list. The new cursor is the client's clock *before* reading minus an
  overlap (default 2 minutes, for clock skew and the unknown time zone handling), as a UTC ISO
  timestamp. Rows missing a requested field are fetched with ``GET``; catalogue items found through
  the generic ``LinkedData`` table are always fetched from ``/QuotationLines/LinkedData/{id}`` (other
  linked data answers 404 and is skipped). If the server refuses the query, everything is listed.
- ``find``: ``/Queries`` with an equality condition, exact comparison on the client (SQL Server
  compares case-insensitively), full records by ``GET``; a scan of the list when the query fails.
- ``update``: PUT replaces the whole DTO, so the client merges the changes into the current record and
  PUTs the full record. The current record is one this client served moments ago when it is known current
  (within ``fresh_for`` seconds, or proven by one ``/Queries`` check covering every served row from its id
  on), else a ``GET``; the record returned is the body sent when webCRM keeps every changed value as sent,
  else a fresh ``GET`` (``mapsync.connectors.webcrm.putbase``).
- ``create``: POST returns the new id; if an ``Organisations`` POST returns no body (not confirmed
  either way), the new organisation is looked up by name among those created since just before. A
  POST that lost a deadlock to a concurrent create (HTTP 500, "Rerun the transaction": nothing was
  created) is retried like an idempotent request; other 5xx answers to a POST are not.
- webCRM's unwritten write rules (``mapsync.connectors.webcrm.simulator.rules``): a person needs a
  last name (the standard rule sets give one); a catalogue item's ``...Data1..9`` cannot be an empty
  string, so the client sends blank ones as ``null`` (slot unused); a person cannot be moved to another
  organisation through the API, so an update that changes ``PersonOrganisationId`` is refused before
  anything is written (``RejectedError``: the record is quarantined with that reason until someone
  moves the person in webCRM, after which it syncs again); an update of a delivery that shares its
  ``DeliveryNumber`` with another is refused by webCRM with a message naming the other delivery.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Unpack

import httpx

from mapsync.connectors.base import (
    ConnectorBase,
    CursorFormat,
    NotFoundError,
    Record,
    RejectedError,
    TransientError,
)
from mapsync.connectors.catalogue import load_catalogue
from mapsync.connectors.fields import same_value
from mapsync.connectors.http import HttpClientBase, HttpOptions, RetryPolicy
from mapsync.connectors.http.paging import PageNumbers
from mapsync.connectors.readcheck import ReadCheck
from mapsync.connectors.webcrm.auth import WebcrmSession
from mapsync.connectors.webcrm.entities import WebcrmEntity, entity
from mapsync.connectors.webcrm.errors import map_error
from mapsync.connectors.webcrm.putbase import ServedRows, all_stored_as_sent, check_script, newest_stamp
from mapsync.connectors.webcrm.queries import format_timestamp, parse_timestamp, select

PAGE_SIZE = 1000
DEADLOCK_MARKERS = ("deadlock", "rerun the transaction")
CATALOGUE_DATA = tuple(f"QuotationLineLinkedDataItemData{n}" for n in range(1, 10))
DEFAULT_OVERLAP = timedelta(minutes=2)
SERVED_PAGES = 10  # full pages of served records kept per entity to PUT on (putbase.ServedRows)
DEFAULT_FRESH_FOR = 2.0  # seconds a served record counts as current for a PUT (decision 0017)
DEFAULT_RETRY = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=20.0, max_retry_after=90.0)


class WebcrmClient(HttpClientBase, ConnectorBase):
    """webCRM connector. ``options``: ``HttpOptions`` (``http`` or ``transport`` for tests, clocks)."""

    name = "webcrm"
    entities = entity
    integer_ids = True
    cursor_format = CursorFormat(parse_timestamp, format_timestamp)

    @classmethod
    def from_settings(cls, settings: Mapping[str, str], *, token_store: Any = None, **options: Any) -> WebcrmClient:
        """The client for a rule set's resolved connection settings (``mapsync.connectors.registry``)."""
        return cls(settings["base_url"], settings["api_token"], **options)

    def __init__(
        self,
        base_url: str,
        api_token: str,
        *,
        rate_limit: tuple[int, float] | None = (250, 60.0),
        retry: RetryPolicy = DEFAULT_RETRY,
        page_size: int = PAGE_SIZE,
        overlap: timedelta = DEFAULT_OVERLAP,
        fresh_for: float = DEFAULT_FRESH_FOR,
        **options: Unpack[HttpOptions],
    ) -> None:
        super().__init__(base_url, map_error=map_error, rate_limit=rate_limit, retry=retry, **options)
        self.page_size = max(1, min(page_size, PAGE_SIZE))
        self._paginator = PageNumbers(self.page_size, page_param="Page", size_param="Size")
        self.overlap = overlap
        self.fresh_for = fresh_for
        self._served = ServedRows(capacity=SERVED_PAGES * PAGE_SIZE)
        self._check_lock = threading.Lock()
        self._page_notes: dict[str, tuple[float, str | None]] = {}  # entity -> (asked at, mark) of the page served
        self.session = WebcrmSession(self.base_url, api_token, self._executor, clock=self._clock)

    # ----------------------------------------------------------------- plumbing
    def _auth_headers(self) -> dict[str, str]:
        return self.session.headers()

    def _renew_auth(self, response: httpx.Response, rejected: dict[str, str]) -> bool:
        if response.status_code != 401:
            return False
        self.session.renew_after(rejected)
        return True

    def _paged(self, path: str, params: Mapping[str, Any] | None = None,
               check: ReadCheck | None = None) -> Iterator[list[Record]]:
        def fetch(query: dict[str, Any]) -> tuple[list[Record], Any]:
            rows = self._json(self._request("GET", path, params=query), path)
            if not isinstance(rows, list):
                raise RejectedError(f"webcrm: {path} did not answer with a list")
            return rows, rows

        return self._paginator.pages(fetch, params or {}, check, path)

    def _query(self, script: str, check: ReadCheck | None = None) -> Iterator[list[Record]]:
        return self._paged("/Queries", {"script": script, "formatCustomFields": "true"}, check)

    def _list(self, spec: WebcrmEntity, check: ReadCheck | None = None) -> Iterator[list[Record]]:
        if spec.paged:
            yield from self._paged(spec.path, check=check)
            return
        rows = self._json(self._request("GET", spec.path), spec.path)
        if rows:
            yield list(rows)

    # ----------------------------------------------------------------- Connector
    def _changed_pages(self, entity_name: str, since: str | None, check: ReadCheck) -> Iterator[list[Record]]:
        """With ``since``: the ``/Queries`` rows changed since then, by the DTO's names; else the REST list."""
        spec = entity(entity_name)
        if since is None:
            return self._noted(entity_name, iter(self._list(spec, check)))
        column = spec.query_column(spec.id_field)
        script = select(spec.table, where=[(spec.updated_field, ">=", since)], order_by=column)
        return self._noted(entity_name, ([spec.from_query_row(row) if isinstance(row, dict) else row for row in page]
                                         for page in self._query(script, check)))

    def _read_all_when_refused(self, entity_name: str) -> bool:
        return True  # the server refused the query: list everything instead

    def _complete(self, entity_name: str, row: Record, wanted: set[str], changed: bool) -> bool:
        """Generic ``LinkedData`` rows (catalogue items by ``/Queries``) are always read in full. A row served as
        it is read is remembered with its page's note, for a later ``update`` to PUT on (``putbase``)."""
        complete = not (changed and entity(entity_name).query_prefix) and wanted <= row.keys()
        if complete:
            as_of, mark = self._page_notes.get(entity_name, (self._clock(), None))
            self._remember(entity_name, row, as_of, mark)
        return complete

    def _noted(self, entity_name: str, pages: Iterator[list[Record]]) -> Iterator[list[Record]]:
        """``pages``, each noted as it is served: when it was asked for and the newest ``UpdatedAt`` on it (its
        mark, in webCRM's own time), for the rows ``_complete`` remembers."""
        column = entity(entity_name).updated_field  # the rows are DTOs by now (REST, or /Queries rows renamed)
        while True:
            asked = self._clock()
            page = next(pages, None)
            if page is None:
                return
            self._page_notes[entity_name] = (asked, newest_stamp(page, column))
            yield page

    def get(self, entity_name: str, record_id: str) -> Record | None:
        spec = entity(entity_name)
        try:
            record = self._json(self._request("GET", f"{spec.path}/{int(record_id)}"), spec.path)
        except NotFoundError:
            return None
        except ValueError:
            return None  # not an int id: cannot exist
        return record if isinstance(record, dict) else None

    def _find_by_field(self, entity_name: str, field_name: str, value: Any) -> list[Record]:
        spec = entity(entity_name)
        ids = None if spec.query_prefix else self._ids_by_query(spec, field_name, value)
        if ids is None:  # generic LinkedData columns, or the query was refused: scan the list
            ids = [
                str(r.get(spec.id_field))
                for page in self._list(spec)
                for r in page
                if same_value(r.get(field_name), value)
            ]
        out: list[Record] = []
        for record_id in dict.fromkeys(ids):
            full = self.get(entity_name, record_id)
            if full is not None and same_value(full.get(field_name), value):
                out.append(full)
        return out

    def _ids_by_query(self, spec: WebcrmEntity, field_name: str, value: Any) -> list[str] | None:
        """Ids of rows whose ``field_name`` equals ``value`` exactly, or None when /Queries refuses."""
        try:
            script = select(spec.table, where=[(field_name, "=", value)], order_by=spec.id_field)
            return [
                str(r.get(spec.id_field))
                for page in self._query(script)
                for r in page
                if same_value(r.get(field_name), value)
            ]
        except (RejectedError, ValueError):
            return None

    def create(self, entity_name: str, values: Mapping[str, Any]) -> Record:
        spec = entity(entity_name)
        started = datetime.fromtimestamp(self._clock(), UTC)
        response = self._request("POST", spec.path, json=self._outgoing(entity_name, values), not_acted=_lost_deadlock)
        new_id = self._new_id(response)
        if new_id is None:
            new_id = self._find_created(spec, values, started)
        created = self.get(entity_name, new_id)
        if created is None:
            raise TransientError(f"webcrm: created {entity_name} {new_id} cannot be read back")
        if not self._is_new(spec, created, values, started):
            # An id answered cut short ("16" arriving as "1") names another record: never taken for the new one.
            raise TransientError(f"webcrm: the id answered for a new {entity_name} ({new_id}) names another record")
        return created

    def _is_new(self, spec: WebcrmEntity, record: Record, values: Mapping[str, Any], started: datetime) -> bool:
        """Whether ``record`` (read back under the id a create answered) is the one just created: it carries the
        name it was sent, and was created since the request was sent (within the clocks' overlap)."""
        name_field = spec.table + "Name"
        if values.get(name_field) is not None and record.get(name_field) != values[name_field]:
            return False
        stamp = record.get(spec.table + "CreatedAt")
        try:
            return not isinstance(stamp, str) or parse_timestamp(stamp) >= started - self.overlap
        except ValueError:
            return True

    @staticmethod
    def _outgoing(entity_name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """The body to send: a catalogue item's blank ``Data`` slots as ``null`` (webCRM refuses empty ones)."""
        body = dict(values)
        if entity_name == "catalogue_item":
            for name in CATALOGUE_DATA:
                if isinstance(body.get(name), str) and not body[name].strip():
                    body[name] = None
        return body

    @staticmethod
    def _new_id(response: httpx.Response) -> str | None:
        text = response.content.decode("utf-8", "replace").strip().strip('"')
        return text if text.lstrip("-").isdigit() else None

    def _find_created(self, spec: WebcrmEntity, values: Mapping[str, Any], started: datetime) -> str:
        """The id of a record whose POST answered without one (Organisations, not confirmed)."""
        name_field = spec.table + "Name"
        created_field = spec.table + "CreatedAt"
        where: list[tuple[str, str, Any]] = [(created_field, ">=", format_timestamp(started - self.overlap))]
        if values.get(name_field):
            where.append((name_field, "=", values[name_field]))
        candidates = [
            row for page in self._query(select(spec.table, where=where, order_by=spec.id_field)) for row in page
        ]
        candidates = [r for r in candidates if all(same_value(r.get(k), v) for k, v in values.items() if k in r)]
        if not candidates:
            raise TransientError(f"webcrm: {spec.name} was created but its id could not be found")
        return str(max(int(r[spec.id_field]) for r in candidates))

    def _remember(self, entity_name: str, row: Record, as_of: float, mark: str | None) -> None:
        record_id = row.get(entity(entity_name).id_field)
        if isinstance(record_id, int) and not isinstance(record_id, bool):  # else never PUT on
            self._served.remember(entity_name, record_id, row, as_of, mark)

    def _current(self, entity_name: str, record_id: str) -> Record | None:
        """The record to merge an update into: a served one known current, else a fresh ``GET``."""
        try:
            key = int(record_id)
        except ValueError:
            return None  # not an int id: cannot exist
        spec = entity(entity_name)
        served = self._served.take(entity_name, key)
        if served is not None and self._served.complete(entity_name, served.record) and not spec.query_prefix:
            if self._clock() - served.as_of <= self.fresh_for:
                return served.record
            self._served.put_back(entity_name, key, served)
            with self._check_lock:  # one check at a time: one just made by another record may cover this one
                served = self._served.take(entity_name, key)
                if served is not None and self._clock() - served.as_of > self.fresh_for:
                    self._served.put_back(entity_name, key, served)
                    checked_at = self._check_served(spec, key)
                    served = self._served.take(entity_name, key)
                    if served is not None and (checked_at is None or served.as_of < checked_at):
                        served = None
            if served is not None and self._served.complete(entity_name, served.record):  # the check's row too
                return served.record
        current = self.get(entity_name, record_id)
        if current is not None:
            self._served.learn_fields(entity_name, current)
        return current

    def _check_served(self, spec: WebcrmEntity, key: int) -> float | None:
        """One ``/Queries`` request proving the served rows from ``key`` on current, or replacing those
        changed since they were read (``putbase``). Returns when the check was sent; None when the query
        was refused (it proves nothing: the update GETs)."""
        covered = self._served.from_id(spec.name, key)
        sent_at = self._clock()
        fallback = format_timestamp(datetime.fromtimestamp(min(r.as_of for r in covered.values()), UTC)
                                    - self.overlap)
        script = check_script(spec.table, spec.id_field, spec.updated_field, covered, fallback)
        changed: dict[int, Record] = {}
        try:
            for page in self._query(script):
                for row in page:
                    if isinstance(row, dict) and isinstance(row.get(spec.id_field), int):
                        changed[row[spec.id_field]] = row
                if len(page) < self.page_size:
                    break  # a short page is the last one
        except RejectedError:
            return None
        self._served.confirm(spec.name, set(covered), sent_at, changed)
        return sent_at

    def update(self, entity_name: str, record_id: str, changes: Mapping[str, Any]) -> Record:
        spec = entity(entity_name)
        current = self._current(entity_name, record_id)
        if current is None:
            raise NotFoundError(f"webcrm: {entity_name} {record_id} not found", status=404)
        if not changes:
            return current
        moved_to = changes.get("PersonOrganisationId", current.get("PersonOrganisationId"))
        if entity_name == "person" and not same_value(moved_to, current.get("PersonOrganisationId")):
            raise RejectedError(
                f"webcrm: person {record_id} cannot be moved from organisation {current.get('PersonOrganisationId')} "
                f"to {moved_to} through the API (PUT cannot change PersonOrganisationId and persons have no Move): "
                "move the person in webCRM"
            )
        merged = self._outgoing(entity_name, {**current, **dict(changes), spec.id_field: current[spec.id_field]})
        self._request("PUT", f"{spec.path}/{int(record_id)}", json=merged)
        if all_stored_as_sent(load_catalogue(self.name).entity(entity_name),
                              {k: merged[k] for k in changes if k != spec.id_field}):
            return merged  # what webCRM now holds (its own *UpdatedAt/By aside)
        updated = self.get(entity_name, record_id)
        if updated is None:
            raise NotFoundError(f"webcrm: {entity_name} {record_id} disappeared during the update", status=404)
        return updated

    def delete(self, entity_name: str, record_id: str) -> None:
        """Delete a quotation line or catalogue item (the only deletable entities)."""
        spec = entity(entity_name)
        if not spec.deletable:
            raise RejectedError(f"webcrm: {entity_name} records cannot be deleted")
        self._request("DELETE", f"{spec.path}/{int(record_id)}")

    def quotation_lines(self, parent: str, parent_id: str) -> list[Record]:
        """The lines of a delivery or opportunity (``GET /Deliveries/{id}/QuotationLines``)."""
        spec = entity(parent)
        if parent not in ("delivery", "opportunity"):
            raise RejectedError(f"webcrm: {parent} has no quotation lines")
        return [row for page in self._paged(f"{spec.path}/{int(parent_id)}/QuotationLines") for row in page]

    def convert_to_delivery(self, opportunity_id: str) -> str:
        """``POST /Opportunities/{id}/ConvertToDelivery``; returns the new delivery id."""
        response = self._request("POST", f"/Opportunities/{int(opportunity_id)}/ConvertToDelivery")
        new_id = self._new_id(response)
        if new_id is None:
            raise RejectedError("webcrm: ConvertToDelivery answered without an id")
        return new_id


def _lost_deadlock(response: httpx.Response) -> bool:
    """A 500 whose body says the create was the deadlock victim: nothing was written."""
    text = response.content.decode("utf-8", "replace").lower() if response.content else ""
    return response.status_code == 500 and any(marker in text for marker in DEADLOCK_MARKERS)
