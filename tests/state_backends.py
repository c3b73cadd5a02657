"""The state store backends tests run against: SQLite, and PostgreSQL where one is reachable (a pytest plugin).

PostgreSQL is found at ``$MAPSYNC_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
When it cannot be reached its tests skip, saying so (and the end of the run says how many), unless
``MAPSYNC_REQUIRE_SERVICES=1`` (CI sets it in ``.ci/run``): then they fail. Each test session shares one
PostgreSQL schema of its own, dropped at the end, and each store opened here gets a tenant of its own, so
tests never see each other's rows; a test that needs a schema to itself (migrations) takes ``fresh_schema``.
"""

from __future__ import annotations

import functools
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from mapsync.engine.state import SqliteStateStore, StateStore, utc_now
from mapsync.engine.state.postgres import PostgresStateStore, describe_dsn

BACKENDS = ("sqlite", "postgres")
POSTGRES_URL = os.environ.get("MAPSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SESSION = uuid.uuid4().hex[:10]
_tenants = itertools.count(1)
_skipped: list[str] = []


@functools.cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it can (asked once per session)."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


def require_postgres() -> str:
    """The URL of the test database; skips the test (fails it with MAPSYNC_REQUIRE_SERVICES=1) without one."""
    problem = postgres_problem()
    if problem is not None:
        message = f"PostgreSQL not reachable at {describe_dsn(POSTGRES_URL)} ({problem})"
        if os.environ.get("MAPSYNC_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message}, and MAPSYNC_REQUIRE_SERVICES=1 requires it", pytrace=False)
        _skipped.append(message)
        pytest.skip(f"{message}; set MAPSYNC_TEST_POSTGRES to test the PostgreSQL state store")
    return POSTGRES_URL


def schema_name(purpose: str) -> str:
    return f"mapsync_test_{SESSION}_{purpose}"[:63]


def drop_schema(name: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@functools.cache
def shared_schema() -> str:
    """The schema the session's tests share (created and migrated at first use, dropped at the end)."""
    require_postgres()
    name = schema_name("shared")
    PostgresStateStore(POSTGRES_URL, schema=name).close()
    return name


def delete_tenant(schema: str, tenant: str) -> None:
    """Remove every row of ``tenant`` from ``schema`` (for tests that use a schema they do not drop)."""
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn, conn.transaction():
        for table in ("audit", "quarantine", "create_journal", "runs", "links", "cursors", "secrets", "leases"):
            conn.execute(sql.SQL("DELETE FROM {}.{} WHERE tenant = %s").format(
                sql.Identifier(schema), sql.Identifier(table)), (tenant,))


def new_tenant() -> str:
    return f"t{next(_tenants)}-{uuid.uuid4().hex[:8]}"


def open_store(backend: str, *, now: Callable[[], datetime] = utc_now, tenant: str | None = None,
               path: Path | None = None) -> StateStore:
    """A store of ``backend``: SQLite at ``path`` (default in memory), or a PostgreSQL tenant (default new)."""
    if backend == "postgres":
        return PostgresStateStore(require_postgres(), tenant=tenant or new_tenant(), schema=shared_schema(), now=now)
    assert backend == "sqlite", backend
    return SqliteStateStore(":memory:" if path is None else path, now=now)


class Stores:
    """Stores of one backend opened by a test, closed after it. ``reopen()`` opens the state of the first
    store again (the same SQLite file, or the same tenant over a new connection)."""

    def __init__(self, backend: str, tmp_path: Path, now: Callable[[], datetime]) -> None:
        self.backend = backend
        self.now = now
        self.tenant = new_tenant()
        self.path = tmp_path / "state.sqlite"
        self.opened: list[StateStore] = []

    def open(self) -> StateStore:
        store = open_store(self.backend, now=self.now, tenant=self.tenant, path=self.path)
        self.opened.append(store)
        return store

    reopen = open

    def close_all(self) -> None:
        for store in self.opened:
            store.close()


@pytest.fixture
def fresh_schema() -> Iterator[str]:
    """A PostgreSQL schema for this test alone (not created yet), dropped afterwards."""
    require_postgres()
    name = schema_name(uuid.uuid4().hex[:12])
    yield name
    drop_schema(name)


@pytest.fixture(scope="session", autouse=True)
def _drop_shared_schema() -> Iterator[None]:
    yield
    if shared_schema.cache_info().currsize:
        drop_schema(shared_schema())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped:
        terminalreporter.write_line(
            f"{_skipped[0]}: {len(_skipped)} PostgreSQL state store test(s) skipped "
            "(MAPSYNC_REQUIRE_SERVICES=1 makes that a failure)")
