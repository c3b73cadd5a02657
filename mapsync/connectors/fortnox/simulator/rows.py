"""Order and invoice rows: the official update rules and the row arithmetic.

Update rules (official API description, REFERENCE.md "Row update rule"):

- when no sent row has a ``RowId``, rows are matched to the existing rows in array order; existing
  rows beyond the sent ones are removed, extra sent rows are new;
- when ``RowId`` is given, that row is updated; rows without ``RowId`` are new; ``{"RowId": n}``
  alone keeps the row unchanged; existing rows that are not sent are removed;
- after every update of the document, **every row gets a new RowId**.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mapsync.connectors.fortnox.simulator.errors import INVALID_FIELD, UNKNOWN_ROW, bad_request
from mapsync.connectors.fortnox.simulator.values import number_text, tidy_number

Row = dict[str, Any]
MakeRow = Callable[[Row], Row]
UpdateRow = Callable[[Row, Row], Row]


def apply_rows(current: list[Row], sent: Any, make_row: MakeRow, update_row: UpdateRow) -> list[Row]:
    """The document's rows after an update that sent ``sent`` (a list of row objects)."""
    if not isinstance(sent, list) or not all(isinstance(r, dict) for r in sent):
        raise bad_request(INVALID_FIELD, "Raderna måste vara en lista med objekt.")
    if not any("RowId" in r for r in sent):
        result: list[Row] = []
        for index, given in enumerate(sent):
            if index < len(current):
                result.append(update_row(current[index], given))
            else:
                result.append(make_row(given))
        return result
    by_id = {row.get("RowId"): row for row in current}
    result = []
    for given in sent:
        if "RowId" not in given:
            result.append(make_row(given))
            continue
        try:
            row_id = int(given["RowId"])
        except (TypeError, ValueError):
            raise bad_request(UNKNOWN_ROW, f"Ogiltigt RowId: {given['RowId']!r}") from None
        existing = by_id.get(row_id)
        if existing is None:
            raise bad_request(UNKNOWN_ROW, f"Raden med RowId {row_id} finns inte.")
        changes = {k: v for k, v in given.items() if k != "RowId"}
        result.append(update_row(existing, changes) if changes else dict(existing))
    return result


def renumber(rows: list[Row], next_id: Callable[[], int]) -> None:
    """Give every row a fresh RowId (done after every create and update)."""
    for row in rows:
        row["RowId"] = next_id()


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def compute_row(row: Row, *, invoice: bool) -> None:
    """Fill the read-only amounts of a row: Total from Price x DeliveredQuantity less discount."""
    quantity = _num(row.get("DeliveredQuantity"))
    price = _num(row.get("Price"))
    discount = _num(row.get("Discount"))
    gross = price * quantity
    exact = gross - discount if row.get("DiscountType") == "AMOUNT" else gross * (1 - discount / 100)
    total = round(exact, 2)
    row["Total"] = tidy_number(total)
    row["ContributionValue"] = number_text(tidy_number(round(total - _num(row.get("Cost")) * quantity, 2)))
    row["ContributionPercent"] = number_text(
        tidy_number(round((total - _num(row.get("Cost")) * quantity) / total * 100, 2)) if total else 0
    )
    if invoice:
        row["PriceExcludingVAT"] = tidy_number(price)
        row["TotalExcludingVAT"] = tidy_number(total)


def document_totals(rows: list[Row]) -> dict[str, Any]:
    """Net, VAT, rounded total and round-off of a document from its rows."""
    net = round(sum(_num(r.get("Total")) for r in rows), 2)
    vat = round(sum(_num(r.get("Total")) * _num(r.get("VAT")) / 100 for r in rows), 2)
    exact = net + vat
    total = round(exact)
    return {
        "Net": tidy_number(net),
        "Gross": tidy_number(round(exact, 2)),
        "TotalVAT": tidy_number(vat),
        "Total": tidy_number(float(total)),
        "TotalToPay": tidy_number(float(total)),
        "RoundOff": tidy_number(round(total - exact, 2)),
    }
