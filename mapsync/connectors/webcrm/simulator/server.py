"""``WebcrmSimulator``: the webCRM REST API on loopback, and ``start_simulator`` for the CLI.

Tenants: each application token names a webCRM system of its own (``WebcrmAuth``): the configured tokens
the default tenant (``backend``, ``store``), a token starting with ``tenant-`` another tenant, whose backend
is made on first use (``tenants``; docs/connectors.md, "Many tenants in one simulator").

Rate limit: 250 requests per sliding 60 s window per tenant (configurable; logins and refreshes count for
the token they present); when exceeded, HTTP 429 with
``Retry-After: <seconds>`` and the documented body ``{"RetryAfterSeconds": n, "Message": "The
request was throttled. The limit of 250 requests per minute is reached", "Type":
"TooManyRequestsException"}``. Extra control endpoints (``mapsync.connectors.simkit.ProductSimulator``):
``POST /_sim/seed``, ``POST /_sim/clear``, ``POST /_sim/expire-tokens``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from mapsync.connectors.simkit import (
    Latency,
    ProductSimulator,
    Request,
    Response,
    ServerRateLimiter,
    json_response,
)
from mapsync.connectors.webcrm.simulator.auth import WebcrmAuth, WebcrmAuthConfig
from mapsync.connectors.webcrm.simulator.backend import WebcrmBackend
from mapsync.connectors.webcrm.simulator.handlers import build_router, no_resource, not_allowed
from mapsync.connectors.webcrm.simulator.loader import load_records
from mapsync.connectors.webcrm.simulator.rules import WebcrmRules
from mapsync.connectors.webcrm.simulator.seed import seed_demo
from mapsync.connectors.webcrm.simulator.store import Now, WebcrmStore, utc_now

DEFAULT_RATE_LIMIT = (250, 60.0)


class WebcrmSimulator(ProductSimulator[WebcrmBackend]):
    """webCRM simulator. ``rate_limit=None`` disables the limit; ``data_dir=None`` keeps memory only;
    ``rules`` switches the unwritten write rules (``WebcrmRules``); ``latency=(low, high)`` delays every
    API request by a uniform random number of seconds."""

    store: WebcrmStore
    auth: WebcrmAuth
    demo = staticmethod(seed_demo)
    loader = staticmethod(load_records)

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        port: int = 0,
        rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
        auth: WebcrmAuthConfig | None = None,
        organisation_post_returns_id: bool = True,
        rules: WebcrmRules | None = None,
        latency: Latency | None = None,
        now: Now = utc_now,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = rules or WebcrmRules()
        self._keep_tenants(data_dir, lambda folder: WebcrmBackend(WebcrmStore(folder, now=now), self.rules))
        self._limit_text = rate_limit[0] if rate_limit else 250
        webcrm_auth = WebcrmAuth(self.store, auth or WebcrmAuthConfig(), clock=clock)
        super().__init__(
            build_router(self.backend_of, webcrm_auth, organisation_post_returns_id=organisation_post_returns_id),
            auth=webcrm_auth,
            port=port,
            rate_limiter=ServerRateLimiter(*rate_limit) if rate_limit else None,
            latency=latency,
            too_many=self._too_many_requests,
            not_found=no_resource,
            method_not_allowed=not_allowed,
            name="webcrm",
        )

    def _too_many_requests(self, request: Request, wait: float) -> Response:
        seconds = ServerRateLimiter.whole_seconds(wait)
        body = {
            "RetryAfterSeconds": seconds,
            "Message": f"The request was throttled. The limit of {self._limit_text} requests per minute is reached",
            "Type": "TooManyRequestsException",
        }
        return json_response(429, body, {"Retry-After": str(seconds)})

    def env(self) -> dict[str, str]:
        """Connection settings for ``WebcrmClient.from_env`` (what ``sandbox.env`` should hold)."""
        tokens = self.auth.config.api_tokens
        return {"WEBCRM_BASE_URL": self.url, "WEBCRM_API_TOKEN": tokens[0] if tokens else ""}


start_simulator = WebcrmSimulator.launch
