"""Rate limits shared by credential: one limiter per credential (connector, base URL and the credential's
settings) for every client that uses it, counted in this process or in Redis for every process and machine.

``rate_limits_url`` reads where from ``MAPSYNC_RATE_LIMITS_URL`` (a Redis URL, ``local``, or unset: the Celery
broker's Redis for workers, this process otherwise); ``LimiterPool`` hands out the limiters. ``mapsync serve``,
the Celery workers and ``mapsync run``/``plan`` use them (docs/deployment.md, "Rate limits are shared by
credential").
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping

from mapsync.connectors.http.ratelimit import RateLimiter, SlidingWindowRateLimiter
from mapsync.connectors.http.shared_ratelimit import SharedRateLimiter
from mapsync.connectors.registry import rate_limit_of

LOCAL_LIMITS = "local"
SHARED_LIMIT_SCHEMES = ("redis://", "rediss://", "redis+sentinel://", "memory://")


def rate_limits_url(environ: Mapping[str, str], broker_url: str | None = None) -> str | None:
    """Where the rate limits of every credential are counted, from ``MAPSYNC_RATE_LIMITS_URL``: a Redis URL
    (shared by every process and machine using it), ``local`` (in this process only), or unset: the broker's
    Redis when a ``broker_url`` is given and is one (Celery workers share their budgets by default), else in
    this process. A URL of another kind is a ``ValueError`` (docs/deployment.md)."""
    text = environ.get("MAPSYNC_RATE_LIMITS_URL", "").strip()
    if text == LOCAL_LIMITS:
        return None
    if text:
        if not text.startswith(SHARED_LIMIT_SCHEMES):
            raise ValueError(f"MAPSYNC_RATE_LIMITS_URL={text!r} is neither a Redis URL (redis://host:port/db) "
                             f"nor {LOCAL_LIMITS!r}")
        return text
    if broker_url and broker_url.startswith(("redis://", "rediss://")):
        return broker_url
    return None


class LimiterPool:
    """One rate limiter per credential (connector, base URL and the credential's settings), shared by every
    client of every tenant using it: in this process, or, given ``url`` (``redis://...``, also
    ``MAPSYNC_RATE_LIMITS_URL``), by every process and machine counting in that Redis
    (``SharedRateLimiter``: Celery workers spending one credential's budget together)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self._limiters: dict[tuple[str, str], RateLimiter] = {}
        self._lock = threading.Lock()

    def __call__(self, connector: str, settings: Mapping[str, str]) -> RateLimiter | None:
        limit = rate_limit_of(connector)
        if limit is None:
            return None
        identity = "\n".join(f"{k}={v}" for k, v in sorted(settings.items()))
        key = (connector, hashlib.sha256(identity.encode("utf-8")).hexdigest())
        with self._lock:
            if key not in self._limiters:
                self._limiters[key] = (
                    SharedRateLimiter(self.url, f"mapsync:rate:{key[0]}:{key[1]}", *limit) if self.url
                    else SlidingWindowRateLimiter(*limit))
            return self._limiters[key]

    def __len__(self) -> int:
        return len(self._limiters)
