"""List requests: ``lastmodified``, search parameters, ``filter``, ``sortby``/``sortorder``, paging.

``lastmodified`` (chosen, NOT CONFIRMED): the value is **Stockholm local time**
(Europe/Stockholm, with summer time), in ``yyyy-MM-dd HH:mm``, ``yyyy-MM-dd HH:mm:ss`` or
``yyyy-MM-dd`` form, and the comparison is **inclusive**: a record modified at or after that instant
is listed. Any other format -> 400 code 2000588. ``FortnoxRules`` (``simulator.rules``) may drop
seconds on both sides (minute precision, the default) and refuse the parameter on some entities.

Search parameters match ILIKE ``%value%`` (case-insensitive substring), as documented. Unknown
query parameters are ignored. ``limit`` defaults to 100 and may be at most 500 (more -> 400
2000588); ``page`` is 1-based; a page past the end is empty. ``@TotalPages`` is at least 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mapsync.connectors.fortnox.simulator.errors import INVALID_FILTER, INVALID_PARAMETER, bad_request
from mapsync.connectors.fortnox.simulator.rules import FortnoxRules, to_minute
from mapsync.connectors.fortnox.simulator.templates import NUMBER_FIELDS
from mapsync.connectors.fortnox.timefmt import parse_local_lastmodified, stockholm

Record = dict[str, Any]

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def parse_lastmodified(value: str) -> datetime:
    """The instant meant by a ``lastmodified`` value (Stockholm local time), as aware UTC."""
    instant = parse_local_lastmodified(value)
    if instant is None:
        raise bad_request(INVALID_PARAMETER, f"Ogiltigt värde för parametern lastmodified: {value}")
    return instant


SEARCH_PARAMS: dict[str, dict[str, tuple[str, ...]]] = {
    "customer": {
        "customernumber": ("CustomerNumber",),
        "name": ("Name",),
        "zipcode": ("ZipCode",),
        "city": ("City",),
        "email": ("Email",),
        "phone": ("Phone1", "Phone2"),
        "organisationnumber": ("OrganisationNumber",),
        "gln": ("GLN",),
        "glndelivery": ("GLNDelivery",),
    },
    "article": {
        "articlenumber": ("ArticleNumber",),
        "description": ("Description",),
        "ean": ("EAN",),
        "manufacturer": ("Manufacturer",),
        "manufacturerarticlenumber": ("ManufacturerArticleNumber",),
        "suppliernumber": ("SupplierNumber",),
    },
    "order": {
        "customername": ("CustomerName",),
        "customernumber": ("CustomerNumber",),
        "documentnumber": ("DocumentNumber",),
        "yourordernumber": ("YourOrderNumber",),
        "ourreference": ("OurReference",),
        "yourreference": ("YourReference",),
        "externalinvoicereference1": ("ExternalInvoiceReference1",),
        "externalinvoicereference2": ("ExternalInvoiceReference2",),
    },
    "invoice": {
        "customername": ("CustomerName",),
        "customernumber": ("CustomerNumber",),
        "documentnumber": ("DocumentNumber",),
        "ocr": ("OCR",),
        "yourordernumber": ("YourOrderNumber",),
        "ourreference": ("OurReference",),
        "yourreference": ("YourReference",),
        "externalinvoicereference1": ("ExternalInvoiceReference1",),
        "externalinvoicereference2": ("ExternalInvoiceReference2",),
    },
}

SORT_FIELDS: dict[str, dict[str, str]] = {
    "customer": {"customernumber": "CustomerNumber", "name": "Name"},
    "article": {"articlenumber": "ArticleNumber", "description": "Description"},
    "order": {
        "customername": "CustomerName",
        "customernumber": "CustomerNumber",
        "orderdate": "OrderDate",
        "documentnumber": "DocumentNumber",
        "total": "Total",
    },
    "invoice": {
        "customername": "CustomerName",
        "customernumber": "CustomerNumber",
        "documentnumber": "DocumentNumber",
        "invoicedate": "InvoiceDate",
        "ocr": "OCR",
        "total": "Total",
    },
}

Predicate = Callable[[Record], bool]


def _today() -> str:
    return datetime.now(stockholm()).date().isoformat()


FILTERS: dict[str, dict[str, Predicate]] = {
    "customer": {"active": lambda r: bool(r.get("Active")), "inactive": lambda r: not r.get("Active")},
    "article": {"active": lambda r: bool(r.get("Active")), "inactive": lambda r: not r.get("Active")},
    "order": {
        "cancelled": lambda r: bool(r.get("Cancelled")),
        "expired": lambda r: False,
        "invoicecreated": lambda r: r.get("InvoiceReference") not in (None, "", "0"),
        "invoicenotcreated": lambda r: r.get("InvoiceReference") in (None, "", "0"),
    },
    "invoice": {
        "cancelled": lambda r: bool(r.get("Cancelled")),
        "fullypaid": lambda r: bool(r.get("Booked")) and not r.get("Balance"),
        "unpaid": lambda r: bool(r.get("Balance")) and not r.get("Cancelled"),
        "unpaidoverdue": lambda r: (
            bool(r.get("Balance"))
            and not r.get("Cancelled")
            and bool(r.get("DueDate"))
            and str(r.get("DueDate")) < _today()
        ),
        "unbooked": lambda r: not r.get("Booked") and not r.get("Cancelled"),
    },
}


def _sort_value(value: Any) -> tuple[int, Any]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    text = "" if value is None else str(value)
    if text.isdigit():
        return (0, int(text))
    return (1, text.lower())


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        number = int(values[0])
    except ValueError:
        raise bad_request(INVALID_PARAMETER, f"Ogiltigt värde för parametern {name}.") from None
    if number < (0 if name == "offset" else 1):
        raise bad_request(INVALID_PARAMETER, f"Ogiltigt värde för parametern {name}.")
    return number


def select(
    entity: str, rows: list[tuple[Record, datetime]], query: dict[str, list[str]], rules: FortnoxRules | None = None
) -> tuple[list[Record], dict[str, int]]:
    """Apply the list parameters; returns the page's full records and ``MetaInformation``."""

    def arg(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    selected = rows
    since = arg("lastmodified")
    if since is not None:
        rules = rules or FortnoxRules()
        if entity in rules.lastmodified_refused:
            raise bad_request(INVALID_PARAMETER, "Ogiltig parameter: lastmodified.")
        instant = to_minute(rules, parse_lastmodified(since))
        selected = [(r, m) for r, m in selected if to_minute(rules, m) >= instant]
    records = [r for r, _ in selected]
    name = arg("filter")
    if name is not None:
        predicate = FILTERS[entity].get(name.lower())
        if predicate is None:
            raise bad_request(INVALID_FILTER, "Ett ogiltigt filter har använts.")
        records = [r for r in records if predicate(r)]
    for param, fields in SEARCH_PARAMS[entity].items():
        needle = arg(param)
        if needle is None:
            continue
        lowered = needle.lower()
        records = [r for r in records if any(lowered in str(r.get(f) or "").lower() for f in fields)]
    sortby = arg("sortby")
    sort_field = NUMBER_FIELDS[entity]
    if sortby is not None:
        if sortby.lower() not in SORT_FIELDS[entity]:
            raise bad_request(INVALID_PARAMETER, f"Ogiltigt värde för parametern sortby: {sortby}")
        sort_field = SORT_FIELDS[entity][sortby.lower()]
    order = (arg("sortorder") or "ascending").lower()
    if order not in ("ascending", "descending"):
        raise bad_request(INVALID_PARAMETER, f"Ogiltigt värde för parametern sortorder: {order}")
    records.sort(key=lambda r: _sort_value(r.get(sort_field)), reverse=order == "descending")

    limit = _int_param(query, "limit", DEFAULT_LIMIT)
    if limit > MAX_LIMIT:
        raise bad_request(INVALID_PARAMETER, f"Parametern limit får vara högst {MAX_LIMIT}.")
    page = _int_param(query, "page", 1)
    offset = _int_param(query, "offset", 0)
    total = len(records)
    start = offset + (page - 1) * limit
    meta = {
        "@TotalResources": total,
        "@TotalPages": max(1, math.ceil(max(total - offset, 0) / limit)),
        "@CurrentPage": page,
    }
    return records[start : start + limit], meta
