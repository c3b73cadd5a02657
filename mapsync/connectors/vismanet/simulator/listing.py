"""List requests of the Visma.net simulator: filters, ``lastModifiedDateTime``, paging.

Query parameter names are matched case-insensitively (ASP.NET model binding); unknown ones are
ignored, like the real API.

- ``lastModifiedDateTime`` + ``lastModifiedDateTimeCondition`` (``>``, ``<``, ``>=``, ``<=``) and
  ``createdDateTime`` + ``createdDateTimeCondition``: values ``2001-01-01``, ``2001-01-01 13:13:13`` or
  ``2001-01-01 13:13:13.133`` (UTC, a choice); anything else (``T``, ``Z``) -> 400 IPPException 12002.
  A value without condition -> 400 (a choice: the real default is unknown). Comparison at full
  precision against the record's modification time.
- Filters (equality, case-insensitive, a choice): see ``FILTERS``.
- Paging (all but contacts): ``pageNumber`` (1-based, default 1) and ``pageSize`` (default and maximum
  ``max_page_size``; larger requests are limited to it, as documented); a page past the end is ``[]``.
- Contacts have no pageNumber/pageSize [V11][V12]: ``orderBy`` (a field name, default ``contactId``),
  ``greaterThanValue`` (records whose ``orderBy`` value is greater), ``skipRecords``, ``numberToRead``
  (default and maximum ``max_page_size``, a choice).
- Sales orders: ``greaterThanValue`` gives orders whose number is greater.
- Every item carries ``metadata: {totalCount, maxPageSize}`` (contacts too, a choice); ``totalCount``
  counts every match, not just the page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from mapsync.connectors.vismanet.simulator.errors import INVALID_PARAMETER, ipp
from mapsync.connectors.vismanet.timefmt import CONDITIONS, parse_dto, parse_filter

Record = dict[str, Any]
Rows = list[tuple[Record, datetime]]

# parameter -> dotted read paths compared (any may match)
FILTERS: dict[str, dict[str, tuple[str, ...]]] = {
    "customer": {
        "name": ("name",),
        "status": ("status",),
        "corporateId": ("corporateId",),
        "vatRegistrationId": ("vatRegistrationId",),
        "email": ("mainContact.email",),
        "phone": ("mainContact.phone1", "mainContact.phone2"),
    },
    "contact": {
        "displayName": ("displayName",),
        "active": ("active",),
        "firstName": ("firstName",),
        "lastName": ("lastName",),
        "businessAccount": ("businessAccount",),
        "email": ("email",),
    },
    "inventory": {
        "inventoryNumber": ("inventoryNumber",),
        "description": ("description",),
    },
    "salesorder": {"orderType": ("orderType",), "status": ("status",)},
    "customerinvoice": {
        "documentType": ("documentType",),
        "status": ("status",),
        "financialPeriod": ("financialPeriod",),
        "externalReference": ("externalReference",),
        "paymentReference": ("paymentReference",),
        "customerRefNumber": ("customerRefNumber",),
    },
}
CREATED = frozenset({"customer", "inventory", "customerinvoice"})
CONTACT_ORDER = (
    "contactId", "displayName", "firstName", "lastName", "email", "businessAccount", "lastModifiedDateTime",
)
Comparison = Callable[[datetime, datetime], bool]


def dig(record: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(part)
    return record


def _arg(query: dict[str, list[str]], name: str) -> str | None:
    lower = name.lower()
    for key, values in query.items():
        if key.lower() == lower and values:
            return values[0]
    return None


def _int_arg(query: dict[str, list[str]], name: str, default: int, minimum: int) -> int:
    text = _arg(query, name)
    if text is None or text.strip() == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ipp(400, INVALID_PARAMETER, f"Invalid parameter: {name} must be an integer.") from None
    if value < minimum:
        raise ipp(400, INVALID_PARAMETER, f"Invalid parameter: {name} must be at least {minimum}.")
    return value


def _compare(op: str) -> Comparison:
    return {
        ">": lambda a, b: a > b,
        "<": lambda a, b: a < b,
        ">=": lambda a, b: a >= b,
        "<=": lambda a, b: a <= b,
    }[op]


def _time_filter(query: dict[str, list[str]], name: str) -> tuple[Comparison, datetime] | None:
    value = _arg(query, name)
    if value is None or value.strip() == "":
        return None
    try:
        instant = parse_filter(value)
    except ValueError:
        raise ipp(
            400,
            INVALID_PARAMETER,
            f"Invalid parameter: {name} '{value}'. Use yyyy-MM-dd, yyyy-MM-dd HH:mm:ss or yyyy-MM-dd HH:mm:ss.fff "
            "(filtering parameters do not accept characters such as W-Z).",
        ) from None
    condition = (_arg(query, name + "Condition") or "").strip()
    if condition not in CONDITIONS:
        message = f"Invalid parameter: {name}Condition must be one of >, <, >=, <= (got '{condition}')."
        raise ipp(400, INVALID_PARAMETER, message)
    return _compare(condition), instant


def _equal(actual: Any, wanted: str) -> bool:
    if isinstance(actual, bool):
        return wanted.strip().lower() == str(actual).lower()
    if actual is None:
        return False
    return str(actual).strip().lower() == wanted.strip().lower()


def _filtered(resource: str, rows: Rows, query: dict[str, list[str]]) -> Rows:
    modified = _time_filter(query, "lastModifiedDateTime")
    created = _time_filter(query, "createdDateTime") if resource in CREATED else None
    due = _time_filter(query, "documentDueDate") if resource == "customerinvoice" else None
    checks = [
        (paths, wanted) for param, paths in FILTERS[resource].items() if (wanted := _arg(query, param)) is not None
    ]
    released = _arg(query, "released") if resource == "customerinvoice" else None
    out: Rows = []
    for record, changed in rows:
        if modified is not None and not modified[0](changed, modified[1]):
            continue
        if created is not None:
            stamp = record.get("createdDateTime")
            if not stamp or not created[0](parse_dto(stamp), created[1]):
                continue
        if due is not None:
            stamp = record.get("documentDueDate")
            if not stamp or not due[0](parse_dto(stamp), due[1]):
                continue
        if any(not any(_equal(dig(record, p), wanted) for p in paths) for paths, wanted in checks):
            continue
        if released is not None:
            is_released = record.get("status") not in ("Hold", "Balanced")
            if str(is_released).lower() != released.strip().lower():
                continue
        out.append((record, changed))
    return out


def _contact_page(rows: Rows, query: dict[str, list[str]], max_page_size: int) -> list[Record]:
    order_by = (_arg(query, "orderBy") or "contactId").strip()
    field = next((f for f in CONTACT_ORDER if f.lower() == order_by.lower()), None)
    if field is None:
        raise ipp(400, INVALID_PARAMETER, f"Invalid parameter: orderBy '{order_by}' is not a contact field.")

    def key(record: Record) -> tuple[int, Any]:
        value = record.get(field)
        if field == "contactId":
            return (0, int(value or 0))
        return (0 if value is not None else 1, str(value or "").lower())

    records = sorted((r for r, _ in rows), key=lambda r: (key(r), int(r.get("contactId") or 0)))
    greater = _arg(query, "greaterThanValue")
    if greater is not None and greater.strip():
        if field == "contactId":
            try:
                bound: tuple[int, Any] = (0, int(greater))
            except ValueError:
                raise ipp(400, INVALID_PARAMETER, "Invalid parameter: greaterThanValue must be a contact id.") from None
        else:
            bound = (0, greater.strip().lower())
        records = [r for r in records if key(r) > bound]
    skip = _int_arg(query, "skipRecords", 0, 0)
    number = min(_int_arg(query, "numberToRead", max_page_size, 1), max_page_size)
    return records[skip : skip + number]


def select(resource: str, rows: Rows, query: dict[str, list[str]], max_page_size: int) -> tuple[list[Record], int]:
    """The page of records a list request returns, and the total number of matches."""
    matches = _filtered(resource, rows, query)
    total = len(matches)
    if resource == "contact":
        return _contact_page(matches, query, max_page_size), total
    if resource == "salesorder":
        greater = _arg(query, "greaterThanValue")
        if greater is not None and greater.strip():
            matches = [(r, t) for r, t in matches if str(r.get("orderNo") or "") > greater.strip()]
    page_number = _int_arg(query, "pageNumber", 1, 1)
    page_size = min(_int_arg(query, "pageSize", max_page_size, 1), max_page_size)
    start = (page_number - 1) * page_size
    return [r for r, _ in matches[start : start + page_size]], total
