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

Tenants (``tenant_of``; ``mapsync.connectors.simkit.tenants``): Fortnox counts its rate limit and keeps its
data per client id and tenant (one company). The configured ``tenant_ids``, static ``access_tokens``,
refresh token and legacy credentials name the default tenant. A ``TenantId`` starting with ``tenant_prefix``
(``tenant-``) is accepted for client credentials and names a tenant of its own; the access token issued
carries it. A static bearer token starting with the prefix is accepted too and names the tenant of the same
id (the token is its own tenant id).

Token state lives in the store, so it survives a restart of a persisted simulator.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from mapsync.connectors.fortnox.simulator.errors import BAD_ACCESS_TOKEN, BAD_CLIENT_SECRET, error_response
from mapsync.connectors.fortnox.simulator.store import FortnoxStore
from mapsync.connectors.simkit import (
    DEFAULT_TENANT,
    TENANT_PREFIX,
    Request,
    Response,
    SimulatorAuth,
    basic_credentials,
    bearer_token,
    invented,
    json_response,
    oauth_error,
)

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
    tenant_prefix: str | None = TENANT_PREFIX  # TenantIds and static tokens starting with it: a tenant each
    access_token_lifetime: float = 3600.0
    scope: str = "companyinformation customer article order invoice"
    denied_scopes: tuple[str, ...] = ()


def _grant(value: Any) -> tuple[float, str]:
    """An issued access token's ``(expiry, tenant)``; a bare expiry (a store saved before tenants) is the
    default tenant's."""
    if isinstance(value, list):
        return float(value[0]), str(value[1])
    return float(value), DEFAULT_TENANT


class FortnoxAuth(SimulatorAuth[FortnoxAuthConfig]):
    """Token issuing and checking for every tenant; state kept in ``store.auth`` (the default tenant's store)."""

    tables = {"refresh_tokens": list, "spent_refresh_tokens": list, "access_tokens": dict}

    def __init__(
        self, store: FortnoxStore, config: FortnoxAuthConfig, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(store, config, clock=clock)
        with store.lock:
            state = store.auth
            initial = config.refresh_token
            if initial and initial not in state["spent_refresh_tokens"] and initial not in state["refresh_tokens"]:
                state["refresh_tokens"].append(initial)
        self.refreshes = 0

    # ----------------------------------------------------------------- token endpoint
    def token_endpoint(self, request: Request) -> Response:
        if not self._client_ok(request):
            return oauth_error(401, "invalid_client", "Client authentication failed")
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items() if v}
        grant = form.get("grant_type")
        if grant == "refresh_token":
            return self._refresh(form.get("refresh_token", ""))
        if grant == "client_credentials":
            tenant = request.header("TenantId")
            if not tenant or not (tenant in self.config.tenant_ids or invented(tenant, self.config.tenant_prefix)):
                return oauth_error(400, "invalid_request", "Unknown or missing TenantId")
            tenant = DEFAULT_TENANT if tenant in self.config.tenant_ids else tenant
            return json_response(200, self._issue(with_refresh=False, tenant=tenant))
        return oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant!r}")

    def _client_ok(self, request: Request) -> bool:
        try:
            basic = basic_credentials(request)
        except ValueError:
            return False
        if basic is None:
            return False
        client_id, secret = basic
        return secrets.compare_digest(client_id, self.config.client_id) and secrets.compare_digest(
            secret, self.config.client_secret
        )

    def _refresh(self, token: str) -> Response:
        with self.store.lock:
            state = self.store.auth
            if token not in state["refresh_tokens"]:
                return oauth_error(400, "invalid_grant", "Invalid refresh token")
            state["refresh_tokens"].remove(token)
            state["spent_refresh_tokens"].append(token)
            self.refreshes += 1
            return json_response(200, self._issue(with_refresh=True, tenant=DEFAULT_TENANT))

    def _issue(self, *, with_refresh: bool, tenant: str) -> dict[str, object]:
        with self.store.lock:
            state = self.store.auth
            now = self.clock()
            state["access_tokens"] = {t: v for t, v in state["access_tokens"].items() if _grant(v)[0] > now}
            access = "sim-at-" + secrets.token_urlsafe(24)
            lifetime = self.config.access_token_lifetime
            state["access_tokens"][access] = [now + lifetime, tenant]
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

    # ----------------------------------------------------------------- API calls
    def _bearer_tenant(self, token: str) -> str | None:
        """The tenant of a bearer token: a static one's, or an issued one's while it has not expired."""
        if token in self.config.access_tokens:
            return DEFAULT_TENANT
        if invented(token, self.config.tenant_prefix):
            return token
        with self.store.lock:
            value = self.store.auth["access_tokens"].get(token)
        if value is None:
            return None
        expires, tenant = _grant(value)
        return tenant if expires > self.clock() else None

    def tenant_of(self, request: Request) -> str | None:
        """The tenant of an API call (None: the token endpoint, or credentials refused)."""
        if request.path.startswith("/oauth-v1/"):
            return None
        token = bearer_token(request)
        if token is not None:
            return self._bearer_tenant(token)
        pair = (request.header("Access-Token"), request.header("Client-Secret"))
        return DEFAULT_TENANT if pair in self.config.legacy_credentials else None

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
        token = bearer_token(request)
        if token is not None:
            if self._bearer_tenant(token) is not None:
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
