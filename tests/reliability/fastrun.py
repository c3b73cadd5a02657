"""``mapsync`` as the reliability suites start it in a subprocess: the real CLI, with the clients' own rate
limits lifted (the simulators have theirs off too), so that a pass over the suites' world takes a second rather
than the real systems' pace. Everything else is what ``mapsync run`` does.

    python -m tests.reliability.fastrun run RULESET --state PATH ...
"""

from __future__ import annotations

import sys
from typing import Any

import mapsync.engine.composition as composition
from mapsync.connectors.registry import make_client
from mapsync.engine.cli.main import main


def _unlimited_client(connector: str, settings: dict[str, str], **options: Any) -> Any:
    options.setdefault("rate_limit", None)
    return make_client(connector, settings, **options)


if __name__ == "__main__":
    composition.make_client = _unlimited_client
    sys.exit(main(sys.argv[1:]))
