"""Normalising field values so that the two systems' representations compare equal.

The systems disagree on representation: Fortnox sends numbers as strings (``"1"``) and booleans as
``"false"``, webCRM sends dates as date-times, both mix ``""`` and ``null``. ``normalise(value, type)``
brings a value to one canonical form per catalogue type; comparisons, bases and writes all use it, so
that a value the engine wrote reads back equal (no echo).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mapsync.engine.extractors import MISSING


def is_empty(value: Any) -> bool:
    return value is None or value is MISSING or (isinstance(value, str) and value.strip() == "")


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).strip().replace(",", "."))
        except ValueError:
            return value  # not a number: leave it, the target will say so
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    return value


def _date(value: Any) -> Any:
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return value


def _datetime(value: Any) -> Any:
    text = str(value).strip()
    if len(text) == 10:
        text += "T00:00:00"
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed.isoformat(timespec="seconds")


_BY_TYPE = {
    "number": _number,
    "integer": _number,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
}


def normalise(value: Any, field_type: str | None) -> Any:
    """Canonical form of ``value`` for a field of catalogue type ``field_type`` (MISSING stays MISSING)."""
    if value is MISSING:
        return MISSING
    if is_empty(value):
        return None
    if field_type in _BY_TYPE:
        return _BY_TYPE[field_type](value)
    if field_type == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(_number(value))
    if isinstance(value, str):
        return value
    return value


def same(a: Any, b: Any) -> bool:
    """Equality of normalised values (1 == 1.0; MISSING equals only MISSING)."""
    if a is MISSING or b is MISSING:
        return a is b
    return bool(a == b)
