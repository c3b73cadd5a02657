"""Pacing by the server's own rate-limit headers (``X-RateLimit-Remaining`` / ``X-RateLimit-Reset``).

Visma.net sends, on every response, how many calls are left in the current window and when it resets
[V1]. When ``Remaining`` reaches 0 the client waits until the reset before its next request instead of
running into 429s. ``Reset`` is seconds until the reset (current API); a value that looks like an epoch
timestamp (the legacy API's format) is converted. Waits are capped (``max_wait``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

EPOCH_THRESHOLD = 1_000_000_000.0


class HeaderThrottle:
    """Remembers "wait until the window resets" from the last response and honours it before the next."""

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        max_wait: float = 3600.0,
    ) -> None:
        self._sleep = sleep
        self._monotonic = monotonic
        self._wall = wall
        self.max_wait = max_wait
        self._until: float | None = None
        self._lock = threading.Lock()
        self.total_wait = 0.0

    def observe(self, response: httpx.Response) -> None:
        remaining = _number(response.headers.get("X-RateLimit-Remaining"))
        if remaining is None or remaining > 0:
            return
        reset = _number(response.headers.get("X-RateLimit-Reset"))
        if reset is None:
            return
        wait = reset - self._wall() if reset > EPOCH_THRESHOLD else reset
        wait = min(max(wait, 0.0), self.max_wait)
        with self._lock:
            self._until = self._monotonic() + wait

    def wait(self) -> None:
        with self._lock:
            until, self._until = self._until, None
        if until is None:
            return
        delay = until - self._monotonic()
        if delay > 0:
            self.total_wait += delay
            self._sleep(delay)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None
