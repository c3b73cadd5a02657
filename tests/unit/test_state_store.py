"""Tests of the state store: migrations, links and bases, cursors, journal, quarantine, transactions, the lease.

Tests taking ``store`` or ``stores`` run against every backend (SQLite, and PostgreSQL where reachable:
``tests/state_backends.py``); the ones opening ``SqliteStateStore`` themselves test the SQLite file. The
PostgreSQL-specific tests are in ``test_state_store_postgres.py``.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapsync.engine.state import (
    MAX_DELAY,
    SCHEMA_VERSION,
    Base,
    LinkConflictError,
    PendingCreateError,
    SchemaVersionError,
    SqliteStateStore,
    StateError,
    StateStore,
    UnknownLinkError,
    UnknownRunError,
    retry_delay,
    utc_now,
)
from mapsync.engine.state.lease import Lease
from mapsync.engine.state.migrations import MIGRATIONS, migrate, split_statements
from tests.state_backends import BACKENDS, Stores, open_store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the store."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, clock: Clock) -> Iterator[StateStore]:
    s = open_store(backend, now=clock)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def stores(backend: str, clock: Clock, tmp_path: Path) -> Iterator[Stores]:
    """For tests that close a store and open the same state again."""
    opened = Stores(backend, tmp_path, clock)
    try:
        yield opened
    finally:
        opened.close_all()


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


# ---------------------------------------------------------------------- migrations


def test_conforms_to_protocol(store: StateStore) -> None:
    assert isinstance(store, StateStore)


def test_fresh_file_is_migrated_and_reopen_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStateStore(path) as s:
        s.set_cursor("customers", "crm", "c1")
    assert _version(path) == SCHEMA_VERSION == len(MIGRATIONS)
    with SqliteStateStore(path) as s:  # second open applies nothing and keeps the data
        assert s.get_cursor("customers", "crm") == "c1"
    assert _version(path) == SCHEMA_VERSION


def test_wal_mode_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStateStore(path) as s:
        conn = s._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_new_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStateStore(path):
        pass
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_database_from_the_future_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStateStore(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaVersionError, match=r"newer mapsync.*upgrade"):
        SqliteStateStore(path)


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaVersionError, match="not a mapsync state store"):
        SqliteStateStore(path)


def test_non_database_file_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(StateError, match="not a SQLite database"):
        SqliteStateStore(path)


def test_later_migration_applies_incrementally() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        assert migrate(conn) == SCHEMA_VERSION
        extra = (*MIGRATIONS, "CREATE TABLE extra (x TEXT); INSERT INTO extra VALUES ('a;b');")
        assert migrate(conn, migrations=extra) == SCHEMA_VERSION + 1
        assert migrate(conn, migrations=extra) == SCHEMA_VERSION + 1
        assert conn.execute("SELECT x FROM extra").fetchall() == [("a;b",)]
        with pytest.raises(SchemaVersionError):
            migrate(conn)  # the older code now sees a newer database
    finally:
        conn.close()


def test_failed_migration_leaves_version_untouched() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(conn)
        broken = (*MIGRATIONS, "CREATE TABLE half (x TEXT); CREATE TABLE half (y TEXT);")
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, migrations=broken)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half'").fetchone()[0] == 0
    finally:
        conn.close()


def test_split_statements_keeps_semicolons_in_literals() -> None:
    script = "CREATE TABLE t (x TEXT DEFAULT ';');\n INSERT INTO t VALUES ('x;y');\n"
    assert list(split_statements(script)) == [
        "CREATE TABLE t (x TEXT DEFAULT ';');",
        "INSERT INTO t VALUES ('x;y');",
    ]
    with pytest.raises(ValueError, match="incomplete"):
        list(split_statements("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('unterminated"))


# ---------------------------------------------------------------------- links and bases


def test_links_of_many_records_are_read_together_with_their_bases(store: StateStore) -> None:
    ids = [f"c{i}" for i in range(1200)]  # more than one statement's worth on SQLite
    with store.transaction():
        for i, crm_id in enumerate(ids):
            store.link("customers", crm_id, f"e{i}", Base(fields={"name": f"n{i}"}))
    found = store.links_of("customers", "crm", [*ids, "missing"])
    assert len(found) == 1200 and found["c1100"].erp_id == "e1100"
    assert found["c1100"].base == Base(fields={"name": "n1100"})
    assert store.links_of("customers", "erp", ["e7"])["e7"].crm_id == "c7"


def test_link_lookups_list_count_and_delete(store: StateStore, clock: Clock) -> None:
    link = store.link("customers", "c1", "e1")
    assert (link.mapping, link.crm_id, link.erp_id) == ("customers", "c1", "e1")
    assert link.created_at == link.updated_at == T0
    assert link.base == Base()
    store.link("customers", "c2", "e2")
    store.link("articles", "c1", "e1")  # another mapping is independent
    assert store.link_by_crm("customers", "c1") == link
    assert store.link_by_erp("customers", "e2") is not None
    assert store.link_by_erp("customers", "e2").crm_id == "c2"  # type: ignore[union-attr]
    assert store.link_by_crm("customers", "nope") is None
    assert store.links_of("customers", "crm", ["c1", "nope", "c2"]) == {
        "c1": link, "c2": store.link_by_crm("customers", "c2")}
    assert store.links_of("customers", "erp", ["e2"]) == {"e2": store.link_by_erp("customers", "e2")}
    assert store.links_of("customers", "erp", []) == {} and store.links_of("other", "crm", ["c1"]) == {}
    assert [x.crm_id for x in store.links("customers")] == ["c1", "c2"]
    assert store.count_links("customers") == 2
    assert store.count_links("articles") == 1
    assert store.unlink("customers", "c1") is True
    assert store.unlink("customers", "c1") is False
    assert store.link_by_crm("customers", "c1") is None
    assert store.link_by_erp("customers", "e1") is None
    assert store.count_links("customers") == 1
    assert store.count_links("articles") == 1


def test_second_link_for_same_crm_id_is_refused(store: StateStore) -> None:
    store.link("customers", "c1", "e1")
    with pytest.raises(LinkConflictError, match=r"crm id 'c1' is already linked to erp id 'e1'"):
        store.link("customers", "c1", "e2")
    assert store.link_by_erp("customers", "e2") is None


def test_second_link_for_same_erp_id_is_refused(store: StateStore) -> None:
    store.link("customers", "c1", "e1")
    with pytest.raises(LinkConflictError, match=r"erp id 'e1' is already linked to crm id 'c1'"):
        store.link("customers", "c2", "e1")
    assert store.link_by_crm("customers", "c2") is None


def test_relinking_the_same_pair_is_idempotent(store: StateStore, clock: Clock) -> None:
    first = store.link("customers", "c1", "e1", Base({"name": "A"}))
    clock.advance(timedelta(minutes=5))
    again = store.link("customers", "c1", "e1")
    assert again == first  # no base given: nothing changes
    updated = store.link("customers", "c1", "e1", Base({"name": "B"}))
    assert updated.base.fields == {"name": "B"}
    assert updated.created_at == T0
    assert updated.updated_at == T0 + timedelta(minutes=5)
    assert store.count_links("customers") == 1


def test_base_round_trip(store: StateStore) -> None:
    fields = {
        "name": "Åsa Öberg \u2013 Ærø café ✓ 東京",
        "empty": "",
        "none": None,
        "int": 42,
        "negative": -7,
        "big": 2**62,
        "float": 1234.5,
        "small": 1e-9,
        "bool": True,
        "list": [1, "two", None],
        "nested": {"a": {"b": [1.5, False]}},
    }
    lines = [{"article": "A-1", "qty": 2, "price": 99.95}, {"article": "Ö-2", "qty": 1, "price": None}]
    store.link("orders", "c1", "e1", Base(fields, lines))
    assert store.get_base("orders", "c1") == Base(fields, lines)
    store.set_base("orders", "c1", Base({"name": "x"}))
    assert store.get_base("orders", "c1") == Base({"name": "x"}, None)
    assert store.get_base("orders", "missing") is None


def test_returned_base_is_a_copy(store: StateStore) -> None:
    store.link("customers", "c1", "e1", Base({"name": "A"}))
    base = store.get_base("customers", "c1")
    assert base is not None
    base.fields["name"] = "mutated"
    assert store.get_base("customers", "c1") == Base({"name": "A"})


def test_set_base_needs_a_link(store: StateStore) -> None:
    with pytest.raises(UnknownLinkError):
        store.set_base("customers", "c1", Base({"name": "A"}))


@pytest.mark.parametrize(
    "base",
    [Base({"when": datetime(2024, 1, 1)}), Base({"nan": float("nan")}), Base({1: "int key"})],  # type: ignore[dict-item]
)
def test_unserialisable_base_is_refused(store: StateStore, base: Base) -> None:
    store.link("customers", "c1", "e1", Base({"name": "A"}))
    with pytest.raises(StateError):
        store.set_base("customers", "c1", base)
    assert store.get_base("customers", "c1") == Base({"name": "A"})


# ---------------------------------------------------------------------- cursors


def test_cursor_set_and_get(store: StateStore) -> None:
    assert store.get_cursor("customers", "crm") is None
    store.set_cursor("customers", "crm", "2024-05-01T00:00:00Z")
    store.set_cursor("customers", "erp", "opaque|123")
    store.set_cursor("customers", "crm", "2024-05-02T00:00:00Z")
    assert store.get_cursor("customers", "crm") == "2024-05-02T00:00:00Z"
    assert store.get_cursor("customers", "erp") == "opaque|123"
    assert store.get_cursor("articles", "crm") is None
    with pytest.raises(ValueError, match="side"):
        store.set_cursor("customers", "ledger", "x")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- create journal


def test_journal_then_resolve(store: StateStore) -> None:
    run = store.start_run()
    jid = store.journal_create("customers", "erp", "c1", {"OrganisationNumber": "556677-8899"}, run)
    other = store.journal_create("persons", "crm", "p1", {"Email": "a@b.se"}, run)
    pending = store.pending_creates("customers")
    assert len(pending) == 1
    entry = pending[0]
    assert (entry.id, entry.target, entry.source_id, entry.run_id) == (jid, "erp", "c1", run)
    assert entry.match_keys == {"OrganisationNumber": "556677-8899"}
    assert entry.created_at == T0
    with pytest.raises(PendingCreateError, match="reconcile"):
        store.journal_create("customers", "erp", "c1", {}, run)
    assert store.resolve_create(jid) is True
    assert store.resolve_create(jid) is False
    assert store.pending_creates("customers") == []
    assert [p.id for p in store.pending_creates("persons")] == [other]
    store.journal_create("customers", "erp", "c1", {}, run)  # allowed again once resolved


def test_journal_needs_an_existing_run(store: StateStore) -> None:
    with pytest.raises(UnknownRunError):
        store.journal_create("customers", "erp", "c1", {}, 999)


# ---------------------------------------------------------------------- quarantine


def test_retry_delay_doubles_and_caps() -> None:
    assert [retry_delay(n) for n in range(1, 6)] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16)]
    assert retry_delay(9) == timedelta(minutes=256)
    assert retry_delay(10) == MAX_DELAY == timedelta(hours=6)
    assert retry_delay(11) == MAX_DELAY
    assert retry_delay(10**9) == MAX_DELAY
    assert retry_delay(3, base=timedelta(seconds=10), cap=timedelta(seconds=25)) == timedelta(seconds=25)
    with pytest.raises(ValueError):
        retry_delay(0)
    with pytest.raises(ValueError):
        retry_delay(1, base=timedelta(hours=1), cap=timedelta(minutes=1))


@given(st.integers(min_value=1, max_value=10_000))
def test_retry_delay_is_monotonic_and_bounded(attempts: int) -> None:
    delay = retry_delay(attempts)
    assert timedelta(minutes=1) <= delay <= MAX_DELAY
    assert retry_delay(attempts + 1) >= delay


def test_quarantine_upsert_increments_attempts_and_backs_off(store: StateStore, clock: Clock) -> None:
    run1 = store.start_run()
    first = store.quarantine("customers", "crm", "c1", "transient", "timeout", run1)
    assert first.attempts == 1
    assert first.first_failed_at == first.last_failed_at == T0
    assert first.next_retry_at == T0 + timedelta(minutes=1)

    clock.advance(timedelta(minutes=3))
    run2 = store.start_run()
    second = store.quarantine("customers", "crm", "c1", "rejected", "VAT number invalid", run2)
    assert second.attempts == 2
    assert second.error_class == "rejected"
    assert second.reason == "VAT number invalid"
    assert second.run_id == run2
    assert second.first_failed_at == T0
    assert second.last_failed_at == T0 + timedelta(minutes=3)
    assert second.next_retry_at == T0 + timedelta(minutes=3) + timedelta(minutes=2)

    for _ in range(20):
        entry = store.quarantine("customers", "crm", "c1", "transient", "503", run2)
    assert entry.attempts == 22
    assert entry.next_retry_at == clock.now + MAX_DELAY
    assert store.list_quarantine() == [entry]

    assert store.release("customers", "crm", "c1") is True
    assert store.release("customers", "crm", "c1") is False
    assert store.quarantine_entry("customers", "crm", "c1") is None


def test_quarantine_keys_by_side(store: StateStore) -> None:
    run = store.start_run()
    store.quarantine("customers", "crm", "1", "rule", "expression failed", run)
    store.quarantine("customers", "erp", "1", "rejected", "locked", run)
    assert [(q.side, q.attempts) for q in store.list_quarantine("customers")] == [("crm", 1), ("erp", 1)]
    with pytest.raises(ValueError, match="error class"):
        store.quarantine("customers", "crm", "2", "oops", "x", run)  # type: ignore[arg-type]


def test_due_lists_entries_whose_retry_time_has_come(store: StateStore, clock: Clock) -> None:
    run = store.start_run()
    store.quarantine("customers", "crm", "a", "transient", "x", run)  # due at T0 + 1 min
    store.quarantine("customers", "crm", "b", "transient", "x", run)
    store.quarantine("customers", "crm", "b", "transient", "x", run)  # due at T0 + 2 min
    store.quarantine("articles", "erp", "z", "transient", "x", run)
    assert store.due("customers", T0) == []
    assert [q.record_id for q in store.due("customers", T0 + timedelta(minutes=1))] == ["a"]
    assert [q.record_id for q in store.due("customers", T0 + timedelta(minutes=2))] == ["a", "b"]
    # the same instant in another time zone compares correctly
    plus2 = timezone(timedelta(hours=2))
    assert [q.record_id for q in store.due("customers", (T0 + timedelta(seconds=90)).astimezone(plus2))] == [
        "a"
    ]
    clock.advance(timedelta(hours=1))
    assert len(store.due("customers")) == 2  # default: the store's clock
    with pytest.raises(ValueError, match="timezone-aware"):
        store.due("customers", datetime(2024, 5, 1, 13, 0))


# ---------------------------------------------------------------------- runs, audit, secrets, summary


def test_runs(store: StateStore, clock: Clock) -> None:
    assert store.last_run() is None
    run = store.start_run()
    started = store.get_run(run)
    assert started is not None
    assert (started.status, started.finished_at, started.summary) == ("running", None, {})
    clock.advance(timedelta(seconds=30))
    done = store.finish_run(run, "quarantined", {"customers": {"created": 2, "quarantined": 1}})
    assert done.status == "quarantined"
    assert done.finished_at == T0 + timedelta(seconds=30)
    assert done.summary == {"customers": {"created": 2, "quarantined": 1}}
    second = store.start_run()
    assert second > run
    assert store.last_run() == store.get_run(second)
    with pytest.raises(UnknownRunError):
        store.finish_run(999, "ok", {})
    with pytest.raises(ValueError):
        store.finish_run(second, "running", {})


def test_audit_round_trip(store: StateStore) -> None:
    run = store.start_run()
    store.record_audit(
        run_id=run,
        mapping="customers",
        target="erp",
        record_id="e1",
        action="update",
        field="Name",
        old="Åsa",
        new="Åsa AB",
        rule="name",
    )
    store.record_audit(run_id=run, mapping="customers", target="erp", record_id="e1", action="link")
    entries = store.audit_entries(run_id=run)
    assert [(e.action, e.field, e.old, e.new, e.rule) for e in entries] == [
        ("update", "Name", "Åsa", "Åsa AB", "name"),
        ("link", None, None, None, None),
    ]
    assert store.audit_entries(mapping="articles") == []
    with pytest.raises(UnknownRunError):
        store.record_audit(run_id=999, mapping="m", target="crm", record_id="1", action="create")


def test_secrets_persist_and_overwrite(stores: Stores) -> None:
    s = stores.open()
    assert s.get_secret("fortnox.refresh_token") is None
    s.put_secret("fortnox.refresh_token", "rt-1")
    s.put_secret("fortnox.refresh_token", "rt-2")
    s.close()
    s = stores.reopen()
    assert s.get_secret("fortnox.refresh_token") == "rt-2"
    with pytest.raises(TypeError) as info:
        s.put_secret("fortnox.refresh_token", b"rt-3")  # type: ignore[arg-type]
    assert "rt-3" not in str(info.value)


def test_summary(store: StateStore) -> None:
    assert store.summary().mappings == ()
    run = store.start_run()
    store.link("customers", "c1", "e1")
    store.link("customers", "c2", "e2")
    store.set_cursor("customers", "crm", "k1")
    store.quarantine("customers", "erp", "e9", "rejected", "locked", run)
    store.quarantine("customers", "crm", "c9", "transient", "timeout", run)
    store.quarantine("customers", "crm", "c8", "transient", "timeout", run)
    store.journal_create("invoices", "erp", "c5", {}, run)
    summary = store.summary()
    assert [m.name for m in summary.mappings] == ["customers", "invoices"]
    customers, invoices = summary.mappings
    assert customers.links == 2
    assert customers.cursors == {"crm": "k1"}
    assert customers.quarantined == 3
    assert customers.quarantined_by_class == {"rejected": 1, "transient": 2}
    assert customers.pending_creates == 0
    assert (invoices.links, invoices.pending_creates, invoices.quarantined) == (0, 1, 0)
    assert summary.last_run is not None and summary.last_run.id == run


# ---------------------------------------------------------------------- transactions


def _record_outcome(store: StateStore, run: int, crm_id: str, erp_id: str) -> None:
    """What the engine writes for one synced record."""
    store.link("customers", crm_id, erp_id, Base({"name": crm_id}))
    store.set_cursor("customers", "crm", f"after-{crm_id}")
    store.record_audit(
        run_id=run,
        mapping="customers",
        target="erp",
        record_id=erp_id,
        action="create",
        field="Name",
        old=None,
        new=crm_id,
        rule="name",
    )


def _nothing_of(store: StateStore, crm_id: str, erp_id: str) -> None:
    assert store.link_by_crm("customers", crm_id) is None
    assert store.link_by_erp("customers", erp_id) is None
    assert store.get_base("customers", crm_id) is None
    assert store.get_cursor("customers", "crm") is None
    assert store.audit_entries(mapping="customers") == []


def test_transaction_rollback_on_exception_leaves_nothing(store: StateStore) -> None:
    run = store.start_run()
    with pytest.raises(RuntimeError, match="boom"), store.transaction():
        _record_outcome(store, run, "c1", "e1")
        raise RuntimeError("boom")
    _nothing_of(store, "c1", "e1")
    assert not store.in_transaction
    _record_outcome(store, run, "c1", "e1")  # the store is usable afterwards
    assert store.count_links("customers") == 1


def test_failed_write_inside_transaction_rolls_back_earlier_writes(store: StateStore) -> None:
    run = store.start_run()
    store.link("customers", "c0", "e1")
    with pytest.raises(LinkConflictError), store.transaction():
        store.set_cursor("customers", "crm", "after-c1")
        store.record_audit(run_id=run, mapping="customers", target="erp", record_id="e1", action="link")
        store.link("customers", "c1", "e1")
    assert store.get_cursor("customers", "crm") is None
    assert store.audit_entries() == []


def test_nested_transaction_commits_only_at_the_outer_level(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStateStore(path) as s:
        run = s.start_run()
        observer = sqlite3.connect(path)
        try:

            def visible_links() -> int:
                return int(observer.execute("SELECT count(*) FROM links").fetchone()[0])

            with s.transaction():
                with s.transaction():
                    _record_outcome(s, run, "c1", "e1")
                assert visible_links() == 0  # inner block ended: still not committed
                s.link("customers", "c2", "e2")  # a standalone write joins the open transaction
                assert visible_links() == 0
            assert visible_links() == 2
        finally:
            observer.close()


def test_nested_failure_caught_by_outer_undoes_only_the_inner_block(store: StateStore) -> None:
    run = store.start_run()
    with store.transaction():
        store.link("customers", "c1", "e1")
        with pytest.raises(RuntimeError), store.transaction():
            _record_outcome(store, run, "c2", "e2")
            raise RuntimeError("record c2 failed")
        store.quarantine("customers", "crm", "c2", "rule", "record c2 failed", run)
    assert store.link_by_crm("customers", "c1") is not None
    assert store.link_by_crm("customers", "c2") is None
    assert store.get_cursor("customers", "crm") is None
    assert store.audit_entries() == []
    assert store.quarantine_entry("customers", "crm", "c2") is not None


def test_outer_failure_undoes_committed_inner_blocks(store: StateStore) -> None:
    run = store.start_run()
    with pytest.raises(RuntimeError), store.transaction():
        with store.transaction():
            _record_outcome(store, run, "c1", "e1")
        raise RuntimeError("later failure")
    _nothing_of(store, "c1", "e1")


def test_persistence_across_reopen(stores: Stores) -> None:
    s = stores.open()
    run = s.start_run()
    with s.transaction():
        _record_outcome(s, run, "c1", "e1")
    s.quarantine("customers", "crm", "c2", "transient", "timeout", run)
    s.journal_create("customers", "erp", "c3", {"VATNumber": "SE556677889901"}, run)
    s.finish_run(run, "quarantined", {"created": 1})
    s.close()
    s = stores.reopen()
    link = s.link_by_erp("customers", "e1")
    assert link is not None and link.base == Base({"name": "c1"})
    assert s.get_cursor("customers", "crm") == "after-c1"
    assert [a.new for a in s.audit_entries(run_id=run)] == ["c1"]
    entry = s.quarantine_entry("customers", "crm", "c2")
    assert entry is not None and entry.next_retry_at == T0 + timedelta(minutes=1)
    assert [p.match_keys for p in s.pending_creates("customers")] == [{"VATNumber": "SE556677889901"}]
    last = s.last_run()
    assert last is not None and (last.id, last.status) == (run, "quarantined")


# ---------------------------------------------------------------------- property: links stay one-to-one

MAPPINGS = st.sampled_from(["customers", "persons"])
CRM_IDS = st.sampled_from(["c1", "c2", "c3", "c4"])
ERP_IDS = st.sampled_from(["e1", "e2", "e3", "e4"])
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("link"), MAPPINGS, CRM_IDS, ERP_IDS),
        st.tuples(st.just("unlink"), MAPPINGS, CRM_IDS, st.none()),
    ),
    max_size=40,
)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=150, deadline=None)
@given(operations=OPERATIONS)
def test_links_stay_one_to_one_and_match_a_model(backend: str,
                                                  operations: list[tuple[str, str, str, str | None]]) -> None:
    model: dict[str, dict[str, str]] = {"customers": {}, "persons": {}}  # mapping -> crm id -> erp id
    with closing(open_store(backend)) as store:
        for op, mapping, crm_id, erp_id in operations:
            pairs = model[mapping]
            if op == "unlink":
                assert store.unlink(mapping, crm_id) == (crm_id in pairs)
                pairs.pop(crm_id, None)
                continue
            assert erp_id is not None
            conflict = (crm_id in pairs and pairs[crm_id] != erp_id) or any(
                e == erp_id and c != crm_id for c, e in pairs.items()
            )
            if conflict:
                with pytest.raises(LinkConflictError):
                    store.link(mapping, crm_id, erp_id)
            else:
                store.link(mapping, crm_id, erp_id)
                pairs[crm_id] = erp_id
        for mapping, pairs in model.items():
            stored = {link.crm_id: link.erp_id for link in store.links(mapping)}
            assert stored == pairs
            assert store.count_links(mapping) == len(pairs)
            erp_ids = list(stored.values())
            assert len(erp_ids) == len(set(erp_ids))
            for crm_id, erp_id in pairs.items():
                by_erp = store.link_by_erp(mapping, erp_id)
                assert by_erp is not None and by_erp.crm_id == crm_id


# ---------------------------------------------------------------------- the lease

LEASE = timedelta(minutes=5)


def test_the_lease_has_one_holder_at_a_time(stores: Stores) -> None:
    a, b = stores.open(), stores.reopen()  # two workers sharing the state
    assert a.acquire_lease("worker-a", LEASE)
    assert not b.acquire_lease("worker-b", LEASE)
    assert not b.renew_lease("worker-b", LEASE)
    assert not b.release_lease("worker-b")
    assert b.acquire_lease("worker-a", LEASE)  # the holder may take it again: it is extended
    assert a.renew_lease("worker-a", LEASE)
    assert a.release_lease("worker-a")
    assert not a.release_lease("worker-a")
    assert not a.renew_lease("worker-a", LEASE)  # released: renewing is no way back in
    assert b.acquire_lease("worker-b", LEASE)
    assert not a.acquire_lease("worker-a", LEASE)


def test_the_lease_is_refused_inside_a_transaction(stores: Stores) -> None:
    a, b = stores.open(), stores.reopen()
    with a.transaction():
        for attempt in (lambda: a.acquire_lease("worker-a", LEASE), lambda: a.renew_lease("worker-a", LEASE),
                        lambda: a.release_lease("worker-a")):
            with pytest.raises(StateError, match="inside transaction"):
                attempt()
    assert b.acquire_lease("worker-b", LEASE)


@pytest.mark.parametrize("holder, ttl", [("", LEASE), ("  ", LEASE), ("w", timedelta(0)), ("w", 30)])
def test_lease_arguments_are_checked(store: StateStore, holder: str, ttl: timedelta) -> None:
    with pytest.raises(ValueError, match="lease"):
        store.acquire_lease(holder, ttl)
    with pytest.raises(ValueError, match="lease"):
        store.renew_lease(holder, ttl)


def test_sqlite_lease_expires_unless_renewed(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "state.db"
    ttl = timedelta(seconds=30)
    with SqliteStateStore(path, now=clock) as a, SqliteStateStore(path, now=clock) as b:
        assert a.acquire_lease("worker-a", ttl)  # until T0 + 30 s
        clock.advance(timedelta(seconds=20))
        assert a.renew_lease("worker-a", ttl)  # until T0 + 50 s
        clock.advance(timedelta(seconds=20))
        assert not b.acquire_lease("worker-b", ttl)  # renewed: still held at T0 + 40 s
        clock.advance(timedelta(seconds=10))
        assert not a.renew_lease("worker-a", ttl)  # expired at T0 + 50 s: lost (the holder died, say)
        assert b.acquire_lease("worker-b", ttl)
        assert not a.acquire_lease("worker-a", ttl)
        assert not a.release_lease("worker-a")
        assert b.release_lease("worker-b")


def test_a_lease_with_a_keeper_is_held_however_long_one_record_takes(backend: str, tmp_path: Path) -> None:
    """The heartbeat renews on its own connection: a pass busy in one record (a rate-limit wait, a slow API)
    for longer than the time to live keeps its tenant; without a keeper the lease runs out meanwhile."""
    stores = Stores(backend, tmp_path, utc_now)
    ttl = timedelta(seconds=1.5)
    try:
        a, b = stores.open(), stores.reopen()
        keeper = lambda: open_store(backend, tenant=stores.tenant, path=stores.path)  # noqa: E731 (own thread)
        lease = Lease(a, "run-a", threading.Event(), ttl=ttl, keeper=keeper)
        assert lease.acquire()
        time.sleep(4)  # one long record: no progress call
        assert not lease.is_set()
        assert not b.acquire_lease("run-b", ttl)
        lease.release()
        assert b.acquire_lease("run-b", ttl)
        assert b.release_lease("run-b")

        unkept = Lease(a, "run-a", threading.Event(), ttl=ttl)
        assert unkept.acquire()
        time.sleep(2)
        assert b.acquire_lease("run-b", ttl)  # expired meanwhile
        unkept.progress("customers", 1, 2)
        assert unkept.is_set()  # the pass stops after the record at hand
    finally:
        stores.close_all()


def test_a_scratch_copy_for_a_plan_leaves_the_history_out(store: StateStore) -> None:
    """The audit and the finished runs no row names grow with every pass and no pass reads them: a plan's copy
    leaves them out (with ``history``, explain's copy, it keeps everything)."""
    old = [store.start_run() for _ in range(3)]
    for run in old:
        store.record_audit(run_id=run, mapping="customers", target="erp", record_id="e1", action="update",
                           field="Name", old="a", new="b", rule="name")
        store.finish_run(run, "ok", {})
    store.journal_create("customers", "erp", "c2", {"name": "x"}, old[0])  # names the first run
    store.quarantine("customers", "crm", "c3", "rejected", "refused", old[1])  # names the second
    running = store.start_run()  # a run that is still running (or was killed)
    last = store.start_run()
    store.finish_run(last, "ok", {"last": True})
    with store.transaction():
        store.link("customers", "c1", "e1", Base({"name": "b"}))
    copy = store.scratch_copy()
    try:
        assert copy.audit_entries() == []
        assert [r for r in [*old, running, last] if copy.get_run(r) is not None] == [old[0], old[1], running, last]
        assert copy.summary() == store.summary()  # the last run, links, quarantine, pending creates: all there
        assert copy.pending_creates("customers") == store.pending_creates("customers")
        assert copy.list_quarantine() == store.list_quarantine()
        assert copy.start_run() > last  # a plan's run is numbered after every real one
    finally:
        copy.close()
    whole = store.scratch_copy(history=True)
    try:
        assert len(whole.audit_entries()) == 3 and all(whole.get_run(r) is not None for r in old)
    finally:
        whole.close()
