"""End-to-end fixtures: the real simulators on loopback sockets, real clients, the real engine.

Simulator rate limits are off and client limiters loosened so that tests are fast; the limits
themselves are tested in tests/connectors. Every test gets fresh simulators and a fresh state store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mapsync.connectors.base import Connector
from mapsync.connectors.registry import make_client
from mapsync.engine.composition import run_pass
from mapsync.engine.connections import resolve_connection
from mapsync.engine.extractors import FieldPath
from mapsync.engine.ruleset import RuleSet, Side, load_ruleset
from mapsync.engine.sandbox import Sandbox, start_sandbox
from mapsync.engine.state import SqliteStateStore
from mapsync.engine.sync.report import PassReport

ROOT = Path(__file__).resolve().parents[2]


def clean_env() -> dict[str, str]:
    """The environment without connection settings or a PYTHONPATH into the repository: what a consultant's
    shell has before the tutorial or a customer repository sets anything."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBCRM_", "FORTNOX_", "VISMANET_", "MAPSYNC_"))}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    return env


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mapsync built as a wheel, once per test session (``pip wheel`` of the repository)."""
    wheels = tmp_path_factory.mktemp("wheels")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
                           capture_output=True, text=True, timeout=300, env=clean_env())
    assert built.returncode == 0, built.stderr
    [wheel] = wheels.glob("mapsync-*.whl")
    return wheel


class E2E:
    """Simulators, clients as a user would use them, and passes of the engine."""

    def __init__(self, sandbox: Sandbox, store: SqliteStateStore, ruleset: RuleSet) -> None:
        self.sandbox = sandbox
        self.store = store
        self.ruleset = ruleset
        self.crm = self.client(Side.CRM)
        self.erp = self.client(Side.ERP)

    def client(self, side: Side) -> Connector:
        """A client for the test to act as a user with (the pass makes its own)."""
        system = self.ruleset.system(side)
        return make_client(system.connector, resolve_connection(system, self.sandbox.env),
                           token_store=self.store, rate_limit=None)

    def simulator(self, side: Side) -> Any:
        return self.sandbox.simulators[self.ruleset.system(side).connector]

    def run(self, *, apply: bool = True) -> PassReport:
        return run_pass(self.ruleset, self.sandbox.env, self.store, apply=apply, rate_limit=None)

    def close(self) -> None:
        self.crm.close()
        self.erp.close()


def load(folder: Path, env: dict[str, str]) -> RuleSet:
    result = load_ruleset(folder, env, for_run=True)
    assert result.ruleset is not None, [f"{d.location.file}:{d.location.line} {d.message}" for d in result.diagnostics]
    return result.ruleset


def customised(tmp_path: Path, standard: str, **settings: object) -> Path:
    """A customer rule set extending a standard one with other settings."""
    folder = Path(tempfile.mkdtemp(prefix="custom-", dir=tmp_path))
    lines = [f"name: custom\nextends: {ROOT / 'mapsync/rules/standard' / standard}\nsettings:"]
    lines += [f"  {key}: {value}" for key, value in settings.items()]
    (folder / "ruleset.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@dataclass(frozen=True)
class ErpShape:
    """How the customers of one ERP look, so that one test suite runs against both standard rule sets."""

    connector: str
    number: str
    name: FieldPath
    phone: FieldPath
    settings: tuple[tuple[str, str], ...] = ()  # settings every test of this suite gives the standard set

    def values(self, number: str, name: str, phone: str | None = None) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for path, value in ((FieldPath(self.number), number), (self.name, name), (self.phone, phone)):
            if value is not None:
                path.set(values, value)
        return values


ERPS = {
    "fortnox": ErpShape("fortnox", "CustomerNumber", FieldPath("Name"), FieldPath("Phone1")),
    # Visma.net's standard set lets Visma.net number customers; these tests give the numbers in webCRM.
    "vismanet": ErpShape("vismanet", "number", FieldPath("name"), FieldPath("mainContact.phone1"),
                         (("customer_number_owner", "crm"),)),
}


@pytest.fixture(params=sorted(ERPS))
def erp(request: pytest.FixtureRequest) -> ErpShape:
    return ERPS[request.param]


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    sb = start_sandbox(tmp_path / "sandbox", realistic_limits=False)
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """Fresh simulators with their connection settings in the environment, as a user's shell would have them."""
    for key, value in sandbox.env.items():
        monkeypatch.setenv(key, value)
    return sandbox


@pytest.fixture
def world(erp: ErpShape, sandbox: Sandbox, tmp_path: Path) -> Iterator[E2E]:
    """The standard rule set of ``erp`` (with the suite's settings) against fresh simulators."""
    folder = customised(tmp_path, erp.connector, **dict(erp.settings)) if erp.settings else (
        ROOT / "mapsync/rules/standard" / erp.connector)
    with SqliteStateStore(tmp_path / "state.sqlite") as store:
        e2e = E2E(sandbox, store, load(folder, sandbox.env))
        try:
            yield e2e
        finally:
            e2e.close()


@pytest.fixture
def e2e(sandbox: Sandbox, tmp_path: Path) -> Iterator[E2E]:
    with SqliteStateStore(tmp_path / "state.sqlite") as store:
        world = E2E(sandbox, store, load(ROOT / "mapsync/rules/standard/fortnox", sandbox.env))
        try:
            yield world
        finally:
            world.close()
