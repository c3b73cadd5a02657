"""A state store shared by the threads of one pass: every call, and every transaction or secret lock as a
whole, runs under one re-entrant lock, so records applied concurrently (``mapsync.engine.sync.pipeline``)
still commit one transaction each, one at a time, on the store's single connection.

The threads spend their time waiting for the APIs; the store's own work is short, so serialising it costs
little. A thread inside a transaction holds the lock until it commits: another thread's call waits for it,
never interleaves with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

from mapsync.engine.state.store import StateStore


class SerialStore:
    """``store`` behind one re-entrant lock (a ``StateStore`` for the pass and its clients' token store)."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._lock = threading.RLock()

    @property
    def inner(self) -> StateStore:
        return self._store

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not callable(attribute):
            return attribute
        lock = self._lock

        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return attribute(*args, **kwargs)

        return locked

    @contextmanager
    def _held(self, enter: Callable[[], Any]) -> Iterator[None]:
        with self._lock, enter():
            yield

    def transaction(self) -> Any:
        return self._held(self._store.transaction)

    def secret_lock(self, name: str) -> Any:
        return self._held(lambda: self._store.secret_lock(name))

    def close(self) -> None:
        with self._lock:
            self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
