"""``mapsync serve`` on one machine: tenants with their own simulators, secrets and state stores run
concurrently; a tenant whose secrets are missing or whose rule set breaks never stops the others; a rule set
that stops validating keeps the last good one until fixed; status shows each tenant."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mapsync import STANDARD_RULES
from mapsync.engine.cli import main
from mapsync.engine.sandbox import Sandbox, start_sandbox
from mapsync.engine.state import SqliteStateStore
from mapsync.engine.tenants.serve import LimiterPool, Server

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandboxes(tmp_path: Path) -> Iterator[dict[str, Sandbox]]:
    boxes = {name: start_sandbox(tmp_path / f"sb-{name}", seed=True, realistic_limits=False,
                                 products=("webcrm", "fortnox")) for name in ("acme", "beta")}
    try:
        yield boxes
    finally:
        for box in boxes.values():
            box.stop()


def _registry(tmp_path: Path, sandboxes: dict[str, Sandbox]) -> Path:
    root = tmp_path / "ops"
    (root / "secrets").mkdir(parents=True)
    for name, box in sandboxes.items():
        (root / "secrets" / f"{name}.env").write_text("".join(f"{k}={v}\n" for k, v in box.env.items()),
                                                      encoding="utf-8")
        folder = root / "customers" / name
        folder.mkdir(parents=True)
        (folder / "ruleset.yaml").write_text(f"name: {name}\nextends: {STANDARD_RULES / 'standard' / 'fortnox'}\n",
                                             encoding="utf-8")
    (root / "tenants.yaml").write_text(
        "defaults: {interval: 1h}\n"
        "tenants:\n"
        "  - {id: acme, ruleset: customers/acme, secrets: {env_file: secrets/acme.env}}\n"
        "  - {id: beta, ruleset: customers/beta, secrets: {env_file: secrets/beta.env}}\n"
        "  - {id: lost, ruleset: customers/acme, secrets: {env_file: secrets/lost.env}}\n"
        "  - {id: paused, ruleset: customers/acme, secrets: {env_prefix: PAUSED_}, enabled: false}\n",
        encoding="utf-8")
    return root / "tenants.yaml"


def test_tenants_run_side_by_side_and_a_broken_one_stops_nobody(
        tmp_path: Path, sandboxes: dict[str, Sandbox], capsys: pytest.CaptureFixture[str]) -> None:
    registry = _registry(tmp_path, sandboxes)
    server = Server(registry, workers=4, rate_limit=None)
    server.serve(once=True)
    states = {s.tenant.id: s for s in server.snapshot()}
    assert set(states) == {"acme", "beta", "lost"}  # paused is not scheduled
    assert "secrets file" in states["lost"].last_error and states["lost"].passes == 1
    for name in ("acme", "beta"):
        assert states[name].last_error == "" and states[name].last_totals["created"] > 0
        customers = sandboxes[name].simulators["fortnox"].backend
        with SqliteStateStore(registry.parent / "state" / f"{name}.sqlite") as store:
            links = store.links("customers")
            assert links and all(customers.get("customer", link.erp_id) for link in links)
    # status reads each tenant's store
    assert main(["status", str(registry), "--format", "json"]) == 0
    status = {s["id"]: s for s in json.loads(capsys.readouterr().out)}
    assert status["acme"]["last_status"] == "ok" and status["acme"]["totals"]["created"] > 0
    assert status["paused"]["enabled"] is False and status["lost"]["last_started"] is None


def test_a_rule_set_that_stops_validating_keeps_the_last_good_one(
        tmp_path: Path, sandboxes: dict[str, Sandbox]) -> None:
    registry = _registry(tmp_path, sandboxes)
    server = Server(registry, workers=2, rate_limit=None)
    server.reload_registry()
    acme = server.states["acme"]
    server.run_tenant(acme)
    good = acme.cache.ruleset
    assert good is not None and acme.last_error == ""
    ruleset = registry.parent / "customers" / "acme" / "ruleset.yaml"
    ruleset.write_text(ruleset.read_text(encoding="utf-8") + "settings: {delivery_target: invoices}\n",
                       encoding="utf-8")
    server.run_tenant(acme)
    assert acme.cache.ruleset is good  # the last good rule set still runs
    assert acme.last_error.startswith("rule set: 1 error(s)") and "MS204" in acme.last_error
    ruleset.write_text(ruleset.read_text(encoding="utf-8").replace("invoices", "invoice"), encoding="utf-8")
    server.run_tenant(acme)
    assert acme.cache.ruleset is not good and acme.last_error == ""
    assert acme.cache.ruleset is not None and acme.cache.ruleset.settings["delivery_target"] == "invoice"


def test_one_limiter_per_credential() -> None:
    pool = LimiterPool()
    one = pool("fortnox", {"base_url": "https://api.fortnox.se", "access_token": "a"})
    assert one is pool("fortnox", {"base_url": "https://api.fortnox.se", "access_token": "a"})
    assert one is not pool("fortnox", {"base_url": "https://api.fortnox.se", "access_token": "b"})
    assert one is not None and (one.max_requests, one.window) == (25, 5.0)
    assert len(pool) == 2


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path, sandboxes: dict[str, Sandbox]) -> None:
    """SIGTERM to the process: the running passes end after the record at hand and the command exits 0."""
    import os
    import signal
    import subprocess
    import sys
    import time

    registry = _registry(tmp_path, sandboxes)
    shutil.rmtree(registry.parent / "state", ignore_errors=True)
    mapsync = str(Path(sys.executable).parent / "mapsync")
    process = subprocess.Popen([mapsync, "serve", str(registry)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and \
                not (registry.parent / "state" / "acme.sqlite").exists():
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
    assert process.returncode == 0, err
    assert "stopped" in err.splitlines()[-1]


def test_a_tenant_whose_lease_is_held_elsewhere_is_not_run(tmp_path: Path, sandboxes: dict[str, Sandbox]) -> None:
    """Another process (another serve, a worker) running the tenant's pass holds its lease: this one waits."""
    from datetime import timedelta

    registry = _registry(tmp_path, sandboxes)
    server = Server(registry, workers=2, rate_limit=None)
    server.reload_registry()
    acme = server.states["acme"]
    state = registry.parent / "state" / "acme.sqlite"
    state.parent.mkdir(parents=True, exist_ok=True)
    with SqliteStateStore(state) as other:
        assert other.acquire_lease("worker@elsewhere", timedelta(minutes=5))
        server.run_tenant(acme)
        assert acme.last_status == "not run" and "lease" in acme.last_error
        assert not (state.parent / "acme.sqlite").exists() or other.links("customers") == []  # nothing done
        assert other.release_lease("worker@elsewhere")
    server.run_tenant(acme)
    assert acme.last_status == "ok"
    with SqliteStateStore(state) as store:  # released after the pass: anyone may take it now
        assert store.acquire_lease("next", timedelta(seconds=1))


def test_a_pass_stops_when_its_lease_is_lost(tmp_path: Path) -> None:
    from datetime import timedelta

    from mapsync.engine.tenants.serve import Lease

    clock = [0.0]
    with SqliteStateStore(tmp_path / "s.sqlite") as store:
        lease = Lease(store, "me", threading.Event(), clock=lambda: clock[0])
        assert lease.acquire() and not lease.is_set()
        clock[0] = 200.0  # past half the lease: renewed
        lease.progress("customers", 1, 10)
        assert not lease.is_set()
        store.release_lease("me")
        assert store.acquire_lease("thief", timedelta(minutes=5))
        clock[0] = 400.0
        lease.progress("customers", 2, 10)
        assert lease.is_set()  # the pass stops after the record at hand


def test_tenants_share_one_set_of_simulators_each_with_its_own_data(tmp_path: Path) -> None:
    """One webCRM and one Fortnox simulator serve every tenant: each tenant's tokens reach its own data."""
    sandbox = start_sandbox(None, realistic_limits=False, products=("webcrm", "fortnox"))
    try:
        sims = sandbox.simulators
        root = tmp_path / "ops"
        lines = ["tenants:"]
        for name, count in (("acme", 2), ("beta", 3)):
            sims["webcrm"].tenants.get(f"tenant-{name}-crm")  # seeded through the backend, as a benchmark does
            for i in range(count):
                sims["webcrm"].tenants.get(f"tenant-{name}-crm").create("organisation", {
                    "OrganisationName": f"{name} {i}", "OrganisationType": "Customer",
                    "OrganisationExtraCustom1": str(100 + i)})
            env = {**sandbox.env, "WEBCRM_API_TOKEN": f"tenant-{name}-crm", "FORTNOX_ACCESS_TOKEN": f"tenant-{name}"}
            (root / "secrets").mkdir(parents=True, exist_ok=True)
            (root / "secrets" / f"{name}.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()),
                                                          encoding="utf-8")
            lines.append(f"  - {{id: {name}, ruleset: {STANDARD_RULES / 'standard' / 'fortnox'}, "
                         f"secrets: {{env_file: secrets/{name}.env}}}}")
        (root / "tenants.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        Server(root / "tenants.yaml", workers=2, rate_limit=None).serve(once=True)
        fortnox = sims["fortnox"]
        for name, count in (("acme", 2), ("beta", 3)):
            names = sorted(c["Name"] for c, _ in fortnox.tenants.get(f"tenant-{name}").store.all_dated("customer"))
            assert names == [f"{name} {i}" for i in range(count)]
        assert fortnox.is_empty() and sims["webcrm"].is_empty()  # the default tenant saw nothing
        assert fortnox.log.count(tenant="tenant-acme") > 0 and fortnox.log.count(tenant="tenant-beta") > 0
    finally:
        sandbox.stop()
