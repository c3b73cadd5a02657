"""The Celery workers' own logic, without a broker: the beat schedule made from the tenants registry (and made
again when the file changes), which tenants a worker refuses (SQLite state, unknown, disabled), one pass per
tenant at a time in a worker, a pass whose lease is held elsewhere doing nothing, and a re-delivered one
waiting for the lease instead. The workers against real Redis and PostgreSQL: tests/e2e/test_workers.py."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mapsync import STANDARD_RULES
from mapsync.engine.cli import main
from mapsync.engine.state import SqliteStateStore
from mapsync.engine.tenants import workers
from mapsync.engine.tenants.tenantpass import PassOutcome
from mapsync.engine.tenants.workers import RegistryScheduler, WorkerContext, settings_from_environment

ENV = {"WEBCRM_BASE_URL": "http://127.0.0.1:9", "WEBCRM_API_TOKEN": "t", "FORTNOX_BASE_URL": "http://127.0.0.1:9",
       "FORTNOX_ACCESS_TOKEN": "t"}


def _touch_later(path: Path) -> None:
    stamp = path.stat().st_mtime + 5
    os.utime(path, (stamp, stamp))


@pytest.fixture
def registry_conf(tmp_path: Path) -> Iterator[Path]:
    """The app's registry setting pointed at a registry of this test, and put back afterwards."""
    path = tmp_path / "tenants.yaml"
    before = workers.app.conf.get("mapsync_tenants")
    workers.app.conf.mapsync_tenants = str(path)
    try:
        yield path
    finally:
        workers.app.conf.mapsync_tenants = before


def test_the_schedule_is_the_registry_and_follows_its_changes(registry_conf: Path) -> None:
    registry_conf.write_text(
        "defaults: {interval: 30s, state: 'postgresql://db/mapsync'}\ntenants:\n"
        "  - {id: acme, ruleset: a, secrets: {env_prefix: A_}}\n"
        "  - {id: beta, ruleset: b, secrets: {env_prefix: B_}, interval: 10m}\n"
        "  - {id: gamma, ruleset: c, secrets: {env_prefix: C_}, enabled: false}\n", encoding="utf-8")
    scheduler = RegistryScheduler(app=workers.app)
    entries = scheduler.schedule
    assert set(entries) == {"tenant:acme", "tenant:beta"}  # gamma is disabled
    acme = entries["tenant:acme"]
    assert (acme.task, tuple(acme.args)) == ("mapsync.tenant_pass", ("acme",))
    assert acme.schedule.run_every == timedelta(seconds=30) and acme.options["expires"] == 30
    assert entries["tenant:beta"].schedule.run_every == timedelta(minutes=10)
    assert all(entry.is_due()[0] for entry in entries.values())  # every tenant's first pass: now
    acme.last_run_at = workers.app.now()  # acme has just been sent
    assert not acme.is_due()[0]
    assert scheduler.refresh() is False  # the file has not changed

    registry_conf.write_text(
        "defaults: {interval: 30s, state: 'postgresql://db/mapsync'}\ntenants:\n"
        "  - {id: acme, ruleset: a, secrets: {env_prefix: A_}, interval: 1m}\n"
        "  - {id: gamma, ruleset: c, secrets: {env_prefix: C_}}\n", encoding="utf-8")
    _touch_later(registry_conf)
    assert scheduler.refresh() is True
    assert set(scheduler.schedule) == {"tenant:acme", "tenant:gamma"}  # beta removed, gamma enabled
    acme = scheduler.schedule["tenant:acme"]
    assert acme.schedule.run_every == timedelta(minutes=1) and acme.options["expires"] == 60
    assert not acme.is_due()[0]  # a changed tenant keeps its last pass: not sent again at once
    assert scheduler.schedule["tenant:gamma"].is_due()[0]  # a tenant added starts now

    registry_conf.write_text("tenants: [\n", encoding="utf-8")  # broken: the schedule stays
    _touch_later(registry_conf)
    scheduler.refresh()
    assert set(scheduler.schedule) == {"tenant:acme", "tenant:gamma"}


def test_settings_from_the_environment() -> None:
    settings = settings_from_environment({"MAPSYNC_BROKER_URL": "redis://broker:6379/3", "MAPSYNC_LEASE_TTL": "30",
                                          "MAPSYNC_BROKER_VISIBILITY_TIMEOUT": "600", "MAPSYNC_TENANTS": "t.yaml"})
    assert settings["broker_url"] == "redis://broker:6379/3" and settings["mapsync_lease_ttl"] == 30
    assert settings["broker_transport_options"]["visibility_timeout"] == 600
    assert settings["mapsync_tenants"] == "t.yaml" and settings["mapsync_allow_sqlite"] is False
    defaults = settings_from_environment({})
    assert defaults["broker_url"] == "redis://127.0.0.1:6379/0" and defaults["mapsync_lease_ttl"] == 300
    assert defaults["broker_transport_options"]["visibility_timeout"] == 3600
    for wrong in ({"MAPSYNC_LEASE_TTL": "5m"}, {"MAPSYNC_BROKER_VISIBILITY_TIMEOUT": "0"}):
        with pytest.raises(workers.ConfigurationError, match="MAPSYNC_"):
            settings_from_environment(wrong)


def test_workers_share_rate_limits_in_the_brokers_redis_unless_told_otherwise() -> None:
    """Every worker spends one budget per credential by default: counted in the broker's Redis."""
    broker = {"MAPSYNC_BROKER_URL": "redis://broker:6379/3"}
    assert settings_from_environment(broker)["mapsync_rate_limits_url"] == "redis://broker:6379/3"
    assert settings_from_environment({})["mapsync_rate_limits_url"] == "redis://127.0.0.1:6379/0"
    other = settings_from_environment({**broker, "MAPSYNC_RATE_LIMITS_URL": "redis://limits:6379/2"})
    assert other["mapsync_rate_limits_url"] == "redis://limits:6379/2"
    assert settings_from_environment({**broker, "MAPSYNC_RATE_LIMITS_URL": "local"})["mapsync_rate_limits_url"] is None
    assert settings_from_environment({"MAPSYNC_BROKER_URL": "amqp://rabbit//"})["mapsync_rate_limits_url"] is None
    with pytest.raises(workers.ConfigurationError, match="MAPSYNC_RATE_LIMITS_URL='postgresql://x' is neither"):
        settings_from_environment({"MAPSYNC_RATE_LIMITS_URL": "postgresql://x"})


def test_a_worker_counts_its_rate_limits_where_its_settings_say(tmp_path: Path) -> None:
    shared = WorkerContext(tmp_path / "tenants.yaml", rate_limits_url="memory://")
    limiter = shared.limiters("fortnox", {"FORTNOX_ACCESS_TOKEN": "t"})
    assert type(limiter).__name__ == "SharedRateLimiter"
    local = WorkerContext(tmp_path / "tenants.yaml")
    assert type(local.limiters("fortnox", {"FORTNOX_ACCESS_TOKEN": "t"})).__name__ == "SlidingWindowRateLimiter"


def _tenant_folder(tmp_path: Path, state: str) -> Path:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "ruleset.yaml").write_text(
        f"name: acme\nextends: {STANDARD_RULES / 'standard' / 'fortnox'}\n", encoding="utf-8")
    (tmp_path / "acme.env").write_text("".join(f"{k}={v}\n" for k, v in ENV.items()), encoding="utf-8")
    registry = tmp_path / "tenants.yaml"
    registry.write_text(
        f"defaults: {{interval: 30s, state: '{state}'}}\ntenants:\n"
        "  - {id: acme, ruleset: acme, secrets: {env_file: acme.env}}\n"
        "  - {id: paused, ruleset: acme, secrets: {env_file: acme.env}, enabled: false}\n", encoding="utf-8")
    return registry


def test_a_worker_refuses_tenants_it_cannot_run(tmp_path: Path) -> None:
    registry = _tenant_folder(tmp_path, "state/{id}.sqlite")
    context = WorkerContext(registry)
    refused = context.run("acme")
    assert refused.status == "not run" and not refused.ran
    assert "SQLite file" in refused.error and "PostgreSQL" in refused.error
    assert not (tmp_path / "state").exists()  # nothing opened
    assert "no tenant 'nobody'" in context.run("nobody").error
    assert "disabled" in context.run("paused").error


def test_mapsync_worker_refuses_a_registry_of_sqlite_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = _tenant_folder(tmp_path, "state/{id}.sqlite")
    assert main(["worker", str(registry)]) == 1
    err = capsys.readouterr().err
    assert "tenant acme: its state store" in err and "SQLite" in err and "--allow-sqlite" in err
    assert "tenant paused" not in err  # disabled tenants are not run
    assert main(["worker", str(tmp_path / "none.yaml")]) == 2
    assert main(["worker", str(registry), "--pool", "prefork", "--metrics", "127.0.0.1:0"]) == 2
    assert main(["worker", str(registry), "--concurrency", "0"]) == 2
    assert main(["scheduler", str(tmp_path / "none.yaml")]) == 2


def test_one_pass_per_tenant_at_a_time_in_a_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = _tenant_folder(tmp_path, "state/{id}.sqlite")
    context = WorkerContext(registry, allow_sqlite=True)
    started, release = threading.Event(), threading.Event()

    def slow_pass(tenant: Any, cache: Any, **_: Any) -> PassOutcome:
        started.set()
        release.wait(10)
        return PassOutcome(tenant.id, started=0.0, started_at=workers.datetime.now(workers.UTC), status="ok",
                           totals={})

    monkeypatch.setattr(workers, "run_tenant_pass", slow_pass)
    first: list[PassOutcome] = []
    thread = threading.Thread(target=lambda: first.append(context.run("acme")))
    thread.start()
    assert started.wait(10)
    second = context.run("acme")
    release.set()
    thread.join(10)
    assert second.status == "not run" and second.lease_held and "running in this worker" in second.error
    assert first[0].status == "ok"
    assert context.run("acme").status == "ok"  # the first one done: the next may run


@pytest.fixture
def sqlite_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkerContext]:
    context = WorkerContext(_tenant_folder(tmp_path, "state/{id}.sqlite"), allow_sqlite=True,
                            lease_ttl=timedelta(seconds=7), sleep=lambda seconds: None)  # retries without waiting
    monkeypatch.setattr(workers, "_context", context)
    yield context


def test_a_pass_whose_lease_is_held_does_nothing_and_a_redelivered_one_waits_for_it(
        sqlite_context: WorkerContext, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "state" / "acme.sqlite"
    state.parent.mkdir()
    waits = "re-delivered pass finds the lease held; trying again in 7 s"  # the lease's time to live
    with SqliteStateStore(state) as other:
        assert other.acquire_lease("worker@elsewhere:1:1", timedelta(minutes=5))
        fresh = workers.tenant_pass.apply(("acme",))
        assert fresh.state == "SUCCESS"
        assert fresh.result["status"] == "not run" and fresh.result["lease_held"] is True
        assert waits not in caplog.messages  # a pass sent once: the lease's holder runs it, nothing to wait for
        assert other.last_run() is None  # nothing ran
        # delivered again (its worker died) or retried: the dead worker's lease runs out; try again then, a
        # few times (Celery runs the retries of an eager task at once)
        again = workers.tenant_pass.apply(("acme",), retries=1)
        assert caplog.messages.count(waits) == workers.REDELIVERY_RETRIES - 1
        assert again.state == "SUCCESS" and again.result["lease_held"] is True  # not forever
        assert other.last_run() is None
        assert other.release_lease("worker@elsewhere:1:1")
    caplog.clear()
    again = workers.tenant_pass.apply(("acme",), retries=1)  # the lease free: the pass runs (no system answers)
    assert waits not in caplog.messages
    assert again.result["status"] == "fatal" and again.result["totals"] is not None
    with SqliteStateStore(state) as store:
        run = store.last_run()
        assert run is not None and run.status == "fatal"


def test_a_worker_names_the_tenants_it_will_refuse_when_it_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """``celery -A ... worker`` has no command-line check: at start the worker logs every tenant it will refuse."""
    monkeypatch.setattr(workers, "_context", WorkerContext(_tenant_folder(tmp_path, "state/{id}.sqlite")))
    workers._check_registry()
    refusals = [r for r in caplog.records if "this worker will not run its passes" in r.getMessage()]
    assert len(refusals) == 1  # paused is disabled: never run anyway
    assert "acme.sqlite is a SQLite file" in refusals[0].getMessage()
    caplog.clear()
    monkeypatch.setattr(workers, "_context", WorkerContext(tmp_path / "tenants.yaml", allow_sqlite=True))
    workers._check_registry()
    assert not caplog.records


def test_a_setting_that_cannot_be_used_is_said_not_shown_as_a_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    registry = _tenant_folder(tmp_path, "postgresql://nobody@127.0.0.1:1/none")
    env = {**os.environ, "MAPSYNC_LEASE_TTL": "5m"}
    for command in ("worker", "scheduler"):
        done = subprocess.run([str(Path(sys.executable).parent / "mapsync"), command, str(registry)], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done.stderr
        assert done.stderr.strip() == f"mapsync {command}: MAPSYNC_LEASE_TTL='5m' is not a number of seconds"
