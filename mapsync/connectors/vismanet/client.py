"""``VismanetClient``: the Visma.net ERP API as a ``mapsync.connectors.base.Connector``.

Entities (catalogue names) ``customer``, ``contact``, ``inventory_item``, ``sales_order`` (lines
``lines``), ``customer_invoice`` (lines ``invoiceLines``); records in the **read shape** (list
``metadata`` removed); writes take the read shape and send the value-wrapped write shape
(``mapsync.connectors.vismanet.wire``).

- Auth: Visma Connect client credentials (``mapsync.connectors.vismanet.auth``), renewed before expiry and once
  after a 401/403; 12027 (no licence) and refusals after the renewal are ``FatalError``.
- Reading changes: ``lastModifiedDateTime=<cursor>&lastModifiedDateTimeCondition=>=``; the cursor is the
  client's clock *before* the first request minus ``overlap`` (default 2 minutes), in UTC as
  ``yyyy-MM-dd HH:mm:ss`` (no ``T``/``Z``, see ``timefmt``). Pages: ``paging``. A list item lacking a
  requested field is fetched in full.
- ``find``: the list filter of the field when the API has one (``entities.ENTITIES[...].filters``),
  else a scan; always an exact comparison on the client. Unknown to the server -> scan.
- ``create``: POST, then the new record is read back: id from a JSON body, else the last segment of
  ``Location`` (only the id is used: the host may differ), else the id given in the values, else (a
  contact without Location) the newest record changed since just before the POST that matches the values.
- ``update``: GET (``ETag``), PUT only the changes with ``If-Match``; on 412 the record is read again
  and the changes are re-applied only if none of the changed fields (and, for a line collection, none
  of the lines) changed meanwhile - otherwise ``ConflictError``, never a blind overwrite. Returns the
  record read after the PUT (the PUT answers 204).
- ``delete``: customer invoices only (``RejectedError`` for the others).
- ``action``: customer invoice ``release``; sales order ``cancelSalesOrder`` / ``reopenSalesOrder``.
- Per-request limits: SameRequestLimit and ClientErrorLimit are kept by ``requestguard`` (a repeated
  request waits; one that failed twice in 5 minutes is not sent again before the window passes). On
  with the client-side rate limit (``rate_limit=None`` switches both off) unless ``request_guard`` says.
- Rate limits: a client-side sliding window (default 240 requests per minute, under the production
  quota of 15,000 per hour), a pause until ``X-RateLimit-Reset`` when ``X-RateLimit-Remaining`` reaches
  0, and the executor's retries (429 honouring ``Retry-After``, 5xx, timeouts, dropped connections).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Unpack
from urllib.parse import quote, unquote

import httpx

from mapsync.connectors.base import (
    ConflictError,
    ConnectorBase,
    ConnectorError,
    CursorFormat,
    NotFoundError,
    Record,
    RejectedError,
)
from mapsync.connectors.http import HttpClientBase, HttpOptions, RetryPolicy
from mapsync.connectors.readcheck import ReadCheck
from mapsync.connectors.vismanet.auth import DEFAULT_SCOPE, TOKEN_ENDPOINT, VismaConnectCredentials
from mapsync.connectors.vismanet.entities import VismanetEntity, entity
from mapsync.connectors.vismanet.errors import is_licence_error, map_error
from mapsync.connectors.vismanet.paging import contact_pages, numbered_pages
from mapsync.connectors.vismanet.requestguard import RequestGuard, request_key
from mapsync.connectors.vismanet.throttle import HeaderThrottle
from mapsync.connectors.vismanet.timefmt import format_filter, parse_cursor
from mapsync.connectors.vismanet.wire import MISSING, dig, has_inserts, leaves, nest, same, strip_metadata, write_body

PAGE_SIZE = 1000
DEFAULT_OVERLAP = timedelta(minutes=2)
DEFAULT_RATE_LIMIT = (240, 60.0)
DEFAULT_RETRY = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=20.0, max_retry_after=120.0)
MAX_PUT_ATTEMPTS = 3
_NOT_FOUND_WORDS = ("not found", "cannot be found", "does not exist", "was not found")


class VismanetClient(HttpClientBase, ConnectorBase):
    """Visma.net connector. ``options``: ``HttpOptions`` (``http`` or ``transport`` for tests, clocks)."""

    name = "vismanet"
    entities = entity
    cursor_format = CursorFormat(parse_cursor, format_filter)

    @classmethod
    def from_settings(cls, settings: Mapping[str, str], *, token_store: Any = None,
                      **options: Any) -> VismanetClient:
        """The client for a rule set's resolved connection settings (``mapsync.connectors.registry``)."""
        return cls(settings["base_url"], token_url=settings["token_url"], client_id=settings["client_id"],
                   client_secret=settings["client_secret"], tenant_id=settings["tenant_id"], **options)

    def __init__(
        self,
        base_url: str,
        *,
        token_url: str | None = None,
        client_id: str,
        client_secret: str,
        tenant_id: str,
        scope: str = DEFAULT_SCOPE,
        token_store: Any = None,
        rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
        retry: RetryPolicy = DEFAULT_RETRY,
        page_size: int = PAGE_SIZE,
        overlap: timedelta = DEFAULT_OVERLAP,
        max_rate_wait: float = 3600.0,
        request_guard: bool | None = None,
        **options: Unpack[HttpOptions],
    ) -> None:
        super().__init__(base_url, map_error=map_error, rate_limit=rate_limit, retry=retry, **options)
        if self.base_url.lower().endswith("/v1"):
            self.base_url = self.base_url[:-3]
        self.page_size = max(1, page_size)
        self.overlap = overlap
        self.token_store = token_store  # accepted for the registry; client credentials store nothing
        self.throttle = HeaderThrottle(
            sleep=self._sleep, monotonic=self._monotonic, wall=self._clock, max_wait=max_rate_wait
        )
        guarded = rate_limit is not None if request_guard is None else request_guard
        self.guard = RequestGuard(sleep=self._sleep, monotonic=self._monotonic, enabled=guarded)
        self.credentials = VismaConnectCredentials(
            token_url=TOKEN_ENDPOINT.checked(token_url, self.base_url, "vismanet"),
            client_id=client_id,
            client_secret=client_secret,
            tenant_id=tenant_id,
            scope=scope,
            executor=self._token_executor(),
            clock=self._clock,
        )

    # ----------------------------------------------------------------- plumbing
    def _before_send(self) -> None:
        self.throttle.wait()

    def _after_send(self, response: httpx.Response) -> None:
        self.throttle.observe(response)

    def _auth_headers(self) -> dict[str, str]:
        return self.credentials.headers()

    def _sending(self, method: str, path: str, params: Mapping[str, Any] | None, json: Any) -> Any:
        """Kept under SameRequestLimit and ClientErrorLimit (``requestguard``)."""
        key = request_key(method, path, params, json)
        self.guard.before(key)
        return key

    def _failed(self, sent: Any, error: ConnectorError) -> None:
        self.guard.failed(sent, error)

    def _renew_auth(self, response: httpx.Response, rejected: dict[str, str]) -> bool:
        if response.status_code not in (401, 403) or is_licence_error(response):
            return False
        self.credentials.renew_after(rejected)
        return True

    def _item_path(self, spec: VismanetEntity, record_id: str) -> str:
        return f"{spec.path}/{quote(str(record_id).strip(), safe='')}"

    def _fetch_list(self, spec: VismanetEntity) -> Callable[[dict[str, Any]], list[Record]]:
        def fetch(params: dict[str, Any]) -> list[Record]:
            body = self._json(self._request("GET", spec.path, params=params), spec.name)
            if isinstance(body, dict):  # a {records: [...]} wrapper ("Format B"), not expected here
                body = body.get("records") or []
            if not isinstance(body, list):
                raise RejectedError(f"vismanet: unexpected list response for {spec.name}")
            return body

        return fetch

    def _pages(self, spec: VismanetEntity, params: Mapping[str, Any]) -> Iterator[list[Record]]:
        def id_of(item: Mapping[str, Any]) -> str:
            return str(item.get(spec.id_field))

        pager = contact_pages if spec.contact_paging else numbered_pages
        return pager(self._fetch_list(spec), params, self.page_size, id_of)

    def _read(self, spec: VismanetEntity, record_id: str) -> tuple[Record, str | None]:
        """The record and its ETag (header, else the DTO's row version); ``NotFoundError`` if missing."""
        response = self._request("GET", self._item_path(spec, record_id))
        body = self._json(response, spec.name)
        if not isinstance(body, dict):
            raise RejectedError(f"vismanet: unexpected response shape for {spec.name}")
        record = strip_metadata(body)
        etag = response.headers.get("ETag")
        if not etag and spec.version_field and record.get(spec.version_field):
            etag = str(record[spec.version_field])
        return record, etag

    # ----------------------------------------------------------------- Connector
    def _changed_pages(self, entity_name: str, since: str | None, check: ReadCheck) -> Iterator[list[Record]]:
        params = {"lastModifiedDateTime": since, "lastModifiedDateTimeCondition": ">="} if since else {}
        return self._pages(entity(entity_name), params)

    def _wanted(self, entity_name: str, fields: Iterable[str]) -> set[str]:
        """The fields the rules read, and a document's lines (never complete in a list item)."""
        lines = entity(entity_name).lines
        return super()._wanted(entity_name, fields if lines is None else {*fields, lines.field})

    def get(self, entity_name: str, record_id: str) -> Record | None:
        spec = entity(entity_name)
        if not str(record_id).strip():
            return None
        try:
            return self._read(spec, record_id)[0]
        except NotFoundError:
            return None
        except RejectedError as exc:  # some endpoints answer 400 for an unknown id
            if exc.status == 400 and any(w in exc.message.lower() for w in _NOT_FOUND_WORDS):
                return None
            raise

    def list_items(self, entity_name: str, **params: Any) -> Iterator[Record]:
        """Every record of ``entity`` (read shape), with optional raw query parameters (filters)."""
        spec = entity(entity_name)
        for items in self._pages(spec, params):
            yield from items

    def _find_by_field(self, entity_name: str, field_name: str, value: Any) -> list[Record]:
        spec = entity(entity_name)
        param = spec.filters.get(field_name)
        if param is not None:
            query_value = str(value).lower() if isinstance(value, bool) else str(value)
            try:
                return self._matches(spec, field_name, value, {param: query_value})
            except RejectedError as exc:
                if isinstance(exc, NotFoundError | ConflictError):
                    raise
                # the server refused the filter parameter: scan instead
        return self._matches(spec, field_name, value, {})

    def _matches(self, spec: VismanetEntity, field_name: str, value: Any, params: dict[str, Any]) -> list[Record]:
        out: list[Record] = []
        for items in self._pages(spec, params):
            for item in items:
                if not same(dig(item, field_name), value):
                    continue
                full = self._full_record(spec.name, item, ())
                if full is not None:
                    out.append(full)
        return out

    def create(self, entity_name: str, values: Mapping[str, Any]) -> Record:
        spec = entity(entity_name)
        body = write_body(spec, values, None)
        started = self._clock()
        response = self._request("POST", spec.create_path, json=body, idempotent=False)
        new_id = self._created_id(spec, response, values)
        record = self.get(entity_name, new_id) if new_id else self._locate_created(spec, values, started)
        if record is None:
            raise RejectedError(f"vismanet: the new {entity_name} was created but cannot be read back")
        return record

    def _created_id(self, spec: VismanetEntity, response: httpx.Response, values: Mapping[str, Any]) -> str | None:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get(spec.id_field) not in (None, ""):
            return str(body[spec.id_field])
        location = response.headers.get("Location")
        if location:
            segments = [s for s in httpx.URL(location).path.split("/") if s]
            if segments and segments[-1].lower() not in (spec.resource, "v1", "v2"):
                return unquote(segments[-1])
        given = dig(nest(values), spec.id_field)
        if given is not MISSING and given not in (None, ""):
            return str(given)
        return None

    def _locate_created(self, spec: VismanetEntity, values: Mapping[str, Any], started: float) -> Record | None:
        since = datetime.fromtimestamp(started, UTC) - self.overlap
        params = {"lastModifiedDateTime": format_filter(since), "lastModifiedDateTimeCondition": ">="}
        wanted = [(p, v) for p, v in leaves(nest(values)) if v not in (None, "") and not isinstance(v, list)]
        candidates = [
            item
            for items in self._pages(spec, params)
            for item in items
            if all(same(dig(item, p), v) for p, v in wanted if dig(item, p) is not MISSING)
        ]
        if not candidates:
            return None

        def order(item: Record) -> tuple[int, str]:
            key = str(item.get(spec.id_field, ""))
            return (int(key), "") if key.isdigit() else (0, key)

        return max(candidates, key=order)

    def update(self, entity_name: str, record_id: str, changes: Mapping[str, Any]) -> Record:
        spec = entity(entity_name)
        wanted = nest(changes)
        original, etag = self._read(spec, record_id)
        if not wanted:
            return original
        current = original
        path = self._item_path(spec, record_id)
        for _ in range(MAX_PUT_ATTEMPTS):
            body = write_body(spec, wanted, current)
            if not body:
                return current
            headers = {"If-Match": etag} if etag else {}
            try:
                safe = bool(etag) or not has_inserts(body, spec)
                self._request("PUT", path, json=body, headers=headers, idempotent=safe)
            except ConflictError as exc:
                if exc.status != 412:
                    raise
                current, etag = self._read(spec, record_id)
                self._check_unchanged(spec, record_id, original, current, wanted)
                continue
            final = self.get(entity_name, record_id)
            if final is None:
                raise NotFoundError(f"vismanet: {entity_name} {record_id} disappeared after the update", status=404)
            return final
        raise ConflictError(
            f"vismanet: {entity_name} {record_id} kept changing; the update was not applied", status=412
        )

    @staticmethod
    def _check_unchanged(
        spec: VismanetEntity, record_id: str, original: Record, fresh: Record, wanted: Mapping[str, Any]
    ) -> None:
        """``ConflictError`` when a field being changed was changed by someone else meanwhile."""
        lines_field = spec.lines.field if spec.lines is not None else None
        header = {k: v for k, v in wanted.items() if k != lines_field}
        clashes = [
            path
            for path, value in leaves(header)
            if not same(dig(original, path), dig(fresh, path)) and not same(dig(fresh, path), value)
        ]
        if lines_field is not None and lines_field in wanted and original.get(lines_field) != fresh.get(lines_field):
            clashes.append(lines_field)
        if clashes:
            raise ConflictError(
                f"vismanet: {spec.name} {record_id} was changed by someone else meanwhile "
                f"({', '.join(sorted(clashes))}); not overwritten",
                status=412,
            )

    def delete(self, entity_name: str, record_id: str) -> None:
        """Delete a customer invoice (Visma.net has no DELETE for the other entities)."""
        spec = entity(entity_name)
        if not spec.deletable:
            raise RejectedError(f"vismanet: {entity_name} records cannot be deleted")
        self._request("DELETE", self._item_path(spec, record_id))

    def action(self, entity_name: str, record_id: str, action: str) -> Record:
        """``POST /v1/<resource>/<id>/action/<action>``, then the record as it is afterwards.

        Customer invoice ``release``; sales order ``cancelSalesOrder``/``reopenSalesOrder`` (sent with
        the order type, as those actions require). Never retried after an ambiguous failure.
        """
        spec = entity(entity_name)
        if action not in spec.actions:
            raise RejectedError(f"vismanet: {entity_name} has no action {action!r}")
        body: Any = None
        if entity_name == "sales_order":
            current, _ = self._read(spec, record_id)
            body = {"orderType": {"value": current.get("orderType")}}
        response = self._request("POST", f"{self._item_path(spec, record_id)}/action/{action}", json=body,
                                 idempotent=False)
        try:
            result = response.json() if response.content else None
        except ValueError:
            result = None
        if isinstance(result, dict) and str(result.get("actionResult", "")).lower() == "failed":
            raise RejectedError(f"vismanet: action {action} failed: {result.get('errorInfo') or 'no reason given'}")
        final = self.get(entity_name, record_id)
        if final is None:
            raise NotFoundError(f"vismanet: {entity_name} {record_id} not found after {action}", status=404)
        return final
