"""``SimServer``: a loopback simulator with routing, auth hook, tenants, rate limit, latency, faults, log and
controls.

``tenant_of`` names the tenant of a request from its credential (``mapsync.connectors.simkit.tenants``;
None: no credential, or one the product refuses); it is set as ``request.tenant`` before anything else, so
the rate limit, the handlers (which pick the tenant's backend) and the request log see it.
``rate_limit_key`` picks the quota of a request (products key it by the tenant, each with its own window);
returning None exempts it (token endpoints, which live on another host in the real products).

Pipeline per request: control paths (``/_sim/...``) are answered directly; otherwise the tenant is named,
the latency (``latency=(low, high)`` seconds, a uniform random delay, ``mapsync.connectors.simkit.latency``)
and injected faults apply, then the rate limiter, then routing (404/405), then the product's authentication
hook (unless the route is public), then the handler. Unhandled exceptions become HTTP 500. Every connection
is served by its own thread, so a delayed request holds up no other.

Control endpoints (never rate limited, delayed, faulted or logged):

- ``GET /_sim/health`` -> ``{"ok": true}``
- ``POST /_sim/faults`` with one fault object or a list (see ``mapsync.connectors.simkit.faults``);
  ``GET`` lists pending faults; ``DELETE`` clears them
- ``GET /_sim/log`` -> the request log; ``DELETE /_sim/log`` clears it
- ``POST /_sim/reset`` -> clears faults, log and rate-limit counters (data is kept)

Products add their own control routes with ``add_control`` (``ProductSimulator`` adds seed, clear and
expire-tokens).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from mapsync.connectors.simkit.faults import AFTER_HANDLING, FaultInjector, fault_from_json, html_error, spoil
from mapsync.connectors.simkit.http_server import LoopbackHTTPServer
from mapsync.connectors.simkit.latency import Latency, check_latency, draw
from mapsync.connectors.simkit.ratelimit import ServerRateLimiter
from mapsync.connectors.simkit.requestlog import LogEntry, RequestLog
from mapsync.connectors.simkit.routing import Handler, Request, Response, Router, json_response

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sim/"

Responder = Callable[[Request], Response]
TooMany = Callable[[Request, float], Response]
AuthHook = Callable[[Request], Response | None]


def _default_too_many(request: Request, wait: float) -> Response:
    seconds = ServerRateLimiter.whole_seconds(wait)
    return json_response(429, {"message": "Too Many Requests"}, {"Retry-After": str(seconds)})


def _default_server_error(request: Request, status: int) -> Response:
    return json_response(status, {"message": "Simulated server error"})


def _default_not_found(request: Request) -> Response:
    return json_response(404, {"message": f"No such resource: {request.path}"})


def _default_not_allowed(request: Request) -> Response:
    return json_response(405, {"message": f"Method {request.method} not allowed"})


class SimServer:
    """A simulator HTTP server on 127.0.0.1. Use ``start()``/``stop()`` or ``with``."""

    def __init__(
        self,
        router: Router,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limiter: ServerRateLimiter | None = None,
        rate_limit_key: Callable[[Request], str | None] | None = None,
        tenant_of: Callable[[Request], str | None] | None = None,
        latency: Latency | None = None,
        authenticate: AuthHook | None = None,
        too_many: TooMany = _default_too_many,
        server_error: Callable[[Request, int], Response] = _default_server_error,
        not_found: Responder = _default_not_found,
        method_not_allowed: Responder = _default_not_allowed,
        name: str = "simulator",
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("simulators bind to loopback only")
        self.router = router
        self.host = host
        self.port = port
        self.rate_limiter = rate_limiter
        self._rate_key = rate_limit_key or (lambda request: "*")
        self._tenant_of = tenant_of
        self.latency = check_latency(latency)  # may be changed while serving
        self._random = random.Random()
        self._authenticate = authenticate
        self._too_many = too_many
        self._server_error = server_error
        self._not_found = not_found
        self._not_allowed = method_not_allowed
        self.name = name
        self.faults = FaultInjector()
        self.log = RequestLog()
        self._controls = Router()
        self._install_controls()
        self._httpd: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # ----------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (only once started)."""
        if self._httpd is None:
            raise RuntimeError(f"{self.name} is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = LoopbackHTTPServer(self.host, self.port, self.dispatch)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"{self.name}-http",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, end open connections, join threads, close the socket. Idempotent."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close()
        if thread is not None:
            thread.join(5.0)
        self._httpd = None
        self._thread = None
        self.on_stop()

    def on_stop(self) -> None:
        """Hook for products (flush state)."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- controls
    def add_control(self, method: str, name: str, handler: Handler) -> None:
        """Add a control route ``/_sim/<name>``."""
        self._controls.add(method, CONTROL_PREFIX + name.lstrip("/"), handler)

    def _install_controls(self) -> None:
        self.add_control("GET", "health", lambda r: json_response(200, {"ok": True, "name": self.name}))
        self.add_control("GET", "faults", lambda r: json_response(200, {"pending": self.faults.pending()}))
        self.add_control("POST", "faults", self._post_faults)
        self.add_control("DELETE", "faults", self._clear_faults)
        self.add_control("GET", "log", lambda r: json_response(200, {"requests": self.log.as_json()}))
        self.add_control("DELETE", "log", self._clear_log)
        self.add_control("POST", "reset", self._reset)

    def _post_faults(self, request: Request) -> Response:
        try:
            data: Any = request.json()
            items = data if isinstance(data, list) else [data]
            faults = [fault_from_json(item) for item in items]
        except ValueError as exc:
            return json_response(400, {"message": str(exc)})
        for fault in faults:
            self.faults.add_fault(fault)
        return json_response(200, {"pending": self.faults.pending()})

    def _clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return json_response(200, {"pending": []})

    def _clear_log(self, request: Request) -> Response:
        self.log.clear()
        return json_response(200, {"requests": []})

    def _reset(self, request: Request) -> Response:
        self.reset_runtime()
        return json_response(200, {"ok": True})

    def reset_runtime(self) -> None:
        """Clear faults, the request log and rate-limit counters."""
        self.faults.clear()
        self.log.clear()
        if self.rate_limiter is not None:
            self.rate_limiter.reset()

    # ----------------------------------------------------------------- dispatch
    def dispatch(self, request: Request) -> Response:
        """Answer one request (called from the HTTP handler threads)."""
        if request.path.startswith(CONTROL_PREFIX):
            route, params, known = self._controls.match(request.method, request.path)
            if route is None:
                return self._not_allowed(request) if known else self._not_found(request)
            request.params = params
            return route.handler(request)
        response = self._dispatch_api(request)
        status = 0 if response.drop else response.status
        query = "&".join(f"{k}={v}" for k, values in request.query.items() for v in values)
        self.log.add(LogEntry(request.method, request.path, query, status, request.tenant))
        return response

    def _dispatch_api(self, request: Request) -> Response:
        if self._tenant_of is not None:
            request.tenant = self._tenant_of(request)
        injection = self.faults.take(request.path, request.method)
        delay = injection.delay + draw(self.latency, self._random)
        if delay > 0:
            self._stopping.wait(delay)
        fault = injection.fault
        if fault is None or fault.kind in AFTER_HANDLING:
            return spoil(self._handle(request), fault, self._stopping)
        if fault.kind == "drop":
            return Response(drop=True)
        if fault.kind == "429":
            return self._too_many(request, fault.retry_after if fault.retry_after is not None else 1.0)
        if fault.kind == "html":
            return html_error(fault.status)
        return self._server_error(request, fault.status)

    def _handle(self, request: Request) -> Response:
        key = self._rate_key(request) if self.rate_limiter is not None else None
        if self.rate_limiter is not None and key is not None:
            wait = self.rate_limiter.check(key)
            if wait is not None:
                return self._too_many(request, wait)
        route, params, known = self.router.match(request.method, request.path)
        if route is None:
            return self._not_allowed(request) if known else self._not_found(request)
        request.params = params
        if not route.public and self._authenticate is not None:
            refused = self._authenticate(request)
            if refused is not None:
                return refused
        try:
            return route.handler(request)
        except Exception:
            log.exception("%s: handler failed for %s %s", self.name, request.method, request.path)
            return self._server_error(request, 500)
