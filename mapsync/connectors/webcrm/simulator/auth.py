"""Authentication of the webCRM simulator.

- ``POST /Auth/ApiLogin``: the application token as ``authCode`` in a form-urlencoded body, a
  multipart body or an ``authCode`` header (all three are documented somewhere) ->
  ``TokenResponseDto`` ``{"AccessToken", "RefreshToken", "Error", "ErrorDescription", "IsError",
  "ExpiresIn", "TokenType": "Bearer"}``;
- ``POST /Auth/ApiRefresh``: ``refreshToken`` as header (the spec) or form field (the tap) -> a new
  ``TokenResponseDto`` with a new refresh token (the old one stays valid until it expires);
- every other call needs ``Authorization: Bearer <AccessToken>``.

Tenants: an application token names one webCRM system (its data, and its own rate-limit quota [W4]). The
configured ``api_tokens`` name the default tenant; a token starting with ``tenant_prefix`` (``tenant-``) is
accepted too and names a tenant of its own; the access and refresh tokens issued for it carry that tenant
(``tenant_of``; ``mapsync.connectors.simkit.tenants``).

Choices (NOT CONFIRMED): a refused login or refresh is HTTP 401 with a ``TokenResponseDto`` whose
``IsError`` is true; a missing/expired bearer token is HTTP 401 with ASP.NET's
``{"Message": "Authorization has been denied for this request."}``. ``GET /Auth`` answers who is
logged in.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from mapsync.connectors.simkit import (
    DEFAULT_TENANT,
    TENANT_PREFIX,
    Request,
    Response,
    SimulatorAuth,
    bearer_token,
    invented,
    json_response,
    parse_form,
)
from mapsync.connectors.webcrm.simulator.store import WebcrmStore

DENIED = {"Message": "Authorization has been denied for this request."}


@dataclass(frozen=True)
class WebcrmAuthConfig:
    """Application tokens the simulator accepts and token lifetimes (seconds)."""

    api_tokens: tuple[str, ...] = ("sandbox-webcrm-api-token",)
    tenant_prefix: str | None = TENANT_PREFIX  # tokens starting with it name a tenant each; None: refused
    access_token_lifetime: float = 3600.0
    refresh_token_lifetime: float = 30 * 24 * 3600.0


def token_response(access: str | None, refresh: str | None, expires_in: int, error: str | None = None) -> dict:
    return {
        "AccessToken": access,
        "RefreshToken": refresh,
        "Error": error,
        "ErrorDescription": None if error is None else "The supplied credentials were not accepted.",
        "IsError": error is not None,
        "ExpiresIn": expires_in,
        "TokenType": "Bearer" if error is None else None,
    }


class WebcrmAuth(SimulatorAuth[WebcrmAuthConfig]):
    """Token issuing and checking for every tenant; state kept in ``store.auth`` (the default tenant's store)."""

    tables = {"access_tokens": dict, "refresh_tokens": dict}

    def __init__(self, store: WebcrmStore, config: WebcrmAuthConfig, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(store, config, clock=clock)
        self.logins = 0
        self.refreshes = 0

    def _issue(self, api_token: str) -> Response:
        with self.store.lock:
            now = self.clock()
            state = self.store.auth
            state["access_tokens"] = {t: v for t, v in state["access_tokens"].items() if v[1] > now}
            state["refresh_tokens"] = {t: v for t, v in state["refresh_tokens"].items() if v[1] > now}
            access = "wc-at-" + secrets.token_urlsafe(24)
            refresh = "wc-rt-" + secrets.token_urlsafe(24)
            state["access_tokens"][access] = [api_token, now + self.config.access_token_lifetime]
            state["refresh_tokens"][refresh] = [api_token, now + self.config.refresh_token_lifetime]
            self.store.save()
        return json_response(200, token_response(access, refresh, int(self.config.access_token_lifetime)))

    # ----------------------------------------------------------------- tenants
    def accepts(self, api_token: str | None) -> bool:
        """Whether ``api_token`` is an application token this webCRM knows (configured, or a tenant's)."""
        if not api_token:
            return False
        return api_token in self.config.api_tokens or invented(api_token, self.config.tenant_prefix)

    def tenant(self, api_token: str) -> str:
        """The tenant an accepted application token names."""
        return DEFAULT_TENANT if api_token in self.config.api_tokens else api_token

    def _login_code(self, request: Request) -> str | None:
        return parse_form(request).get("authCode") or request.header("authCode")

    def _refreshed(self, request: Request) -> str | None:
        """The application token behind the request's refresh token, when that is valid."""
        token = request.header("refreshToken") or parse_form(request).get("refreshToken")
        with self.store.lock:
            entry = self.store.auth["refresh_tokens"].get(token or "")
        if not entry or entry[1] <= self.clock() or not self.accepts(entry[0]):
            return None
        return str(entry[0])

    def _bearer(self, request: Request) -> str | None:
        """The application token behind the request's access token, when that is valid."""
        token = bearer_token(request)
        if token is None:
            return None
        with self.store.lock:
            entry = self.store.auth["access_tokens"].get(token)
        if not entry or entry[1] <= self.clock() or not self.accepts(entry[0]):
            return None
        return str(entry[0])

    def tenant_of(self, request: Request) -> str | None:
        """The tenant of a request: its access token's, or for a login or refresh the token it presents."""
        path = request.path.rstrip("/")
        if path == "/Auth/ApiLogin":
            code = self._login_code(request)
            api_token = code if self.accepts(code) else None
        elif path == "/Auth/ApiRefresh":
            api_token = self._refreshed(request)
        else:
            api_token = self._bearer(request)
        return self.tenant(api_token) if api_token else None

    # ----------------------------------------------------------------- endpoints
    def api_login(self, request: Request) -> Response:
        code = self._login_code(request)
        if not code or not self.accepts(code):
            return json_response(401, token_response(None, None, 0, error="invalid_grant"))
        self.logins += 1
        return self._issue(code)

    def api_refresh(self, request: Request) -> Response:
        api_token = self._refreshed(request)
        if api_token is None:
            return json_response(401, token_response(None, None, 0, error="invalid_grant"))
        self.refreshes += 1
        return self._issue(api_token)

    def who(self, request: Request) -> Response:
        return json_response(200, {"AuthType": "ApiToken", "UserName": "API"})

    def authenticate(self, request: Request) -> Response | None:
        return None if self._bearer(request) is not None else json_response(401, DENIED)
