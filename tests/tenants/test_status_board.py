"""The tenants' status from their state stores (``mapsync.engine.tenants.status``), as ``mapsync status TENANTS``
prints it and the workers' status page shows it: every state a tenant can be in, from SQLite stores and from
PostgreSQL ones (read together, one connection per database); the status board re-reading its registry and
refreshing in the background; its gauges; and ``mapsync status TENANTS --http`` as a process."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from mapsync.engine.cli import main
from mapsync.engine.state import StateStore, utc_now
from mapsync.engine.state.postgres import PostgresStateStore, tenant_overviews
from mapsync.engine.state.sqlite import SqliteStateStore
from mapsync.engine.tenants.registry import load_registry
from mapsync.engine.tenants.status import DIED, StatusBoard, tenant_statuses
from tests.state_backends import delete_tenant, require_postgres, schema_name

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HOLDER = "worker@elsewhere:4242:1"
NO_DATABASE = "postgresql://postgres@127.0.0.1:5432/mapsync_no_such_database"
NAMES = ("fresh", "done", "stopped", "died", "busy", "lost", "paused", "broken")


class Tenants:
    """A registry of tenants with their state in SQLite files or in the test PostgreSQL database (default
    schema, as workers use it; ids of their own, removed afterwards)."""

    def __init__(self, tmp_path: Path, backend: str) -> None:
        self.root = tmp_path
        self.backend = backend
        self.url = require_postgres() if backend == "postgres" else None
        tag = uuid.uuid4().hex[:8]
        self.ids = {name: f"{name}-{tag}" if self.url else name for name in NAMES}
        (tmp_path / "rs").mkdir()
        (tmp_path / "rs" / "ruleset.yaml").write_text("name: x\n", encoding="utf-8")
        (tmp_path / "ok.env").write_text("TOKEN=secret-value\n", encoding="utf-8")

    def write_registry(self, names: tuple[str, ...] = NAMES) -> Path:
        state = f", state: '{self.url}'" if self.url else ""
        lines = ["defaults: {interval: 6m" + state + "}", "tenants:"]
        for name in names:
            extra = ", secrets: {env_file: lost.env}" if name == "lost" else ", secrets: {env_file: ok.env}"
            if name == "paused":
                extra += ", enabled: false"
            if name == "broken" and self.url:
                extra += f", state: '{NO_DATABASE}'"
            lines.append(f"  - {{id: {self.ids[name]}, ruleset: rs{extra}}}")
        path = self.root / "tenants.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def store(self, name: str, now: Callable[[], datetime] = utc_now) -> StateStore:
        if self.url:
            return PostgresStateStore(self.url, tenant=self.ids[name], now=now)
        (self.root / "state").mkdir(exist_ok=True)
        return SqliteStateStore(self.root / "state" / f"{name}.sqlite", now=now)

    def fill(self) -> None:
        """Each tenant's store as its name says."""
        calls = []

        def clock() -> datetime:  # the run starts at T0; all else happens 3 s later
            calls.append(1)
            return T0 if len(calls) == 1 else T0 + timedelta(seconds=3)

        with self.store("done", clock) as store:
            run = store.start_run()
            store.quarantine("customers", "crm", "c-17", "rejected", "the ERP said no", run)
            store.finish_run(run, "quarantined", {"totals": {"created": 2, "updated": 5, "quarantined": 1}})
        with self.store("stopped") as store:
            store.finish_run(store.start_run(), "fatal", {"fatal": "the ERP refused the credentials"})
        with self.store("died") as store:
            store.start_run()
        with self.store("busy") as store:
            assert store.acquire_lease(HOLDER, timedelta(hours=1))
            store.start_run()
        if not self.url:
            (self.root / "state" / "broken.sqlite").write_bytes(b"this is not a database" * 100)

    def cleanup(self) -> None:
        if self.url:
            for tenant_id in self.ids.values():
                delete_tenant("mapsync", tenant_id)


@pytest.fixture(params=["sqlite", "postgres"])
def tenants(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tenants]:
    made = Tenants(tmp_path, request.param)
    try:
        yield made
    finally:
        made.cleanup()


def _rows(tenants: Tenants, registry: Path) -> dict[str, dict[str, Any]]:
    statuses = tenant_statuses(load_registry(registry, check_rulesets=False).tenants)
    names = {v: k for k, v in tenants.ids.items()}
    return {names[s.id]: s.as_dict() for s in statuses}


def test_every_state_a_tenant_can_be_in(tenants: Tenants) -> None:
    registry = tenants.write_registry()
    tenants.fill()
    rows = _rows(tenants, registry)
    assert list(rows) == list(NAMES)  # the registry's order
    for row in rows.values():  # every field the page's script reads
        assert {"id", "running", "last_started", "last_status", "last_seconds", "next_due", "totals",
                "quarantined", "last_error"} <= set(row)

    assert rows["fresh"] == {"id": tenants.ids["fresh"], "enabled": True, "running": False, "last_started": None,
                             "last_status": None, "last_seconds": None, "next_due": None, "totals": {},
                             "quarantined": 0, "last_error": ""}
    done = rows["done"]
    assert (done["last_started"], done["last_status"], done["last_seconds"]) == (T0.isoformat(), "quarantined", 3.0)
    assert done["next_due"] == (T0 + timedelta(minutes=6)).isoformat()
    assert done["totals"] == {"created": 2, "updated": 5, "quarantined": 1}
    assert (done["quarantined"], done["last_error"], done["running"]) == (1, "", False)

    assert rows["stopped"]["last_status"] == "fatal"
    assert rows["stopped"]["last_error"] == "the ERP refused the credentials"
    assert rows["died"]["last_status"] == "unfinished" and rows["died"]["last_error"] == DIED
    assert not rows["died"]["running"] and rows["died"]["last_seconds"] is None
    busy = rows["busy"]
    assert (busy["running"], busy["last_status"], busy["last_error"]) == (True, "running", "")
    assert "secrets file" in rows["lost"]["last_error"] and "lost.env" in rows["lost"]["last_error"]
    assert rows["paused"]["enabled"] is False and rows["paused"]["last_error"] == ""
    broken = rows["broken"]
    assert broken["last_error"] and broken["last_started"] is None
    if tenants.url:
        assert "mapsync_no_such_database" in broken["last_error"]
    assert "secret-value" not in repr(rows)


def test_the_tenants_of_one_database_are_read_over_one_connection(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    tenants = Tenants(tmp_path, "postgres")
    try:
        _read_over_one_connection(tenants, monkeypatch)
    finally:
        tenants.cleanup()


def _read_over_one_connection(tenants: Tenants, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = tenants.write_registry()
    tenants.fill()
    connect = psycopg.connect
    urls: list[str] = []

    def counting(dsn: str, *args: Any, **kwargs: Any) -> Any:
        urls.append(dsn)
        return connect(dsn, *args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", counting)
    rows = _rows(tenants, registry)
    assert rows["done"]["last_status"] == "quarantined"
    assert sorted(urls) == sorted([tenants.url, NO_DATABASE])  # 8 tenants, two databases: two connections


def test_a_schema_no_pass_has_made_yet_reads_as_never_run_and_is_not_created() -> None:
    url = require_postgres()
    schema = schema_name("absent")
    overviews = tenant_overviews(url, ["a", "b"], schema=schema)
    assert [(o.tenant, o.last_run, o.quarantined, o.lease_holder) for o in overviews.values()] == [
        ("a", None, 0, None), ("b", None, 0, None)]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None


def test_a_store_failing_in_a_way_nobody_foresaw_is_its_tenants_error(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import mapsync.engine.state.postgres as postgres

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in reading")

    monkeypatch.setattr(postgres, "tenant_overviews", broken)
    tenants = Tenants(tmp_path, "sqlite")
    registry = tenants.write_registry(("fresh", "done"))
    registry.write_text(registry.read_text(encoding="utf-8") + "  - {id: far, ruleset: rs, secrets: {env_file: "
                        "ok.env}, state: 'postgresql://nobody@127.0.0.1:1/x'}\n", encoding="utf-8")
    tenants.fill()
    board = StatusBoard(registry)
    board.refresh()
    rows = {r["id"]: r for r in board.status()}
    assert rows["far"]["last_error"] == "its state store cannot be read: RuntimeError: a bug in reading"
    assert rows["done"]["last_status"] == "quarantined" and rows["done"]["last_error"] == ""


def test_status_tenants_prints_the_same_statuses(tenants: Tenants, capsys: pytest.CaptureFixture[str]) -> None:
    registry = tenants.write_registry()
    tenants.fill()
    assert main(["status", str(registry)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "the ERP refused the credentials" in lines[tenants.ids["stopped"]]
    assert "disabled" in lines[tenants.ids["paused"]] and "now" in lines[tenants.ids["fresh"]]


def _wait(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return value


def test_the_board_refreshes_in_the_background_and_rereads_its_registry(tmp_path: Path) -> None:
    tenants = Tenants(tmp_path, "sqlite")
    registry = tenants.write_registry(("fresh", "done"))
    board = StatusBoard(registry, refresh=0.05)
    board.start()
    try:
        assert [(r["id"], r["last_status"]) for r in board.status()] == [("fresh", None), ("done", None)]
        tenants.fill()  # a pass recorded while the board runs: seen without asking
        _wait(lambda: board.status()[1]["last_status"] == "quarantined", "the board to see the pass")
        registry.write_text(registry.read_text(encoding="utf-8") + "  - {id: added, ruleset: rs, "
                            "secrets: {env_file: ok.env}}\n", encoding="utf-8")
        os.utime(registry, (time.time() + 5, time.time() + 5))  # a new stamp, however coarse the file system's
        _wait(lambda: [r["id"] for r in board.status()] == ["fresh", "done", "added"], "the added tenant")
        registry.write_text("tenants: [this is not a registry\n", encoding="utf-8")
        os.utime(registry, (time.time() + 10, time.time() + 10))
        board.refresh()  # reads it now (or the background thread just did)
        assert [r["id"] for r in board.status()] == ["fresh", "done", "added"]  # the last good one stays
    finally:
        board.close()
    assert board._thread is not None and not board._thread.is_alive()


def test_the_boards_gauges(tenants: Tenants) -> None:
    registry = tenants.write_registry()
    tenants.fill()
    board = StatusBoard(registry)
    board.refresh()
    text = board.exposition().decode("utf-8")
    ids = tenants.ids

    def value(name: str, tenant: str, **labels: str) -> float | None:
        wanted = ",".join([*(f'{k}="{v}"' for k, v in sorted(labels.items())), f'tenant="{ids[tenant]}"'])
        for line in text.splitlines():
            if line.startswith(f"{name}{{{wanted}}} "):
                return float(line.rsplit(" ", 1)[1])
        return None

    assert value("mapsync_tenant_last_pass_start_timestamp_seconds", "done") == T0.timestamp()
    assert value("mapsync_tenant_last_pass_seconds", "done") == 3.0
    assert value("mapsync_tenant_last_pass_ok", "done") == 1.0
    assert value("mapsync_tenant_last_pass_ok", "stopped") == 0.0
    assert value("mapsync_tenant_last_pass_ok", "died") == 0.0
    assert value("mapsync_tenant_last_pass_ok", "busy") is None and value("mapsync_tenant_running", "busy") == 1.0
    assert value("mapsync_tenant_last_pass_start_timestamp_seconds", "fresh") is None
    assert value("mapsync_tenant_next_pass_timestamp_seconds", "done") == (T0 + timedelta(minutes=6)).timestamp()
    assert value("mapsync_tenant_quarantined", "done") == 1.0
    assert value("mapsync_tenant_last_pass_records", "done", outcome="created") == 2.0
    assert value("mapsync_tenant_enabled", "paused") == 0.0 and value("mapsync_tenant_enabled", "done") == 1.0
    assert value("mapsync_tenant_error", "broken") == 1.0 and value("mapsync_tenant_error", "lost") == 1.0
    assert value("mapsync_tenant_error", "done") == 0.0
    assert "mapsync_status_refresh_seconds " in text


MAPSYNC = str(Path(sys.executable).parent / "mapsync")


def test_status_http_serves_the_page_until_sigterm(tmp_path: Path) -> None:
    tenants = Tenants(tmp_path, "sqlite")
    registry = tenants.write_registry()
    tenants.fill()
    process = subprocess.Popen([MAPSYNC, "status", str(registry), "--http", "127.0.0.1:0", "--refresh", "0.5"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stderr, selectors.EVENT_READ)
        deadline, url, seen = time.monotonic() + 60, "", []
        while not url and time.monotonic() < deadline and process.poll() is None:
            if selector.select(timeout=1):
                line = process.stderr.readline()
                seen.append(line)
                if line.startswith("status page: "):
                    url = line.split(": ", 1)[1].strip()
        assert url, "".join(seen)
        rows = {r["id"]: r for r in httpx.get(url + "status.json", timeout=30).json()}
        assert rows["done"]["last_status"] == "quarantined" and "secrets file" in rows["lost"]["last_error"]
        assert "<table id=\"tenants\">" in httpx.get(url, timeout=30).text
        assert 'mapsync_tenant_quarantined{tenant="done"} 1.0' in httpx.get(url + "metrics", timeout=30).text
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0, err


def test_status_http_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = Tenants(tmp_path, "sqlite").write_registry()
    assert main(["status", "--http", "127.0.0.1:0"]) == 2
    assert "needs a tenants registry" in capsys.readouterr().err
    assert main(["status", str(registry), "--http", "localhost"]) == 2
    assert "HOST:PORT" in capsys.readouterr().err
    assert main(["status", str(tmp_path / "none.yaml"), "--http", "127.0.0.1:0"]) == 2
    assert "no tenants registry" in capsys.readouterr().err
