"""Turn a webCRM error response into a connector error, without depending on its body.

Only the 429 body is documented (``{"RetryAfterSeconds", "Message", "Type"}``); other bodies are
NOT CONFIRMED, so the message is taken from whatever is there: ``Message``/``message``, an ASP.NET
``ModelState``, a ``TokenResponseDto`` ``Error``/``ErrorDescription``, or the start of a text body.

401/403 -> ``FatalError`` (after the client's one re-login), 404 -> ``NotFoundError``, 429/5xx ->
``TransientError``, other 4xx -> ``RejectedError`` (``mapsync.connectors.http.error_for_status``).
"""

from __future__ import annotations

from typing import Any

import httpx

from mapsync.connectors.http.errors import error_mapper, json_body, lower_keys

MAX_TEXT = 200


def error_message(response: httpx.Response) -> tuple[str | None, str | None]:
    """``(type_or_code, message)`` from any body shape; either may be None."""
    body: Any = json_body(response)
    if body is None and response.content:  # not JSON
        return None, (response.text.strip()[:MAX_TEXT] or None)
    if isinstance(body, str):
        return None, body[:MAX_TEXT]
    if not isinstance(body, dict):
        return None, None
    lowered = lower_keys(body)
    message = lowered.get("message") or lowered.get("errordescription") or lowered.get("error")
    kind = lowered.get("type") or (lowered.get("error") if lowered.get("iserror") else None)
    state = lowered.get("modelstate")
    if isinstance(state, dict) and state:
        details = "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in state.items())
        message = f"{message}: {details}" if message else details
    return (str(kind) if kind else None, str(message) if message else None)


map_error = error_mapper(error_message)
