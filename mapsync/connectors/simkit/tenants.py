"""Tenants of one simulator: a backend (records, id counters) per tenant, created on first use.

The real products serve many customers from one API, each credential seeing its own company's data and
spending its own rate-limit budget. A simulator does the same: each product maps a request's credential to a
tenant id (docs/connectors.md, "Many tenants in one simulator"), and ``Tenants`` holds one backend per id.

- ``DEFAULT_TENANT`` is the tenant of the credentials a simulator is configured with (those ``mapsync
  sandbox`` publishes in ``sandbox.env``): its backend exists from the start and is the one the simulator's
  ``backend`` and ``store`` attributes, seeding, snapshot loading and persistence have always used;
- a credential that starts with the product's ``tenant_prefix`` (``TENANT_PREFIX``, ``tenant-``, unless
  configured otherwise) is accepted and names a tenant of its own, so a test or a benchmark invents
  thousands of tenants by inventing credentials; other credentials are refused as before.

Rate limits need no state here: the simulator's limiter is keyed by the tenant id. ``tenant_dir`` is where a
persisted simulator keeps another tenant's file (a digest of the id: an id may be a token).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

DEFAULT_TENANT = "default"
TENANT_PREFIX = "tenant-"

T_co = TypeVar("T_co", covariant=True)


def invented(credential: str | None, prefix: str | None) -> bool:
    """Whether ``credential`` names a tenant of its own: it starts with ``prefix`` (and has more after it)."""
    return bool(prefix) and credential is not None and credential.startswith(prefix or "") and (
        len(credential) > len(prefix or ""))


def tenant_dir(data_dir: Path | str | None, tenant: str) -> Path | None:
    """The folder of ``tenant``'s data under a simulator's ``data_dir`` (None: memory only); the default
    tenant's is ``data_dir`` itself."""
    if data_dir is None or tenant == DEFAULT_TENANT:
        return None if data_dir is None else Path(data_dir)
    return Path(data_dir) / "tenants" / hashlib.sha256(tenant.encode("utf-8")).hexdigest()[:24]


class Tenants(Generic[T_co]):
    """The default tenant's backend and every other tenant's, each made by ``create(tenant_id)`` on first use.

    Thread-safe: two requests of a new tenant at once get the same backend.
    """

    def __init__(self, default: T_co, create: Callable[[str], T_co]) -> None:
        self.default = default
        self._create = create
        self._others: dict[str, T_co] = {}
        self._lock = threading.Lock()

    def get(self, tenant: str | None = None) -> T_co:
        """The backend of ``tenant`` (None: the default tenant's), created when it is first asked for."""
        if tenant is None or tenant == DEFAULT_TENANT:
            return self.default
        found = self._others.get(tenant)
        if found is not None:
            return found
        with self._lock:
            found = self._others.get(tenant)
            if found is None:
                found = self._others[tenant] = self._create(tenant)
            return found

    def ids(self) -> list[str]:
        """Every tenant so far: the default one first, then the others in the order they came."""
        with self._lock:
            return [DEFAULT_TENANT, *self._others]

    def all(self) -> list[T_co]:
        """Every tenant's backend, in the order of ``ids``."""
        with self._lock:
            return [self.default, *self._others.values()]

    def __len__(self) -> int:
        with self._lock:
            return 1 + len(self._others)
