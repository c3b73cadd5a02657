"""Turn a Fortnox error response into the connector error the engine acts on.

Bodies seen in the wild: ``{"ErrorInformation": {"error"|"Error", "message"|"Message",
"code"|"Code"}}`` (both casings are real), ``{"message": "..."}`` (429, gateway) and the OAuth shape
``{"error": "...", "error_description": "..."}``. Keys are read case-insensitively and nothing
depends on the body being there at all.

- 401/403, or codes 2000310/2000311 (credentials) and 2001101/2001103 (licence): ``FatalError``;
- 404: ``NotFoundError``; other 4xx: ``RejectedError`` (with the vendor's code and message);
- 429 and 5xx (only when they outlast the retries): ``TransientError``
  (``mapsync.connectors.http.error_for_status``).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from mapsync.connectors.base import ConnectorError
from mapsync.connectors.http import error_for_status

FATAL_CODES = frozenset({"2000310", "2000311", "2001101", "2001103"})


def _lower_keys(data: Any) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in data.items()} if isinstance(data, dict) else {}


def error_details(response: httpx.Response) -> tuple[str | None, str | None]:
    """``(code, message)`` from any of the known error bodies (None when absent)."""
    try:
        body = json.loads(response.content.decode("utf-8")) if response.content else None
    except (ValueError, UnicodeDecodeError):
        body = None
    top = _lower_keys(body)
    info = _lower_keys(top.get("errorinformation")) or top
    code = info.get("code")
    message = info.get("message") or info.get("error_description") or info.get("error")
    return (str(code) if code is not None else None, str(message) if message is not None else None)


def map_error(response: httpx.Response, where: str) -> ConnectorError:
    """The ``ConnectorError`` for a non-success response of the request described by ``where``."""
    status = response.status_code
    code, message = error_details(response)
    text = f"{where}: {message or response.reason_phrase or 'error'}"
    return error_for_status(status, text, code=code, fatal_codes=FATAL_CODES)
