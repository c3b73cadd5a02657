"""webCRM REST API simulator on loopback: organisations, persons, deliveries, quotation lines,
catalogue items, opportunities, ``/Queries``, token login/refresh, 429s and faults.

Start one with ``start_simulator(data_dir, port=0, rate_limit=(250, 60.0), seed=False)``; it
returns a running ``WebcrmSimulator`` with ``.url`` and ``.stop()``. The default application token
is in ``WebcrmAuthConfig`` (``sandbox-webcrm-api-token``).
"""

from mapsync.connectors.webcrm.simulator.auth import WebcrmAuth, WebcrmAuthConfig
from mapsync.connectors.webcrm.simulator.backend import WebcrmBackend
from mapsync.connectors.webcrm.simulator.queries import parse_query, run_query
from mapsync.connectors.webcrm.simulator.rules import WebcrmRules
from mapsync.connectors.webcrm.simulator.seed import seed_demo
from mapsync.connectors.webcrm.simulator.server import DEFAULT_RATE_LIMIT, WebcrmSimulator, start_simulator
from mapsync.connectors.webcrm.simulator.store import WebcrmStore

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "WebcrmAuth",
    "WebcrmAuthConfig",
    "WebcrmBackend",
    "WebcrmRules",
    "WebcrmSimulator",
    "WebcrmStore",
    "parse_query",
    "run_query",
    "seed_demo",
    "start_simulator",
]
