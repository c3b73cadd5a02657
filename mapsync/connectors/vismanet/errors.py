"""Turn a Visma.net error response into the connector error the engine acts on.

Bodies seen or expected (which endpoint sends which is NOT CONFIRMED, so all are read everywhere,
keys case-insensitively, and nothing depends on a body being there at all):

- IPPException [V9]: ``{"ExceptionType", "ExceptionMessage", "ExceptionFaultCode", "ExceptionMessageID",
  "ExceptionDetails"}``;
- ``{"message": "VismaId: <guid>. Error ..."}`` [V10], also ASP.NET's ``{"Message": ...}`` with an
  optional ``ModelState``, and Azure API Management's ``{"statusCode": 429, "message": ...}``;
- OAuth ``{"error", "error_description"}`` (Visma Connect).

Mapping (after the client's retries and one token renewal on 401/403):

- fault code 12027 ("No license for this company.", any status), 401, 403: ``FatalError``;
- 404: ``NotFoundError``; 409 and 412 (stale ``If-Match``): ``ConflictError``;
- 429 and 5xx: ``TransientError``; any other 4xx: ``RejectedError``, with the vendor's message and code
  (``mapsync.connectors.http.error_for_status``).
"""

from __future__ import annotations

from typing import Any

import httpx

from mapsync.connectors.http.errors import error_mapper, json_body, lower_keys

FATAL_CODES = frozenset({"12027"})


def _model_state(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    problems = [f"{k}: {'; '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in value.items()]
    return " (" + ", ".join(problems) + ")" if problems else ""


def error_details(response: httpx.Response) -> tuple[str | None, str | None]:
    """``(code, message)`` from any of the known error bodies (None when absent)."""
    body = json_body(response)
    if body is None and response.content:
        text = response.content.decode("utf-8", "replace").strip()
        if text and not text.startswith("<"):
            return None, text[:300]
        return None, None
    top = lower_keys(body)
    if "exceptionmessage" in top or "exceptionfaultcode" in top:
        code = top.get("exceptionfaultcode")
        message = top.get("exceptionmessage")
        return (str(code) if code not in (None, "") else None, str(message) if message is not None else None)
    if isinstance(top.get("error"), str):
        description = top.get("error_description")
        return top["error"], str(description) if description else top["error"]
    message = top.get("message") or top.get("errormessage")
    if message is None:
        return None, None
    return None, str(message) + _model_state(top.get("modelstate"))


map_error = error_mapper(error_details, prefix="vismanet ", fatal_codes=FATAL_CODES, conflict_statuses=(409, 412))


def is_licence_error(response: httpx.Response) -> bool:
    """A refusal that a new token cannot fix (12027: no licence for this company)."""
    code, _ = error_details(response)
    return code in FATAL_CODES
