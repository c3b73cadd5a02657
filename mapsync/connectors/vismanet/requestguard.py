"""Keeping under Visma.net's per-request limits (``simulator.requestlimits``), so that a record retried
pass after pass from quarantine never gets the company blocked.

- SameRequestLimit (5 identical requests a minute): before a request that was already sent
  ``same_limit`` times within the window (plus a one-second margin for clock and network skew), the
  client waits until the oldest leaves the window (at most ``max_wait`` seconds; longer ->
  ``TransientError``);
- ClientErrorLimit (2 client errors of the same request in 5 minutes): a request that already failed
  with a client error (4xx other than 401, 403 and 429) ``error_limit`` times within the window is
  not sent again until the window has passed since the first failure; the caller gets the last
  failure again (same error class, status and code), saying when the request will be sent again. So a quarantined
  record's retry costs nothing on the server and never trips the limit.

"Identical" is method, path, query and body, as the server counts. The executor's own retries of a
5xx or a dropped connection are not counted here (they are rare, and the server answers 429 then,
which the executor honours).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from mapsync.connectors.base import ConnectorError, TransientError

Key = tuple[str, str, str, str]
NOT_COUNTED = frozenset({401, 403, 429})
MARGIN = 1.0


def request_key(method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> Key:
    query = "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
    text = json.dumps(body, sort_keys=True, default=str) if body is not None else ""
    return (method.upper(), path.rstrip("/").lower(), query, text)


class RequestGuard:
    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        same_limit: int = 5,
        same_window: float = 60.0,
        error_limit: int = 2,
        error_window: float = 300.0,
        max_wait: float = 65.0,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self._sleep = sleep
        self._monotonic = monotonic
        self.same_limit, self.same_window = same_limit, same_window + MARGIN
        self.error_limit, self.error_window = error_limit, error_window + MARGIN
        self.max_wait = max_wait
        self._sent: dict[Key, deque[float]] = {}
        self._failed: dict[Key, deque[tuple[float, ConnectorError]]] = {}
        self._lock = threading.Lock()
        self.waited = 0.0
        self.held_back = 0

    def before(self, key: Key) -> None:
        """Wait, or refuse, as the limits require; then count the request as sent."""
        if not self.enabled:
            return
        with self._lock:
            now = self._monotonic()
            failed = self._failed.get(key)
            while failed and failed[0][0] <= now - self.error_window:
                failed.popleft()
            if failed and len(failed) >= self.error_limit:
                self.held_back += 1
                again = failed[0][0] + self.error_window - now
                last = failed[-1][1]
                raise type(last)(
                    f"{last} (not sent again for {again:.0f} s: it failed {len(failed)} times within "
                    f"{self.error_window - MARGIN:.0f} s and Visma.net's ClientErrorLimit would block it)",
                    status=last.status,
                    code=last.code,
                )
            sent = self._sent.setdefault(key, deque())
            while sent and sent[0] <= now - self.same_window:
                sent.popleft()
            wait = sent[0] + self.same_window - now if len(sent) >= self.same_limit else 0.0
        if wait > self.max_wait:
            raise TransientError(f"vismanet: {key[0]} {key[1]} sent too often (SameRequestLimit)")
        if wait > 0:
            self.waited += wait
            self._sleep(wait)
        with self._lock:
            sent.append(self._monotonic())
            while len(sent) > self.same_limit:
                sent.popleft()

    def failed(self, key: Key, error: ConnectorError) -> None:
        status = error.status
        if not self.enabled or status is None or not 400 <= status < 500 or status in NOT_COUNTED:
            return
        with self._lock:
            self._failed.setdefault(key, deque()).append((self._monotonic(), error))
