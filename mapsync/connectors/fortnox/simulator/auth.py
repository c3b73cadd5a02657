"""Authentication of the Fortnox simulator: the OAuth token endpoint and the check of API calls.

API calls are accepted with ``Authorization: Bearer <token>`` (a token issued by the token endpoint
and not expired, or a configured static token), or with the legacy ``Access-Token`` +
``Client-Secret`` header pair. Refusals carry ``ErrorInformation`` (lower-case keys):

- no credentials, or an unknown/expired bearer token -> 401, code 2000311;
- legacy pair with a wrong ``Client-Secret`` -> 403, code 2000310; unknown ``Access-Token`` -> 403,
  code 2000311;
- a scope listed in ``denied_scopes`` -> 403, code 2001101 (no licence for the scope).

``POST /oauth-v1/token`` (form-encoded, HTTP Basic ``client_id:client_secret``):

- ``grant_type=refresh_token&refresh_token=...``: **rotation**; every refresh returns a new refresh
  token and invalidates the one used (reuse -> 400 ``{"error": "invalid_grant"}``);
- ``grant_type=client_credentials`` with a ``TenantId`` header naming a configured tenant: an access
  token without refresh token;
- response ``{"access_token", "refresh_token", "scope", "expires_in", "token_type": "bearer"}``;
  a bad client -> 401 ``{"error": "invalid_client"}``.

Token state lives in the store, so it survives a restart of a persisted simulator.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from mapsync.connectors.fortnox.simulator.errors import BAD_ACCESS_TOKEN, BAD_CLIENT_SECRET, error_response
from mapsync.connectors.fortnox.simulator.store import FortnoxStore
from mapsync.connectors.simkit import Request, Response, json_response

SCOPE_BY_PATH = {"customers": "customer", "articles": "article", "orders": "order", "invoices": "invoice"}
NO_LICENCE_FOR_SCOPE = 2001101


@dataclass(frozen=True)
class FortnoxAuthConfig:
    """Credentials the simulator accepts. The defaults are what ``mapsync sandbox`` publishes."""

    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"
    refresh_token: str | None = "sandbox-refresh-token"  # accepted once, then rotated
    access_tokens: tuple[str, ...] = ("sandbox-access-token",)  # static bearer tokens, no expiry
    legacy_credentials: tuple[tuple[str, str], ...] = (("sandbox-legacy-access-token", "sandbox-legacy-client-secret"),)
    tenant_ids: tuple[str, ...] = ("sandbox-tenant",)
    access_token_lifetime: float = 3600.0
    scope: str = "companyinformation customer article order invoice"
    denied_scopes: tuple[str, ...] = ()


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description})


class FortnoxAuth:
    """Token issuing and checking; state kept in ``store.auth``."""

    def __init__(
        self, store: FortnoxStore, config: FortnoxAuthConfig, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        with store.lock:
            state = store.auth
            state.setdefault("refresh_tokens", [])
            state.setdefault("spent_refresh_tokens", [])
            state.setdefault("access_tokens", {})
            initial = config.refresh_token
            if initial and initial not in state["spent_refresh_tokens"] and initial not in state["refresh_tokens"]:
                state["refresh_tokens"].append(initial)
        self.refreshes = 0

    # ----------------------------------------------------------------- token endpoint
    def token_endpoint(self, request: Request) -> Response:
        if not self._client_ok(request):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items() if v}
        grant = form.get("grant_type")
        if grant == "refresh_token":
            return self._refresh(form.get("refresh_token", ""))
        if grant == "client_credentials":
            tenant = request.header("TenantId")
            if not tenant or tenant not in self.config.tenant_ids:
                return _oauth_error(400, "invalid_request", "Unknown or missing TenantId")
            return json_response(200, self._issue(with_refresh=False))
        return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant!r}")

    def _client_ok(self, request: Request) -> bool:
        header = request.header("Authorization") or ""
        if not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
        return secrets.compare_digest(client_id, self.config.client_id) and secrets.compare_digest(
            secret, self.config.client_secret
        )

    def _refresh(self, token: str) -> Response:
        with self.store.lock:
            state = self.store.auth
            if token not in state["refresh_tokens"]:
                return _oauth_error(400, "invalid_grant", "Invalid refresh token")
            state["refresh_tokens"].remove(token)
            state["spent_refresh_tokens"].append(token)
            self.refreshes += 1
            return json_response(200, self._issue(with_refresh=True))

    def _issue(self, *, with_refresh: bool) -> dict[str, object]:
        with self.store.lock:
            state = self.store.auth
            now = self.clock()
            state["access_tokens"] = {t: exp for t, exp in state["access_tokens"].items() if exp > now}
            access = "sim-at-" + secrets.token_urlsafe(24)
            lifetime = self.config.access_token_lifetime
            state["access_tokens"][access] = now + lifetime
            body: dict[str, object] = {
                "access_token": access,
                "scope": self.config.scope,
                "expires_in": int(lifetime),
                "token_type": "bearer",
            }
            if with_refresh:
                refresh = "sim-rt-" + secrets.token_urlsafe(24)
                state["refresh_tokens"].append(refresh)
                body["refresh_token"] = refresh
            self.store.save()
            return body

    def expire_access_tokens(self) -> None:
        """Make every issued access token invalid (tests force a 401 -> refresh)."""
        with self.store.lock:
            self.store.auth["access_tokens"] = {}
            self.store.save()

    # ----------------------------------------------------------------- API calls
    def authenticate(self, request: Request) -> Response | None:
        refused = self._credentials(request)
        if refused is not None:
            return refused
        parts = request.path.strip("/").split("/")
        scope = SCOPE_BY_PATH.get(parts[1]) if len(parts) > 1 else None
        if scope in self.config.denied_scopes:
            return error_response(403, NO_LICENCE_FOR_SCOPE, f"Det saknas en aktiv licens för scope {scope}.")
        return None

    def _credentials(self, request: Request) -> Response | None:
        header = request.header("Authorization") or ""
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
            if token in self.config.access_tokens:
                return None
            with self.store.lock:
                expires = self.store.auth["access_tokens"].get(token)
            if expires is not None and expires > self.clock():
                return None
            return error_response(401, BAD_ACCESS_TOKEN, "Ogiltig eller utgången access-token.")
        access, secret = request.header("Access-Token"), request.header("Client-Secret")
        if access is None and secret is None:
            return error_response(401, BAD_ACCESS_TOKEN, "Access-token saknas.")
        for known_access, known_secret in self.config.legacy_credentials:
            if access == known_access:
                if secret == known_secret:
                    return None
                return error_response(403, BAD_CLIENT_SECRET, "Ogiltig Client-Secret.")
        return error_response(403, BAD_ACCESS_TOKEN, "Ogiltig Access-Token.")
