"""Schema of the SQLite state store and the code that brings a database up to date.

``MIGRATIONS`` is an append-only list of SQL scripts; script ``n`` (1-based) moves the schema from
version ``n - 1`` to ``n``. ``PRAGMA user_version`` records the applied version and ``PRAGMA
application_id`` marks the file as a mapsync state store. Never edit a released script: add a new one.

Each script runs in its own ``BEGIN IMMEDIATE`` transaction together with the version bump, and the
version is re-read under that lock, so applying is idempotent and two processes opening the same new
file at once do not trip over each other.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from mapsync.engine.state.store import SchemaVersionError

APPLICATION_ID = 0x6D617073  # "maps"

MIGRATIONS: tuple[str, ...] = (
    # 1: initial schema
    """
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        status      TEXT NOT NULL CHECK (status IN ('running', 'ok', 'quarantined', 'fatal')),
        summary     TEXT NOT NULL DEFAULT '{}'
    );

    CREATE TABLE links (
        id          INTEGER PRIMARY KEY,
        mapping     TEXT NOT NULL,
        crm_id      TEXT NOT NULL,
        erp_id      TEXT NOT NULL,
        base_fields TEXT NOT NULL DEFAULT '{}',
        base_lines  TEXT,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        UNIQUE (mapping, crm_id),
        UNIQUE (mapping, erp_id)
    );

    CREATE TABLE cursors (
        mapping    TEXT NOT NULL,
        side       TEXT NOT NULL CHECK (side IN ('crm', 'erp')),
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (mapping, side)
    ) WITHOUT ROWID;

    CREATE TABLE create_journal (
        id         INTEGER PRIMARY KEY,
        mapping    TEXT NOT NULL,
        target     TEXT NOT NULL CHECK (target IN ('crm', 'erp')),
        source_id  TEXT NOT NULL,
        match_keys TEXT NOT NULL,
        run_id     INTEGER NOT NULL REFERENCES runs (id),
        created_at TEXT NOT NULL,
        UNIQUE (mapping, target, source_id)
    );

    CREATE TABLE quarantine (
        mapping         TEXT NOT NULL,
        side            TEXT NOT NULL CHECK (side IN ('crm', 'erp')),
        record_id       TEXT NOT NULL,
        error_class     TEXT NOT NULL CHECK (error_class IN ('transient', 'rejected', 'rule')),
        reason          TEXT NOT NULL,
        attempts        INTEGER NOT NULL CHECK (attempts >= 1),
        first_failed_at TEXT NOT NULL,
        last_failed_at  TEXT NOT NULL,
        next_retry_at   TEXT NOT NULL,
        run_id          INTEGER NOT NULL REFERENCES runs (id),
        PRIMARY KEY (mapping, side, record_id)
    ) WITHOUT ROWID;

    CREATE INDEX quarantine_due ON quarantine (mapping, next_retry_at);

    CREATE TABLE audit (
        id        INTEGER PRIMARY KEY,
        run_id    INTEGER NOT NULL REFERENCES runs (id),
        mapping   TEXT NOT NULL,
        target    TEXT NOT NULL CHECK (target IN ('crm', 'erp')),
        record_id TEXT NOT NULL,
        action    TEXT NOT NULL CHECK (action IN ('create', 'update', 'link')),
        field     TEXT,
        old       TEXT NOT NULL,
        new       TEXT NOT NULL,
        rule      TEXT,
        at        TEXT NOT NULL
    );

    CREATE INDEX audit_run ON audit (run_id);
    CREATE INDEX audit_record ON audit (mapping, target, record_id);

    CREATE TABLE secrets (
        name       TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 2: fields held back per link (a value missing from a map, a first-contact disagreement held for review)
    """
    ALTER TABLE links ADD COLUMN base_held TEXT;
    CREATE INDEX links_held ON links (mapping) WHERE base_held IS NOT NULL;
    """,
    # 3: what a quarantined record looked like, so a re-read of the unchanged record waits for its retry
    """
    ALTER TABLE quarantine ADD COLUMN fingerprint TEXT;
    """,
    # 4: the lease, so that at most one pass at a time uses the store (one row, expiring unless renewed)
    """
    CREATE TABLE lease (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        holder      TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        expires_at  TEXT NOT NULL
    );
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def split_statements(script: str) -> Iterator[str]:
    """The complete SQL statements of ``script``, in order (semicolons inside literals are kept)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statement = pending.strip()
            if statement != ";":
                yield statement
            pending = ""
    if pending.rstrip(";").strip():
        raise ValueError(f"incomplete SQL statement at the end of a migration: {pending.strip()!r}")


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the database (0 for a new, empty one)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _check_identity(conn: sqlite3.Connection, version: int, known: int, where: str) -> None:
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    if app_id not in (0, APPLICATION_ID):
        raise SchemaVersionError(f"{where} is not a mapsync state store (application_id {app_id:#x})")
    if version > known:
        raise SchemaVersionError(
            f"{where} has state schema version {version}, but this mapsync knows versions up to "
            f"{known}: it was written by a newer mapsync; upgrade mapsync to use it"
        )
    if version == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()
        if tables[0]:
            raise SchemaVersionError(f"{where} is not a mapsync state store (it has tables but no version)")


def migrate(
    conn: sqlite3.Connection, *, where: str = "the state database", migrations: tuple[str, ...] = MIGRATIONS
) -> int:
    """Apply every migration the database lacks; returns the resulting version.

    ``conn`` must be in autocommit mode (``isolation_level=None``) and outside a transaction. Raises
    ``SchemaVersionError`` if the database is newer than ``migrations`` or not a mapsync store.
    """
    known = len(migrations)
    version = schema_version(conn)
    if version == known:  # up to date: no write lock needed (a read-only command while another process writes)
        _check_identity(conn, version, known, where)
        return version
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(conn)
            _check_identity(conn, version, known, where)
            if version == known:
                conn.execute("COMMIT")
                return version
            for statement in split_statements(migrations[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
