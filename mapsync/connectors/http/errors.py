"""Which ``ConnectorError`` an HTTP error answer stands for: the ladder every connector shares.

In order: 401, 403 or a vendor code in ``fatal_codes`` -> ``FatalError``; 404 -> ``NotFoundError``;
a status in ``conflict_statuses`` -> ``ConflictError``; 429 and 5xx -> ``TransientError``; any other
status -> ``RejectedError``. Reading the vendor's code and message from the body is the product's job.
"""

from __future__ import annotations

from collections.abc import Collection

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
