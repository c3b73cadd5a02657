"""Type handling of written values, following the type of each field in the recorded templates.

Fortnox is lenient on input and strict on output: a number sent for a string-typed field
(``"OrderedQuantity": 1.0``) is stored as the string ``"1"``; a numeric string sent for a number
field is stored as a number. Integral floats become ints (``10.0`` is returned as ``10``).

Empty values on update: ``""`` and ``null`` leave the field unchanged (chosen, NOT CONFIRMED; it
is why the API has ``API_BLANK``), and ``"API_BLANK"`` blanks it: ``""`` for string fields,
``null`` for fields that default to null, ``0`` for numbers and ``false`` for booleans.
"""

from __future__ import annotations

import math
from typing import Any

from mapsync.connectors.fortnox.simulator.errors import (
    INVALID_FIELD,
    NOT_BOOLEAN,
    NOT_NUMERIC,
    TOO_LONG,
    ApiError,
    bad_request,
)

API_BLANK = "API_BLANK"


class Unchanged:
    """Marker: leave the field as it is."""


UNCHANGED = Unchanged()


def number_text(value: float | int) -> str:
    """``1.0`` -> ``"1"``, ``2.5`` -> ``"2.5"`` (how Fortnox prints string-typed numbers)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def tidy_number(value: float | int) -> float | int:
    """Integral floats become ints, like the JSON Fortnox returns."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _as_number(field: str, value: Any) -> float | int:
    if isinstance(value, bool):
        raise bad_request(NOT_NUMERIC, f"Fältet {field} måste vara numeriskt.")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise bad_request(NOT_NUMERIC, f"Fältet {field} måste vara numeriskt.")
        return tidy_number(value)
    if isinstance(value, str):
        try:
            return tidy_number(float(value.replace(",", ".")))
        except ValueError:
            pass
    raise bad_request(NOT_NUMERIC, f"Fältet {field} måste vara numeriskt.")


def _as_bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad_request(NOT_BOOLEAN, f"Fältet {field} måste vara true eller false.")


def blank_value(template: Any) -> Any:
    if template is None:
        return None
    if isinstance(template, bool):
        return False
    if isinstance(template, int | float):
        return 0
    if isinstance(template, str):
        return ""
    return template


def coerce(field: str, value: Any, template: Any, *, creating: bool) -> Any:
    """The value to store for ``field`` given what was sent and the template value (type)."""
    if value == API_BLANK:
        return blank_value(template)
    if value is None or value == "":
        return template if creating else UNCHANGED
    if isinstance(template, bool):
        return _as_bool(field, value)
    if isinstance(template, int | float):
        return _as_number(field, value)
    if isinstance(template, str):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return number_text(value)
        if isinstance(value, str):
            return value
        raise bad_request(INVALID_FIELD, f"Ogiltigt värde för fältet {field}.")
    if isinstance(template, dict):
        if not isinstance(value, dict):
            raise bad_request(INVALID_FIELD, f"Fältet {field} måste vara ett objekt.")
        return value
    if isinstance(template, list):
        if not isinstance(value, list):
            raise bad_request(INVALID_FIELD, f"Fältet {field} måste vara en lista.")
        return value
    # template None: the type is not known from the recordings; keep scalars as sent
    if isinstance(value, dict | list):
        raise bad_request(INVALID_FIELD, f"Ogiltigt värde för fältet {field}.")
    return tidy_number(value) if isinstance(value, float) else value


def merge_fields(
    target: dict[str, Any],
    given: dict[str, Any],
    template: dict[str, Any],
    *,
    creating: bool,
    read_only: frozenset[str] = frozenset(),
    skip: frozenset[str] = frozenset(),
    max_lengths: dict[str, int] | None = None,
) -> None:
    """Write ``given`` into ``target`` field by field (nested objects merged key by key).

    Unknown fields -> 2001399; read-only fields are ignored (chosen, NOT CONFIRMED); ``skip`` fields
    are handled by the caller (rows, numbers).
    """
    limits = max_lengths or {}
    for field, value in given.items():
        if field in skip:
            continue
        if field not in template:
            raise bad_request(INVALID_FIELD, f"Ogiltigt fältnamn: {field}")
        if field in read_only:
            continue
        sub_template = template[field]
        if isinstance(sub_template, dict) and isinstance(value, dict):
            current = dict(target.get(field) or sub_template)
            merge_fields(current, value, sub_template, creating=creating)
            target[field] = current
            continue
        stored = coerce(field, value, sub_template, creating=creating)
        if stored is UNCHANGED:
            continue
        limit = limits.get(field)
        if limit is not None and isinstance(stored, str) and len(stored) > limit:
            raise ApiError(400, TOO_LONG, f"Fältet {field} får vara högst {limit} tecken.")
        target[field] = stored
