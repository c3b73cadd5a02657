"""Values on their way into a state store, whatever the backend: checks, UTC timestamps, JSON text.

Owns what both implementations (``mapsync.engine.state.sqlite`` and ``mapsync.engine.state.postgres``)
must do alike so that they refuse the same values and store the same JSON: a naive timestamp, an unknown
side or error class, a base that JSON cannot hold.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from mapsync.engine.state.store import SIDES, Base, Side, StateError


def utc_now() -> datetime:
    """The default clock: the current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive timestamp is refused (its time zone is unknown)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamps must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def check_side(side: str) -> Side:
    return cast(Side, check_choice(side, SIDES, "side"))


def check_choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")
    return value


def check_text(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__} {value!r}")
    return value


def dump_json(value: Any, what: str) -> str:
    """Compact JSON text; NaN, infinities and values JSON has no form for are a ``StateError``."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise StateError(f"{what} is not JSON-serialisable: {exc}") from exc


def encode_base(base: Base) -> tuple[str, str | None, str | None]:
    """The JSON texts of a base: its fields, its lines (None: no lines) and its held fields (None: none)."""
    fields = dict(base.fields)
    bad = [key for key in fields if not isinstance(key, str)]
    if bad:
        raise StateError(f"base field keys must be strings, got {bad!r}")
    lines = None if base.lines is None else dump_json(list(base.lines), "base lines")
    held = dump_json(dict(base.held), "held fields") if base.held else None
    return dump_json(fields, "base fields"), lines, held
