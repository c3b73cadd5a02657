"""OAuth 2 for connector clients (Fortnox, Visma Connect): where the token endpoint is, asking it for a token
(``OAuthBearer``: a ``BearerToken`` renewed at an OAuth token endpoint) and reading its answer.

``TokenEndpoint`` names the product's token URL: its production URL for the production API, the same path on
the API's own host for a simulator. ``checked_token_url`` vets a URL like any endpoint.

Reading the answer (``read_token_answer``):

- 5xx: ``TransientError`` (the executor normally raises first, after its retries);
- any other status but 200: ``FatalError`` with the vendor's message and code (refused credentials);
- 200 without a readable ``access_token``: ``TransientError``.

``expires_in`` defaults to an hour. Messages never contain secrets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from mapsync.connectors.base import FatalError, TransientError
from mapsync.connectors.http.bearer import BearerToken
from mapsync.connectors.http.errors import ErrorDetails
from mapsync.connectors.http.retry import RequestExecutor
from mapsync.connectors.http.transport import checked_token_url


@dataclass(frozen=True)
class TokenEndpoint:
    """A product's token endpoint: ``production_url`` for an API host that ``production`` accepts, else
    ``path`` on the API's own server (simulators)."""

    production_url: str
    production: Callable[[str], bool]  # API host -> is the product's production API
    path: str

    def url_for(self, base_url: str) -> str:
        """The token URL that goes with an API base URL."""
        if self.production(httpx.URL(base_url).host):
            return self.production_url
        return base_url.rstrip("/") + self.path

    def checked(self, configured: str | None, base_url: str, product: str) -> str:
        """The configured token URL, else the one that goes with ``base_url``, vetted as an endpoint."""
        return checked_token_url(configured or self.url_for(base_url), product)


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


class OAuthBearer(BearerToken):
    """A bearer token obtained at an OAuth 2 token endpoint; subclasses implement ``_obtain`` with ``_grant``."""

    endpoint = "the token endpoint"  # names it in messages

    def __init__(self, *, token_url: str, executor: RequestExecutor, error_details: ErrorDetails,
                 clock: Callable[[], float] = time.time, token: str | None = None) -> None:
        super().__init__(clock=clock, token=token)
        self._token_url = token_url
        self._executor = executor
        self._error_details = error_details

    def _grant(self, form: Mapping[str, str], *, refusal: str, headers: Mapping[str, str] | None = None,
               idempotent: bool | None = None) -> TokenAnswer:
        """POST ``form`` to the token endpoint; its token, or ``FatalError`` starting with ``refusal``."""
        response = self._executor.request("POST", self._token_url, data=dict(form),
                                          headers={"Accept": "application/json", **(headers or {})},
                                          idempotent=idempotent)
        return read_token_answer(response, endpoint=self.endpoint, refusal=refusal,
                                 error_details=self._error_details)
