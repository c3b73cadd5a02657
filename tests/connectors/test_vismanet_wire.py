"""Visma.net pure helpers: wire-shape conversion, line operations, time formats, paging, errors, throttle."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapsync.connectors.base import ConflictError, FatalError, NotFoundError, RejectedError, TransientError
from mapsync.connectors.vismanet import ENTITIES, HeaderThrottle, error_details, map_error, nest, write_body
from mapsync.connectors.vismanet.paging import contact_pages, numbered_pages
from mapsync.connectors.vismanet.timefmt import format_dto, format_filter, parse_cursor, parse_dto, parse_filter
from mapsync.connectors.vismanet.wire import line_operations, strip_metadata, write_fields

FIXTURES = Path(__file__).parent.parent / "fixtures" / "vismanet"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- write shape
def test_documented_customer_post_body() -> None:
    values = {
        "number": "10000",
        "name": "NewCustomer",
        "overrideWithClassValues": True,
        "customerClass": {"id": "1"},
        "mainAddress": {"addressLine1": "TestRoad 13", "postalCode": "0101", "country": {"id": "NO"}},
    }
    assert write_body(ENTITIES["customer"], values, None) == fixture("doc_customer_post.json")


def test_dotted_and_nested_values_give_the_same_body() -> None:
    dotted = {"mainAddress.country.id": "SE", "mainAddress.city": "Lund", "creditTerms.id": "30", "currencyId": "SEK"}
    nested = {
        "mainAddress": {"country": {"id": "SE"}, "city": "Lund"},
        "creditTerms": {"id": "30"},
        "currencyId": "SEK",
    }
    expected = {
        "mainAddress": {"value": {"countryId": {"value": "SE"}, "city": {"value": "Lund"}}},
        "creditTermsId": {"value": "30"},
        "currencyId": {"value": "SEK"},
    }
    spec = ENTITIES["customer"]
    assert write_body(spec, dotted, None) == expected
    assert write_body(spec, nested, None) == expected


def test_read_only_fields_are_never_sent() -> None:
    values = {
        "internalId": 7,
        "name": "A",
        "timeStamp": "AAAA",
        "lastModifiedDateTime": "2024-01-01T00:00:00",
        "metadata": {"totalCount": 1},
        "mainAddress": {"addressId": 3, "country": {"id": "NO", "name": "Norway"}},
        "creditTerms": {"id": "30", "description": "30 days"},
    }
    assert write_body(ENTITIES["customer"], values, None) == {
        "name": {"value": "A"},
        "mainAddress": {"value": {"countryId": {"value": "NO"}}},
        "creditTermsId": {"value": "30"},
    }


def test_blanking_create_leaves_out_update_sends_null() -> None:
    spec = ENTITIES["customer"]
    values = {"name": "A", "corporateId": None, "vatRegistrationId": "", "mainContact": {"email": None}}
    assert write_body(spec, values, None) == {"name": {"value": "A"}}
    current = {"number": "1", "name": "A"}
    assert write_body(spec, values, current) == {
        "name": {"value": "A"},
        "corporateId": {"value": None},
        "vatRegistrationId": {"value": ""},
        "mainContact": {"value": {"email": {"value": None}}},
    }


@pytest.mark.parametrize(
    ("entity", "values", "expected"),
    [
        (
            "sales_order",
            {
                "orderNo": "000123",
                "customer": {"number": "10000", "name": "x"},
                "terms": {"id": "30"},
                "status": "Open",
            },
            {"orderNumber": {"value": "000123"}, "customer": {"value": "10000"}, "terms": {"value": "30"}},
        ),
        (
            "customer_invoice",
            {
                "customer": {"number": "10000"},
                "creditTerms": {"id": "14"},
                "invoiceAddress": {"country": {"id": "DK"}},
                "documentType": "Invoice",
                "amount": 12.0,
            },
            {
                "customerNumber": {"value": "10000"},
                "creditTermsId": {"value": "14"},
                "billingAddress": {"value": {"countryId": {"value": "DK"}}},
            },
        ),
        (
            "inventory_item",
            {
                "inventoryNumber": "A1",
                "vatCode": {"id": "1", "description": "x"},
                "currentCost": 3.0,
                "defaultPrice": 9,
            },
            {"inventoryNumber": {"value": "A1"}, "vatCode": {"value": "1"}, "defaultPrice": {"value": 9}},
        ),
        (
            "contact",
            {"contactId": 5, "displayName": "A B", "lastName": "B", "address": {"country": {"id": "NO"}}},
            {"lastName": {"value": "B"}, "address": {"value": {"countryId": {"value": "NO"}}}},
        ),
    ],
)
def test_write_names(entity: str, values: dict[str, Any], expected: dict[str, Any]) -> None:
    assert write_body(ENTITIES[entity], values, None) == expected


def test_documented_line_insert() -> None:
    shape = ENTITIES["customer_invoice"].lines
    assert shape is not None
    ops = line_operations(shape, [], [{"inventoryNumber": "222", "quantity": 500, "uom": "STK"}], creating=True)
    assert ops == [fixture("doc_line_insert.json")]


def test_line_operations_insert_update_delete() -> None:
    shape = ENTITIES["sales_order"].lines
    assert shape is not None
    current = [
        {"lineNbr": 1, "inventory": {"number": "A", "description": "a"}, "quantity": 1.0, "unitPrice": 10.0},
        {"lineNbr": 2, "inventory": {"number": "B", "description": "b"}, "quantity": 2.0, "unitPrice": 20.0},
        {"lineNbr": 3, "inventory": {"number": "C", "description": "c"}, "quantity": 3.0, "unitPrice": 30.0},
    ]
    desired = [
        {"lineNbr": 1},  # kept as is
        {"lineNbr": 3, "quantity": 4, "unitPrice": 30},  # only the quantity differs
        {"inventory.number": "D", "quantity": 1, "operation": "Issue", "lineDescription": None},
    ]
    assert line_operations(shape, current, desired, creating=False) == [
        {"operation": "Delete", "lineNbr": {"value": 2}},
        {"operation": "Update", "lineNbr": {"value": 3}, "quantity": {"value": 4}},
        {
            "operation": "Insert",
            "inventoryNumber": {"value": "D"},
            "quantity": {"value": 1},
            "salesOrderOperation": {"value": "Issue"},
        },
    ]


def test_line_that_vanished_is_a_conflict() -> None:
    shape = ENTITIES["customer_invoice"].lines
    assert shape is not None
    with pytest.raises(ConflictError):
        line_operations(shape, [{"lineNumber": 1}], [{"lineNumber": 9, "quantity": 1}], creating=False)


def test_invoice_line_write_names_and_unchanged_collection() -> None:
    spec = ENTITIES["customer_invoice"]
    current = {"referenceNumber": "1", "invoiceLines": [{"lineNumber": 1, "unitPrice": 5.0, "vatCode": {"id": "1"}}]}
    body = write_body(
        spec,
        {
            "invoiceLines": [
                {"lineNumber": 1, "unitPrice": 6, "vatCode": {"id": "3"}, "discountAmount": 1, "amount": 99}
            ]
        },
        current,
    )
    assert body == {
        "invoiceLines": [
            {
                "operation": "Update",
                "lineNumber": {"value": 1},
                "unitPriceInCurrency": {"value": 6},
                "vatCodeId": {"value": "3"},
                "discountAmountInCurrency": {"value": 1},
            }
        ]
    }
    assert write_body(spec, {"invoiceLines": [{"lineNumber": 1, "unitPrice": 5}]}, current) == {}


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers() | st.text(max_size=3), max_size=3))
def test_nest_of_flat_keys_is_identity(values: dict[str, Any]) -> None:
    assert nest(values) == values


def test_write_fields_wraps_unknown_objects_generically() -> None:
    assert write_fields({"x": {"y": 1}}, renames={}, read_only=frozenset(), creating=True) == {
        "x": {"value": {"y": {"value": 1}}}
    }


# ----------------------------------------------------------------------------- time formats
def test_filter_formats() -> None:
    assert parse_filter("2001-01-01") == datetime(2001, 1, 1, tzinfo=UTC)
    assert parse_filter("2001-01-01 13:13:13") == datetime(2001, 1, 1, 13, 13, 13, tzinfo=UTC)
    assert parse_filter("2001-01-01 13:13:13.133") == datetime(2001, 1, 1, 13, 13, 13, 133000, tzinfo=UTC)
    for bad in ("2001-01-01T13:13:13", "2001-01-01 13:13:13Z", "yesterday", "2001-1-1"):
        with pytest.raises(ValueError):
            parse_filter(bad)
    instant = datetime(2024, 3, 1, 12, 0, 5, 999999, tzinfo=UTC)
    assert format_filter(instant) == "2024-03-01 12:00:05"
    assert "T" not in format_filter(instant) and "Z" not in format_filter(instant)
    assert parse_cursor("2024-03-01T12:00:00+01:00") == datetime(2024, 3, 1, 11, tzinfo=UTC)
    assert parse_cursor("2024-03-01 11:00:00") == datetime(2024, 3, 1, 11, tzinfo=UTC)
    assert format_dto(instant) == "2024-03-01T12:00:05.999"
    assert parse_dto("2024-03-01T12:00:05.999") == datetime(2024, 3, 1, 12, 0, 5, 999000, tzinfo=UTC)


# ----------------------------------------------------------------------------- paging
def _pager_source(records: list[dict[str, Any]], max_page: int, *, metadata: bool = True):
    calls: list[dict[str, Any]] = []

    def fetch(params: dict[str, Any]) -> list[dict[str, Any]]:
        calls.append(params)
        if "pageNumber" in params:
            size = min(params["pageSize"], max_page)
            start = (params["pageNumber"] - 1) * size
            page = records[start : start + size]
        else:
            after = int(params.get("greaterThanValue", 0))
            page = [r for r in records if r["contactId"] > after][: min(params["numberToRead"], max_page)]
        meta = {"metadata": {"totalCount": len(records), "maxPageSize": max_page}} if metadata else {}
        return [{**r, **meta} for r in page]

    return fetch, calls


@pytest.mark.parametrize("metadata", [True, False])
def test_numbered_pages_follow_the_server_maximum(metadata: bool) -> None:
    records = [{"number": str(i)} for i in range(7)]
    fetch, calls = _pager_source(records, 3, metadata=metadata)
    pages = list(numbered_pages(fetch, {"x": 1}, 1000, lambda r: str(r["number"])))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert all("metadata" not in r for p in pages for r in p)
    assert len(calls) == (3 if metadata else 4)  # without metadata: on to an empty page


def test_pages_stop_when_server_ignores_paging() -> None:
    calls = []

    def fetch(params: dict[str, Any]) -> list[dict[str, Any]]:
        calls.append(params)
        return [{"number": "1"}, {"number": "2"}]

    assert [len(p) for p in numbered_pages(fetch, {}, 2, lambda r: str(r["number"]))] == [2]
    assert len(calls) == 2


def test_contact_keyset_pages() -> None:
    records = [{"contactId": i} for i in range(1, 6)]
    fetch, calls = _pager_source(records, 2)
    pages = list(contact_pages(fetch, {}, 1000, lambda r: str(r["contactId"])))
    assert [[r["contactId"] for r in p] for p in pages] == [[1, 2], [3, 4], [5]]
    assert [c.get("greaterThanValue") for c in calls] == [None, 2, 4]
    assert all(c["orderBy"] == "contactId" for c in calls)


# ----------------------------------------------------------------------------- errors
def response(status: int, body: Any = None, **kw: Any) -> httpx.Response:
    request = httpx.Request("GET", "https://api.finance.visma.net/v1/customer")
    if body is None:
        return httpx.Response(status, request=request, **kw)
    return httpx.Response(status, json=body, request=request, **kw)


def test_error_details_of_every_shape() -> None:
    assert error_details(response(403, fixture("doc_ippexception_12027.json"))) == (
        "12027",
        "No license for this company.",
    )
    code, message = error_details(response(400, fixture("doc_message_error.json")))
    assert code is None and message is not None and "TaxCategoryID '0'" in message
    assert error_details(response(400, {"Message": "The request is invalid.", "ModelState": {"x": ["bad"]}})) == (
        None,
        "The request is invalid. (x: bad)",
    )
    assert error_details(response(401, {"error": "invalid_client", "error_description": "nope"})) == (
        "invalid_client",
        "nope",
    )
    assert error_details(response(429, {"statusCode": 429, "message": "Rate limit is exceeded."})) == (
        None,
        "Rate limit is exceeded.",
    )
    assert error_details(response(500, text="<html>oops</html>")) == (None, None)
    assert error_details(response(500, text="plain failure")) == (None, "plain failure")


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, fixture("doc_message_error.json"), RejectedError),
        (400, fixture("doc_ippexception_12027.json"), FatalError),
        (401, {"message": "Authorization has been denied for this request."}, FatalError),
        (403, {"message": "scope"}, FatalError),
        (404, {"message": "x not found"}, NotFoundError),
        (412, {"message": "VismaId: 1. changed"}, ConflictError),
        (429, None, TransientError),
        (503, None, TransientError),
    ],
)
def test_map_error(status: int, body: Any, kind: type) -> None:
    error = map_error(response(status, body), "GET /v1/customer")
    assert type(error) is kind
    assert error.status == status


# ----------------------------------------------------------------------------- throttle
def test_throttle_waits_for_reset_when_nothing_remains(fake_clock) -> None:
    throttle = HeaderThrottle(sleep=fake_clock.sleep, monotonic=fake_clock, wall=lambda: 1_700_000_000.0)
    throttle.observe(response(200, [], headers={"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "50"}))
    throttle.wait()
    assert fake_clock.sleeps == []
    throttle.observe(response(200, [], headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "12"}))
    throttle.wait()
    throttle.wait()
    assert fake_clock.sleeps == [12.0]
    throttle.observe(response(200, [], headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000030"}))
    throttle.wait()
    assert fake_clock.sleeps == [12.0, 30.0]  # legacy epoch reset


def test_strip_metadata() -> None:
    assert strip_metadata({"a": 1, **fixture("doc_list_metadata.json")}) == {"a": 1}
