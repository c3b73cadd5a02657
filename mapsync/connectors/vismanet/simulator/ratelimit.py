"""The Visma.net rate limit: a fixed window per company/client (policy "4-fixed-window") [V1].

Every API response carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset``
(*seconds* until the window resets) and ``X-RateLimit-Policy``. Over the limit: 429 with
``Retry-After: <seconds>``. The window starts with the first request after the previous one ended.
When the limit is disabled (``rate_limit=None``) nothing is counted and the headers show a full quota.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from mapsync.connectors.simkit import ServerRateLimiter

POLICY = "4-fixed-window"


class FixedWindowRateLimiter(ServerRateLimiter):
    """At most ``limit`` requests per fixed ``window`` seconds per key."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(limit, window, enabled=enabled, clock=clock)
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window start, requests counted)
        self._state_lock = threading.Lock()

    def _current(self, key: str, now: float) -> tuple[float, int]:
        start, count = self._windows.get(key, (now, 0))
        if now >= start + self.window:
            start, count = now, 0
        return start, count

    def check(self, key: str = "*") -> float | None:
        if not self.enabled:
            return None
        with self._state_lock:
            now = self._clock()
            start, count = self._current(key, now)
            if count < self.limit:
                self._windows[key] = (start, count + 1)
                return None
            self._windows[key] = (start, count)
            self.rejected += 1
            return max(start + self.window - now, 0.0)

    def status(self, key: str = "*") -> tuple[int, int, int]:
        """``(limit, remaining, seconds until reset)`` for the headers."""
        with self._state_lock:
            now = self._clock()
            if not self.enabled:
                return self.limit, self.limit, math.ceil(self.window)
            start, count = self._current(key, now)
            reset = math.ceil(max(start + self.window - now, 0.0)) if count else math.ceil(self.window)
            return self.limit, max(self.limit - count, 0), reset

    def reset(self) -> None:
        super().reset()
        with self._state_lock:
            self._windows.clear()
