"""A rate limit shared by processes and machines: one credential's budget spent by every worker together.

``SlidingWindowRateLimiter`` counts in one process. Celery workers on several machines that use the same
credential must count together, or N workers spend N times the budget and collect 429s. ``SharedRateLimiter``
keeps the window in Redis with the ``limits`` library (a well-kept implementation of moving-window limits over
Redis, atomic by Lua script), behind the same ``slot()`` interface the request executor uses.

Counting is by send time (``limits`` records a hit when it is taken), so the window is narrowed by a safety
margin (``margin`` seconds added to it): a request the server receives up to that much after it was sent
still lands in the window the client counted. In-process limiters count by completion time and need none.

A shared counter that cannot be reached (Redis restarting, a network partition) never fails a request: the
limiter counts in this process (``SlidingWindowRateLimiter``, the same limit) until Redis answers again, and
says so once in the log each time it goes one way or the other. Redis is asked with short socket timeouts,
so an unreachable one costs a request at most ``timeout`` seconds, and is not asked again for
``retry_after`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from limits import RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from mapsync.connectors.http.ratelimit import SlidingWindowRateLimiter

log = logging.getLogger("mapsync.ratelimit")


class SharedRateLimiter:
    """At most ``max_requests`` per ``window`` seconds for ``key``, counted in the storage at ``url``."""

    def __init__(self, url: str, key: str, max_requests: int, window: float, *, margin: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 timeout: float = 2.0, retry_after: float = 10.0) -> None:
        if max_requests < 1 or window <= 0:
            raise ValueError("a rate limit needs at least 1 request per a positive window")
        self.key = key
        self.max_requests = max_requests
        self.window = float(window)
        seconds = max(1, int(-(-(window + margin) // 1)))  # limits counts whole seconds: round up
        self._item = RateLimitItemPerSecond(max_requests, seconds)
        options = {"socket_timeout": timeout, "socket_connect_timeout": timeout} if url.startswith("redis") else {}
        self._limiter = MovingWindowRateLimiter(storage_from_string(url, wrap_exceptions=True, **options))
        self._sleep, self._clock = sleep, clock
        self.total_wait = 0.0
        self.local = SlidingWindowRateLimiter(max_requests, window)  # while the shared counter is unreachable
        self.retry_after = retry_after
        self._unreachable_until: float | None = None  # monotonic time; None: the shared counter is used
        self._state = threading.Lock()

    def acquire(self) -> bool:
        """Block until the shared window has room, and take a place in it: True. False (at once) while the
        shared counter cannot be reached: the caller counts in ``local`` instead (``slot`` does)."""
        if self._unreachable():
            return False
        try:
            while not self._limiter.hit(self._item, self.key):
                stats = self._limiter.get_window_stats(self._item, self.key)
                wait = min(max(stats.reset_time - self._clock(), 0.05), self.window)
                self.total_wait += wait
                self._sleep(wait)
        except StorageError as exc:
            with self._state:
                first = self._unreachable_until is None
                self._unreachable_until = time.monotonic() + self.retry_after
            if first:
                log.warning("shared rate limit %s unreachable (%s): counting in this process until it answers",
                            self.key, exc.storage_error)
            return False
        return True

    @contextmanager
    def slot(self) -> Iterator[None]:
        """``with limiter.slot(): send()``, as ``SlidingWindowRateLimiter.slot``."""
        if self.acquire():
            yield
            return
        with self.local.slot():
            yield

    def _unreachable(self) -> bool:
        """Whether the shared counter is known to be unreachable; asked again ``retry_after`` seconds after
        it was last found so."""
        with self._state:
            if self._unreachable_until is None:
                return False
            if time.monotonic() < self._unreachable_until:
                return True
        reachable = self._limiter.storage.check()
        with self._state:
            if not reachable:
                self._unreachable_until = time.monotonic() + self.retry_after
                return True
            self._unreachable_until = None
        log.warning("shared rate limit %s reachable again: counting there", self.key)
        return False

    def in_window(self) -> int:
        stats = self._limiter.get_window_stats(self._item, self.key)
        return self.max_requests - stats.remaining
