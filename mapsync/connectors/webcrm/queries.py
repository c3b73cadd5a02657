"""Building ``/Queries`` scripts: timestamps in the form webCRM's own integration sends
(``2018-10-05T12:00:00.0000000Z``, UTC) and safely quoted literals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def format_timestamp(instant: datetime) -> str:
    """UTC ISO 8601 with seven fractional digits and ``Z`` (C# round-trip format)."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    utc = instant.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}0Z"


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime (no offset -> UTC); ``ValueError`` if bad."""
    value = datetime.fromisoformat(text.strip())
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def literal(value: Any) -> str:
    """A quoted SQL string literal (single quotes doubled)."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return "'" + str(value).replace("'", "''") + "'"


def select(table: str, *, where: list[tuple[str, str, Any]] | None = None, order_by: str | None = None) -> str:
    """``SELECT * FROM table WHERE a >= 'x' AND b = 'y' ORDER BY id ASC``."""
    where = where or []
    for column, _, _ in where:
        if not column.replace("_", "").isalnum():
            raise ValueError(f"not a column name: {column!r}")
    script = f"SELECT * FROM {table}"
    if where:
        script += " WHERE " + " AND ".join(f"{c} {op} {literal(v)}" for c, op, v in where)
    if order_by:
        script += f" ORDER BY {order_by} ASC"
    return script
