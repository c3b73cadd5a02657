"""Tests only the PostgreSQL state store needs: tenants, the lease across workers, migrations under
concurrency and from a newer mapsync, transactions seen from another connection, the plan's scratch copy.

The behaviour both backends share is tested in ``test_state_store.py`` against each. These tests skip when
PostgreSQL is not reachable, unless ``MAPSYNC_REQUIRE_SERVICES=1`` (``tests/state_backends.py``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from mapsync.engine.state import (
    Base,
    SchemaVersionError,
    SqliteStateStore,
    StateError,
    UnknownRunError,
    describe_state,
    open_state_store,
)
from mapsync.engine.state.postgres import PostgresStateStore
from mapsync.engine.state.postgres_migrations import MIGRATIONS, SCHEMA_VERSION, VERSION_TABLE, migrate
from tests.state_backends import delete_tenant, new_tenant, open_store, require_postgres, shared_schema

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("runs", "links", "cursors", "create_journal", "quarantine", "audit", "secrets", "leases")


@pytest.fixture
def url() -> str:
    return require_postgres()


@pytest.fixture
def tenant_pair(url: str) -> Iterator[tuple[PostgresStateStore, PostgresStateStore]]:
    a = PostgresStateStore(url, tenant=new_tenant(), schema=shared_schema())
    b = PostgresStateStore(url, tenant=new_tenant(), schema=shared_schema())
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def rows_of(url: str, schema: str, tenant: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``tenant`` in every table, read over a connection of its own."""
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(
                sql.SQL("SELECT * FROM {}.{} WHERE tenant = %s ORDER BY 2, 3").format(
                    sql.Identifier(schema), sql.Identifier(table)), (tenant,)).fetchall()
            for table in TABLES
        }


def fill(store: PostgresStateStore, label: str) -> int:
    """One of everything the store keeps, with the same keys in every tenant and values naming ``label``."""
    run = store.start_run()
    store.link("customers", "c1", "e1", Base({"name": label}, held={"vat": f"held in {label}"}))
    store.set_cursor("customers", "crm", f"cursor-{label}")
    store.journal_create("customers", "erp", "c2", {"name": label}, run)
    store.quarantine("customers", "crm", "c3", "rejected", f"refused in {label}", run, fingerprint=label)
    store.record_audit(run_id=run, mapping="customers", target="erp", record_id="e1", action="update",
                       field="Name", old=None, new=label, rule="name")
    store.put_secret("fortnox.refresh_token", f"token-{label}")
    store.finish_run(run, "quarantined", {"label": label})
    return run


# ---------------------------------------------------------------------- tenants


def test_two_tenants_never_see_each_others_rows(tenant_pair: tuple[PostgresStateStore, PostgresStateStore]) -> None:
    a, b = tenant_pair
    assert b.summary().mappings == ()
    run_a = fill(a, "a")
    assert b.summary().mappings == ()  # nothing of a leaks into b
    assert (b.link_by_crm("customers", "c1"), b.link_by_erp("customers", "e1")) == (None, None)
    assert b.links("customers") == []
    assert (b.get_cursor("customers", "crm"), b.pending_creates("customers"), b.list_quarantine()) == (None, [], [])
    assert (b.held_links(), b.audit_entries(), b.get_secret("fortnox.refresh_token")) == ([], [], None)
    assert (b.get_run(run_a), b.last_run()) == (None, None)
    with pytest.raises(UnknownRunError):  # a run of another tenant is no run here
        b.journal_create("customers", "erp", "c9", {}, run_a)
    with pytest.raises(UnknownRunError):
        b.finish_run(run_a, "ok", {})

    run_b = fill(b, "b")  # the same keys again: no conflict with a's
    for store, label, run in ((a, "a", run_a), (b, "b", run_b)):
        link = store.link_by_crm("customers", "c1")
        assert link is not None and link.base.fields == {"name": label}
        assert store.get_cursor("customers", "crm") == f"cursor-{label}"
        assert [p.match_keys for p in store.pending_creates("customers")] == [{"name": label}]
        assert [(q.reason, q.attempts) for q in store.list_quarantine()] == [(f"refused in {label}", 1)]
        assert [e.new for e in store.audit_entries()] == [label]
        assert store.get_secret("fortnox.refresh_token") == f"token-{label}"
        last = store.last_run()
        assert last is not None and (last.id, last.summary) == (run, {"label": label})
        assert [(m.name, m.links, m.quarantined, m.pending_creates, m.held) for m in store.summary().mappings] == [
            ("customers", 1, 1, 1, 1)]
        copy = store.scratch_copy(history=True)
        try:
            assert copy.summary() == store.summary()
            assert copy.audit_entries() == store.audit_entries()
        finally:
            copy.close()

    assert a.unlink("customers", "c1") and a.release("customers", "crm", "c3")
    assert b.link_by_crm("customers", "c1") is not None  # a's deletes leave b alone
    assert b.quarantine_entry("customers", "crm", "c3") is not None
    assert a.acquire_lease("worker", timedelta(minutes=1))
    assert b.acquire_lease("other-worker", timedelta(minutes=1))  # one lease per tenant


def test_tenant_and_schema_names_are_checked(url: str, tmp_path: Path) -> None:
    for tenant in ("", " acme", "acme corp", "Acme", "a" * 64, "-acme", "acme.se"):
        with pytest.raises(StateError, match="not a tenant name"):
            PostgresStateStore(url, tenant=tenant, schema=shared_schema())
        with pytest.raises(StateError, match="not a tenant name"):
            open_state_store(tmp_path / "state.sqlite", tenant=tenant)
    PostgresStateStore(url, tenant="a" * 63, schema=shared_schema()).close()
    with pytest.raises(StateError, match="not a schema name"):
        PostgresStateStore(url, tenant="acme", schema="Mapsync; DROP")


# ---------------------------------------------------------------------- the lease


def test_lease_expires_when_the_holder_stops_renewing(url: str) -> None:
    tenant = new_tenant()
    ttl = timedelta(seconds=0.6)
    with PostgresStateStore(url, tenant=tenant, schema=shared_schema()) as a, \
            PostgresStateStore(url, tenant=tenant, schema=shared_schema()) as b:
        assert a.acquire_lease("machine-a", ttl)
        for _ in range(3):  # renewed in time, it outlives its first ttl
            time.sleep(0.3)
            assert a.renew_lease("machine-a", ttl)
            assert not b.acquire_lease("machine-b", ttl)
        a.close()  # machine a dies without releasing
        time.sleep(0.7)
        assert b.acquire_lease("machine-b", ttl)
    with PostgresStateStore(url, tenant=tenant, schema=shared_schema()) as a:
        assert not a.renew_lease("machine-a", ttl)  # back to life: the lease is gone
        assert not a.release_lease("machine-a")


def test_lease_uses_the_database_clock_not_the_workers(url: str) -> None:
    tenant = new_tenant()
    behind = PostgresStateStore(url, tenant=tenant, schema=shared_schema(),
                                now=lambda: datetime(2000, 1, 1, tzinfo=UTC))
    ahead = PostgresStateStore(url, tenant=tenant, schema=shared_schema(),
                               now=lambda: datetime(2100, 1, 1, tzinfo=UTC))
    try:
        assert behind.acquire_lease("behind", timedelta(minutes=1))
        assert not ahead.acquire_lease("ahead", timedelta(minutes=1))  # its clock does not expire the lease
    finally:
        behind.close()
        ahead.close()


def test_racing_workers_get_one_lease(url: str) -> None:
    tenant = new_tenant()
    stores = [PostgresStateStore(url, tenant=tenant, schema=shared_schema()) for _ in range(6)]
    start = threading.Barrier(len(stores))
    won: list[str] = []

    def race(index: int) -> None:
        start.wait()
        if stores[index].acquire_lease(f"worker-{index}", timedelta(minutes=1)):
            won.append(f"worker-{index}")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for store in stores:
            store.close()
    assert len(won) == 1


# ---------------------------------------------------------------------- migrations

OPEN_AT = """
import sys, time
from mapsync.engine.state.postgres import PostgresStateStore
url, schema, at = sys.argv[1], sys.argv[2], float(sys.argv[3])
time.sleep(max(0.0, at - time.time()))
with PostgresStateStore(url, tenant="t" + sys.argv[4], schema=schema) as store:
    store.set_cursor("customers", "crm", sys.argv[4])
print("opened")
"""


def test_two_processes_migrating_a_new_database_at_once(url: str, fresh_schema: str) -> None:
    at = time.time() + 3.0  # both are past their imports by then, and open in the same instant
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(OPEN_AT), url, fresh_schema, str(at), str(i)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    results = [proc.communicate(timeout=60) for proc in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == "opened"
    with psycopg.connect(url) as conn:
        versions = conn.execute(sql.SQL("SELECT version FROM {}.{}").format(
            sql.Identifier(fresh_schema), sql.Identifier(VERSION_TABLE))).fetchall()
    assert versions == [(SCHEMA_VERSION,)]
    for i in range(3):
        with PostgresStateStore(url, tenant=f"t{i}", schema=fresh_schema) as store:
            assert store.get_cursor("customers", "crm") == str(i)


def _set_version(url: str, schema: str, version: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("UPDATE {}.{} SET version = %s").format(
            sql.Identifier(schema), sql.Identifier(VERSION_TABLE)), (version,))


def test_a_database_from_a_newer_mapsync_is_refused(url: str, fresh_schema: str) -> None:
    with PostgresStateStore(url, schema=fresh_schema) as store:
        store.set_cursor("customers", "crm", "kept")
    _set_version(url, fresh_schema, SCHEMA_VERSION + 1)
    with pytest.raises(SchemaVersionError, match=rf"version {SCHEMA_VERSION + 1}.*newer mapsync.*upgrade"):
        PostgresStateStore(url, schema=fresh_schema)
    _set_version(url, fresh_schema, SCHEMA_VERSION)
    with PostgresStateStore(url, schema=fresh_schema) as store:  # untouched by the refusal
        assert store.get_cursor("customers", "crm") == "kept"


def test_a_schema_holding_other_tables_is_refused(url: str, fresh_schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(fresh_schema)))
        conn.execute(sql.SQL("CREATE TABLE {}.customers (id text)").format(sql.Identifier(fresh_schema)))
    with pytest.raises(SchemaVersionError, match="not a mapsync state store"):
        PostgresStateStore(url, schema=fresh_schema)


def test_a_later_migration_applies_and_a_failed_one_leaves_nothing(url: str, fresh_schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        assert migrate(conn, schema=fresh_schema) == SCHEMA_VERSION
        broken = (*MIGRATIONS, "CREATE TABLE half (x text); CREATE TABLE half (y text);")
        with pytest.raises(psycopg.errors.DuplicateTable):
            migrate(conn, schema=fresh_schema, migrations=broken)
        extra = (*MIGRATIONS, "CREATE TABLE extra (x text); INSERT INTO extra VALUES ('a;b');")
        assert migrate(conn, schema=fresh_schema, migrations=extra) == SCHEMA_VERSION + 1
        assert migrate(conn, schema=fresh_schema, migrations=extra) == SCHEMA_VERSION + 1
        tables = {row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (fresh_schema,))}
        assert "extra" in tables and "half" not in tables
        with pytest.raises(SchemaVersionError):
            migrate(conn, schema=fresh_schema)  # the older code now sees a newer database


# ---------------------------------------------------------------------- transactions


def test_a_failure_inside_a_transaction_leaves_nothing(url: str) -> None:
    store = open_store("postgres")
    assert isinstance(store, PostgresStateStore)
    try:
        run = store.start_run()
        before = rows_of(url, store.schema, store.tenant)
        with pytest.raises(RuntimeError, match="connector failed"), store.transaction():
            store.link("customers", "c1", "e1", Base({"name": "A"}))
            store.set_cursor("customers", "crm", "after-c1")
            store.record_audit(run_id=run, mapping="customers", target="erp", record_id="e1", action="create")
            store.resolve_create(store.journal_create("customers", "erp", "c1", {}, run))
            raise RuntimeError("connector failed")
        assert rows_of(url, store.schema, store.tenant) == before
        assert not store.in_transaction
    finally:
        store.close()


def test_writes_become_visible_to_other_workers_only_when_the_outer_block_commits(url: str) -> None:
    store = open_store("postgres")
    assert isinstance(store, PostgresStateStore)
    try:
        run = store.start_run()
        with store.transaction():
            with store.transaction():
                store.link("customers", "c1", "e1")
                store.record_audit(run_id=run, mapping="customers", target="erp", record_id="e1", action="link")
            assert rows_of(url, store.schema, store.tenant)["links"] == []  # inner block ended: not committed
            store.set_cursor("customers", "crm", "k")  # a standalone write joins the open transaction
            assert rows_of(url, store.schema, store.tenant)["cursors"] == []
        committed = rows_of(url, store.schema, store.tenant)
        assert (len(committed["links"]), len(committed["audit"]), len(committed["cursors"])) == (1, 1, 1)
    finally:
        store.close()


# ---------------------------------------------------------------------- the plan's scratch copy


def test_the_scratch_copy_writes_nothing_to_the_database(url: str) -> None:
    store = open_store("postgres")
    assert isinstance(store, PostgresStateStore)
    try:
        run = fill(store, "real")
        before = rows_of(url, store.schema, store.tenant)
        copy = store.scratch_copy(history=True)
        assert isinstance(copy, SqliteStateStore)
        assert copy.summary() == store.summary()
        assert copy.links("customers") == store.links("customers")
        assert copy.list_quarantine() == store.list_quarantine()
        assert copy.pending_creates("customers") == store.pending_creates("customers")
        assert copy.audit_entries() == store.audit_entries()
        assert copy.get_secret("fortnox.refresh_token") == "token-real"
        assert copy.get_run(run) == store.get_run(run)
        # a plan writes as a run would, to the copy
        plan_run = copy.start_run()
        assert plan_run > run
        with copy.transaction():
            copy.link("customers", "c7", "e7", Base({"name": "planned"}))
            copy.set_base("customers", "c1", Base({"name": "changed"}))
            copy.set_cursor("customers", "crm", "planned")
            copy.record_audit(run_id=plan_run, mapping="customers", target="erp", record_id="e7", action="create")
        copy.resolve_create(copy.pending_creates("customers")[0].id)
        copy.quarantine("customers", "crm", "c3", "transient", "again", plan_run)
        copy.unlink("customers", "c1")
        copy.put_secret("fortnox.refresh_token", "token-plan")
        copy.finish_run(plan_run, "ok", {})
        copy.close()
        assert rows_of(url, store.schema, store.tenant) == before
    finally:
        store.close()


def test_a_scratch_copy_inside_a_transaction_sees_its_writes() -> None:
    store = open_store("postgres")
    try:
        with store.transaction():
            store.link("customers", "c1", "e1")
            copy = store.scratch_copy()
        assert copy.count_links("customers") == 1
        copy.close()
    finally:
        store.close()


# ---------------------------------------------------------------------- opening by URL


def test_open_state_store_by_url_or_path(url: str, tmp_path: Path) -> None:
    tenant = new_tenant()
    store = open_state_store(url, tenant=tenant)  # the default schema, as the CLI opens it
    try:
        assert isinstance(store, PostgresStateStore)
        assert (store.tenant, store.schema) == (tenant, "mapsync")
        store.set_cursor("customers", "crm", "x")
    finally:
        store.close()
        delete_tenant("mapsync", tenant)  # leave the default schema as it was
    with closing(open_state_store(tmp_path / "acme.sqlite", tenant="acme")) as sqlite_store:
        assert isinstance(sqlite_store, SqliteStateStore)  # a file of the tenant's own (the registry's way)


def test_messages_never_show_the_password() -> None:
    with pytest.raises(StateError) as info:
        PostgresStateStore("postgresql://mapsync:s3cret@127.0.0.1:1/nowhere", connect_timeout=2)
    assert "s3cret" not in str(info.value)
    assert "127.0.0.1:1/nowhere" in str(info.value)
    assert describe_state("postgresql://u:s3cret@db.example:6543/state?sslmode=require") == \
        "postgresql://db.example:6543/state"
    assert describe_state("state/acme.sqlite") == "state/acme.sqlite"
