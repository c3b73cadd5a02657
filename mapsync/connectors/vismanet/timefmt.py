"""Visma.net date-time values: the ``lastModifiedDateTime`` filter and the DTO timestamps.

Shared by the client (to build cursors) and the simulator (to read filters and write DTOs).

- Filter values (CONFIRMED [V4]): ``2001-01-01``, ``2001-01-01 13:13:13`` or ``2001-01-01 13:13:13.133``;
  "Filtering Parameters does not accept certain characters such as W-Z", so no ``T`` and no ``Z``.
- Conditions: ``>``, ``<``, ``>=``, ``<=``.
- Time zone: **NOT CONFIRMED**. The simulator stores and compares UTC; the client sends UTC. Visma.net
  companies are in Nordic/Dutch time zones (UTC+1/+2): if the real API uses company local time, a UTC
  cursor is *earlier* than meant, so a pass re-reads up to two extra hours of changes (harmless: the
  engine compares with the base) but never misses one.
- DTO timestamps are written like .NET does, without offset: ``2024-03-01T11:00:00.123``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

FILTER_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
CONDITIONS = (">=", "<=", ">", "<")
_FILTER_RE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2}(\.\d{1,7})?)?$")


def format_filter(instant: datetime) -> str:
    """An aware instant as a filter value in UTC, ``yyyy-MM-dd HH:mm:ss`` (no ``T``, no ``Z``)."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def parse_filter(value: str) -> datetime:
    """A filter value as an aware UTC instant; ``ValueError`` for any other shape (``T``, ``Z``...)."""
    text = value.strip()
    if not _FILTER_RE.match(text):
        raise ValueError(f"unsupported date-time format {value!r}")
    if "." in text:  # .NET accepts up to 7 fraction digits; Python up to 6
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    for fmt in FILTER_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"unsupported date-time format {value!r}")  # pragma: no cover - regex guards


def parse_cursor(value: str) -> datetime:
    """A stored cursor (a filter value, or ISO 8601 with or without offset) as aware UTC."""
    text = value.strip()
    try:
        return parse_filter(text)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_dto(instant: datetime) -> str:
    """A DTO timestamp: UTC without offset, milliseconds (``2024-03-01T11:00:00.123``)."""
    utc = instant.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}"


def parse_dto(value: str) -> datetime:
    """A DTO timestamp (offset optional; none means UTC) as aware UTC."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
