"""Paginators: how a client asks a product's list for every page, and when it stops.

A paginator is built once per client (its page size and parameter names) and ``pages(fetch, params)`` reads
one list: ``fetch(query)`` sends one request and answers ``(items, body)`` (the page's items as the client
keeps them, and the answer they came from, which the stop rule may read). Empty pages are never yielded.

- ``PageNumbers``: ``page``/``size`` style parameters, numbered from 1, until an empty page (webCRM
  ``Page``/``Size``); ``check`` (a ``ReadCheck``) stops a list that serves one page again;
- ``MetaInformationPages``: Fortnox ``page``/``limit``, until ``MetaInformation.@TotalPages`` is reached (or,
  without it, a short page);
- ``ItemMetadataPages``: Visma.net ``pageNumber``/``pageSize``, until a page shorter than the effective size
  (``min(requested, metadata.maxPageSize)``) or ``metadata.totalCount`` is reached, as the items' ``metadata``
  says; without metadata until an empty page;
- ``KeysetPages``: keyset paging, the next page asked for as the items after the greatest key seen (Visma.net
  contacts: ``orderBy``/``greaterThanValue``/``numberToRead``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mapsync.connectors.readcheck import ReadCheck

Fetch = Callable[[dict[str, Any]], tuple[list[Any], Any]]  # query -> (items, the answer they came from)


class PageNumbers:
    """Numbered pages (``page_param`` from 1, ``size_param`` = ``size``) until an empty page."""

    def __init__(self, size: int, *, page_param: str = "page", size_param: str = "size") -> None:
        self.size = size
        self.page_param = page_param
        self.size_param = size_param

    def pages(self, fetch: Fetch, params: Mapping[str, Any], check: ReadCheck | None = None,
              where: str = "") -> Iterator[list[Any]]:
        page = 1
        while True:
            items, body = fetch({**params, self.page_param: page, self.size_param: self.size})
            if not items:
                return
            yield items
            if check is not None and not check.more_pages(items, where):
                return
            if self.is_last(items, body, page):
                return
            page += 1

    def is_last(self, items: list[Any], body: Any, page: int) -> bool:
        """Whether ``page`` (non-empty, answered by ``body``) is the last one; by default an empty page ends."""
        return False


class MetaInformationPages(PageNumbers):
    """Fortnox: ``MetaInformation.@TotalPages`` in the answer, else a page shorter than the size, ends."""

    def is_last(self, items: list[Any], body: Any, page: int) -> bool:
        meta = body.get("MetaInformation") if isinstance(body, dict) else None
        total_pages = meta.get("@TotalPages") if isinstance(meta, dict) else None
        if isinstance(total_pages, int | str) and str(total_pages).isdigit():
            return page >= int(total_pages)
        return len(items) < self.size


def item_metadata(raw: list[Any]) -> tuple[int | None, int | None]:
    """``(totalCount, maxPageSize)`` from the first item's ``metadata`` (Visma.net); None where absent."""
    meta = raw[0].get("metadata") if raw and isinstance(raw[0], dict) else None
    if not isinstance(meta, dict):
        return None, None
    total, maximum = meta.get("totalCount"), meta.get("maxPageSize")
    return (int(total) if isinstance(total, int | float) else None,
            int(maximum) if isinstance(maximum, int | float) and maximum > 0 else None)


class ItemMetadataPages(PageNumbers):
    """Visma.net numbered lists: ``body`` is the raw page, whose items' ``metadata`` tells the end."""

    def is_last(self, items: list[Any], body: Any, page: int) -> bool:
        total, maximum = item_metadata(body)
        if maximum is None and total is None:
            return False
        effective = min(self.size, maximum) if maximum else self.size
        return len(body) < effective or (total is not None and page * effective >= total)


class KeysetPages:
    """Pages ordered by the integer ``key`` field: each asks for the ``size`` items after the greatest key
    seen; a page shorter than the effective size (``body`` is the raw page, see ``ItemMetadataPages``) or
    without keys ends."""

    def __init__(self, size: int, *, key: str, order_param: str, after_param: str, size_param: str) -> None:
        self.size, self.key = size, key
        self.order_param, self.after_param, self.size_param = order_param, after_param, size_param

    def pages(self, fetch: Fetch, params: Mapping[str, Any]) -> Iterator[list[Any]]:
        last: int | None = None
        while True:
            query = {**params, self.order_param: self.key, self.size_param: self.size}
            if last is not None:
                query[self.after_param] = last
            items, body = fetch(query)
            if not items:
                return
            yield items
            _, maximum = item_metadata(body)
            if maximum is not None and len(body) < min(self.size, maximum):
                return
            keys = [int(r[self.key]) for r in items if str(r.get(self.key, "")).lstrip("-").isdigit()]
            if not keys:
                return
            last = max(keys)
