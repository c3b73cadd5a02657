"""Fortnox v3 API simulator on loopback: customers, articles, orders, invoices, OAuth, 429s, faults.

Start one with ``start_simulator(data_dir, port=0, rate_limit=(25, 5.0), seed=False)``; it
returns a running ``FortnoxSimulator`` with ``.url`` and ``.stop()``. Default credentials are in
``FortnoxAuthConfig`` (static bearer token ``sandbox-access-token``).
"""

from mapsync.connectors.fortnox.simulator.auth import FortnoxAuth, FortnoxAuthConfig
from mapsync.connectors.fortnox.simulator.backend import FortnoxBackend
from mapsync.connectors.fortnox.simulator.seed import seed_demo
from mapsync.connectors.fortnox.simulator.server import DEFAULT_RATE_LIMIT, FortnoxSimulator, start_simulator
from mapsync.connectors.fortnox.simulator.store import FortnoxStore

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "FortnoxAuth",
    "FortnoxAuthConfig",
    "FortnoxBackend",
    "FortnoxSimulator",
    "FortnoxStore",
    "seed_demo",
    "start_simulator",
]
