"""Fortnox ``lastmodified`` values: Swedish local time (Europe/Stockholm) as ``yyyy-MM-dd HH:mm``.

Shared by the client (to build cursors) and the simulator (to read them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

LASTMODIFIED_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def stockholm() -> tzinfo:
    """Europe/Stockholm, or CET (+01:00) when the system has no time-zone database."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Stockholm")
    except Exception:  # pragma: no cover - tzdata missing
        return timezone(timedelta(hours=1), "CET")


def format_lastmodified(instant: datetime) -> str:
    """An aware instant as a Stockholm-local ``yyyy-MM-dd HH:mm`` (seconds truncated)."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(stockholm()).strftime("%Y-%m-%d %H:%M")


def parse_local_lastmodified(value: str) -> datetime | None:
    """A value in one of ``LASTMODIFIED_FORMATS`` (Stockholm local time) as aware UTC; None if none fits.

    What the API accepts; the simulator refuses anything else.
    """
    text = value.strip()
    for fmt in LASTMODIFIED_FORMATS:
        try:
            local = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return local.replace(tzinfo=stockholm()).astimezone(UTC)
    return None


def parse_lastmodified(value: str) -> datetime:
    """A ``lastmodified`` value (Stockholm local time) as an aware UTC instant; ``ValueError`` if bad.

    ISO 8601 values with an offset (``2024-03-01T10:00:00+00:00``) are accepted too.
    """
    local = parse_local_lastmodified(value)
    if local is not None:
        return local
    text = value.strip()
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=stockholm()).astimezone(UTC)
    return parsed.astimezone(UTC)
