"""``HttpClientBase``: the HTTP plumbing every connector client shares.

- The ``httpx.Client``: borrowed when given (``http=``, left open by ``close``), else owned (built
  with ``transport`` and ``timeout``, closed by ``close``). Instances are context managers.
- API requests go through a ``RequestExecutor`` (retries per ``retry``) behind a client-side
  ``SlidingWindowRateLimiter`` (``rate_limit=(requests, seconds)``, None for none); token endpoints
  get an executor of their own outside the limit (``_token_executor``). ``requests_sent`` counts the
  API requests actually sent.
- ``_request(method, path)`` sends to ``base_url + path`` with ``Accept: application/json``, the
  product's auth headers and any extra headers; when the product's credentials can be renewed after
  the first answer (an auth refusal, say), they are, and the request is sent once more. A final
  answer that is not 2xx becomes the product's ``ConnectorError`` (``map_error``, given by the product).

Endpoints are checked first (``transport.check_endpoint``: https, or plain http to loopback only), a borrowed
client must have timeouts (``transport.check_timeouts``), and a payload with a control character is refused.

Every owned ``httpx.Client`` verifies TLS with one SSL context made once per process (``tls_context``):
building one reads the CA bundle, ~45 ms of CPU, and a pass builds a client per system, so ``mapsync serve``
would spend that much CPU per pass and tenant on it (benchmarks/tenants.py; docs/deployment.md, "Sizing").

Products implement, as they need, ``_auth_headers``/``_renew_auth``, the pacing hooks
``_before_send``/``_after_send`` (each attempt) and ``_sending``/``_failed`` (each request, for
per-request limits). The clock, sleep and random functions are injectable so tests
run instantly (``HttpOptions``).
"""

from __future__ import annotations

import random as _random
import ssl
import time
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Self, TypedDict

import httpx

from mapsync import crashpoints
from mapsync.connectors.base import ConnectorError, RejectedError
from mapsync.connectors.http.errors import MapError
from mapsync.connectors.http.ratelimit import RateLimiter, SlidingWindowRateLimiter
from mapsync.connectors.http.retry import RequestExecutor, RetryPolicy
from mapsync.connectors.http.transport import check_endpoint, check_timeouts, control_character


@cache
def tls_context() -> ssl.SSLContext:
    """The SSL context every owned client verifies with: httpx's default (certifi's CA bundle, or
    ``SSL_CERT_FILE``/``SSL_CERT_DIR``), made once; an SSL context serves any number of connections and
    threads."""
    return httpx.create_ssl_context()


class HttpOptions(TypedDict, total=False):
    """Keyword options every client takes for its HTTP plumbing (defaults in ``HttpClientBase``)."""

    http: httpx.Client | None
    transport: httpx.BaseTransport | None
    timeout: float
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    monotonic: Callable[[], float]
    random: Callable[[], float]


class HttpClientBase:
    """Base of the connector clients: HTTP client, rate limit, retries, auth renewal, error mapping.

    Give ``http`` (an ``httpx.Client`` to borrow) or ``transport`` (for tests, e.g. ``httpx.MockTransport``);
    ``limiter`` replaces the client's own ``rate_limit`` with one shared by every client of the same credential
    (the multi-tenant runner's, so that concurrent passes spend one budget together).
    """

    def __init__(
        self,
        base_url: str,
        *,
        map_error: MapError,
        rate_limit: tuple[int, float] | None,
        retry: RetryPolicy,
        limiter: RateLimiter | None = None,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> None:
        check_endpoint(base_url, f"the {getattr(self, 'name', 'connector')} base URL")
        if http is not None:
            check_timeouts(http)
        self.base_url = base_url.rstrip("/")
        self._system = type(self).__module__.split(".")[2] if type(self).__module__.count(".") >= 2 else "http"
        self._map_error = map_error
        self._owns_http = http is None
        self._http = http or httpx.Client(transport=transport, timeout=timeout, verify=tls_context())
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._monotonic = monotonic
        self._random = random
        if limiter is None and rate_limit:  # else: a limiter shared by every client of the same credential
            limiter = SlidingWindowRateLimiter(rate_limit[0], rate_limit[1], clock=monotonic, sleep=sleep)
        self._executor = RequestExecutor(self._http, policy=retry, limiter=limiter, sleep=sleep, random=random)

    def _token_executor(self) -> RequestExecutor:
        """An executor for a token endpoint: same HTTP client and retries, outside the API rate limit."""
        return RequestExecutor(self._http, policy=self._retry, sleep=self._sleep, random=self._random)

    @property
    def requests_sent(self) -> int:
        """API requests actually sent (retries included, token requests not)."""
        return self._executor.attempts

    @property
    def rate_limited_responses(self) -> int:
        """Of the API requests sent, those answered 429 (each retried or, at the last attempt, failed)."""
        return self._executor.rate_limited

    # ----------------------------------------------------------------- requests
    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        not_acted: Callable[[httpx.Response], bool] | None = None,
    ) -> httpx.Response:
        """Send ``method path`` (see the module docstring); the 2xx response, else the mapped error. A payload
        holding a control character is not sent: ``RejectedError`` (``transport.control_character``).
        ``not_acted``: which 5xx answers certainly did nothing, so a POST may be retried after them."""
        url = self.base_url + path
        if json is not None:
            found = control_character(json)
            if found is not None:
                raise RejectedError(f"{method} {path}: field {found[0]} holds the control character {found[1]}; not "
                                    "sent (fix the value where it comes from)")
        sent = self._sending(method, path, params, json)
        try:
            for attempt in (1, 2):
                self._before_send()
                auth = self._auth_headers()
                response = self._executor.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers={"Accept": "application/json", **auth, **(headers or {})},
                    idempotent=idempotent,
                    **({"not_acted": not_acted} if not_acted is not None else {}),
                )
                self._after_send(response)
                if attempt == 1 and self._renew_auth(response, auth):
                    continue
                break
            if crashpoints.ARMED:
                crashpoints.reached(f"request:{self._system}:{method.upper()}")
            if response.is_success:
                return response
            raise self._map_error(response, f"{method} {path}")
        except ConnectorError as exc:
            self._failed(sent, exc)
            raise

    def _sending(self, method: str, path: str, params: Mapping[str, Any] | None, json: Any) -> Any:
        """Called once before a request is sent (retries included); what it returns goes to ``_failed``."""
        return None

    def _failed(self, sent: Any, error: ConnectorError) -> None:
        """Called when the request ``_sending`` announced ends in ``error`` (after retries)."""

    def _json(self, response: httpx.Response, what: str) -> Any:
        """The answer's JSON body; ``RejectedError`` naming ``what`` was asked for when it is not JSON."""
        try:
            return response.json()
        except ValueError:
            raise RejectedError(f"{getattr(self, 'name', 'connector')}: {what} answered with something that is "
                                "not JSON", status=response.status_code) from None

    def _auth_headers(self) -> dict[str, str]:
        """Headers that authenticate the next request (none by default)."""
        return {}

    def _renew_auth(self, response: httpx.Response, rejected: dict[str, str]) -> bool:
        """Called with the first answer and the auth headers it was sent with: when the answer is a
        refusal that new credentials can fix, renew them and return True (the request is sent again)."""
        return False

    def _before_send(self) -> None:
        """Called before each request (pacing)."""

    def _after_send(self, response: httpx.Response) -> None:
        """Called with each answer (pacing)."""

    # ----------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Release the HTTP client (only when this client built it)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
