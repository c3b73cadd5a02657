"""Request executor: one ``httpx.Client`` call with rate limiting, retries and error translation.

What is retried (up to ``RetryPolicy.max_attempts`` attempts in all):

- HTTP 429, waiting ``Retry-After`` seconds when the header is present (capped), else backoff;
- HTTP 5xx, timeouts and connection errors/resets, with capped exponential backoff and full jitter
  (``delay = random() * min(max_delay, base_delay * 2 ** (attempt - 1))``);
- a 2xx answer announced as JSON whose body is not valid JSON (cut short or garbled on the way), as a 5xx.

Non-idempotent requests (POST, or any request sent with ``idempotent=False``) are only retried when
the server certainly did not act on them: 429, and failures to connect. A 5xx, a read timeout, a dropped
connection or an unreadable answer after a POST may have created the record, so it is raised at once as
``TransientError``; the engine reconciles by match key on the next pass instead of creating twice.
A caller that knows a 5xx answer means "nothing was done" (webCRM's deadlock victim, "Rerun the
transaction") passes ``not_acted(response)``, and such answers are retried like idempotent ones.

Any other status (2xx, 3xx, 4xx other than 429) is returned to the caller, which maps it. When the
attempts are used up, ``TransientError`` is raised. Messages name the method and the URL path only:
never headers, tokens or query strings.
"""

from __future__ import annotations

import email.utils
import json
import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from mapsync.connectors.base import FatalError, TransientError
from mapsync.connectors.http.ratelimit import RateLimiter

Sleep = Callable[[float], None]
Random = Callable[[], float]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them (seconds)."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def backoff(self, attempt: int, rand: Random) -> float:
        """Full-jitter delay after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return rand() * ceiling


def describe_url(url: httpx.URL | str) -> str:
    """``scheme://host[:port]/path`` without query string or user info (safe for messages)."""
    parsed = httpx.URL(str(url))
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def retry_after_seconds(response: httpx.Response, now: float | None = None) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or HTTP-date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


def unreadable_json(response: httpx.Response) -> bool:
    """Whether an answer announced as JSON has a body that does not parse."""
    if "json" not in response.headers.get("Content-Type", "").lower() or not response.content:
        return False
    try:
        json.loads(response.content)
    except ValueError:
        return True
    return False


class RequestExecutor:
    """Send requests through an ``httpx.Client`` with rate limiting and retries."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        sleep: Sleep = time.sleep,
        random: Random = _random.random,
        on_retry: Callable[[str, int, float], None] | None = None,
    ) -> None:
        self.client = client
        self.policy = policy or RetryPolicy()
        self.limiter = limiter
        self._sleep = sleep
        self._random = random
        self._on_retry = on_retry
        self.attempts = 0  # requests actually sent (for tests and diagnostics)
        self.rate_limited = 0  # of those, answered 429 (metrics)

    def _send(self, method: str, url: str, kwargs: dict[str, Any]) -> httpx.Response:
        self.attempts += 1
        if self.limiter is None:
            return self.client.request(method, url, **kwargs)
        with self.limiter.slot():
            return self.client.request(method, url, **kwargs)

    def _pause(self, what: str, attempt: int, delay: float) -> None:
        if self._on_retry is not None:
            self._on_retry(what, attempt, delay)
        if delay > 0:
            self._sleep(delay)

    def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool | None = None,
        not_acted: Callable[[httpx.Response], bool] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send, retrying as described in the module docstring; returns the final response."""
        method = method.upper()
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        where = f"{method} {describe_url(self.client.base_url.join(url))}"
        policy = self.policy
        for attempt in range(1, policy.max_attempts + 1):
            last = attempt == policy.max_attempts
            try:
                response = self._send(method, url, kwargs)
            except httpx.UnsupportedProtocol as exc:
                raise FatalError(f"{where}: unsupported URL scheme") from exc
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                problem = f"cannot connect ({type(exc).__name__})"
                if last:
                    raise TransientError(f"{where}: {problem} after {attempt} attempts") from exc
                self._pause(problem, attempt, policy.backoff(attempt, self._random))
                continue
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                problem = f"{type(exc).__name__} (timeout or connection lost)"
                if last or not safe:
                    raise TransientError(f"{where}: {problem} after {attempt} attempts") from exc
                self._pause(problem, attempt, policy.backoff(attempt, self._random))
                continue
            status = response.status_code
            if status == 429:
                self.rate_limited += 1
                if last:
                    raise TransientError(f"{where}: rate limited (HTTP 429) after {attempt} attempts", status=429)
                wait = retry_after_seconds(response)
                delay = min(wait, policy.max_retry_after) if wait is not None else policy.backoff(attempt, self._random)
                self._pause("HTTP 429", attempt, delay)
                continue
            if status >= 500:
                if last or not (safe or (not_acted is not None and not_acted(response))):
                    raise TransientError(f"{where}: server error HTTP {status} after {attempt} attempts", status=status)
                self._pause(f"HTTP {status}", attempt, policy.backoff(attempt, self._random))
                continue
            if response.is_success and unreadable_json(response):
                problem = "an answer that is not valid JSON (cut short or garbled)"
                if last or not safe:
                    raise TransientError(f"{where}: {problem} after {attempt} attempts", status=status)
                self._pause(problem, attempt, policy.backoff(attempt, self._random))
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover
