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

import httpx

from mapsync.connectors.http.errors import error_mapper, json_body, lower_keys

FATAL_CODES = frozenset({"2000310", "2000311", "2001101", "2001103"})


def error_details(response: httpx.Response) -> tuple[str | None, str | None]:
    """``(code, message)`` from any of the known error bodies (None when absent)."""
    top = lower_keys(json_body(response))
    info = lower_keys(top.get("errorinformation")) or top
    code = info.get("code")
    message = info.get("message") or info.get("error_description") or info.get("error")
    return (str(code) if code is not None else None, str(message) if message is not None else None)


map_error = error_mapper(error_details, fatal_codes=FATAL_CODES)
