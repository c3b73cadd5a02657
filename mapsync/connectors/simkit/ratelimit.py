"""Server-side sliding-window rate limiter for simulators (the product's 429 behaviour).

Only requests that are let through are counted, so a client that backs off recovers as soon as
the oldest counted request leaves the window. Keys separate quotas (per token, per client).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class ServerRateLimiter:
    """At most ``limit`` requests per ``window`` seconds per key; ``enabled=False`` lets all pass."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = float(window)
        self.enabled = enabled
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.rejected = 0

    def check(self, key: str = "*") -> float | None:
        """Record a request and return None, or return the seconds to wait (request refused)."""
        if not self.enabled:
            return None
        with self._lock:
            now = self._clock()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) < self.limit:
                hits.append(now)
                return None
            self.rejected += 1
            return max(hits[0] + self.window - now, 0.0)

    @staticmethod
    def whole_seconds(wait: float) -> int:
        """A ``Retry-After`` value: whole seconds, at least 1."""
        return max(1, math.ceil(wait))

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
            self.rejected = 0
