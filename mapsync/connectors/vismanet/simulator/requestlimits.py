"""Visma.net's per-request limits, besides the hourly quota (``ratelimit``): NOT CONFIRMED in detail,
taken from Visma.net's developer notes and client-library issue threads.

- **SameRequestLimit**: at most ``same_limit`` (5) identical requests per ``same_window`` (60 s);
- **ClientErrorLimit**: once the same request has failed with a client error (4xx other than 401,
  403 and 429) ``error_limit`` (2) times within ``error_window`` (5 minutes), that request is refused
  until the window has passed since the first of those failures.

"Identical" is the company, method, path, query string and body. A refused request is answered 429
with ``Retry-After`` and ``{"statusCode": 429, "message": "<limit name>: ..."}``, and counts as neither
a request nor a failure. ``RequestLimitConfig(enabled=False)`` switches both off.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Key = tuple[str, str, str, str, bytes]
NOT_COUNTED = frozenset({401, 403, 429})


@dataclass(frozen=True)
class RequestLimitConfig:
    enabled: bool = True
    same_limit: int = 5
    same_window: float = 60.0
    error_limit: int = 2
    error_window: float = 300.0


@dataclass(frozen=True)
class Refusal:
    limit: str  # "SameRequestLimit" or "ClientErrorLimit"
    wait: float

    def message(self, config: RequestLimitConfig) -> str:
        seconds = max(1, math.ceil(self.wait))
        if self.limit == "SameRequestLimit":
            what = f"the same request was sent {config.same_limit} times within {config.same_window:g} seconds"
        else:
            what = f"the same request failed {config.error_limit} times within {config.error_window:g} seconds"
        return f"{self.limit}: {what}. Try again in {seconds} seconds."


class RequestLimits:
    """Counts identical requests and their client errors per key."""

    def __init__(self, config: RequestLimitConfig | None = None, *, clock: Callable[[], float] = time.monotonic):
        self.config = config or RequestLimitConfig()
        self._clock = clock
        self._sent: dict[Key, deque[float]] = {}
        self._failed: dict[Key, deque[float]] = {}
        self._lock = threading.Lock()
        self.refused: dict[str, int] = {"SameRequestLimit": 0, "ClientErrorLimit": 0}

    @staticmethod
    def _trim(times: deque[float], now: float, window: float) -> None:
        while times and times[0] <= now - window:
            times.popleft()

    def check(self, key: Key) -> Refusal | None:
        """None when ``key`` may be answered (and then it is counted), else why not."""
        config = self.config
        if not config.enabled:
            return None
        with self._lock:
            now = self._clock()
            failed = self._failed.setdefault(key, deque())
            self._trim(failed, now, config.error_window)
            if len(failed) >= config.error_limit:
                self.refused["ClientErrorLimit"] += 1
                return Refusal("ClientErrorLimit", failed[0] + config.error_window - now)
            sent = self._sent.setdefault(key, deque())
            self._trim(sent, now, config.same_window)
            if len(sent) >= config.same_limit:
                self.refused["SameRequestLimit"] += 1
                return Refusal("SameRequestLimit", sent[0] + config.same_window - now)
            sent.append(now)
            return None

    def answered(self, key: Key, status: int) -> None:
        if self.config.enabled and 400 <= status < 500 and status not in NOT_COUNTED:
            with self._lock:
                self._failed.setdefault(key, deque()).append(self._clock())

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()
            self._failed.clear()
