"""``ProductSimulator``: what every product's simulator adds to ``SimServer``.

A product simulator keeps each tenant's data in a backend over a ``RecordStore``
(``mapsync.connectors.simkit.tenants``): ``tenants`` holds them, the default tenant's (the configured
credentials') is ``backend`` and ``store``. A product's ``__init__`` calls ``_keep_tenants(data_dir, make)``
(``make(folder)``: a backend over a store in ``folder``, None for memory only), builds its auth (a
``mapsync.connectors.simkit.auth.SimulatorAuth``) and router (its handlers find a request's backend with
``backend_of``), then ``ProductSimulator.__init__(router, auth=..., ...)``: the auth names each request's
tenant, the rate limit is kept per tenant (requests without one, token endpoints, are exempt) and API calls
are authenticated by it. This base adds:

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

Products give ``demo`` (adds the demo records to a backend: the product's ``simulator/seed.py``) and
``loader`` (``simulator/loader.py``) and implement ``env``; snapshots load into the default tenant.
``launch(data_dir, seed=..., **options)`` builds and starts one (each product's ``start_simulator``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Generic, Protocol, Self, TypeVar, cast

from mapsync.connectors.simkit.auth import SimulatorAuth
from mapsync.connectors.simkit.records import RecordStore
from mapsync.connectors.simkit.routing import Request, Response, Router, json_response
from mapsync.connectors.simkit.server import SimServer
from mapsync.connectors.simkit.tenants import DEFAULT_TENANT, Tenants, tenant_dir


class Backend(Protocol):
    """What the base needs of a product's backend: its store."""

    @property
    def store(self) -> RecordStore: ...


B = TypeVar("B", bound=Backend)


def tenant_key(request: Request) -> str | None:
    """A request's rate-limit quota: its tenant's (None, exempt: the token endpoints)."""
    return request.tenant


class ProductSimulator(SimServer, ABC, Generic[B]):
    """A ``SimServer`` over a product's backends, one per tenant, with the product controls (module docstring)."""

    store: RecordStore
    backend: B
    tenants: Tenants[B]
    auth: SimulatorAuth[Any]
    # (entity, field) ``mapsync demo`` changes as a user would: a customer's phone (None: an ERP without a demo)
    user_edit: tuple[str, str] | None = None

    def __init__(self, router: Router, *, auth: SimulatorAuth[Any], **server: Any) -> None:
        self.auth = auth
        super().__init__(router, rate_limit_key=tenant_key, tenant_of=auth.tenant_of,
                         authenticate=auth.authenticate, **server)

    @classmethod
    def launch(cls, data_dir: Path | str | None = None, *, seed: bool = False, **options: Any) -> Self:
        """Start a simulator on 127.0.0.1 (``port=0``, the default: a free port); ``.url`` and ``.stop()``.
        ``seed=True`` adds the demo records when the store is empty (a persisted store is left as is)."""
        simulator: Self = cast(Any, cls)(data_dir, **options)  # each product's own constructor
        return simulator.start(seed=seed)

    def _keep_tenants(self, data_dir: Path | str | None, make: Callable[[Path | None], B]) -> None:
        """The default tenant's backend over ``data_dir``, the others' made on first use, each in its folder."""
        self.backend = make(tenant_dir(data_dir, DEFAULT_TENANT))
        self.store = self.backend.store
        self.tenants = Tenants(self.backend, lambda tenant: make(tenant_dir(data_dir, tenant)))

    def backend_of(self, request: Request) -> B:
        """The backend of the request's tenant."""
        return self.tenants.get(request.tenant)

    @staticmethod
    def demo(backend: Any) -> None:
        """Add the product's demo records to ``backend``."""
        raise NotImplementedError

    @staticmethod
    def loader(store: Any, entity: str, records: Iterable[dict[str, Any]]) -> int:
        """Store ``records`` of the client's ``entity`` in ``store`` under their own ids (``load_records``)."""
        raise NotImplementedError

    def seed_demo(self, tenant: str | None = None) -> None:
        """Add the product's demo records to ``tenant``'s data (None: the default tenant's)."""
        self.demo(self.tenants.get(tenant))

    def expire_tokens(self) -> None:
        """Make every issued access token invalid (clients must renew theirs)."""
        self.auth.expire_tokens()

    @abstractmethod
    def env(self) -> dict[str, str]:
        """Connection settings for the product client (what ``sandbox.env`` should hold)."""

    def load_records(self, entity: str, records: Iterable[dict[str, Any]]) -> int:
        """Store ``records`` of the client's ``entity`` (as the client reads them) under their own ids and
        keep the id counters past them; returns how many. ``ValueError`` for an unknown entity."""
        return self.loader(self.store, entity, records)

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
