"""Reading every page of a Visma.net list.

- ``pageNumber``/``pageSize`` lists (all but contacts) [V7]: pages are requested until one is empty,
  or - when the items carry ``metadata {totalCount, maxPageSize}`` - until the page is shorter than the
  effective page size (``min(requested, maxPageSize)``: the server limits larger requests) or
  ``totalCount`` is reached. Without metadata the client reads on until an empty page (one extra call,
  but safe against a server that silently caps the page size).
- Contacts have no pageNumber/pageSize: keyset paging ``orderBy=contactId``,
  ``greaterThanValue=<last contactId>``, ``numberToRead=<page size>``.

Records are de-duplicated by id across pages; a page that brings nothing new ends the reading (a
server that ignores the paging parameters cannot cause an endless loop).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mapsync.connectors.base import Record
from mapsync.connectors.vismanet.wire import strip_metadata

Fetch = Callable[[dict[str, Any]], list[Record]]
IdOf = Callable[[Mapping[str, Any]], str]


def _meta(items: list[Record]) -> tuple[int | None, int | None]:
    meta = items[0].get("metadata") if items and isinstance(items[0], dict) else None
    if not isinstance(meta, dict):
        return None, None
    total, maximum = meta.get("totalCount"), meta.get("maxPageSize")
    return (int(total) if isinstance(total, int | float) else None,
            int(maximum) if isinstance(maximum, int | float) and maximum > 0 else None)


def _fresh(items: list[Record], seen: set[str], id_of: IdOf) -> list[Record]:
    out: list[Record] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        key = id_of(item)
        if key in seen:
            continue
        seen.add(key)
        out.append(strip_metadata(item))
    return out


def numbered_pages(fetch: Fetch, params: Mapping[str, Any], page_size: int, id_of: IdOf) -> Iterator[list[Record]]:
    """Pages of a ``pageNumber``/``pageSize`` list, read shape (no metadata), each record once."""
    seen: set[str] = set()
    page = 1
    while True:
        items = fetch({**params, "pageNumber": page, "pageSize": page_size})
        fresh = _fresh(items, seen, id_of)
        if fresh:
            yield fresh
        if not fresh:
            return
        total, maximum = _meta(items)
        if maximum is not None or total is not None:
            effective = min(page_size, maximum) if maximum else page_size
            if len(items) < effective or (total is not None and page * effective >= total):
                return
        page += 1


def contact_pages(fetch: Fetch, params: Mapping[str, Any], page_size: int, id_of: IdOf) -> Iterator[list[Record]]:
    """Pages of the contact list by keyset (``greaterThanValue`` = the last contactId seen)."""
    seen: set[str] = set()
    last: int | None = None
    while True:
        query = {**params, "orderBy": "contactId", "numberToRead": page_size}
        if last is not None:
            query["greaterThanValue"] = last
        items = fetch(query)
        fresh = _fresh(items, seen, id_of)
        if fresh:
            yield fresh
        if not fresh:
            return
        _, maximum = _meta(items)
        if maximum is not None and len(items) < min(page_size, maximum):
            return
        ids = [int(r["contactId"]) for r in fresh if str(r.get("contactId", "")).lstrip("-").isdigit()]
        if not ids:
            return
        last = max(ids)
