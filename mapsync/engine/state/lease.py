"""Holding a state store's lease for one pass: at most one pass per tenant at a time, across processes and
machines (``StateStore.acquire_lease``; a row with an expiry, so a holder that died frees it).

``mapsync run``, ``mapsync serve`` and the workers take it around every pass that writes. Given a ``keeper`` (a
second connection to the same store), a heartbeat thread renews it every third of its time to live, however
long one record takes (a rate-limit wait, a slow API): only a holder that died or froze loses it. Without one
it is renewed from the pass itself (``progress`` is called per record) once half its time has passed. A lease
that cannot be renewed (it expired, another holder took it) stops the pass after the record at hand, as
SIGTERM does: the lease is also the pass's stop signal (``is_set``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from mapsync.engine.state.store import StateStore

log = logging.getLogger("mapsync.state")


def holder_name(kind: str) -> str:
    """Who holds a lease, for people reading the store: ``run@host:pid:thread``."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Lease:
    """A tenant's lease in its state store, held for one pass: at most one pass per tenant at a time, across
    processes and machines (the store's ``acquire_lease``). Renewed by a heartbeat thread on ``keeper()``'s
    connection every third of ``ttl``, or, without a keeper (or if it cannot be opened), from the pass itself
    (``progress``, called per record) once half its time has passed. A lease that cannot be renewed (it
    expired, another holder took it) stops the pass after the record at hand, as SIGTERM does: it behaves as
    the pass's stop event. ``ttl`` (default ``TTL``): how long a holder that died keeps the tenant from running
    elsewhere."""

    TTL = timedelta(minutes=5)

    def __init__(self, store: StateStore, holder: str, stop: threading.Event,
                 clock: Callable[[], float] = time.monotonic, ttl: timedelta = TTL,
                 keeper: Callable[[], StateStore] | None = None) -> None:
        self.store, self.holder, self.stop_event, self.clock, self.ttl = store, holder, stop, clock, ttl
        self.renewed = 0.0
        self.lost = False
        self.keeper = keeper
        self._beating = False
        self._released = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def acquire(self) -> bool:
        self.renewed = self.clock()
        if not self.store.acquire_lease(self.holder, self.ttl):
            return False
        if self.keeper is not None:
            self._beating = True
            self._heartbeat = threading.Thread(target=self._beat, name="mapsync-lease", daemon=True)
            self._heartbeat.start()
        return True

    def _beat(self) -> None:
        """Renew every third of the time to live on a connection of its own, until released or lost."""
        assert self.keeper is not None
        try:
            keeper = self.keeper()
        except Exception as exc:  # the pass renews from ``progress`` instead
            self._beating = False
            log.warning("lease heartbeat not started (%s): the pass renews the lease itself", exc)
            return
        try:
            while not self._released.wait(self.ttl.total_seconds() / 3):
                if not keeper.renew_lease(self.holder, self.ttl):
                    self.lost = True
                    log.error("lost the state store's lease: stopping the pass after the record at hand")
                    return
        except Exception as exc:
            self._beating = False
            log.warning("lease heartbeat stopped (%s): the pass renews the lease itself", exc)
        finally:
            keeper.close()

    def progress(self, mapping: str, done: int, total: int) -> None:
        if self._beating or self.clock() - self.renewed < self.ttl.total_seconds() / 2:
            return
        self.renewed = self.clock()
        if not self.store.renew_lease(self.holder, self.ttl):
            self.lost = True
            log.error("lost the state store's lease during mapping %s: stopping the pass", mapping)

    def is_set(self) -> bool:  # the pass's stop event: SIGTERM, or the lease lost
        return self.lost or self.stop_event.is_set()

    def release(self) -> None:
        self._released.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        if not self.lost:
            self.store.release_lease(self.holder)
