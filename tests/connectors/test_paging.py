"""The shared paginators (``mapsync.connectors.http.paging``): what they ask for and when they stop."""

from __future__ import annotations

from typing import Any

from mapsync.connectors.http.paging import MetaInformationPages, PageNumbers
from mapsync.connectors.readcheck import ReadCheck


def _source(items: list[int], size: int, meta: bool) -> tuple[Any, list[dict[str, Any]]]:
    asked: list[dict[str, Any]] = []

    def fetch(query: dict[str, Any]) -> tuple[list[Any], Any]:
        asked.append(query)
        start = (query["page"] - 1) * size
        page = [{"Id": i} for i in items[start:start + size]]
        total_pages = max(1, -(-len(items) // size))
        return page, ({"MetaInformation": {"@TotalPages": total_pages}} if meta else {})

    return fetch, asked


def test_page_numbers_read_until_an_empty_page() -> None:
    fetch, asked = _source(list(range(5)), 2, meta=False)
    pages = list(PageNumbers(2).pages(fetch, {"x": 1}))
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [q["page"] for q in asked] == [1, 2, 3, 4] and all(q["x"] == 1 and q["size"] == 2 for q in asked)


def test_meta_information_ends_at_the_last_page_or_a_short_one() -> None:
    fetch, asked = _source(list(range(4)), 2, meta=True)
    assert [len(p) for p in MetaInformationPages(2, size_param="limit").pages(fetch, {})] == [2, 2]
    assert len(asked) == 2  # @TotalPages: no request for an empty third page
    fetch, asked = _source(list(range(3)), 2, meta=False)
    assert [len(p) for p in MetaInformationPages(2, size_param="limit").pages(fetch, {})] == [2, 1]
    assert len(asked) == 2  # without MetaInformation a short page ends the list


def test_a_list_that_ignores_the_paging_stops_at_the_first_repeated_page() -> None:
    asked: list[dict[str, Any]] = []

    def fetch(query: dict[str, Any]) -> tuple[list[Any], Any]:
        asked.append(query)
        return [{"Id": 1}, {"Id": 2}], None

    check = ReadCheck("test", "thing", "Id", integer_ids=True)
    pages = list(PageNumbers(2).pages(fetch, {}, check, "/things"))
    assert len(asked) == 2 and len(pages) == 2  # the repeat is served (the check keeps each record once), then no more
    assert [check.key(row) for page in pages for row in page] == ["1", "2", None, None]
    assert check.warnings and "ignores the paging" in check.warnings[0]
