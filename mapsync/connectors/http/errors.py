"""Which ``ConnectorError`` an HTTP error answer stands for: the ladder every connector shares, and the
skeleton of reading the vendor's error bodies.

In order: 401, 403 or a vendor code in ``fatal_codes`` -> ``FatalError``; 404 -> ``NotFoundError``;
a status in ``conflict_statuses`` -> ``ConflictError``; 429 and 5xx -> ``TransientError``; any other
status -> ``RejectedError``.

A product only says how its error bodies carry a code and a message (``ErrorDetails``: answer ->
``(code, message)``, None where absent), reading them with ``json_body`` and ``lower_keys`` (keys compared
case-insensitively: vendors send both casings); ``error_mapper`` makes its ``map_error`` from that. Nothing
depends on a body being there at all: without a message the HTTP reason phrase stands in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

import httpx

from mapsync.connectors.base import (
    ConflictError,
    ConnectorError,
    FatalError,
    NotFoundError,
    RejectedError,
    TransientError,
)


def error_for_status(
    status: int,
    text: str,
    *,
    code: str | None = None,
    fatal_codes: Collection[str] = (),
    conflict_statuses: Collection[int] = (),
) -> ConnectorError:
    """The error for an answer with ``status`` (``text`` is its message, ``code`` the vendor's code)."""
    if status in (401, 403) or code in fatal_codes:
        return FatalError(text, status=status, code=code)
    if status == 404:
        return NotFoundError(text, status=status, code=code)
    if status in conflict_statuses:
        return ConflictError(text, status=status, code=code)
    if status == 429 or status >= 500:
        return TransientError(text, status=status, code=code)
    return RejectedError(text, status=status, code=code)


ErrorDetails = Callable[[httpx.Response], tuple[str | None, str | None]]
MapError = Callable[[httpx.Response, str], ConnectorError]  # (final answer, "METHOD /path") -> error


def json_body(response: httpx.Response) -> Any:
    """The answer's body as JSON; None when it has none or it is not JSON."""
    try:
        return json.loads(response.content.decode("utf-8")) if response.content else None
    except (ValueError, UnicodeDecodeError):
        return None


def lower_keys(data: Any) -> dict[str, Any]:
    """An object's keys in lower case (anything else: empty)."""
    return {str(k).lower(): v for k, v in data.items()} if isinstance(data, dict) else {}


def error_mapper(details: ErrorDetails, *, prefix: str = "", fatal_codes: Collection[str] = (),
                 conflict_statuses: Collection[int] = ()) -> MapError:
    """The product's ``map_error``: the ladder above, with the vendor's code and message from ``details``; the
    error's text is ``<prefix><where>: <message>``."""

    def map_error(response: httpx.Response, where: str) -> ConnectorError:
        code, message = details(response)
        text = f"{prefix}{where}: {message or response.reason_phrase or 'error'}"
        return error_for_status(response.status_code, text, code=code, fatal_codes=fatal_codes,
                                conflict_statuses=conflict_statuses)

    return map_error
