"""``FortnoxClient``: the Fortnox v3 API as a ``mapsync.connectors.base.Connector``.

Entities ``customer``, ``article``, ``order``, ``invoice`` (records unwrapped, values raw as sent).

- Reading changes: ``GET /3/<path>?lastmodified=<cursor>``, paged by ``MetaInformation``
  (``limit=500``). The new cursor is the client's clock *before* the first request, in Stockholm
  local time ``yyyy-MM-dd HH:mm``, **minus one minute** of overlap (the format has minute
  precision, and the server's inclusive/exclusive choice is not confirmed). List items are a
  reduced subset: when one of the requested ``fields`` is missing, the full record is fetched.
  Where the server refuses ``lastmodified`` (400 before the first page), the client reads the whole
  list instead, and remembers to do so for that entity: every record comes, unchanged ones included
  (the engine finds nothing to write for them), and the cursor is still taken before reading.
- ``find``: the entity's search parameter when it has one (ILIKE semantics on the server), then an
  exact comparison on the client; otherwise (or when the server refuses the parameter) a full scan.
- ``update``: partial ``PUT`` with only the changes; ``None``/``""`` are sent as ``API_BLANK``.
- Errors: see ``mapsync.connectors.fortnox.errors``; 429/5xx/timeouts are retried by the executor, with a
  client-side limiter (default 25 requests per 5 s) so a normal pass never sees a 429.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any, Unpack
from urllib.parse import quote

import httpx

from mapsync.connectors.base import (
    ConnectorBase,
    CursorFormat,
    NotFoundError,
    Record,
    RejectedError,
    TransientError,
)
from mapsync.connectors.fields import same_value
from mapsync.connectors.fortnox.auth import TOKEN_ENDPOINT, FortnoxCredentials, SecretStore
from mapsync.connectors.fortnox.entities import FortnoxEntity, entity
from mapsync.connectors.fortnox.errors import map_error
from mapsync.connectors.fortnox.timefmt import format_lastmodified, parse_lastmodified
from mapsync.connectors.fortnox.values import blank_changes, create_values
from mapsync.connectors.http import HttpClientBase, HttpOptions, RetryPolicy
from mapsync.connectors.http.paging import MetaInformationPages
from mapsync.connectors.readcheck import ReadCheck

PAGE_SIZE = 500
CURSOR_OVERLAP = timedelta(minutes=1)
DEFAULT_RETRY = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=10.0, max_retry_after=60.0)


class FortnoxClient(HttpClientBase, ConnectorBase):
    """Fortnox v3 connector. ``options``: ``HttpOptions`` (``http`` or ``transport`` for tests, clocks)."""

    name = "fortnox"
    entities = entity
    overlap = CURSOR_OVERLAP
    cursor_format = CursorFormat(parse_lastmodified, format_lastmodified)

    @classmethod
    def from_settings(cls, settings: Mapping[str, str], *, token_store: Any = None, **options: Any) -> FortnoxClient:
        """The client for a rule set's resolved connection settings (``mapsync.connectors.registry``): a static
        access token, or OAuth client credentials with the rotated refresh token kept in ``token_store``."""
        return cls(
            settings["base_url"],
            access_token=settings.get("access_token") or None,
            client_id=settings.get("client_id") or None,
            client_secret=settings.get("client_secret") or None,
            refresh_token=settings.get("refresh_token") or None,
            tenant_id=settings.get("tenant_id") or None,
            token_url=settings.get("auth_url") or None,
            token_store=token_store,
            **options,
        )

    def __init__(
        self,
        base_url: str,
        *,
        access_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        tenant_id: str | None = None,
        token_store: SecretStore | None = None,
        token_url: str | None = None,
        rate_limit: tuple[int, float] | None = (25, 5.0),
        retry: RetryPolicy = DEFAULT_RETRY,
        page_size: int = PAGE_SIZE,
        **options: Unpack[HttpOptions],
    ) -> None:
        super().__init__(base_url, map_error=map_error, rate_limit=rate_limit, retry=retry, **options)
        self.page_size = min(page_size, PAGE_SIZE)
        self._paginator = MetaInformationPages(self.page_size, size_param="limit")
        self._no_lastmodified: set[str] = set()  # entities whose list refused lastmodified
        self.credentials = FortnoxCredentials(
            token_url=TOKEN_ENDPOINT.checked(token_url, self.base_url, "fortnox"),
            executor=self._token_executor(),
            access_token=access_token,
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=refresh_token,
            tenant_id=tenant_id,
            token_store=token_store,
            clock=self._clock,
        )

    # ----------------------------------------------------------------- plumbing
    def _auth_headers(self) -> dict[str, str]:
        return self.credentials.headers()

    def _renew_auth(self, response: httpx.Response, rejected: dict[str, str]) -> bool:
        if response.status_code != 401 or not self.credentials.can_refresh():
            return False
        self.credentials.renew_after(rejected)
        return True

    @staticmethod
    def _unwrap(spec: FortnoxEntity, response: httpx.Response) -> Record:
        try:
            body = response.json()
            record: Record = body[spec.wrapper]
        except (ValueError, KeyError, TypeError):
            raise RejectedError(f"fortnox: unexpected response shape for {spec.name}") from None
        return record

    def _path(self, spec: FortnoxEntity, record_id: str | None = None, action: str | None = None) -> str:
        path = f"/3/{spec.path}"
        if record_id is not None:
            path += "/" + quote(str(record_id), safe="")
        if action is not None:
            path += "/" + action
        return path

    def _pages(self, spec: FortnoxEntity, params: Mapping[str, Any],
               check: ReadCheck | None = None) -> Iterator[list[Record]]:
        def fetch(query: dict[str, Any]) -> tuple[list[Record], Any]:
            response = self._request("GET", self._path(spec), params=query)
            try:
                body = response.json()
            except ValueError:
                raise TransientError(f"fortnox: the {spec.name} list answered with something that is not JSON"
                                     ) from None
            items = body.get(spec.list_wrapper) if isinstance(body, dict) else None
            if items is not None and not isinstance(items, list):
                raise RejectedError(f"fortnox: the {spec.name} list did not answer with a list")
            return items or [], body

        return self._paginator.pages(fetch, params, check, self._path(spec))

    # ----------------------------------------------------------------- Connector
    def _changed_pages(self, entity_name: str, since: str | None, check: ReadCheck) -> Iterator[list[Record]]:
        if entity_name in self._no_lastmodified:
            since = None
        return self._pages(entity(entity_name), {"lastmodified": since} if since is not None else {}, check)

    def _read_all_when_refused(self, entity_name: str) -> bool:
        """This list refuses ``lastmodified``: a full read, from now on."""
        self._no_lastmodified.add(entity_name)
        return True

    def get(self, entity_name: str, record_id: str) -> Record | None:
        spec = entity(entity_name)
        try:
            return self._unwrap(spec, self._request("GET", self._path(spec, record_id)))
        except NotFoundError:
            return None

    def list_items(self, entity_name: str, **params: Any) -> Iterator[Record]:
        """Every list item of ``entity`` (reduced subset), with optional raw query parameters."""
        spec = entity(entity_name)
        for items in self._pages(spec, params):
            yield from items

    def _find_by_field(self, entity_name: str, field_name: str, value: Any) -> list[Record]:
        spec = entity(entity_name)
        param = spec.search.get(field_name)
        if param is not None:
            try:
                return self._matches(spec, field_name, value, {param: str(value)})
            except RejectedError:
                pass  # the server refused the search parameter: scan instead
        return self._matches(spec, field_name, value, {})

    def _matches(self, spec: FortnoxEntity, field_name: str, value: Any, params: dict[str, Any]) -> list[Record]:
        out: list[Record] = []
        for items in self._pages(spec, params):
            for item in items:
                if field_name in item and not same_value(item[field_name], value):
                    continue
                full = self.get(spec.name, str(item[spec.id_field]))
                if full is not None and same_value(full.get(field_name), value):
                    out.append(full)
        return out

    def create(self, entity_name: str, values: Mapping[str, Any]) -> Record:
        spec = entity(entity_name)
        response = self._request("POST", self._path(spec), json={spec.wrapper: create_values(values)})
        return self._unwrap(spec, response)

    def update(self, entity_name: str, record_id: str, changes: Mapping[str, Any]) -> Record:
        spec = entity(entity_name)
        if not changes:
            current = self.get(entity_name, record_id)
            if current is None:
                raise NotFoundError(f"fortnox: {entity_name} {record_id} not found", status=404)
            return current
        response = self._request("PUT", self._path(spec, record_id), json={spec.wrapper: blank_changes(changes)})
        return self._unwrap(spec, response)

    def delete(self, entity_name: str, record_id: str) -> None:
        """Delete a customer or article (orders and invoices cannot be deleted)."""
        spec = entity(entity_name)
        if not spec.deletable:
            raise RejectedError(f"fortnox: {entity_name} records cannot be deleted")
        self._request("DELETE", self._path(spec, record_id))

    def action(self, entity_name: str, record_id: str, action: str) -> Record:
        """``PUT /3/<path>/<id>/<action>``: orders createinvoice/cancel, invoices bookkeep/cancel/credit.

        Never retried after an ambiguous failure (an action is not idempotent).
        """
        spec = entity(entity_name)
        if action not in spec.actions:
            raise RejectedError(f"fortnox: {entity_name} has no action {action!r}")
        response = self._request("PUT", self._path(spec, record_id, action), idempotent=False)
        return self._unwrap(spec, response)
