"""Visma.net ERP API simulator on loopback: customers, contacts, inventory, sales orders, customer
invoices, a Visma Connect token endpoint, ETags, rate-limit headers, 429s and faults.

Start one with ``start_simulator(data_dir, port=0, rate_limit=(15000, 3600.0), seed=False)``; it returns
a running ``VismanetSimulator`` with ``.url``, ``.token_url``, ``.stop()``, ``.faults``, ``.log`` and
``.env()``. Default credentials are in ``VismanetAuthConfig``.
"""

from mapsync.connectors.vismanet.simulator.auth import SCOPES, VismanetAuth, VismanetAuthConfig
from mapsync.connectors.vismanet.simulator.backend import VismanetBackend
from mapsync.connectors.vismanet.simulator.seed import seed_demo
from mapsync.connectors.vismanet.simulator.server import (
    DEFAULT_RATE_LIMIT,
    MAX_PAGE_SIZE,
    VismanetSimulator,
    start_simulator,
)
from mapsync.connectors.vismanet.simulator.store import VismanetStore

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "MAX_PAGE_SIZE",
    "SCOPES",
    "VismanetAuth",
    "VismanetAuthConfig",
    "VismanetBackend",
    "VismanetSimulator",
    "VismanetStore",
    "seed_demo",
    "start_simulator",
]
