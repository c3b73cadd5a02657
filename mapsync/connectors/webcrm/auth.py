"""The webCRM client's session: exchange the application token for access tokens and keep them fresh.

- Login: ``POST /Auth/ApiLogin`` with ``authCode`` as a multipart form field (what the tap sends
  and live traffic accepted; the simulator also takes urlencoded and a header).
- Refresh: ``POST /Auth/ApiRefresh`` with ``refreshToken`` both as a header (the spec) and as a form
  field (the tap), so either server behaviour works. When the refresh is refused the client simply
  logs in again: the application token does not expire.
- Tokens are renewed shortly before ``ExpiresIn`` runs out and once after a 401.
- A refused login is ``FatalError``; an error ``TokenResponseDto`` (``IsError: true``) counts as
  refused whatever its HTTP status. Tokens never appear in messages.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import httpx

from mapsync.connectors.base import FatalError, TransientError
from mapsync.connectors.http import BearerToken, RequestExecutor
from mapsync.connectors.webcrm.errors import error_message


class WebcrmSession(BearerToken):
    """webCRM access tokens from the application token (``mapsync.connectors.http.BearerToken`` keeps them fresh)."""

    def __init__(
        self,
        base_url: str,
        api_token: str,
        executor: RequestExecutor,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_token:
            raise FatalError("webcrm: no API token configured")
        super().__init__(clock=clock)
        self._base_url = base_url
        self._api_token = api_token
        self._executor = executor
        self._refresh: str | None = None
        self.logins = 0
        self.refreshes = 0

    def _obtain(self) -> tuple[str, float]:
        """Refresh when there is a refresh token and the refresh is accepted, else log in."""
        if self._refresh:
            try:
                return self._refresh_tokens()
            except FatalError:
                pass
        return self._login()

    def _login(self) -> tuple[str, float]:
        response = self._executor.request(
            "POST", self._base_url + "/Auth/ApiLogin", files={"authCode": (None, self._api_token)}, idempotent=True
        )
        token = self._read(response, "login")
        self.logins += 1
        return token

    def _refresh_tokens(self) -> tuple[str, float]:
        assert self._refresh is not None
        response = self._executor.request(
            "POST",
            self._base_url + "/Auth/ApiRefresh",
            headers={"refreshToken": self._refresh},
            files={"refreshToken": (None, self._refresh)},
            idempotent=True,
        )
        token = self._read(response, "token refresh")
        self.refreshes += 1
        return token

    def _read(self, response: httpx.Response, what: str) -> tuple[str, float]:
        """The access token and its lifetime from a ``TokenResponseDto``; keeps the refresh token."""
        body: Any = None
        with contextlib.suppress(ValueError):
            body = response.json()
        ok = (
            response.status_code == 200
            and isinstance(body, dict)
            and not body.get("IsError")
            and isinstance(body.get("AccessToken"), str)
            and body["AccessToken"]
        )
        if not ok:
            if response.status_code >= 500:  # pragma: no cover - the executor raises first
                raise TransientError(f"webcrm {what} failed", status=response.status_code)
            _, message = error_message(response)
            raise FatalError(
                f"webcrm {what} refused: {message or 'no access token in the answer'}", status=response.status_code
            )
        assert isinstance(body, dict)
        self._refresh = body.get("RefreshToken") or self._refresh
        return body["AccessToken"], float(body.get("ExpiresIn") or 3600)
