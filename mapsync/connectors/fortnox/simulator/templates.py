"""Default records, rows and list-item fields of the simulator (``templates.json``, taken from the
real responses recorded in Jan 2023), and the list-item projection of a full record.

List items are the reduced "ListItem" subset with its own type quirks, as recorded:
customers send ``""`` where the full record has ``null`` and call ``Phone1`` ``Phone``; articles
send quantities and prices as strings (``"0"``) and ``VAT`` as ``null`` when it is zero; invoices
send ``CurrencyRate`` as a string.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from mapsync.connectors.fortnox.simulator.values import number_text

Record = dict[str, Any]

PATHS = {"customer": "customers", "article": "articles", "order": "orders", "invoice": "invoices"}
WRAPPERS = {"customer": "Customer", "article": "Article", "order": "Order", "invoice": "Invoice"}
LIST_WRAPPERS = {"customer": "Customers", "article": "Articles", "order": "Orders", "invoice": "Invoices"}
NUMBER_FIELDS = {
    "customer": "CustomerNumber",
    "article": "ArticleNumber",
    "order": "DocumentNumber",
    "invoice": "DocumentNumber",
}
ROW_FIELDS = {"order": "OrderRows", "invoice": "InvoiceRows"}

_ARTICLE_TEXT_NUMBERS = ("DisposableQuantity", "PurchasePrice", "QuantityInStock", "ReservedQuantity", "StockValue")


@cache
def _data() -> dict[str, Any]:
    with (Path(__file__).parent / "templates.json").open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def record_template(entity: str) -> Record:
    """A new record of ``entity`` with every field at its server default (a fresh copy)."""
    return copy.deepcopy(_data()["records"][entity])


def row_template(entity: str) -> Record:
    """A new order or invoice row with every field at its default."""
    return copy.deepcopy(_data()["rows"][entity])


def list_fields(entity: str) -> list[str]:
    fields: list[str] = _data()["list_fields"][entity]
    return list(fields)


def record_url(base_url: str, entity: str, number: str) -> str:
    return f"{base_url}/3/{PATHS[entity]}/{number}"


def full_record(entity: str, record: Record, base_url: str) -> Record:
    """The single-resource shape: ``@url`` (and ``@urlTaxReductionList`` on documents) first."""
    number = record[NUMBER_FIELDS[entity]]
    out: Record = {"@url": record_url(base_url, entity, number)}
    if entity in ROW_FIELDS:
        out["@urlTaxReductionList"] = f"{base_url}/3/taxreductions?filter={PATHS[entity]}&referencenumber={number}"
    out.update(record)
    return out


def list_item(entity: str, record: Record, base_url: str) -> Record:
    """The reduced list-item shape of ``record``."""
    item: Record = {}
    for field in list_fields(entity):
        if field == "@url":
            item[field] = record_url(base_url, entity, str(record.get(NUMBER_FIELDS[entity])))  # raw: may lack it
            continue
        if entity == "customer":
            value = record.get("Phone1") if field == "Phone" else record.get(field)
            item[field] = "" if value is None else value
        elif entity == "article" and field in _ARTICLE_TEXT_NUMBERS:
            value = record.get(field)
            item[field] = number_text(value) if isinstance(value, int | float) else (value or "0")
        elif entity == "article" and field == "VAT":
            value = record.get("VAT")
            item[field] = value if value else None
        elif entity == "invoice" and field == "CurrencyRate":
            value = record.get(field)
            item[field] = number_text(value) if isinstance(value, int | float) else value
        else:
            item[field] = record.get(field)
    return item
