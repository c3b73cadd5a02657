"""Authentication of the Visma.net simulator: a Visma Connect token endpoint and the check of API calls.

``POST /connect/token`` (on the simulator itself; the real one is https://connect.visma.com/connect/token),
form-urlencoded: ``grant_type=client_credentials``, ``client_id``, ``client_secret`` (in the form, or as
HTTP Basic), ``tenant_id`` and ``scope`` (space-separated ``vismanet_erp_service_api:*`` scopes; all
configured scopes when omitted, a choice). Answers ``{"access_token", "expires_in", "token_type":
"Bearer", "scope"}``. Refusals use the OAuth error JSON:

- wrong client id or secret -> 401 ``{"error": "invalid_client"}``;
- missing or unknown ``tenant_id`` -> 400 ``{"error": "invalid_client"}`` (the client is not connected
  to that tenant; the real wording is NOT CONFIRMED);
- other grant types -> 400 ``unsupported_grant_type``; unknown scopes -> 400 ``invalid_scope``.

API calls need ``Authorization: Bearer <token>``, a token issued here and not expired; otherwise 401
``{"message": "Authorization has been denied for this request."}``. A token issued for a tenant listed
in ``unlicensed_tenant_ids`` passes Visma Connect but every API call answers 403 IPPException 12027
"No license for this company." [V9] (status NOT CONFIRMED). A call whose method needs a scope the token
lacks (GET read, POST create, PUT update, DELETE delete) -> 403 ``{"message": ...}``. An
``ipp-company-id`` header is accepted and ignored.

Tenants (``tenant_of``; ``mapsync.connectors.simkit.tenants``): with Visma Connect the company is the
``tenant_id`` of the token request [V13], and the rate limit is counted per company and client [V1]. The
configured ``tenant_id`` is the default tenant; a ``tenant_id`` starting with ``tenant_prefix`` (``tenant-``)
is accepted too and names a company of its own, with its own data and quota; every token carries its tenant.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

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
from mapsync.connectors.vismanet.simulator.errors import NO_LICENCE, ipp_body
from mapsync.connectors.vismanet.simulator.store import VismanetStore

SCOPES = (
    "vismanet_erp_service_api:read",
    "vismanet_erp_service_api:create",
    "vismanet_erp_service_api:update",
    "vismanet_erp_service_api:delete",
)
SCOPE_FOR_METHOD = {"GET": SCOPES[0], "HEAD": SCOPES[0], "POST": SCOPES[1], "PUT": SCOPES[2], "DELETE": SCOPES[3]}
TOKEN_PATH = "/connect/token"


@dataclass(frozen=True)
class VismanetAuthConfig:
    """Credentials the simulator accepts. The defaults are what ``mapsync sandbox`` publishes."""

    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"
    tenant_id: str = "sandbox-tenant-id"
    unlicensed_tenant_ids: tuple[str, ...] = ("sandbox-unlicensed-tenant-id",)
    tenant_prefix: str | None = TENANT_PREFIX  # tenant ids starting with it: a company each; None: refused
    token_lifetime: float = 3600.0
    scopes: tuple[str, ...] = SCOPES


def denied() -> Response:
    return json_response(
        401,
        {"message": "Authorization has been denied for this request."},
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


class VismanetAuth(SimulatorAuth[VismanetAuthConfig]):
    """Token issuing and checking for every tenant; token state is kept in ``store.auth`` (the default tenant's
    store; survives restarts)."""

    tables = {"tokens": dict}
    access_table = "tokens"

    def __init__(
        self, store: VismanetStore, config: VismanetAuthConfig, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(store, config, clock=clock)
        self.issued = 0

    # ----------------------------------------------------------------- token endpoint
    def _client(self, request: Request, form: dict[str, str]) -> tuple[str, str]:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        try:
            basic = basic_credentials(request)
        except ValueError:
            return "", ""
        if basic is not None:
            basic_id, basic_secret = basic
            client_id, secret = client_id or unquote(basic_id), secret or unquote(basic_secret)
        return client_id, secret

    def token_endpoint(self, request: Request) -> Response:
        text = request.body.decode("utf-8", "replace")
        form = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items() if v}
        client_id, secret = self._client(request, form)
        if not (
            secrets.compare_digest(client_id.encode(), self.config.client_id.encode())
            and secrets.compare_digest(secret.encode(), self.config.client_secret.encode())
        ):
            return oauth_error(401, "invalid_client", "Client authentication failed.")
        grant = form.get("grant_type")
        if grant != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant!r}.")
        tenant = form.get("tenant_id", "")
        if tenant != self.config.tenant_id and tenant not in self.config.unlicensed_tenant_ids and not invented(
            tenant, self.config.tenant_prefix
        ):
            return oauth_error(400, "invalid_client", "The client is not authorized for the requested tenant.")
        requested = form.get("scope", "").split()
        unknown = [s for s in requested if s not in self.config.scopes]
        if unknown:
            return oauth_error(400, "invalid_scope", f"Invalid scope: {' '.join(unknown)}")
        scopes = requested or list(self.config.scopes)
        with self.store.lock:
            now = self.clock()
            tokens = {t: v for t, v in self.store.auth["tokens"].items() if v["expires"] > now}
            access = "sim-vc-" + secrets.token_urlsafe(32)
            lifetime = self.config.token_lifetime
            tokens[access] = {"expires": now + lifetime, "tenant": tenant, "scopes": scopes}
            self.store.auth["tokens"] = tokens
            self.issued += 1
            self.store.save()
        body = {"access_token": access, "expires_in": int(lifetime), "token_type": "Bearer", "scope": " ".join(scopes)}
        return json_response(200, body, {"Cache-Control": "no-store"})

    # ----------------------------------------------------------------- API calls
    def _grant(self, request: Request) -> dict[str, Any] | None:
        """The request's token as issued (expiry, tenant id, scopes), while it has not expired."""
        token = bearer_token(request)
        if token is None:
            return None
        with self.store.lock:
            grant: dict[str, Any] | None = self.store.auth["tokens"].get(token)
        return grant if grant is not None and grant["expires"] > self.clock() else None

    def _licensed(self, tenant_id: str) -> str | None:
        """The tenant a token's ``tenant_id`` names, or None when the client has no licence for it."""
        if tenant_id in self.config.unlicensed_tenant_ids:
            return None
        if tenant_id == self.config.tenant_id:
            return DEFAULT_TENANT
        return tenant_id if invented(tenant_id, self.config.tenant_prefix) else None

    def tenant_of(self, request: Request) -> str | None:
        """The tenant of an API call (None: the token endpoint, no valid token, or an unlicensed company)."""
        if request.path.lower().startswith(TOKEN_PATH):
            return None
        grant = self._grant(request)
        return self._licensed(grant["tenant"]) if grant is not None else None

    def authenticate(self, request: Request) -> Response | None:
        grant = self._grant(request)
        if grant is None:
            return denied()
        if self._licensed(grant["tenant"]) is None:
            return json_response(403, ipp_body(NO_LICENCE, "No license for this company."))
        needed = SCOPE_FOR_METHOD.get(request.method)
        if needed is not None and needed not in grant["scopes"]:
            return json_response(403, {"message": f"The access token lacks the scope {needed}."})
        return None
