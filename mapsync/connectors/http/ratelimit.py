"""Client-side sliding-window rate limiter: at most N requests in any window of W seconds.

A slot is taken before a request is sent and stamped with the time the response *arrived*
(``release``). Stamping on completion rather than on sending makes the limiter conservative: the
server sees each request after the client sent it, so counting from completion times can never let
N+1 requests land inside one server-side window, whatever the latency. Requests still in flight
occupy a slot that cannot expire yet.

Thread-safe. The clock and sleep are injectable so tests run instantly with a fake clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class RateLimiter(Protocol):
    """What the request executor needs of a limiter: ``with limiter.slot(): send()``. Implemented here (one
    process) and by ``mapsync.connectors.http.shared_ratelimit.SharedRateLimiter`` (Redis, many processes)."""

    def slot(self) -> AbstractContextManager[None]: ...


class _Slot:
    """One request counted by the limiter; ``at`` is None while the request is in flight."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at: float | None = None


class SlidingWindowRateLimiter:
    """Allow at most ``max_requests`` requests per ``window`` seconds (sliding, not fixed buckets)."""

    def __init__(
        self,
        max_requests: int,
        window: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        poll_interval: float = 0.01,
    ) -> None:
        if max_requests < 1:
            raise ValueError("max_requests must be at least 1")
        if window <= 0:
            raise ValueError("window must be positive")
        self.max_requests = max_requests
        self.window = float(window)
        self._clock = clock
        self._sleep = sleep
        self._poll = poll_interval
        self._slots: list[_Slot] = []
        self._lock = threading.Lock()
        self.total_wait = 0.0

    def _prune(self, now: float) -> None:
        horizon = now - self.window
        self._slots = [s for s in self._slots if s.at is None or s.at > horizon]

    def _wait_time(self, now: float) -> float:
        """Seconds until a slot frees up (the lock must be held, the window full)."""
        done = [s.at for s in self._slots if s.at is not None]
        if not done:  # every slot is in flight: poll until one completes
            return self._poll
        return max(min(done) + self.window - now, 0.0) or self._poll

    def acquire(self) -> _Slot:
        """Block until a slot is free, take it and return it (pass it to ``release``)."""
        while True:
            with self._lock:
                now = self._clock()
                self._prune(now)
                if len(self._slots) < self.max_requests:
                    slot = _Slot()
                    self._slots.append(slot)
                    return slot
                wait = self._wait_time(now)
            self.total_wait += wait
            self._sleep(wait)

    def release(self, slot: _Slot) -> None:
        """Mark the request of ``slot`` as finished now; the slot expires ``window`` seconds later."""
        with self._lock:
            slot.at = self._clock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """``with limiter.slot(): send()``: acquire before, release after (also on errors)."""
        taken = self.acquire()
        try:
            yield
        finally:
            self.release(taken)

    def in_window(self) -> int:
        """How many requests currently count against the window (for tests and diagnostics)."""
        with self._lock:
            self._prune(self._clock())
            return len(self._slots)
