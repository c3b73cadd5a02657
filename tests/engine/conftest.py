"""Fixtures for engine tests: the standard Fortnox rule set, fake connectors, a state store of each backend.

``store`` (and ``world``, built on it) is parametrized over the backends of ``tests/state_backends.py``: an
in-memory SQLite store, and a tenant of its own in PostgreSQL (skipped where PostgreSQL is not reachable).
The property tests that open a store per generated example (``test_sync_properties.py``,
``test_generated_rulesets.py``) stay on SQLite: they test the engine's logic, thousands of passes; the
store's own behaviour on both backends is tested in ``tests/unit/test_state_store.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mapsync.engine.ruleset import RuleSet, Side, load_ruleset
from mapsync.engine.state import StateStore
from mapsync.engine.sync.passrun import SyncPass
from mapsync.engine.sync.report import PassReport
from tests.engine.fakes import FakeConnector
from tests.state_backends import BACKENDS, open_store

ROOT = Path(__file__).resolve().parents[2]
ENV = {name: "x" for name in ("WEBCRM_BASE_URL", "WEBCRM_API_TOKEN", "FORTNOX_BASE_URL", "FORTNOX_ACCESS_TOKEN")}


def fortnox_ruleset(tmp: Path | None = None, **settings: object) -> RuleSet:
    """The standard Fortnox rule set, or a customer rule set extending it with other settings."""
    folder = ROOT / "mapsync/rules/standard/fortnox"
    if settings:
        assert tmp is not None
        lines = [f"name: custom\nextends: {folder}\nsettings:"]
        lines += [f"  {key}: {value}" for key, value in settings.items()]
        (tmp / "ruleset.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        folder = tmp
    result = load_ruleset(folder, ENV, for_run=True)
    assert result.ruleset is not None, [d.message for d in result.diagnostics]
    return result.ruleset


class World:
    """The two fake systems, the store, and a way to run a pass."""

    def __init__(self, store: StateStore, ruleset: RuleSet, concurrency: int = 1) -> None:
        self.crm = FakeConnector("webcrm")
        self.erp = FakeConnector("fortnox")
        self.store = store
        self.ruleset = ruleset
        self.concurrency = concurrency

    def run(self, *, apply: bool = True, force: bool = False) -> PassReport:
        return SyncPass(self.ruleset, {Side.CRM: self.crm, Side.ERP: self.erp},
                        {Side.CRM: self.crm.catalogue, Side.ERP: self.erp.catalogue}, self.store,
                        apply=apply, force=force, concurrency=self.concurrency).run()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    s = open_store(request.param)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(params=[1, 4], ids=["serial", "concurrent"])
def world(store: StateStore, request: pytest.FixtureRequest) -> World:
    """The standard rule set over fake systems; runs apply records one at a time, and four at once."""
    return World(store, fortnox_ruleset(), concurrency=request.param)
