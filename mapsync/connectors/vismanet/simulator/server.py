"""``VismanetSimulator``: the Visma.net ERP API (and a Visma Connect token endpoint) on loopback.

Tenants: each company (the ``tenant_id`` a token was requested for: the configured one is the default tenant,
``backend`` and ``store``; one starting with ``tenant-`` another, see ``VismanetAuth``) has its own data, made
on first use (``tenants``; docs/connectors.md, "Many tenants in one simulator").

Rate limit (configurable, ``rate_limit=(limit, window seconds)``): a fixed window per company over every
API call (the token endpoint is exempt: in reality it is connect.visma.com). Every API response of a
company carries its ``X-RateLimit-*`` headers. When exceeded: HTTP 429 with ``Retry-After: <seconds>`` and (NOT
CONFIRMED, chosen after Azure API Management's default) ``{"statusCode": 429, "message": "Rate limit is
exceeded. Try again in N seconds."}``.

Per-request limits (``requestlimits``, configurable with ``request_limits``): SameRequestLimit (5
identical requests a minute) and ClientErrorLimit (2 client errors of the same request in 5 minutes),
both answered 429 like the quota, with the limit's name in the message; on whenever the quota is,
unless ``request_limits`` says otherwise.

Extra control endpoints: ``POST /_sim/seed`` (demo data), ``POST /_sim/clear`` (delete all records),
``POST /_sim/expire-tokens`` (those three from ``mapsync.connectors.simkit.ProductSimulator``),
``POST /_sim/salesorder/{orderNbr}/invoice`` (invoice a sales order, as shipping + invoicing in the
ERP would), ``POST /_sim/customerinvoice/{number}/status/{status}`` (both in the default tenant, or the one
named by ``?tenant=ID``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from mapsync.connectors.simkit import (
    CONTROL_PREFIX,
    Latency,
    LogEntry,
    ProductSimulator,
    Request,
    Response,
    ServerRateLimiter,
    answer_errors,
    json_response,
    tenant_key,
)
from mapsync.connectors.vismanet.simulator.auth import TOKEN_PATH, VismanetAuth, VismanetAuthConfig
from mapsync.connectors.vismanet.simulator.backend import VismanetBackend
from mapsync.connectors.vismanet.simulator.handlers import build_router, no_resource, not_allowed
from mapsync.connectors.vismanet.simulator.loader import load_records
from mapsync.connectors.vismanet.simulator.ratelimit import POLICY, FixedWindowRateLimiter
from mapsync.connectors.vismanet.simulator.requestlimits import Key, RequestLimitConfig, RequestLimits
from mapsync.connectors.vismanet.simulator.seed import seed_demo
from mapsync.connectors.vismanet.simulator.store import Now, VismanetStore, utc_now

DEFAULT_RATE_LIMIT = (15000, 3600.0)  # the production client quota [V8]
MAX_PAGE_SIZE = 1000  # NOT CONFIRMED ("1000 is commonly assumed")


def server_error(request: Request, status: int) -> Response:
    return json_response(status, {"message": "An error has occurred."})


class VismanetSimulator(ProductSimulator[VismanetBackend]):
    """Visma.net simulator. ``rate_limit=None`` disables the limit; ``data_dir=None`` keeps memory only;
    ``latency=(low, high)`` delays every API request by a uniform random number of seconds."""

    store: VismanetStore
    auth: VismanetAuth
    demo = staticmethod(seed_demo)
    loader = staticmethod(load_records)
    user_edit = ("customer", "mainContact.phone1")

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        port: int = 0,
        rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
        auth: VismanetAuthConfig | None = None,
        max_page_size: int = MAX_PAGE_SIZE,
        latency: Latency | None = None,
        now: Now = utc_now,
        clock: Callable[[], float] = time.time,
        rate_clock: Callable[[], float] = time.monotonic,
        request_limits: RequestLimitConfig | None = None,
    ) -> None:
        self._keep_tenants(data_dir, lambda folder: VismanetBackend(VismanetStore(folder, now=now)))
        visma_auth = VismanetAuth(self.store, auth or VismanetAuthConfig(), clock=clock)
        self.max_page_size = max_page_size
        limit, window = rate_limit or DEFAULT_RATE_LIMIT
        self.limiter = FixedWindowRateLimiter(limit, window, enabled=rate_limit is not None, clock=rate_clock)
        # the per-request limits go with the quota unless configured (off in fast tests and the plain sandbox)
        config = request_limits or RequestLimitConfig(enabled=rate_limit is not None)
        self.request_limits = RequestLimits(config, clock=rate_clock)
        super().__init__(
            build_router(self.backend_of, visma_auth, max_page_size=lambda: self.max_page_size),
            auth=visma_auth,
            port=port,
            rate_limiter=self.limiter,
            latency=latency,
            too_many=self._too_many_requests,
            server_error=server_error,
            not_found=no_resource,
            method_not_allowed=not_allowed,
            name="vismanet",
        )
        self.add_control("POST", "salesorder/{number}/invoice", answer_errors(self._invoice_order))
        self.add_control("POST", "customerinvoice/{number}/status/{status}", answer_errors(self._invoice_status))

    # ----------------------------------------------------------------- rate limit headers
    def _too_many_requests(self, request: Request, wait: float) -> Response:
        seconds = ServerRateLimiter.whole_seconds(wait)
        body = {"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {seconds} seconds."}
        return json_response(429, body, {"Retry-After": str(seconds)})

    def reset_runtime(self) -> None:
        super().reset_runtime()
        self.request_limits.reset()

    def _request_key(self, request: Request) -> Key | None:
        if request.path.startswith(CONTROL_PREFIX) or request.path == TOKEN_PATH:
            return None
        tenant = self.auth.tenant_of(request)
        if tenant is None:
            return None
        query = "&".join(f"{k}={v}" for k, values in sorted(request.query.items()) for v in values)
        return (tenant, request.method, request.path.rstrip("/").lower(), query, request.body)

    def dispatch(self, request: Request) -> Response:
        request_key = self._request_key(request)
        if request_key is not None:
            request.tenant = request_key[0]
        refusal = self.request_limits.check(request_key) if request_key is not None else None
        if refusal is not None:
            seconds = ServerRateLimiter.whole_seconds(refusal.wait)
            body = {"statusCode": 429, "message": refusal.message(self.request_limits.config)}
            response = json_response(429, body, {"Retry-After": str(seconds)})
            query = "&".join(f"{k}={v}" for k, values in request.query.items() for v in values)
            self.log.add(LogEntry(request.method, request.path, query, 429, request.tenant))
        else:
            response = super().dispatch(request)
            if request_key is not None and not response.drop:
                self.request_limits.answered(request_key, response.status)
        key = tenant_key(request)
        if response.drop or request.path.startswith(CONTROL_PREFIX) or key is None:
            return response
        limit, remaining, reset = self.limiter.status(key)
        if response.status == 429:
            remaining = 0
        response.headers.update(
            {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(reset),
                "X-RateLimit-Policy": POLICY,
            }
        )
        return response

    # ----------------------------------------------------------------- sandbox helpers
    def env(self) -> dict[str, str]:
        """Connection settings the standard rule sets read (what ``sandbox.env`` should hold)."""
        config = self.auth.config
        return {
            "VISMANET_BASE_URL": self.url,
            "VISMANET_TOKEN_URL": self.url + TOKEN_PATH,
            "VISMANET_CLIENT_ID": config.client_id,
            "VISMANET_CLIENT_SECRET": config.client_secret,
            "VISMANET_TENANT_ID": config.tenant_id,
        }

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    def _invoice_order(self, request: Request) -> Response:
        return json_response(200, self.tenants.get(request.arg("tenant")).invoice_sales_order(request.params["number"]))

    def _invoice_status(self, request: Request) -> Response:
        backend = self.tenants.get(request.arg("tenant"))
        invoice = backend.set_invoice_status(request.params["number"], request.params["status"])
        return json_response(200, invoice)


start_simulator = VismanetSimulator.launch
