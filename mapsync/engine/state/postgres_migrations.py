"""Schema of the PostgreSQL state store and the code that brings a database up to date.

``MIGRATIONS`` is an append-only list of SQL scripts, as for SQLite (``mapsync.engine.state.migrations``):
script ``n`` (1-based) moves the schema from version ``n - 1`` to ``n``; never edit a released script, add
a new one. The applied version is the one row of ``mapsync_schema_version``; that table also marks a
PostgreSQL schema as a mapsync state store.

Every table lives in one PostgreSQL schema (``mapsync`` unless the store is opened with another) and has
a ``tenant`` column leading its keys: one database holds the state of many tenants, and the store code
filters every statement by its tenant (docs/sync.md, "The state store"). Text keys use the ``"C"``
collation, so ``ORDER BY`` sorts ids as SQLite does (by code point), whatever the database's locale.

Applying runs under a transaction-level advisory lock keyed by the schema name, one transaction per script
together with the version bump, and re-reads the version under the lock: two processes opening the same
new database at once apply each script once; the second waits and then finds nothing to do. A database
already at this version is recognised without taking the lock.
"""

from __future__ import annotations

import hashlib
from typing import Any

from psycopg import Connection, Cursor, sql
from psycopg.rows import TupleRow, tuple_row

from mapsync.engine.state.store import SchemaVersionError

VERSION_TABLE = "mapsync_schema_version"

MIGRATIONS: tuple[str, ...] = (
    # 1: the schema of SQLite's version 4 (links with held fields, quarantine fingerprints, the lease),
    # with a tenant column in every table
    """
    CREATE TABLE runs (
        tenant      text COLLATE "C" NOT NULL,
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        started_at  timestamptz NOT NULL,
        finished_at timestamptz,
        status      text NOT NULL CHECK (status IN ('running', 'ok', 'quarantined', 'fatal')),
        summary     json NOT NULL DEFAULT '{}',
        UNIQUE (tenant, id)
    );

    CREATE TABLE links (
        tenant      text COLLATE "C" NOT NULL,
        mapping     text COLLATE "C" NOT NULL,
        crm_id      text COLLATE "C" NOT NULL,
        erp_id      text COLLATE "C" NOT NULL,
        base_fields json NOT NULL DEFAULT '{}',
        base_lines  json,
        base_held   json,
        created_at  timestamptz NOT NULL,
        updated_at  timestamptz NOT NULL,
        PRIMARY KEY (tenant, mapping, crm_id),
        UNIQUE (tenant, mapping, erp_id)
    );

    CREATE INDEX links_held ON links (tenant, mapping) WHERE base_held IS NOT NULL;

    CREATE TABLE cursors (
        tenant     text COLLATE "C" NOT NULL,
        mapping    text COLLATE "C" NOT NULL,
        side       text COLLATE "C" NOT NULL CHECK (side IN ('crm', 'erp')),
        value      text NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant, mapping, side)
    );

    CREATE TABLE create_journal (
        tenant     text COLLATE "C" NOT NULL,
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        mapping    text COLLATE "C" NOT NULL,
        target     text COLLATE "C" NOT NULL CHECK (target IN ('crm', 'erp')),
        source_id  text COLLATE "C" NOT NULL,
        match_keys json NOT NULL,
        run_id     bigint NOT NULL,
        created_at timestamptz NOT NULL,
        UNIQUE (tenant, mapping, target, source_id),
        FOREIGN KEY (tenant, run_id) REFERENCES runs (tenant, id)
    );

    CREATE TABLE quarantine (
        tenant          text COLLATE "C" NOT NULL,
        mapping         text COLLATE "C" NOT NULL,
        side            text COLLATE "C" NOT NULL CHECK (side IN ('crm', 'erp')),
        record_id       text COLLATE "C" NOT NULL,
        error_class     text NOT NULL CHECK (error_class IN ('transient', 'rejected', 'rule')),
        reason          text NOT NULL,
        attempts        integer NOT NULL CHECK (attempts >= 1),
        first_failed_at timestamptz NOT NULL,
        last_failed_at  timestamptz NOT NULL,
        next_retry_at   timestamptz NOT NULL,
        run_id          bigint NOT NULL,
        fingerprint     text,
        PRIMARY KEY (tenant, mapping, side, record_id),
        FOREIGN KEY (tenant, run_id) REFERENCES runs (tenant, id)
    );

    CREATE INDEX quarantine_due ON quarantine (tenant, mapping, next_retry_at);

    CREATE TABLE audit (
        tenant    text COLLATE "C" NOT NULL,
        id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id    bigint NOT NULL,
        mapping   text COLLATE "C" NOT NULL,
        target    text COLLATE "C" NOT NULL CHECK (target IN ('crm', 'erp')),
        record_id text COLLATE "C" NOT NULL,
        action    text NOT NULL CHECK (action IN ('create', 'update', 'link')),
        field     text,
        old       json NOT NULL,
        new       json NOT NULL,
        rule      text,
        at        timestamptz NOT NULL,
        FOREIGN KEY (tenant, run_id) REFERENCES runs (tenant, id)
    );

    CREATE INDEX audit_run ON audit (tenant, run_id);
    CREATE INDEX audit_record ON audit (tenant, mapping, target, record_id);

    CREATE TABLE secrets (
        tenant     text COLLATE "C" NOT NULL,
        name       text COLLATE "C" NOT NULL,
        value      text NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant, name)
    );

    CREATE TABLE leases (
        tenant      text COLLATE "C" PRIMARY KEY,
        holder      text NOT NULL,
        acquired_at timestamptz NOT NULL,
        expires_at  timestamptz NOT NULL
    );
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def lock_key(schema: str) -> int:
    """The advisory lock key of migrating ``schema``: a stable signed 64-bit number."""
    digest = hashlib.sha256(f"mapsync state schema {schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def schema_version(conn: Connection[Any], schema: str) -> int | None:
    """The version recorded in ``schema``, or None when it has no version table (new, or not mapsync's)."""
    cur = _cursor(conn)
    row = cur.execute(
        "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = %s AND tablename = %s", (schema, VERSION_TABLE)
    ).fetchone()
    if row is None:
        return None
    query = sql.SQL("SELECT version FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(VERSION_TABLE))
    version = cur.execute(query).fetchone()
    return 0 if version is None else int(version[0])


def _cursor(conn: Connection[Any]) -> Cursor[TupleRow]:
    return conn.cursor(row_factory=tuple_row)


def _newer(where: str, version: int, known: int) -> SchemaVersionError:
    return SchemaVersionError(
        f"{where} has state schema version {version}, but this mapsync knows versions up to {known}: "
        "it was written by a newer mapsync; upgrade mapsync to use it"
    )


def migrate(
    conn: Connection[Any], *, schema: str, where: str = "the state database",
    migrations: tuple[str, ...] = MIGRATIONS,
) -> int:
    """Create ``schema`` if needed and apply every migration it lacks; returns the resulting version.

    ``conn`` must be in autocommit mode and outside a transaction. Raises ``SchemaVersionError`` if the
    schema is newer than ``migrations`` or holds tables that are not a mapsync state store.
    """
    known = len(migrations)
    version = schema_version(conn, schema)
    if version is not None and version > known:
        raise _newer(where, version, known)
    if version == known:
        return version
    ident = sql.Identifier(schema)
    table = sql.SQL("{}.{}").format(ident, sql.Identifier(VERSION_TABLE))
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(schema),))
            version = schema_version(conn, schema)
            if version is None:
                _create_schema(conn, schema, where)
                conn.execute(sql.SQL("CREATE TABLE {} (version integer NOT NULL)").format(table))
                conn.execute(sql.SQL("INSERT INTO {} (version) VALUES (0)").format(table))
                version = 0
            if version > known:
                raise _newer(where, version, known)
            if version == known:
                return version
            conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(ident))
            conn.execute(migrations[version])  # several statements, no parameters: one simple query
            conn.execute(sql.SQL("UPDATE {} SET version = %s").format(table), (version + 1,))


def _create_schema(conn: Connection[Any], schema: str, where: str) -> None:
    """Create the schema unless it exists; an existing one must hold no tables (it is not mapsync's)."""
    cur = _cursor(conn)
    if cur.execute("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None:
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        return
    tables = cur.execute("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = %s", (schema,)).fetchone()
    if tables is not None and tables[0]:
        raise SchemaVersionError(
            f"{where} is not a mapsync state store (schema {schema!r} has tables but no {VERSION_TABLE})"
        )
