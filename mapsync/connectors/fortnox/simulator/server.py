"""``FortnoxSimulator``: the Fortnox v3 API on loopback, and ``start_simulator`` for the CLI.

Tenants: each tenant (a company: the configured credentials' is the default tenant, ``backend`` and
``store``; a ``TenantId`` or static token starting with ``tenant-`` names another, see ``FortnoxAuth``) has
its own data, made on first use (``tenants``; docs/connectors.md, "Many tenants in one simulator").

Rate limit (configurable): 25 requests per 5 s sliding window per tenant, counted over every API call (the
token endpoint is exempt; in reality it lives on apps.fortnox.se). When exceeded: HTTP 429 with
body ``{"message": "Too Many Requests"}`` and **no** ``Retry-After`` header (chosen, NOT CONFIRMED).
Extra control endpoints (``mapsync.connectors.simkit.ProductSimulator``): ``POST /_sim/seed`` (demo data),
``POST /_sim/expire-tokens``, ``POST /_sim/clear`` (delete all records).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from mapsync.connectors.fortnox.simulator.auth import FortnoxAuth, FortnoxAuthConfig
from mapsync.connectors.fortnox.simulator.backend import FortnoxBackend
from mapsync.connectors.fortnox.simulator.handlers import build_router, method_not_allowed, no_such_resource
from mapsync.connectors.fortnox.simulator.loader import load_records
from mapsync.connectors.fortnox.simulator.rules import FortnoxRules
from mapsync.connectors.fortnox.simulator.seed import seed_demo
from mapsync.connectors.fortnox.simulator.store import FortnoxStore, Now, utc_now
from mapsync.connectors.simkit import (
    Latency,
    ProductSimulator,
    Request,
    Response,
    ServerRateLimiter,
    json_response,
)

DEFAULT_RATE_LIMIT = (25, 5.0)


def too_many_requests(request: Request, wait: float) -> Response:
    return json_response(429, {"message": "Too Many Requests"})


class FortnoxSimulator(ProductSimulator[FortnoxBackend]):
    """Fortnox simulator. ``rate_limit=None`` disables the limit; ``data_dir=None`` keeps memory only;
    ``latency=(low, high)`` delays every API request by a uniform random number of seconds."""

    store: FortnoxStore
    auth: FortnoxAuth
    demo = staticmethod(seed_demo)
    loader = staticmethod(load_records)
    user_edit = ("customer", "Phone1")

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        port: int = 0,
        rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
        auth: FortnoxAuthConfig | None = None,
        rules: FortnoxRules | None = None,
        latency: Latency | None = None,
        now: Now = utc_now,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = rules or FortnoxRules()
        self._keep_tenants(data_dir, lambda folder: FortnoxBackend(FortnoxStore(folder, now=now), self.rules))
        fortnox_auth = FortnoxAuth(self.store, auth or FortnoxAuthConfig(), clock=clock)
        super().__init__(
            build_router(self.backend_of, fortnox_auth),
            auth=fortnox_auth,
            port=port,
            rate_limiter=ServerRateLimiter(*rate_limit) if rate_limit else None,
            latency=latency,
            too_many=too_many_requests,
            not_found=no_such_resource,
            method_not_allowed=method_not_allowed,
            name="fortnox",
        )

    def env(self) -> dict[str, str]:
        """Connection settings for ``FortnoxClient.from_env`` (what ``sandbox.env`` should hold).

        A static access token plus client-credentials OAuth settings (no refresh token: with
        rotation a refresh token can be used once only, which does not suit a shared env file).
        """
        config = self.auth.config
        return {
            "FORTNOX_BASE_URL": self.url,
            "FORTNOX_ACCESS_TOKEN": config.access_tokens[0] if config.access_tokens else "",
            "FORTNOX_CLIENT_ID": config.client_id,
            "FORTNOX_CLIENT_SECRET": config.client_secret,
            "FORTNOX_TENANT_ID": config.tenant_ids[0] if config.tenant_ids else "",
        }


start_simulator = FortnoxSimulator.launch
