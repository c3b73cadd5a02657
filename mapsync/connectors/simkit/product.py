"""``ProductSimulator``: what every product's simulator adds to ``SimServer``.

A product simulator keeps each tenant's data in a backend over a ``RecordStore``
(``mapsync.connectors.simkit.tenants``): ``tenants`` holds them, the default tenant's (the configured
credentials') is ``backend`` and ``store``, set before ``SimServer.__init__`` runs. This base adds:

- control endpoints ``POST /_sim/seed`` (``seed_demo``), ``POST /_sim/clear`` (delete every record
  and counter; token state is kept), both for the default tenant or the one named by ``?tenant=ID``, and
  ``POST /_sim/expire-tokens`` (``expire_tokens``, every tenant's), each answering ``{"ok": true}``;
- ``is_empty`` (the default tenant), saving every tenant's store when the server stops, and
  ``start(seed=True)``, which adds the demo records before serving when the default tenant's store is
  empty (a persisted store is left as is);
- the ``env`` contract: the connection settings that reach the running simulator, named as the
  product client's ``from_env`` and the standard rule sets read them (what ``sandbox.env`` holds);
- ``load_records``: records as the product's client reads them (a snapshot of the real system, see
  ``mapsync.engine.snapshot``) stored under their own ids, the number series moved past them.

Products implement ``seed_demo``, ``expire_tokens``, ``env`` and ``load_records``; snapshots load into the
default tenant.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, Generic, Protocol, Self, TypeVar

from mapsync.connectors.simkit.records import RecordStore
from mapsync.connectors.simkit.routing import Request, Response, json_response
from mapsync.connectors.simkit.server import SimServer
from mapsync.connectors.simkit.tenants import Tenants


class Backend(Protocol):
    """What the base needs of a product's backend: its store."""

    @property
    def store(self) -> RecordStore: ...


B = TypeVar("B", bound=Backend)


class ProductSimulator(SimServer, ABC, Generic[B]):
    """A ``SimServer`` over a product's backends, one per tenant, with the product controls (module docstring)."""

    store: RecordStore
    tenants: Tenants[B]

    @abstractmethod
    def seed_demo(self, tenant: str | None = None) -> None:
        """Add the product's demo records to ``tenant``'s data (None: the default tenant's)."""

    @abstractmethod
    def expire_tokens(self) -> None:
        """Make every issued access token invalid (clients must renew theirs)."""

    @abstractmethod
    def env(self) -> dict[str, str]:
        """Connection settings for the product client (what ``sandbox.env`` should hold)."""

    @abstractmethod
    def load_records(self, entity: str, records: Iterable[dict[str, Any]]) -> int:
        """Store ``records`` of the client's ``entity`` (as the client reads them) under their own ids and
        keep the id counters past them; returns how many. ``ValueError`` for an unknown entity."""

    def is_empty(self) -> bool:
        return self.store.is_empty()

    def start(self, *, seed: bool = False) -> Self:
        """Start serving; ``seed=True`` first adds the demo records when the store is empty."""
        if seed and self.is_empty():
            self.seed_demo()
        return super().start()

    def on_stop(self) -> None:
        for backend in self.tenants.all():
            backend.store.save()

    # ----------------------------------------------------------------- controls
    def _install_controls(self) -> None:
        super()._install_controls()
        self.add_control("POST", "seed", self._seed)
        self.add_control("POST", "clear", self._clear)
        self.add_control("POST", "expire-tokens", self._expire)
        self.add_control("POST", "raw", self._raw)

    def _seed(self, request: Request) -> Response:
        self.seed_demo(request.arg("tenant"))
        return json_response(200, {"ok": True})

    def _clear(self, request: Request) -> Response:
        self.tenants.get(request.arg("tenant")).store.clear()
        return json_response(200, {"ok": True})

    def put_raw(self, entity: str, record: Any, key: str | None = None, tenant: str | None = None) -> str:
        """Store ``record`` as is under ``key`` (default ``raw-N``) of the store's ``entity``; the key used.
        ``ValueError`` for an entity the store does not have."""
        store = self.tenants.get(tenant).store
        if entity not in store.records:
            raise ValueError(f"no entity {entity!r} (entities: {', '.join(sorted(store.records))})")
        with store.lock:
            key = key or f"raw-{store.next('_sim_raw')}"
            store.records[entity][key] = record
            store.modified[entity][key] = store.now().isoformat()
            for name in store.side_tables:
                table = getattr(store, name)[entity]
                table.setdefault(key, {})
        return key

    def _raw(self, request: Request) -> Response:
        try:
            key = self.put_raw(request.arg("entity") or "", request.json(), request.arg("key"), request.arg("tenant"))
        except ValueError as exc:
            return json_response(400, {"ok": False, "message": str(exc)})
        return json_response(200, {"ok": True, "key": key})

    def _expire(self, request: Request) -> Response:
        self.expire_tokens()
        return json_response(200, {"ok": True})
