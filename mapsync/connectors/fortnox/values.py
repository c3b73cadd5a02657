"""Helpers for Fortnox's JSON types. The client returns values exactly as the API sends them.

Fortnox sends some numbers as strings (``"OrderedQuantity": "1"``, ``"CurrencyRate": "1"`` in
lists, article list prices ``"0"``) and some booleans as strings (``"Credit": "false"``), and mixes
``null`` and ``""``. The engine compares *normalised* values; ``normalise_record`` turns the known
string-typed numbers and booleans of an entity into real ones (ids such as ``CustomerNumber`` and
``DocumentNumber`` stay strings), and ``normalise_value`` does one value.

``blank_changes`` prepares a partial update: a change to ``None`` or ``""`` becomes ``"API_BLANK"``
(Fortnox ignores empty values on update).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

API_BLANK = "API_BLANK"

# Fields the API sends as strings although they are numbers or booleans (recorded responses).
STRING_NUMBERS: dict[str, frozenset[str]] = {
    "customer": frozenset(),
    "article": frozenset({"DisposableQuantity", "PurchasePrice", "QuantityInStock", "ReservedQuantity", "StockValue"}),
    "order": frozenset({"CurrencyRate"}),
    "invoice": frozenset({"CurrencyRate"}),
    "order_row": frozenset(
        {"OrderedQuantity", "DeliveredQuantity", "ContributionPercent", "ContributionValue", "ReservedQuantity"}
    ),
    "invoice_row": frozenset({"DeliveredQuantity", "ContributionPercent", "ContributionValue"}),
}
STRING_BOOLEANS: dict[str, frozenset[str]] = {"invoice": frozenset({"Credit"})}
ROWS = {"order": ("OrderRows", "order_row"), "invoice": ("InvoiceRows", "invoice_row")}


def normalise_value(value: Any) -> Any:
    """``"12.50"`` -> ``12.5``, ``"3"`` -> ``3``, ``"true"``/``"false"`` -> bool; others unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text in ("true", "false"):
        return text == "true"
    try:
        number = float(text)
    except ValueError:
        return value
    if text.lower() in ("nan", "inf", "-inf", "infinity", "-infinity", "+inf"):
        return value
    return int(number) if number.is_integer() and "e" not in text.lower() else number


def _numbers(value: Any) -> Any:
    if isinstance(value, str) and value.strip() == "":
        return value
    converted = normalise_value(value)
    return converted if not isinstance(converted, bool) else value


def _catalogue_types(entity: str) -> tuple[frozenset[str], frozenset[str]]:
    """(number fields, boolean fields) of ``entity`` in the Fortnox catalogue; empty when unavailable."""
    try:
        from mapsync.connectors.catalogue import load_catalogue

        spec = load_catalogue("fortnox").entity(entity)
    except Exception:  # the catalogue is optional for this helper
        return frozenset(), frozenset()
    if spec is None:
        return frozenset(), frozenset()
    numbers = frozenset(f.name for f in spec.fields.values() if f.type in ("number", "integer"))
    booleans = frozenset(f.name for f in spec.fields.values() if f.type == "boolean")
    return numbers, booleans


def normalise_record(
    entity: str, record: Mapping[str, Any], *, extra_numbers: Iterable[str] = (), catalogue: bool = True
) -> dict[str, Any]:
    """A copy of ``record`` with string-typed numbers and booleans (also in its rows) converted.

    Converted: the known quirks listed above, ``extra_numbers``, and (``catalogue=True``) every field
    the Fortnox field catalogue types as number/integer/boolean. Ids typed as strings stay strings.
    """
    out = dict(record)
    cat_numbers, cat_booleans = _catalogue_types(entity) if catalogue else (frozenset(), frozenset())
    numbers = STRING_NUMBERS.get(entity, frozenset()) | frozenset(extra_numbers) | cat_numbers
    for name in numbers & out.keys():
        out[name] = _numbers(out[name])
    for name in (STRING_BOOLEANS.get(entity, frozenset()) | cat_booleans) & out.keys():
        if isinstance(out[name], str) and out[name] in ("true", "false"):
            out[name] = out[name] == "true"
    if entity in ROWS:
        rows_field, row_entity = ROWS[entity]
        rows = out.get(rows_field)
        if isinstance(rows, list):
            out[rows_field] = [
                normalise_record(row_entity, r, catalogue=catalogue) if isinstance(r, Mapping) else r for r in rows
            ]
    return out


def blank_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The body of a partial update: ``None``/``""`` -> ``"API_BLANK"``, also inside objects and rows."""
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if value is None or value == "":
            out[name] = API_BLANK
        elif isinstance(value, Mapping):
            out[name] = blank_changes(value)
        elif isinstance(value, list):
            out[name] = [blank_changes(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[name] = value
    return out


def create_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The body of a create: empty values are left out (the server default applies)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or value == "":
            continue
        if isinstance(value, Mapping):
            out[name] = create_values(value)
        elif isinstance(value, list):
            out[name] = [create_values(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[name] = value
    return out
