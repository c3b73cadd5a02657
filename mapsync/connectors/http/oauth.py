"""Reading an OAuth 2 token endpoint's answer (Fortnox, Visma Connect).

- 5xx: ``TransientError`` (the executor normally raises first, after its retries);
- any other status but 200: ``FatalError`` with the vendor's message and code (refused credentials);
- 200 without a readable ``access_token``: ``TransientError``.

``expires_in`` defaults to an hour. Messages never contain secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from mapsync.connectors.base import FatalError, TransientError
from mapsync.connectors.http.errors import ErrorDetails


@dataclass(frozen=True)
class TokenAnswer:
    """A granted token: ``access_token``, its ``lifetime`` in seconds and the whole JSON ``body``."""

    access_token: str
    lifetime: float
    body: dict[str, Any]


def read_token_answer(
    response: httpx.Response, *, endpoint: str, refusal: str, error_details: ErrorDetails
) -> TokenAnswer:
    """The token in ``response``, or the error above.

    ``endpoint`` names the token endpoint in messages ("<endpoint> failed"), ``refusal`` starts the
    message of a refusal ("<refusal>: <vendor message>"), ``error_details`` reads ``(code, message)``
    from the product's error bodies.
    """
    if response.status_code >= 500:  # pragma: no cover - the executor raises first
        raise TransientError(f"{endpoint} failed", status=response.status_code)
    if response.status_code != 200:
        code, message = error_details(response)
        raise FatalError(f"{refusal}: {message or 'refused'}", status=response.status_code, code=code)
    try:
        body: dict[str, Any] = response.json()
        access = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 3600)
    except (ValueError, KeyError, TypeError):
        raise TransientError(f"{endpoint} sent an unreadable answer") from None
    return TokenAnswer(access, lifetime, body)
