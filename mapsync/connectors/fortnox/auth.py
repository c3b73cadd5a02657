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
import time
from collections.abc import Callable
from typing import Protocol

from mapsync.connectors.base import FatalError
from mapsync.connectors.fortnox.errors import error_details
from mapsync.connectors.http import RequestExecutor, TokenAnswer
from mapsync.connectors.http.oauth import OAuthBearer, TokenEndpoint

# apps.fortnox.se for the real API, the same server for simulators
TOKEN_ENDPOINT = TokenEndpoint("https://apps.fortnox.se/oauth-v1/token", lambda host: host == "api.fortnox.se",
                               "/oauth-v1/token")


class SecretStore(Protocol):
    """Where the newest refresh token is kept (the engine passes its state store)."""

    def get_secret(self, name: str) -> str | None: ...

    def put_secret(self, name: str, value: str) -> None: ...


class FortnoxCredentials(OAuthBearer):
    """Produces the auth headers of each request and refreshes OAuth tokens when needed."""

    endpoint = "fortnox token endpoint"

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
        super().__init__(token_url=token_url, executor=executor, error_details=error_details, clock=clock,
                         token=access_token)
        self._client_id = client_id
        self._client_secret = client_secret
        self._configured_refresh = refresh_token
        self._tenant_id = tenant_id
        self._store = token_store
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
            assert self._token is not None and self._client_secret is not None
            return {"Access-Token": self._token, "Client-Secret": self._client_secret}
        return super().headers()

    def can_refresh(self) -> bool:
        return self.oauth

    # ----------------------------------------------------------------- OAuth
    def _stored_refresh_token(self) -> str | None:
        if self._store is None:
            return None
        return self._store.get_secret(self.secret_name)

    def _obtain(self) -> tuple[str, float]:
        """A new access token; with a store that can lock the secret, under that lock (read the newest rotated
        refresh token, use it, keep the next one), so that two processes of one tenant never spend one token."""
        lock = getattr(self._store, "secret_lock", None)
        if lock is None:
            return self._obtain_unlocked()
        with lock(self.secret_name):
            return self._obtain_unlocked()

    def _obtain_unlocked(self) -> tuple[str, float]:
        stored = self._stored_refresh_token()
        current = stored or self._configured_refresh
        if current:
            try:
                return self._apply(self._token_request({"grant_type": "refresh_token", "refresh_token": current}))
            except FatalError:
                fallback = self._configured_refresh
                if not (stored and fallback and fallback != stored):
                    raise
            return self._apply(self._token_request({"grant_type": "refresh_token", "refresh_token": fallback}))
        if self._tenant_id:
            return self._apply(self._token_request({"grant_type": "client_credentials"}, tenant=True))
        raise FatalError("fortnox: no refresh token available; authorise the integration again")

    def _token_request(self, form: dict[str, str], *, tenant: bool = False) -> TokenAnswer:
        basic = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode("ascii")
        headers = {"Authorization": f"Basic {basic}"}
        if tenant and self._tenant_id:
            headers["TenantId"] = self._tenant_id
        return self._grant(form, headers=headers,
                           refusal=f"fortnox token endpoint refused the {form['grant_type']} grant")

    def _apply(self, answer: TokenAnswer) -> tuple[str, float]:
        """Keep the rotated refresh token (in the store first of all), count the refresh."""
        new_refresh = answer.body.get("refresh_token")
        if new_refresh:
            if self._store is not None:
                self._store.put_secret(self.secret_name, str(new_refresh))
            self._configured_refresh = str(new_refresh) if self._store is None else self._configured_refresh
        self.refresh_count += 1
        return answer.access_token, answer.lifetime


token_url_for = TOKEN_ENDPOINT.url_for
