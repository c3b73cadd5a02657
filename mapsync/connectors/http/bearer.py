"""``BearerToken``: the access token a client sends as ``Authorization: Bearer ...``, kept fresh.

The token is obtained on first use, renewed once it is due (its lifetime minus a margin of a tenth of
the lifetime, at most 60 s, counted from when it arrived) and renewed after the server refused it:
``renew_after`` only renews when the refused request carried the current token, so requests that
fail together with one stale token renew it once. A token given at construction has no known expiry
and is used until it is refused. Thread-safe.

Subclasses say how a token is obtained (``_obtain``: the token and its lifetime in seconds).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping


class BearerToken:
    """A bearer token renewed before it expires and after a refusal; subclasses implement ``_obtain``."""

    def __init__(self, *, clock: Callable[[], float] = time.time, token: str | None = None) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._token = token
        self._renew_at: float | None = None

    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header for the next request (obtaining a token first when due)."""
        with self._lock:
            if self._token is None or (self._renew_at is not None and self._clock() >= self._renew_at):
                self._renew_locked()
            return {"Authorization": f"Bearer {self._token}"}

    def renew_after(self, rejected: Mapping[str, str]) -> None:
        """Renew because a request sent with the ``rejected`` headers was refused."""
        with self._lock:
            if rejected.get("Authorization") == f"Bearer {self._token}":
                self._renew_locked()

    def _renew_locked(self) -> None:
        token, lifetime = self._obtain()
        self._token = token
        self._renew_at = self._clock() + lifetime - min(60.0, lifetime / 10)

    def _obtain(self) -> tuple[str, float]:
        """A new token and its lifetime in seconds (called with the lock held)."""
        raise NotImplementedError
