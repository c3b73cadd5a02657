"""The PostgreSQL implementation of the state store (psycopg 3): many tenants in one database.

Owns the connection, the tenant key, the transaction discipline, the lease and the mapping between rows and
the dataclasses of ``mapsync.engine.state.store``. The schema lives in
``mapsync.engine.state.postgres_migrations`` and is brought up to date when a store is opened.

Tenants: a store is opened for one tenant (``PostgresStateStore(dsn, tenant="acme")``); every table has a
``tenant`` column leading its keys and every statement here filters by it, so two tenants never see each
other's links, runs or secrets. Run, journal and audit ids come from sequences shared by all tenants: they
grow within a tenant but are not consecutive.

Transactions: the connection runs in autocommit mode; ``transaction()`` opens a transaction at the
outermost level and a savepoint at each nested level (psycopg's ``Connection.transaction``), so only the
outermost block commits and a nested block's exception undoes that block only. Every write method wraps
itself in ``transaction()``: it is atomic on its own and joins an enclosing one.

Plans: ``scratch_copy()`` is an in-memory ``SqliteStateStore`` filled from the tenant's rows, read in one
read-only repeatable-read transaction. A plan writes to the copy only: nothing reaches PostgreSQL, and
no transaction stays open (holding locks a concurrent run would wait for) while the plan reads the systems.

The lease is a row per tenant with an expiry, timed by the database server's clock (``clock_timestamp()``),
so workers on machines whose clocks disagree still agree on when it expires (docs/sync.md).

Status: ``tenant_overviews`` reads the last run, quarantine count and lease holder of many tenants of one
database over one connection (the tenants' status page, ``mapsync.engine.tenants.status``), read only.

Timestamps are stored as ``timestamptz`` and read back in UTC; JSON payloads as ``json`` (kept as written).
The session's search path is set to the store's schema: connect directly or through a session-mode pooler.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row, tuple_row

from mapsync.engine.state.backoff import retry_delay
from mapsync.engine.state.codec import as_utc as _utc
from mapsync.engine.state.codec import check_choice as _choice
from mapsync.engine.state.codec import check_side as _side
from mapsync.engine.state.codec import check_text as _text
from mapsync.engine.state.codec import dump_json as _dump
from mapsync.engine.state.codec import encode_base as _encode_base
from mapsync.engine.state.codec import utc_now
from mapsync.engine.state.postgres_migrations import MIGRATIONS, migrate, schema_version
from mapsync.engine.state.sqlite import HISTORY_FREE_RUNS, MEMORY, STATE_TABLES, SqliteStateStore
from mapsync.engine.state.store import (
    AUDIT_ACTIONS,
    DEFAULT_TENANT,
    ERROR_CLASSES,
    INTERRUPTED,
    RUN_STATUSES,
    AuditAction,
    AuditEntry,
    Base,
    ErrorClass,
    Link,
    LinkConflictError,
    MappingSummary,
    PendingCreate,
    PendingCreateError,
    QuarantineEntry,
    Run,
    RunStatus,
    SchemaVersionError,
    Side,
    StateError,
    StoreSummary,
    UnknownLinkError,
    UnknownRunError,
    check_lease,
    check_tenant,
)

if TYPE_CHECKING:
    from mapsync.engine.state.store import StateStore

DEFAULT_SCHEMA = "mapsync"
SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# The columns a scratch copy takes, per table of STATE_TABLES: the SQLite schema's names; JSON as text.
_COPIED: dict[str, tuple[str, ...]] = {
    "runs": ("id", "started_at", "finished_at", "status", "summary::text"),
    "links": ("mapping", "crm_id", "erp_id", "base_fields::text", "base_lines::text", "base_held::text",
              "created_at", "updated_at"),
    "cursors": ("mapping", "side", "value", "updated_at"),
    "create_journal": ("id", "mapping", "target", "source_id", "match_keys::text", "run_id", "created_at"),
    "quarantine": ("mapping", "side", "record_id", "error_class", "reason", "attempts", "first_failed_at",
                   "last_failed_at", "next_retry_at", "run_id", "fingerprint"),
    "audit": ("id", "run_id", "mapping", "target", "record_id", "action", "field", "old::text", "new::text",
              "rule", "at"),
    "secrets": ("name", "value", "updated_at"),
}
_COPY_BATCH = 2000
_HISTORY_FREE_RUNS = HISTORY_FREE_RUNS.format(tenant=" WHERE tenant = %(tenant)s")


def describe_dsn(dsn: str) -> str:
    """Where a connection string points, for messages: host, port and database, never a password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "a PostgreSQL database (connection string not understood)"
    host = parts.get("host") or parts.get("hostaddr") or "localhost"
    port = parts.get("port") or "5432"
    return f"postgresql://{host}:{port}/{parts.get('dbname') or parts.get('user') or ''}"


class PostgresStateStore:
    """Sync state of one tenant in a PostgreSQL database. Use as a context manager or close()."""

    def __init__(
        self,
        dsn: str,
        *,
        tenant: str = DEFAULT_TENANT,
        schema: str = DEFAULT_SCHEMA,
        now: Callable[[], datetime] = utc_now,
        backoff: Callable[[int], timedelta] = retry_delay,
        connect_timeout: int = 10,
    ) -> None:
        check_tenant(tenant)
        if not SCHEMA.fullmatch(schema):
            raise StateError(f"schema {schema!r} is not a schema name: lower-case letters, digits and _")
        self.tenant = tenant
        self.schema = schema
        self._now = now
        self._backoff = backoff
        self._depth = 0
        self._where = f"state store {describe_dsn(dsn)} (schema {schema}, tenant {tenant})"
        try:
            conn = psycopg.connect(dsn, autocommit=True, row_factory=dict_row, connect_timeout=connect_timeout)
        except psycopg.Error as exc:
            raise StateError(f"cannot open {self._where}: {' '.join(str(exc).split())}") from exc
        try:
            conn.execute("SET TIME ZONE 'UTC'")
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            migrate(conn, schema=schema, where=self._where)
        except psycopg.Error as exc:
            conn.close()
            raise StateError(f"cannot open {self._where}: {' '.join(str(exc).split())}") from exc
        except BaseException:
            conn.close()
            raise
        self._conn: psycopg.Connection[DictRow] = conn

    # ------------------------------------------------------------------ lifetime and transactions

    def close(self) -> None:
        """Close the connection (idempotent). An open transaction is rolled back by the server."""
        self._conn.close()

    def scratch_copy(self, *, history: bool = False) -> SqliteStateStore:
        """An in-memory SQLite copy of this tenant's state to plan against (``mapsync plan``, docs/sync.md):
        a plan writes its links, bases and cursors there and the copy is thrown away; PostgreSQL is only read,
        in one consistent snapshot. Without ``history``, no audit and only the runs a pass may look at
        (``StateStore.scratch_copy``): the rows read do not grow with the tenant's passes."""
        copy = SqliteStateStore(MEMORY, now=self._now, backoff=self._backoff)
        try:
            with self._snapshot():
                for table in STATE_TABLES:
                    if table == "audit" and not history:
                        continue
                    self._copy_table(table, copy, None if history or table != "runs" else _HISTORY_FREE_RUNS)
        except psycopg.Error as exc:
            copy.close()
            raise StateError(f"cannot copy {self._where} to plan against: {exc}") from exc
        except BaseException:
            copy.close()
            raise
        return copy

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Reads that see one state of the database: a read-only repeatable-read transaction (or the open one)."""
        if self._depth:
            yield
            return
        with self._conn.transaction():
            self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def _copy_table(self, table: str, copy: SqliteStateStore, condition: LiteralString | None = None) -> None:
        selected = _COPIED[table]
        columns = [c.split("::")[0] for c in selected]
        query = sql.SQL("SELECT {} FROM {} WHERE tenant = %(tenant)s{} ORDER BY 1").format(
            sql.SQL(", ").join(sql.SQL(c) for c in selected), sql.Identifier(table),
            sql.SQL(" AND (" + condition + ")" if condition else ""))
        with self._conn.cursor(name=f"mapsync_copy_{table}", row_factory=tuple_row) as cur:
            cur.execute(query, {"tenant": self.tenant})
            while batch := cur.fetchmany(_COPY_BATCH):
                copy.load_rows(table, columns, batch)

    def __enter__(self) -> PostgresStateStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit when the outermost block ends; an exception undoes the block."""
        self._depth += 1
        try:
            with self._conn.transaction():
                yield
        finally:
            self._depth -= 1

    @property
    def in_transaction(self) -> bool:
        """True inside a ``transaction()`` block."""
        return self._depth > 0

    # ------------------------------------------------------------------ links and bases

    def link(self, mapping: str, crm_id: str, erp_id: str, base: Base | None = None) -> Link:
        with self.transaction():
            by_crm = self.link_by_crm(mapping, crm_id)
            if by_crm is not None and by_crm.erp_id != erp_id:
                raise LinkConflictError(
                    f"mapping {mapping!r}: crm id {crm_id!r} is already linked to erp id "
                    f"{by_crm.erp_id!r}; cannot also link it to erp id {erp_id!r}"
                )
            by_erp = self.link_by_erp(mapping, erp_id)
            if by_erp is not None and by_erp.crm_id != crm_id:
                raise LinkConflictError(
                    f"mapping {mapping!r}: erp id {erp_id!r} is already linked to crm id "
                    f"{by_erp.crm_id!r}; cannot also link it to crm id {crm_id!r}"
                )
            if by_crm is None:
                fields_json, lines_json, held_json = _encode_base(base or Base())
                stamp = self._stamp()
                self._write(
                    "INSERT INTO links (tenant, mapping, crm_id, erp_id, base_fields, base_lines, base_held, "
                    "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (self.tenant, _text(mapping), _text(crm_id), _text(erp_id), fields_json, lines_json, held_json,
                     stamp, stamp),
                )
            elif base is not None:
                self.set_base(mapping, crm_id, base)
            link = self.link_by_crm(mapping, crm_id)
        assert link is not None
        return link

    def unlink(self, mapping: str, crm_id: str) -> bool:
        with self.transaction():
            cur = self._write("DELETE FROM links WHERE tenant = %s AND mapping = %s AND crm_id = %s",
                              (self.tenant, mapping, crm_id))
        return cur.rowcount > 0

    def link_by_crm(self, mapping: str, crm_id: str) -> Link | None:
        row = self._one("SELECT * FROM links WHERE tenant = %s AND mapping = %s AND crm_id = %s",
                        (self.tenant, mapping, crm_id))
        return None if row is None else _link(row)

    def link_by_erp(self, mapping: str, erp_id: str) -> Link | None:
        row = self._one("SELECT * FROM links WHERE tenant = %s AND mapping = %s AND erp_id = %s",
                        (self.tenant, mapping, erp_id))
        return None if row is None else _link(row)

    def links_of(self, mapping: str, side: Side, ids: Sequence[str]) -> dict[str, Link]:
        query: LiteralString = (
            "SELECT * FROM links WHERE tenant = %s AND mapping = %s AND crm_id = ANY(%s)" if _side(side) == "crm"
            else "SELECT * FROM links WHERE tenant = %s AND mapping = %s AND erp_id = ANY(%s)")
        links = (_link(row) for row in self._all(query, (self.tenant, mapping, [str(i) for i in ids])))
        return {link.crm_id if _side(side) == "crm" else link.erp_id: link for link in links}

    def links(self, mapping: str) -> list[Link]:
        rows = self._all("SELECT * FROM links WHERE tenant = %s AND mapping = %s ORDER BY crm_id",
                         (self.tenant, mapping))
        return [_link(row) for row in rows]

    def count_links(self, mapping: str) -> int:
        row = self._one("SELECT count(*) AS n FROM links WHERE tenant = %s AND mapping = %s", (self.tenant, mapping))
        assert row is not None
        return int(row["n"])

    def get_base(self, mapping: str, crm_id: str) -> Base | None:
        link = self.link_by_crm(mapping, crm_id)
        return None if link is None else link.base

    def set_base(self, mapping: str, crm_id: str, base: Base) -> None:
        fields_json, lines_json, held_json = _encode_base(base)
        with self.transaction():
            cur = self._write(
                "UPDATE links SET base_fields = %s, base_lines = %s, base_held = %s, updated_at = %s "
                "WHERE tenant = %s AND mapping = %s AND crm_id = %s",
                (fields_json, lines_json, held_json, self._stamp(), self.tenant, mapping, crm_id),
            )
            if cur.rowcount == 0:
                raise UnknownLinkError(f"mapping {mapping!r}: crm id {crm_id!r} is not linked")

    # ------------------------------------------------------------------ cursors

    def get_cursor(self, mapping: str, side: Side) -> str | None:
        row = self._one("SELECT value FROM cursors WHERE tenant = %s AND mapping = %s AND side = %s",
                        (self.tenant, mapping, _side(side)))
        return None if row is None else str(row["value"])

    def set_cursor(self, mapping: str, side: Side, value: str) -> None:
        with self.transaction():
            self._write(
                "INSERT INTO cursors (tenant, mapping, side, value, updated_at) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (tenant, mapping, side) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (self.tenant, _text(mapping), _side(side), _text(value), self._stamp()),
            )

    # ------------------------------------------------------------------ create journal

    def journal_create(
        self, mapping: str, target: Side, source_id: str, match_keys: Mapping[str, Any], run_id: int
    ) -> int:
        keys_json = _dump(dict(match_keys), "match keys")
        with self.transaction():
            self._require_run(run_id)
            row = self._one(
                "SELECT id FROM create_journal WHERE tenant = %s AND mapping = %s AND target = %s AND source_id = %s",
                (self.tenant, mapping, _side(target), source_id),
            )
            if row is not None:
                raise PendingCreateError(
                    f"mapping {mapping!r}: a create in {target} for source record {source_id!r} is "
                    f"already journalled (entry {row['id']}) and unresolved; reconcile it before creating"
                )
            cur = self._write(
                "INSERT INTO create_journal (tenant, mapping, target, source_id, match_keys, run_id, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (self.tenant, _text(mapping), target, _text(source_id), keys_json, run_id, self._stamp()),
            )
            inserted = cur.fetchone()
        assert inserted is not None
        return int(inserted["id"])

    def resolve_create(self, journal_id: int) -> bool:
        with self.transaction():
            cur = self._write("DELETE FROM create_journal WHERE tenant = %s AND id = %s", (self.tenant, journal_id))
        return cur.rowcount > 0

    def pending_creates(self, mapping: str) -> list[PendingCreate]:
        rows = self._all("SELECT * FROM create_journal WHERE tenant = %s AND mapping = %s ORDER BY id",
                         (self.tenant, mapping))
        return [
            PendingCreate(
                id=int(row["id"]),
                mapping=row["mapping"],
                target=row["target"],
                source_id=row["source_id"],
                match_keys=row["match_keys"],
                run_id=int(row["run_id"]),
                created_at=_at(row["created_at"]),
            )
            for row in rows
        ]

    # ------------------------------------------------------------------ quarantine

    def quarantine(
        self, mapping: str, side: Side, record_id: str, error_class: ErrorClass, reason: str, run_id: int,
        fingerprint: str | None = None,
    ) -> QuarantineEntry:
        _choice(error_class, ERROR_CLASSES, "error class")
        with self.transaction():
            self._require_run(run_id)
            existing = self.quarantine_entry(mapping, _side(side), record_id)
            attempts = 1 if existing is None else existing.attempts + 1
            now = _utc(self._now())
            self._write(
                "INSERT INTO quarantine (tenant, mapping, side, record_id, error_class, reason, attempts, "
                "first_failed_at, last_failed_at, next_retry_at, run_id, fingerprint) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (tenant, mapping, side, record_id) DO UPDATE SET error_class = excluded.error_class, "
                "reason = excluded.reason, attempts = excluded.attempts, "
                "last_failed_at = excluded.last_failed_at, next_retry_at = excluded.next_retry_at, "
                "run_id = excluded.run_id, fingerprint = excluded.fingerprint",
                (self.tenant, _text(mapping), side, _text(record_id), error_class, _text(reason), attempts,
                 now, now, now + self._backoff(attempts), run_id, fingerprint),
            )
            entry = self.quarantine_entry(mapping, side, record_id)
        assert entry is not None
        return entry

    def release(self, mapping: str, side: Side, record_id: str) -> bool:
        with self.transaction():
            cur = self._write(
                "DELETE FROM quarantine WHERE tenant = %s AND mapping = %s AND side = %s AND record_id = %s",
                (self.tenant, mapping, _side(side), record_id),
            )
        return cur.rowcount > 0

    def quarantine_entry(self, mapping: str, side: Side, record_id: str) -> QuarantineEntry | None:
        row = self._one(
            "SELECT * FROM quarantine WHERE tenant = %s AND mapping = %s AND side = %s AND record_id = %s",
            (self.tenant, mapping, _side(side), record_id),
        )
        return None if row is None else _quarantine(row)

    def due(self, mapping: str, now: datetime | None = None) -> list[QuarantineEntry]:
        cutoff = _utc(self._now() if now is None else now)
        rows = self._all(
            "SELECT * FROM quarantine WHERE tenant = %s AND mapping = %s AND next_retry_at <= %s "
            "ORDER BY next_retry_at, side, record_id",
            (self.tenant, mapping, cutoff),
        )
        return [_quarantine(row) for row in rows]

    def list_quarantine(self, mapping: str | None = None) -> list[QuarantineEntry]:
        if mapping is None:
            rows = self._all("SELECT * FROM quarantine WHERE tenant = %s ORDER BY mapping, side, record_id",
                             (self.tenant,))
        else:
            rows = self._all("SELECT * FROM quarantine WHERE tenant = %s AND mapping = %s ORDER BY side, record_id",
                             (self.tenant, mapping))
        return [_quarantine(row) for row in rows]

    def held_links(self, mapping: str | None = None) -> list[Link]:
        if mapping is None:
            rows = self._all("SELECT * FROM links WHERE tenant = %s AND base_held IS NOT NULL "
                             "ORDER BY mapping, crm_id", (self.tenant,))
        else:
            rows = self._all("SELECT * FROM links WHERE tenant = %s AND mapping = %s AND base_held IS NOT NULL "
                             "ORDER BY crm_id", (self.tenant, mapping))
        return [_link(row) for row in rows]

    # ------------------------------------------------------------------ runs

    def start_run(self) -> int:
        with self.transaction():
            cur = self._write(
                "INSERT INTO runs (tenant, started_at, status, summary) VALUES (%s, %s, 'running', '{}') "
                "RETURNING id",
                (self.tenant, self._stamp()),
            )
            row = cur.fetchone()
        assert row is not None
        return int(row["id"])

    def interrupt_runs(self) -> int:
        summary = _dump({"fatal": INTERRUPTED, "interrupted": True}, "run summary")
        with self.transaction():
            cur = self._write("UPDATE runs SET finished_at = %s, status = 'fatal', summary = %s "
                              "WHERE tenant = %s AND status = 'running'", (self._stamp(), summary, self.tenant))
        return cur.rowcount

    def finish_run(self, run_id: int, status: RunStatus, summary: Mapping[str, Any]) -> Run:
        _choice(status, RUN_STATUSES, "run status")
        if status == "running":
            raise ValueError("a run cannot finish with status 'running'")
        summary_json = _dump(dict(summary), "run summary")
        with self.transaction():
            cur = self._write(
                "UPDATE runs SET finished_at = %s, status = %s, summary = %s WHERE tenant = %s AND id = %s",
                (self._stamp(), status, summary_json, self.tenant, run_id),
            )
            if cur.rowcount == 0:
                raise UnknownRunError(f"run {run_id} does not exist")
        run = self.get_run(run_id)
        assert run is not None
        return run

    def get_run(self, run_id: int) -> Run | None:
        row = self._one("SELECT * FROM runs WHERE tenant = %s AND id = %s", (self.tenant, run_id))
        return None if row is None else _run(row)

    def last_run(self) -> Run | None:
        row = self._one("SELECT * FROM runs WHERE tenant = %s ORDER BY id DESC LIMIT 1", (self.tenant,))
        return None if row is None else _run(row)

    def _require_run(self, run_id: int) -> None:
        if self._one("SELECT 1 FROM runs WHERE tenant = %s AND id = %s", (self.tenant, run_id)) is None:
            raise UnknownRunError(f"run {run_id} does not exist")

    # ------------------------------------------------------------------ audit

    def record_audit(
        self,
        *,
        run_id: int,
        mapping: str,
        target: Side,
        record_id: str,
        action: AuditAction,
        field: str | None = None,
        old: Any = None,
        new: Any = None,
        rule: str | None = None,
    ) -> None:
        _choice(action, AUDIT_ACTIONS, "audit action")
        old_json, new_json = _dump(old, "old value"), _dump(new, "new value")
        with self.transaction():
            self._require_run(run_id)
            self._write(
                "INSERT INTO audit (tenant, run_id, mapping, target, record_id, action, field, old, new, rule, at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (self.tenant, run_id, _text(mapping), _side(target), _text(record_id), action, field, old_json,
                 new_json, rule, self._stamp()),
            )

    def audit_entries(self, run_id: int | None = None, mapping: str | None = None) -> list[AuditEntry]:
        clauses: list[LiteralString] = ["tenant = %s"]
        params: list[Any] = [self.tenant]
        if run_id is not None:
            clauses.append("run_id = %s")
            params.append(run_id)
        if mapping is not None:
            clauses.append("mapping = %s")
            params.append(mapping)
        rows = self._all("SELECT * FROM audit WHERE " + " AND ".join(clauses) + " ORDER BY id", tuple(params))
        return [
            AuditEntry(
                id=int(row["id"]),
                run_id=int(row["run_id"]),
                mapping=row["mapping"],
                target=row["target"],
                record_id=row["record_id"],
                action=row["action"],
                field=row["field"],
                old=row["old"],
                new=row["new"],
                rule=row["rule"],
                at=_at(row["at"]),
            )
            for row in rows
        ]

    # ------------------------------------------------------------------ rotated credentials

    def get_secret(self, name: str) -> str | None:
        row = self._one("SELECT value FROM secrets WHERE tenant = %s AND name = %s", (self.tenant, name))
        return None if row is None else str(row["value"])

    @contextmanager
    def secret_lock(self, name: str) -> Iterator[None]:
        """PostgreSQL: a transaction-level advisory lock on the tenant and secret, released at its end."""
        with self.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                               (f"mapsync.secret:{self.tenant}:{name}",))
            yield

    def put_secret(self, name: str, value: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("a secret needs a non-empty name")
        if not isinstance(value, str):
            raise TypeError(f"secret {name!r} must be a string")  # never echo the value
        with self.transaction():
            self._write(
                "INSERT INTO secrets (tenant, name, value, updated_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (tenant, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (self.tenant, name, value, self._stamp()),
            )

    # ------------------------------------------------------------------ status

    def summary(self) -> StoreSummary:
        t = (self.tenant,)
        names = [row["mapping"] for row in self._all(
            "SELECT mapping FROM links WHERE tenant = %s UNION SELECT mapping FROM cursors WHERE tenant = %s "
            "UNION SELECT mapping FROM quarantine WHERE tenant = %s "
            "UNION SELECT mapping FROM create_journal WHERE tenant = %s ORDER BY 1", t * 4)]
        links = self._counts("SELECT mapping, count(*) AS n FROM links WHERE tenant = %s GROUP BY mapping")
        pending = self._counts("SELECT mapping, count(*) AS n FROM create_journal WHERE tenant = %s GROUP BY mapping")
        held = self._counts(
            "SELECT mapping, count(*) AS n FROM links WHERE tenant = %s AND base_held IS NOT NULL GROUP BY mapping")
        cursors: dict[str, dict[Side, str]] = {}
        for row in self._all("SELECT mapping, side, value FROM cursors WHERE tenant = %s ORDER BY mapping, side", t):
            cursors.setdefault(row["mapping"], {})[row["side"]] = row["value"]
        by_class: dict[str, dict[ErrorClass, int]] = {}
        for row in self._all("SELECT mapping, error_class, count(*) AS n FROM quarantine WHERE tenant = %s "
                             "GROUP BY mapping, error_class", t):
            by_class.setdefault(row["mapping"], {})[row["error_class"]] = int(row["n"])
        return StoreSummary(
            mappings=tuple(
                MappingSummary(
                    name=name,
                    links=links.get(name, 0),
                    cursors=cursors.get(name, {}),
                    quarantined=sum(by_class.get(name, {}).values()),
                    quarantined_by_class=by_class.get(name, {}),
                    pending_creates=pending.get(name, 0),
                    held=held.get(name, 0),
                )
                for name in names
            ),
            last_run=self.last_run(),
        )

    # ------------------------------------------------------------------ the lease

    def acquire_lease(self, holder: str, ttl: timedelta) -> bool:
        check_lease(holder, ttl)
        self._outside_transaction("acquire")
        # One statement, so two workers racing for a free or expired lease are ordered by the row lock and
        # the second re-checks the condition against the first one's row: at most one of them gets it.
        row = self._one(
            "INSERT INTO leases AS l (tenant, holder, acquired_at, expires_at) "
            "VALUES (%s, %s, clock_timestamp(), clock_timestamp() + %s) "
            "ON CONFLICT (tenant) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, "
            "acquired_at = CASE WHEN l.holder = excluded.holder AND l.expires_at > excluded.acquired_at "
            "THEN l.acquired_at ELSE excluded.acquired_at END "
            "WHERE l.holder = excluded.holder OR l.expires_at <= excluded.acquired_at "
            "RETURNING holder",
            (self.tenant, holder, ttl),
        )
        return row is not None

    def renew_lease(self, holder: str, ttl: timedelta) -> bool:
        check_lease(holder, ttl)
        self._outside_transaction("renew")
        cur = self._conn.execute(
            "UPDATE leases SET expires_at = clock_timestamp() + %s "
            "WHERE tenant = %s AND holder = %s AND expires_at > clock_timestamp()",
            (ttl, self.tenant, holder),
        )
        return cur.rowcount > 0

    def release_lease(self, holder: str) -> bool:
        check_lease(holder)
        self._outside_transaction("release")
        cur = self._conn.execute("DELETE FROM leases WHERE tenant = %s AND holder = %s", (self.tenant, holder))
        return cur.rowcount > 0

    def lease_holder(self) -> str | None:
        row = self._one("SELECT holder FROM leases WHERE tenant = %s AND expires_at > clock_timestamp()",
                        (self.tenant,))
        return None if row is None else str(row["holder"])

    def _outside_transaction(self, verb: str) -> None:
        if self._depth:
            raise StateError(f"{self._where}: cannot {verb} the lease inside transaction(): it would not "
                             "be visible to other workers until the transaction commits")

    # ------------------------------------------------------------------ helpers

    def _stamp(self) -> datetime:
        return _utc(self._now())

    def _one(self, query: LiteralString, params: tuple[Any, ...]) -> DictRow | None:
        return self._conn.execute(query, params).fetchone()

    def _all(self, query: LiteralString, params: tuple[Any, ...]) -> list[DictRow]:
        return self._conn.execute(query, params).fetchall()

    def _counts(self, query: LiteralString) -> dict[str, int]:
        return {row["mapping"]: int(row["n"]) for row in self._all(query, (self.tenant,))}

    def _write(self, query: LiteralString, params: tuple[Any, ...]) -> psycopg.Cursor[DictRow]:
        try:
            return self._conn.execute(query, params)
        except (psycopg.IntegrityError, psycopg.DataError) as exc:
            raise StateError(f"{self._where}: write refused: {' '.join(str(exc).split())}") from exc


@dataclass(frozen=True)
class TenantOverview:
    """What a status page shows of one tenant's state: its last run, its records in quarantine and who holds
    its lease (None: nobody)."""

    tenant: str
    last_run: Run | None
    quarantined: int
    lease_holder: str | None


def tenant_overviews(dsn: str, tenants: Sequence[str], *, schema: str = DEFAULT_SCHEMA,
                     connect_timeout: int = 5) -> dict[str, TenantOverview]:
    """The overview of each of ``tenants`` in one database, over one connection and three statements whatever
    their number (``mapsync status TENANTS`` and its status page read hundreds of tenants every few seconds;
    opening a store per tenant would connect and check the schema for each). Read only: a schema that is not
    there yet (no pass has run) gives every tenant an empty overview, and nothing is created or migrated.
    ``StateError`` when the database cannot be reached or read."""
    if not SCHEMA.fullmatch(schema):
        raise StateError(f"schema {schema!r} is not a schema name: lower-case letters, digits and _")
    ids = list(dict.fromkeys(tenants))
    empty = {t: TenantOverview(t, None, 0, None) for t in ids}
    where = f"state store {describe_dsn(dsn)} (schema {schema})"
    try:
        with psycopg.connect(dsn, autocommit=True, row_factory=dict_row, connect_timeout=connect_timeout) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            version = schema_version(conn, schema)
            if version is None or not ids:
                return empty
            if version > len(MIGRATIONS):
                raise SchemaVersionError(f"{where} has state schema version {version}, but this mapsync knows "
                                         f"versions up to {len(MIGRATIONS)}: upgrade mapsync to read it")
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            runs = {row["tenant"]: _run(row) for row in conn.execute(
                "SELECT t.tenant, r.id, r.started_at, r.finished_at, r.status, r.summary "
                "FROM unnest(%s::text[]) AS t (tenant) CROSS JOIN LATERAL (SELECT * FROM runs "
                "WHERE runs.tenant = t.tenant ORDER BY id DESC LIMIT 1) AS r", (ids,)).fetchall()}
            quarantined = {row["tenant"]: int(row["n"]) for row in conn.execute(
                "SELECT tenant, count(*) AS n FROM quarantine WHERE tenant = ANY(%s) GROUP BY tenant",
                (ids,)).fetchall()}
            holders = {row["tenant"]: str(row["holder"]) for row in conn.execute(
                "SELECT tenant, holder FROM leases WHERE tenant = ANY(%s) AND expires_at > clock_timestamp()",
                (ids,)).fetchall()}
    except psycopg.Error as exc:
        raise StateError(f"cannot read {where}: {' '.join(str(exc).split())}") from exc
    return {t: TenantOverview(t, runs.get(t), quarantined.get(t, 0), holders.get(t)) for t in ids}


def _at(moment: datetime) -> datetime:
    """A timestamp read back, in UTC (the session's time zone is UTC; this keeps it so whatever the server says)."""
    return moment.astimezone(UTC)


def _link(row: DictRow) -> Link:
    return Link(
        mapping=row["mapping"],
        crm_id=row["crm_id"],
        erp_id=row["erp_id"],
        base=Base(fields=row["base_fields"], lines=row["base_lines"], held=row["base_held"] or {}),
        created_at=_at(row["created_at"]),
        updated_at=_at(row["updated_at"]),
    )


def _quarantine(row: DictRow) -> QuarantineEntry:
    return QuarantineEntry(
        mapping=row["mapping"],
        side=row["side"],
        record_id=row["record_id"],
        error_class=row["error_class"],
        reason=row["reason"],
        attempts=int(row["attempts"]),
        first_failed_at=_at(row["first_failed_at"]),
        last_failed_at=_at(row["last_failed_at"]),
        next_retry_at=_at(row["next_retry_at"]),
        run_id=int(row["run_id"]),
        fingerprint=row["fingerprint"],
    )


def _run(row: DictRow) -> Run:
    finished = row["finished_at"]
    return Run(
        id=int(row["id"]),
        started_at=_at(row["started_at"]),
        finished_at=None if finished is None else _at(finished),
        status=row["status"],
        summary=row["summary"],
    )


if TYPE_CHECKING:
    _conforms: StateStore = PostgresStateStore("postgresql://")
