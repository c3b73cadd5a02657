"""Celery workers beyond one machine, for real: worker processes (``mapsync worker``) and the scheduler
(``mapsync scheduler``) as subprocesses, a Redis server of the test's own as the broker, the tenants' state in
PostgreSQL (a tenant id of each test's own, deleted afterwards) and a sandbox of simulators per tenant.

What is checked: every tenant's passes run and create its records, a tenant with revoked credentials fails
alone; a worker killed with SIGKILL in the middle of a pass (the whole process, or the pool's child process)
has its pass delivered again and finished by another without a duplicate in the ERP and with every
organisation linked; two workers never run one tenant at once (the lease); after a broker restart the workers
and the scheduler reconnect and passes go on.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from celery import Celery
from psycopg.rows import dict_row

from mapsync import STANDARD_RULES
from mapsync.engine.cli import main
from mapsync.engine.sandbox import Sandbox, start_sandbox
from mapsync.engine.state.postgres import PostgresStateStore
from mapsync.engine.state.store import INTERRUPTED
from tests.redis_server import RedisServer, free_port
from tests.state_backends import delete_tenant, require_postgres

pytestmark = pytest.mark.e2e

MAPSYNC = str(Path(sys.executable).parent / "mapsync")
LEASE_TTL = 3  # seconds: how long a killed worker's lease keeps its tenant from running elsewhere


def wait_for(condition: Callable[[], Any], timeout: float, what: str, *, logs: Sequence[Process] = ()) -> Any:
    """The first true value of ``condition``; fails after ``timeout`` seconds, with the tails of ``logs``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name} ---\n{p.text()[-3000:]}" for p in logs)
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tails}")
        time.sleep(0.1)


class Process:
    """A ``mapsync`` subprocess (in a session of its own), its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.log = folder / f"{name}.log"
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen([MAPSYNC, "--log-level", "INFO", *args], env=env, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL, as a machine that dies: nothing is cleaned up, nothing acknowledged."""
        os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()  # warm shutdown: running passes end after the record at hand
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # the pool's child processes too
        self.popen.wait(10)


class Cluster:
    """Tenants (a sandbox each), their registry, workers, a scheduler and a way to send passes."""

    def __init__(self, tmp_path: Path, redis: RedisServer, postgres: str) -> None:
        self.root = tmp_path / "ops"
        (self.root / "secrets").mkdir(parents=True)
        self.redis = redis
        self.postgres = postgres
        self.sandboxes: dict[str, Sandbox] = {}
        self.orgs: dict[str, list[int]] = {}
        self.processes: list[Process] = []
        self.sender: Celery | None = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MAPSYNC_")}
        self.env.update({"MAPSYNC_BROKER_URL": redis.url, "MAPSYNC_LEASE_TTL": str(LEASE_TTL),
                         "MAPSYNC_BROKER_VISIBILITY_TIMEOUT": "60"})

    # -- tenants -------------------------------------------------------------------------------------------
    def tenant(self, name: str, organisations: int, **secrets: str) -> str:
        """A tenant with a sandbox of its own holding ``organisations`` organisations to sync; its id."""
        tenant_id = f"{name}-{uuid.uuid4().hex[:8]}"
        box = start_sandbox(None, realistic_limits=False, products=("webcrm", "fortnox"))
        self.sandboxes[tenant_id] = box
        self.orgs[tenant_id] = []
        self.add_organisations(tenant_id, organisations)
        env = {**box.env, **secrets}
        (self.root / "secrets" / f"{tenant_id}.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()),
                                                                 encoding="utf-8")
        folder = self.root / "customers" / tenant_id
        folder.mkdir(parents=True)
        (folder / "ruleset.yaml").write_text(f"name: {name}\nextends: {STANDARD_RULES / 'standard' / 'fortnox'}\n",
                                             encoding="utf-8")
        return tenant_id

    def add_organisations(self, tenant_id: str, count: int) -> None:
        webcrm = self.sandboxes[tenant_id].simulators["webcrm"].backend
        for _ in range(count):
            n = len(self.orgs[tenant_id]) + 1
            self.orgs[tenant_id].append(webcrm.create("organisation", {
                "OrganisationName": f"{tenant_id} customer {n}", "OrganisationType": "Customer",
                "OrganisationExtraCustom2": f"5560{n:02d}-{n:04d}"}))

    def registry(self, interval: str = "1h") -> Path:
        lines = [f"defaults: {{interval: {interval}, state: '{self.postgres}'}}", "tenants:"]
        lines += [f"  - {{id: {t}, ruleset: customers/{t}, secrets: {{env_file: secrets/{t}.env}}}}"
                  for t in self.sandboxes]
        path = self.root / "tenants.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def fortnox(self, tenant_id: str) -> Any:
        return self.sandboxes[tenant_id].simulators["fortnox"]

    def customers(self, tenant_id: str) -> list[dict[str, Any]]:
        return [record for record, _ in self.fortnox(tenant_id).backend.store.all_dated("customer")]

    # -- processes -----------------------------------------------------------------------------------------
    def worker(self, name: str, *args: str, ready: bool = True) -> Process:
        process = Process(name, ["worker", str(self.root / "tenants.yaml"), "--name", f"{name}@test", *args],
                          self.env, self.root.parent)
        self.processes.append(process)
        if ready:
            wait_for(lambda: " ready." in process.text() or process.popen.poll() is not None, 60,
                     f"worker {name} to start", logs=[process])
            assert process.popen.poll() is None, process.text()
        return process

    def scheduler(self) -> Process:
        process = Process("scheduler", ["scheduler", str(self.root / "tenants.yaml")], self.env, self.root.parent)
        self.processes.append(process)
        return process

    def send(self, tenant_id: str) -> str:
        """Send one pass of the tenant, as the scheduler does; the task's id."""
        if self.sender is None:
            self.sender = Celery("mapsync-test", broker=self.redis.url)
            self.sender.conf.task_default_queue = "mapsync"
        return str(self.sender.send_task("mapsync.tenant_pass", args=(tenant_id,)).id)

    # -- the state in PostgreSQL -----------------------------------------------------------------------------
    def linked(self, tenant_id: str) -> set[str]:
        with PostgresStateStore(self.postgres, tenant=tenant_id) as store:
            return {link.crm_id for link in store.links("customers")}

    def query(self, sql: str, tenant_id: str) -> list[dict[str, Any]]:
        with psycopg.connect(self.postgres, row_factory=dict_row) as conn:
            return conn.execute(sql, (tenant_id,)).fetchall()  # type: ignore[arg-type]

    def runs(self, tenant_id: str) -> list[dict[str, Any]]:
        return self.query("SELECT id, started_at, finished_at, status, summary FROM mapsync.runs "
                          "WHERE tenant = %s ORDER BY started_at", tenant_id)

    def lease_holder(self, tenant_id: str) -> str | None:
        rows = self.query("SELECT holder FROM mapsync.leases WHERE tenant = %s AND expires_at > clock_timestamp()",
                          tenant_id)
        return str(rows[0]["holder"]) if rows else None

    def pending_creates(self, tenant_id: str) -> list[int]:
        with PostgresStateStore(self.postgres, tenant=tenant_id) as store:
            return [p.id for p in store.pending_creates("customers")]

    def check(self, tenant_id: str) -> None:
        """Every organisation linked to a customer of its own in Fortnox, no customer twice, no two runs of the
        tenant at once."""
        customers = self.customers(tenant_id)
        numbers = sorted(c["OrganisationNumber"] for c in customers)
        assert len(numbers) == len(set(numbers)) == len(self.orgs[tenant_id]), numbers  # no duplicate
        assert self.linked(tenant_id) == {str(o) for o in self.orgs[tenant_id]}  # nothing lost
        with PostgresStateStore(self.postgres, tenant=tenant_id) as store:
            by_number = {c["CustomerNumber"]: c for c in customers}
            assert {link.erp_id for link in store.links("customers")} == set(by_number)
            assert store.pending_creates("customers") == []
        finished = [r for r in self.runs(tenant_id) if r["finished_at"] is not None]
        for earlier, later in itertools.pairwise(finished):
            assert earlier["finished_at"] <= later["started_at"], (earlier, later)  # one pass at a time

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        if self.sender is not None:
            self.sender.close()
        for box in self.sandboxes.values():
            box.stop()
        for tenant_id in self.sandboxes:
            delete_tenant("mapsync", tenant_id)


@pytest.fixture
def cluster(tmp_path: Path, redis_server: RedisServer) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, redis_server, require_postgres())
    try:
        yield cluster
    finally:
        cluster.close()


def _pid(holder: str | None) -> int | None:
    match = re.fullmatch(r"worker@[^:]*:(\d+):\d+", holder or "")
    return int(match.group(1)) if match else None


def test_workers_and_the_scheduler_sync_every_tenant_and_a_revoked_one_fails_alone(
        cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    alpha, beta = cluster.tenant("alpha", 6), cluster.tenant("beta", 6)
    revoked = cluster.tenant("revoked", 3, WEBCRM_API_TOKEN="revoked-token")
    registry = cluster.registry(interval="3s")
    metrics_port = free_port()
    first = cluster.worker("w1", "--concurrency", "2", "--metrics", f"127.0.0.1:{metrics_port}")
    second = cluster.worker("w2", "--concurrency", "2")
    scheduler = cluster.scheduler()
    logs = [first, second, scheduler]

    def settled() -> bool:
        done = all(len(cluster.linked(t)) == 6 and len([r for r in cluster.runs(t) if r["status"] == "ok"]) >= 2
                   for t in (alpha, beta))  # created, then a pass that finds nothing more to do
        return done and any(r["status"] == "fatal" for r in cluster.runs(revoked))

    wait_for(settled, 60, "every tenant's passes", logs=logs)
    for tenant_id in (alpha, beta):
        cluster.check(tenant_id)
    fatal = next(r for r in cluster.runs(revoked) if r["status"] == "fatal")
    assert "webcrm login refused" in fatal["summary"]["fatal"] and "401" in fatal["summary"]["fatal"]
    assert cluster.linked(revoked) == set() and cluster.customers(revoked) == []
    # both workers ran passes, every pass was logged with its tenant
    for worker in (first, second):
        assert re.search(r"\[tenant=(alpha|beta|revoked)-\w+ .*\] pass (ok|fatal) in", worker.text()), worker.text()
    assert "Sending due task tenant:" + alpha in scheduler.text()

    # the registry is read again: a tenant disabled leaves the schedule
    registry.write_text(registry.read_text(encoding="utf-8").replace(
        f"{{id: {revoked}, ", f"{{id: {revoked}, enabled: false, "), encoding="utf-8")
    wait_for(lambda: "schedule: 2 tenant(s)" in scheduler.text(), 30, "the scheduler to read the registry again",
             logs=[scheduler])

    metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/", timeout=10).read().decode()
    passes = re.findall(r'mapsync_passes_total\{outcome="(\w+)",tenant="([\w-]+)"\} (\d+)', metrics)
    assert passes and {tenant for _, tenant, _ in passes} <= {alpha, beta, revoked}, metrics

    # status reads every tenant's state from PostgreSQL, whichever worker ran it
    for process in (scheduler, first, second):
        process.stop()  # SIGTERM: the workers finish the passes at hand
    assert "Warm shutdown" in first.text()
    assert main(["status", str(registry), "--format", "json"]) == 0
    status = {s["id"]: s for s in json.loads(capsys.readouterr().out)}
    # a pass still running at SIGTERM ends after its record at hand and is recorded as stopped (fatal)
    assert status[alpha]["last_status"] == "ok" or "stopped on request" in status[alpha]["last_error"], status[alpha]
    assert status[revoked]["enabled"] is False
    assert status[beta]["last_started"] is not None


def test_a_worker_killed_mid_pass_its_pass_is_delivered_again_without_a_duplicate(cluster: Cluster) -> None:
    """The whole worker process dies (a machine lost): its unacknowledged pass goes back to the queue after the
    visibility timeout, another worker runs it once the dead one's lease has run out, and reconciles the
    customer whose create was in flight when the worker died."""
    gamma = cluster.tenant("gamma", 10)
    cluster.registry()
    cluster.env["MAPSYNC_BROKER_VISIBILITY_TIMEOUT"] = "6"
    cluster.fortnox(gamma).faults.add("delay", count=1000, seconds=1.0, path_prefix="/3/customers")
    workers = {p.pid: p for p in (cluster.worker("w1"), cluster.worker("w2"))}
    task = cluster.send(gamma)

    seen: dict[int, float] = {}

    def create_in_flight() -> int | None:
        """A journalled create open for a while (its POST sent and waiting), two customers made already."""
        pending = cluster.pending_creates(gamma)
        for journal_id in pending:
            seen.setdefault(journal_id, time.monotonic())
        if len(cluster.customers(gamma)) >= 2 and pending and time.monotonic() - seen[pending[0]] > 0.2:
            return pending[0]
        return None

    wait_for(create_in_flight, 30, "the pass to be half way", logs=list(workers.values()))
    holder = cluster.lease_holder(gamma)
    victim = workers.pop(_pid(holder) or -1)  # the worker running the pass (the lease names its process)
    [survivor] = workers.values()
    created_before = {c["OrganisationNumber"] for c in cluster.customers(gamma)}
    linked_before = cluster.linked(gamma)
    victim.kill()
    cluster.fortnox(gamma).faults.clear()  # the rest goes fast
    # the create in flight is made in Fortnox after all, and its link was never stored
    orphan = wait_for(lambda: {c["OrganisationNumber"] for c in cluster.customers(gamma)} - created_before, 10,
                      "the create in flight to reach Fortnox")
    assert len(linked_before) < len(created_before) + len(orphan)

    wait_for(lambda: len(cluster.linked(gamma)) == 10, 60, "the pass to be finished elsewhere",
             logs=[victim, survivor])
    cluster.check(gamma)  # one customer per organisation: the orphan was linked, not created again
    assert task in victim.text() and task in survivor.text()  # delivered to the victim, then to the survivor
    runs = cluster.runs(gamma)
    # the victim's pass, cut off: recorded as interrupted by the next pass, not left running
    assert runs[0]["status"] == "fatal" and runs[0]["summary"]["fatal"] == INTERRUPTED
    # a later pass finished ok (under load a retry may end fatal first, e.g. on a timeout; the next goes on)
    wait_for(lambda: any(r["status"] == "ok" and r["started_at"] > runs[0]["started_at"]
                         for r in cluster.runs(gamma)), 60, "a later pass to finish ok", logs=[survivor])


def test_a_pool_process_killed_mid_pass_is_rejected_and_its_pass_waits_for_the_lease(cluster: Cluster) -> None:
    """A prefork worker's child process dies (the OOM killer, say): the worker rejects the pass back to the
    queue at once (reject_on_worker_lost); the dead child still holds the lease, so the pass delivered again
    waits for it to run out, then finishes without a duplicate."""
    delta = cluster.tenant("delta", 8)
    cluster.registry()
    # the worker notices its child's death a few seconds later (Celery's pool): a lease outliving that
    cluster.env["MAPSYNC_LEASE_TTL"] = "8"
    cluster.fortnox(delta).faults.add("delay", count=1000, seconds=1.0, path_prefix="/3/customers")
    parent = cluster.worker("prefork", "--pool", "prefork", "--concurrency", "1")
    cluster.send(delta)
    wait_for(lambda: len(cluster.customers(delta)) >= 2, 30, "the pass to be half way", logs=[parent])
    child = _pid(cluster.lease_holder(delta))
    assert child is not None and child != parent.pid  # the pass runs in the pool's child process
    other = cluster.worker("threads")
    os.kill(child, signal.SIGKILL)
    cluster.fortnox(delta).faults.clear()
    wait_for(lambda: len(cluster.linked(delta)) == 8, 60, "the pass delivered again to finish",
             logs=[parent, other])
    cluster.check(delta)
    assert re.search(r"exited with 'signal 9 \(SIGKILL\)'", parent.text()), parent.text()
    logs = parent.text() + other.text()
    assert "re-delivered pass finds the lease held; trying again in 8 s" in logs  # the dead child's lease


def test_two_workers_never_run_one_tenant_at_once(cluster: Cluster) -> None:
    eps = cluster.tenant("eps", 6)
    cluster.registry()
    cluster.fortnox(eps).faults.add("delay", count=1000, seconds=0.3, path_prefix="/3/customers")
    first, second = cluster.worker("w1"), cluster.worker("w2")
    tasks = [cluster.send(eps), cluster.send(eps)]
    wait_for(lambda: all(f"[{t}] succeeded" in first.text() + second.text() for t in tasks), 60,
             "both passes", logs=[first, second])
    # each worker got one of them; one ran the pass, the other found the lease held and did nothing
    assert {t in first.text() for t in tasks} == {True, False}
    refused = [p for p in (first, second) if "pass not run: another process holds this tenant's lease" in p.text()]
    assert len(refused) == 1
    assert "trying again" not in refused[0].text()  # sent twice, not re-delivered: no waiting for the lease
    assert len(cluster.runs(eps)) == 1
    cluster.check(eps)


def test_after_a_broker_restart_workers_and_the_scheduler_reconnect(cluster: Cluster) -> None:
    """Redis goes away while a worker is running a pass (a message in hand, not yet acknowledged) and comes back
    empty: that worker and the others reconnect, the scheduler too, and passes go on. (Celery 5.7.0 crashed a
    worker holding a message here: 'Unrecoverable error: AttributeError ... hostname'.)"""
    zeta = cluster.tenant("zeta", 3)
    cluster.registry(interval="2s")
    workers = [cluster.worker("w1"), cluster.worker("w2")]
    scheduler = cluster.scheduler()
    wait_for(lambda: len(cluster.linked(zeta)) == 3, 60, "the first passes", logs=[*workers, scheduler])
    cluster.fortnox(zeta).faults.add("delay", count=3, seconds=1.0, path_prefix="/3/customers")
    wait_for(lambda: cluster.lease_holder(zeta), 30, "a pass running", logs=workers)
    cluster.redis.stop()
    time.sleep(1)
    cluster.redis.start()  # the same port; nothing kept: the queue starts empty
    restarted = datetime.now(UTC)
    cluster.add_organisations(zeta, 2)

    def passes_again() -> bool:  # sent by the scheduler and taken by a worker through the new broker
        after = [r for r in cluster.runs(zeta) if r["started_at"] > restarted and r["status"] == "ok"]
        return len(after) >= 2 and len(cluster.linked(zeta)) == 5

    wait_for(passes_again, 60, "passes after the broker restart", logs=[*workers, scheduler])
    cluster.check(zeta)
    for worker in workers:
        assert worker.popen.poll() is None, worker.text()  # alive
        assert "Connection to broker lost" in worker.text()
        assert worker.text().count("Connected to redis://") >= 2
        assert "Unrecoverable error" not in worker.text()
