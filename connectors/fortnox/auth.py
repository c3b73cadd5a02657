"""Credentials of the Fortnox client: static bearer token, legacy headers, or OAuth2 with rotation.

OAuth (``client_id`` + ``client_secret`` + ``refresh_token`` or ``tenant_id``):

- the access token is refreshed shortly before it expires and once after a 401;
- every refresh returns a **new refresh token and invalidates the old one**; the newest is written
  through ``token_store.put_secret`` *immediately* (before the new access token is used) and is
  preferred over the constructor's token on the next start;
- when the stored refresh token is refused but the configured one differs (the user re-authorised
  and updated the environment), the configured one is tried once;
- ``tenant_id`` without refresh token uses ``grant_type=client_credentials`` (service account).

Refused credentials raise ``FatalError``; a token endpoint that is down raises ``TransientError``.
Secrets never appear in messages.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from connectors.base import FatalError, TransientError
from connectors.fortnox.errors import error_details
from connectors.http import RequestExecutor


class SecretStore(Protocol):
    """Where the newest refresh token is kept (the engine passes its state store)."""

    def get_secret(self, name: str) -> str | None: ...

    def put_secret(self, name: str, value: str) -> None: ...


class FortnoxCredentials:
    """Produces the auth headers of each request and refreshes OAuth tokens when needed."""

    def __init__(
        self,
        *,
        token_url: str,
        executor: RequestExecutor,
        access_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        tenant_id: str | None = None,
        token_store: SecretStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._token_url = token_url
        self._executor = executor
        self._clock = clock
        self._client_id = client_id
        self._client_secret = client_secret
        self._configured_refresh = refresh_token
        self._tenant_id = tenant_id
        self._store = token_store
        self._lock = threading.Lock()
        self._access_token = access_token
        self._expires_at: float | None = None
        self.refresh_count = 0
        self.oauth = bool(client_id and client_secret and (refresh_token or tenant_id or token_store))
        self.legacy = bool(access_token and client_secret and not client_id)
        if not (self.oauth or access_token):
            raise FatalError(
                "fortnox: no credentials; give access_token, or client_id + client_secret with "
                "refresh_token or tenant_id"
            )

    @property
    def secret_name(self) -> str:
        return f"fortnox.{self._client_id or 'default'}.refresh_token"

    # ----------------------------------------------------------------- headers
    def headers(self) -> dict[str, str]:
        """Headers for the next API request (refreshing first when the token is about to expire)."""
        if self.legacy:
            assert self._access_token is not None and self._client_secret is not None
            return {"Access-Token": self._access_token, "Client-Secret": self._client_secret}
        with self._lock:
            if self.oauth and (self._access_token is None or self._expiring()):
                self._refresh_locked()
            return {"Authorization": f"Bearer {self._access_token}"}

    def _expiring(self) -> bool:
        if self._expires_at is None:
            return False
        return self._clock() >= self._expires_at

    def can_refresh(self) -> bool:
        return self.oauth

    def refresh_after_401(self, rejected: dict[str, str]) -> None:
        """Refresh because a request with ``rejected`` headers got 401 (once per rejected token)."""
        with self._lock:
            if rejected.get("Authorization") == f"Bearer {self._access_token}":
                self._refresh_locked()

    # ----------------------------------------------------------------- OAuth
    def _stored_refresh_token(self) -> str | None:
        if self._store is None:
            return None
        return self._store.get_secret(self.secret_name)

    def _refresh_locked(self) -> None:
        stored = self._stored_refresh_token()
        current = stored or self._configured_refresh
        if current:
            try:
                self._apply(self._token_request({"grant_type": "refresh_token", "refresh_token": current}))
                return
            except FatalError:
                fallback = self._configured_refresh
                if not (stored and fallback and fallback != stored):
                    raise
            self._apply(self._token_request({"grant_type": "refresh_token", "refresh_token": fallback}))
            return
        if self._tenant_id:
            self._apply(self._token_request({"grant_type": "client_credentials"}, tenant=True))
            return
        raise FatalError("fortnox: no refresh token available; authorise the integration again")

    def _token_request(self, form: dict[str, str], *, tenant: bool = False) -> dict[str, Any]:
        basic = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode("ascii")
        headers = {"Authorization": f"Basic {basic}", "Accept": "application/json"}
        if tenant and self._tenant_id:
            headers["TenantId"] = self._tenant_id
        response = self._executor.request("POST", self._token_url, data=form, headers=headers)
        if response.status_code >= 500:  # pragma: no cover - the executor raises first
            raise TransientError("fortnox token endpoint failed", status=response.status_code)
        if response.status_code != 200:
            code, message = error_details(response)
            raise FatalError(
                f"fortnox token endpoint refused the {form['grant_type']} grant: {message or 'refused'}",
                status=response.status_code,
                code=code,
            )
        try:
            body: dict[str, Any] = response.json()
            access = str(body["access_token"])
        except (ValueError, KeyError, TypeError):
            raise TransientError("fortnox token endpoint sent an unreadable answer") from None
        body["access_token"] = access
        return body

    def _apply(self, body: dict[str, Any]) -> None:
        new_refresh = body.get("refresh_token")
        if new_refresh:
            if self._store is not None:
                self._store.put_secret(self.secret_name, str(new_refresh))
            self._configured_refresh = str(new_refresh) if self._store is None else self._configured_refresh
        self._access_token = body["access_token"]
        lifetime = float(body.get("expires_in") or 3600)
        margin = min(60.0, lifetime / 10)
        self._expires_at = self._clock() + lifetime - margin
        self.refresh_count += 1


def token_url_for(base_url: str) -> str:
    """The OAuth token URL: apps.fortnox.se for the real API, the same server for simulators."""
    host = httpx.URL(base_url).host
    if host == "api.fortnox.se":
        return "https://apps.fortnox.se/oauth-v1/token"
    return base_url.rstrip("/") + "/oauth-v1/token"
