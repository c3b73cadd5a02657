"""A rate limit shared by processes and machines: one credential's budget spent by every worker together.

``SlidingWindowRateLimiter`` counts in one process. Celery workers on several machines that use the same
credential must count together, or N workers spend N times the budget and collect 429s. ``SharedRateLimiter``
keeps the window in Redis with the ``limits`` library (a well-kept implementation of moving-window limits over
Redis, atomic by Lua script), behind the same ``slot()`` interface the request executor uses.

Counting is by send time (``limits`` records a hit when it is taken), so the window is narrowed by a safety
margin (``margin`` seconds added to it): a request the server receives up to that much after it was sent
still lands in the window the client counted. In-process limiters count by completion time and need none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class SharedRateLimiter:
    """At most ``max_requests`` per ``window`` seconds for ``key``, counted in the storage at ``url``."""

    def __init__(self, url: str, key: str, max_requests: int, window: float, *, margin: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time) -> None:
        if max_requests < 1 or window <= 0:
            raise ValueError("a rate limit needs at least 1 request per a positive window")
        self.key = key
        self.max_requests = max_requests
        self.window = float(window)
        seconds = max(1, int(-(-(window + margin) // 1)))  # limits counts whole seconds: round up
        self._item = RateLimitItemPerSecond(max_requests, seconds)
        self._limiter = MovingWindowRateLimiter(storage_from_string(url))
        self._sleep, self._clock = sleep, clock
        self.total_wait = 0.0

    def acquire(self) -> None:
        """Block until the shared window has room, and take a place in it."""
        while not self._limiter.hit(self._item, self.key):
            stats = self._limiter.get_window_stats(self._item, self.key)
            wait = min(max(stats.reset_time - self._clock(), 0.05), self.window)
            self.total_wait += wait
            self._sleep(wait)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """``with limiter.slot(): send()``, as ``SlidingWindowRateLimiter.slot``."""
        self.acquire()
        yield

    def in_window(self) -> int:
        stats = self._limiter.get_window_stats(self._item, self.key)
        return self.max_requests - stats.remaining
