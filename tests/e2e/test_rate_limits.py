"""A normal pass at the real rate limits causes no 429 at all: the clients' limiters keep under them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapsync.connectors.catalogue import load_catalogue
from mapsync.connectors.registry import make_client
from mapsync.engine.connections import resolve_connection
from mapsync.engine.ruleset import Side
from mapsync.engine.sandbox import start_sandbox
from mapsync.engine.state import SqliteStateStore
from mapsync.engine.sync.passrun import SyncPass
from tests.e2e.conftest import ROOT, load

pytestmark = pytest.mark.e2e


def test_a_pass_at_the_real_limits_gets_no_429(tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path / "sb", products=("webcrm", "fortnox"))  # real limits: 250/min, 25/5 s
    try:
        for i in range(30):
            sandbox.simulators["webcrm"].backend.create("organisation", {
                "OrganisationName": f"Org {i}", "OrganisationType": "Customer",
                "OrganisationExtraCustom1": str(100 + i)})
        ruleset = load(ROOT / "mapsync/rules/standard/fortnox", sandbox.env)
        with SqliteStateStore(tmp_path / "s.sqlite") as store:
            connectors = {side: make_client(ruleset.system(side).connector,
                                            resolve_connection(ruleset.system(side), sandbox.env), token_store=store)
                          for side in Side}  # default client limiters
            catalogues = {side: load_catalogue(ruleset.system(side).connector) for side in Side}
            report = SyncPass(ruleset, connectors, catalogues, store, apply=True).run()
            for connector in connectors.values():
                connector.close()
        fortnox = sandbox.simulators["fortnox"].log
        assert report.total("created") == 30 and report.fatal is None
        assert fortnox.count() > 25  # more than one window's worth, so the limiter had work to do
        assert fortnox.count(status=429) == 0
        assert sandbox.simulators["webcrm"].log.count(status=429) == 0
    finally:
        sandbox.stop()
