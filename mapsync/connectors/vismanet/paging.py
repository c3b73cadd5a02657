"""Reading every page of a Visma.net list, with the shared paginators (``mapsync.connectors.http.paging``).

- ``pageNumber``/``pageSize`` lists (all but contacts) [V7]: ``ItemMetadataPages`` (until an empty page, or
  as the items' ``metadata {totalCount, maxPageSize}`` says: the server limits larger requests);
- contacts have no pageNumber/pageSize: keyset paging ``orderBy=contactId``, ``greaterThanValue=<last
  contactId>``, ``numberToRead=<page size>`` (``KeysetPages``).

Records are de-duplicated by id across pages and come in the read shape (``metadata`` removed); a page that
brings nothing new ends the reading (a server that ignores the paging parameters cannot cause an endless loop).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mapsync.connectors.base import Record
from mapsync.connectors.http.paging import Fetch as PageFetch
from mapsync.connectors.http.paging import ItemMetadataPages, KeysetPages
from mapsync.connectors.vismanet.wire import strip_metadata

Fetch = Callable[[dict[str, Any]], list[Record]]
IdOf = Callable[[Mapping[str, Any]], str]


def _fresh_pages(fetch: Fetch, id_of: IdOf) -> PageFetch:
    """``fetch`` answering ``(records not seen on an earlier page, read shape; the raw page)``."""
    seen: set[str] = set()

    def fresh(query: dict[str, Any]) -> tuple[list[Record], Any]:
        raw = fetch(query)
        out: list[Record] = []
        for item in raw:
            if isinstance(item, dict) and (key := id_of(item)) not in seen:
                seen.add(key)
                out.append(strip_metadata(item))
        return out, raw

    return fresh


def numbered_pages(fetch: Fetch, params: Mapping[str, Any], page_size: int, id_of: IdOf) -> Iterator[list[Record]]:
    """Pages of a ``pageNumber``/``pageSize`` list, read shape (no metadata), each record once."""
    pager = ItemMetadataPages(page_size, page_param="pageNumber", size_param="pageSize")
    return pager.pages(_fresh_pages(fetch, id_of), params)


def contact_pages(fetch: Fetch, params: Mapping[str, Any], page_size: int, id_of: IdOf) -> Iterator[list[Record]]:
    """Pages of the contact list by keyset (``greaterThanValue`` = the last contactId seen)."""
    pager = KeysetPages(page_size, key="contactId", order_param="orderBy", after_param="greaterThanValue",
                        size_param="numberToRead")
    return pager.pages(_fresh_pages(fetch, id_of), params)
