"""The SQLite implementation of the state store (stdlib ``sqlite3``).

Owns the connection, the transaction discipline and the mapping between rows and the dataclasses of
``mapsync.engine.state.store``. The schema itself lives in ``mapsync.engine.state.migrations``.

Transactions: the connection runs in autocommit mode; ``transaction()`` opens ``BEGIN IMMEDIATE`` at
the outermost level (taking the write lock up front, so a concurrent ``mapsync`` waits instead of
failing half-way) and a ``SAVEPOINT`` at each nested level. Only the outermost block commits. Every
write method wraps itself in ``transaction()``, so it is atomic on its own and joins an enclosing one.

A new database file is created readable by its owner only: it holds rotated OAuth refresh tokens.
A store object belongs to the thread that created it (``sqlite3``'s default).

The lease is one row in the file, timed by the store's clock: processes sharing a file share a machine.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, LiteralString, cast

from mapsync.engine.state.backoff import retry_delay
from mapsync.engine.state.codec import as_utc as _utc
from mapsync.engine.state.codec import check_choice as _choice
from mapsync.engine.state.codec import check_side as _side
from mapsync.engine.state.codec import check_text as _text
from mapsync.engine.state.codec import dump_json as _dump
from mapsync.engine.state.codec import encode_base as _encode_base
from mapsync.engine.state.codec import utc_now
from mapsync.engine.state.migrations import migrate
from mapsync.engine.state.sqlite_file import (
    BUSY_SECONDS,
    StateLockedError,
    _is_busy,
    check_connection,
    check_existing,
    create_new,
    locked_message,
)
from mapsync.engine.state.store import (
    AUDIT_ACTIONS,
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
    Side,
    StateError,
    StoreSummary,
    UnknownLinkError,
    UnknownRunError,
    check_lease,
)

if TYPE_CHECKING:
    from mapsync.engine.state.store import StateStore

MEMORY = ":memory:"
LINKS_PER_QUERY = 500  # ids in one ``links_of`` statement (SQLite allows 32,766 parameters)
PASS_PATIENCE = 60.0  # how long a pass holding the lease waits for another process's write lock

# The tables of the sync state, parents first: what a copy of the store holds (the lease is not copied).
STATE_TABLES = ("runs", "links", "cursors", "create_journal", "quarantine", "audit", "secrets")
# The runs a scratch copy without history keeps (``StateStore.scratch_copy``), as an SQL condition on ``runs``;
# ``{tenant}`` stands for a backend's tenant filter in the subqueries (SQLite: none).
HISTORY_FREE_RUNS: LiteralString = (
    "status = 'running' OR id = (SELECT max(id) FROM runs{tenant}) "
    "OR id IN (SELECT run_id FROM create_journal{tenant}) OR id IN (SELECT run_id FROM quarantine{tenant})")


class SqliteStateStore:
    """Sync state in one SQLite file (or ``":memory:"`` for tests). Use as a context manager or close()."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        now: Callable[[], datetime] = utc_now,
        backoff: Callable[[int], timedelta] = retry_delay,
    ) -> None:
        self.path = os.fspath(path)
        self._now = now
        self._backoff = backoff
        self._depth = 0
        where = "the in-memory state store" if self.path == MEMORY else f"state store {self.path!r}"
        self._where = where
        self._lease_holder: str | None = None  # while this store holds the lease, writes wait longer
        if self.path != MEMORY:
            if not os.path.lexists(self.path):
                create_new(self.path, _initialise)  # complete or not at all; then opened like any other
            check_existing(self.path)  # reads only: a broken file is refused before anything is written
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_SECONDS, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StateError(f"cannot open {where}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            if self.path != MEMORY:
                check_connection(conn, where)
            conn.execute("PRAGMA foreign_keys = ON")
            _initialise(conn, where=where)
        except sqlite3.OperationalError as exc:
            conn.close()
            if _is_busy(exc):
                raise StateLockedError(locked_message(where, BUSY_SECONDS)) from None
            raise StateError(f"cannot open {where}: {exc}") from exc
        except sqlite3.Error as exc:
            conn.close()
            raise StateError(f"cannot open {where}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    # ------------------------------------------------------------------ lifetime and transactions

    def close(self) -> None:
        """Close the connection (idempotent). An open transaction is rolled back by SQLite."""
        self._conn.close()

    def scratch_copy(self, *, history: bool = False) -> SqliteStateStore:
        """An in-memory copy of this store to plan against: a plan runs exactly as a run would, writing its
        links, bases and cursors here, and the copy is thrown away (``mapsync plan``, docs/sync.md). Without
        ``history``, no audit and only the runs a pass may look at (``StateStore.scratch_copy``)."""
        copy = SqliteStateStore(MEMORY, now=self._now, backoff=self._backoff)
        try:
            self._conn.backup(copy._conn)
            if not history:
                with copy.transaction():
                    copy._conn.execute("DELETE FROM audit")
                    copy._conn.execute("DELETE FROM runs WHERE NOT (" + HISTORY_FREE_RUNS.format(tenant="") + ")")
        except sqlite3.Error as exc:
            copy.close()
            raise StateError(f"cannot copy {self._where} to plan against: {exc}") from exc
        return copy

    def load_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert rows of one of ``STATE_TABLES`` as they are, in one transaction: how a copy of another
        backend's store is filled (``PostgresStateStore.scratch_copy``). Datetimes become this store's
        timestamps; JSON columns take JSON text. Nothing is checked beyond the schema's constraints."""
        if table not in STATE_TABLES or not columns or not all(c.isidentifier() for c in columns):
            raise ValueError(f"cannot load table {table!r} with columns {list(columns)!r}")
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        with self.transaction():
            self._conn.executemany(
                sql, ([_format(_utc(v)) if isinstance(v, datetime) else v for v in row] for row in rows)
            )

    def __enter__(self) -> SqliteStateStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit when the outermost block ends; an exception undoes the block."""
        conn = self._conn
        depth = self._depth
        savepoint = f"mapsync_{depth}"
        if depth == 0:
            self._begin()
        else:
            conn.execute(f"SAVEPOINT {savepoint}")
        self._depth = depth + 1
        try:
            yield
        except BaseException:
            self._depth = depth
            if conn.in_transaction:
                if depth == 0:
                    conn.execute("ROLLBACK")
                else:
                    conn.execute(f"ROLLBACK TO {savepoint}")
                    conn.execute(f"RELEASE {savepoint}")
            raise
        self._depth = depth
        if depth > 0:
            conn.execute(f"RELEASE {savepoint}")
            return
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _begin(self) -> None:
        """``BEGIN IMMEDIATE``: another process's write lock is waited for ``BUSY_SECONDS`` (a command answers
        within seconds); while this store holds the lease (a pass under way, with writes to the systems that
        its records' links must follow) up to ``PASS_PATIENCE`` seconds. Then ``StateLockedError``."""
        waited = 0.0
        patience = PASS_PATIENCE if self._lease_holder is not None else 0.0
        while True:
            started = time.monotonic()
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                waited += time.monotonic() - started
                if waited >= patience:
                    raise StateLockedError(locked_message(self._where, max(waited, BUSY_SECONDS))) from None

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
            stamp = self._stamp()
            if by_crm is None:
                fields_json, lines_json, held_json = _encode_base(base or Base())
                self._write(
                    "INSERT INTO links (mapping, crm_id, erp_id, base_fields, base_lines, base_held, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (_text(mapping), _text(crm_id), _text(erp_id), fields_json, lines_json, held_json, stamp,
                     stamp),
                )
            elif base is not None:
                self.set_base(mapping, crm_id, base)
            return self._require_link(mapping, crm_id)

    def unlink(self, mapping: str, crm_id: str) -> bool:
        with self.transaction():
            cur = self._write("DELETE FROM links WHERE mapping = ? AND crm_id = ?", (mapping, crm_id))
        return cur.rowcount > 0

    def link_by_crm(self, mapping: str, crm_id: str) -> Link | None:
        row = self._conn.execute(
            "SELECT * FROM links WHERE mapping = ? AND crm_id = ?", (mapping, crm_id)
        ).fetchone()
        return None if row is None else _link(row)

    def link_by_erp(self, mapping: str, erp_id: str) -> Link | None:
        row = self._conn.execute(
            "SELECT * FROM links WHERE mapping = ? AND erp_id = ?", (mapping, erp_id)
        ).fetchone()
        return None if row is None else _link(row)

    def links_of(self, mapping: str, side: Side, ids: Sequence[str]) -> dict[str, Link]:
        column = "crm_id" if _side(side) == "crm" else "erp_id"
        found: dict[str, Link] = {}
        for start in range(0, len(ids), LINKS_PER_QUERY):
            chunk = [str(i) for i in ids[start:start + LINKS_PER_QUERY]]
            marks = ", ".join("?" * len(chunk))
            for row in self._conn.execute(f"SELECT * FROM links WHERE mapping = ? AND {column} IN ({marks})",
                                          (mapping, *chunk)):
                link = _link(row)
                found[link.crm_id if column == "crm_id" else link.erp_id] = link
        return found

    def links(self, mapping: str) -> list[Link]:
        rows = self._conn.execute("SELECT * FROM links WHERE mapping = ? ORDER BY crm_id", (mapping,))
        return [_link(row) for row in rows]

    def count_links(self, mapping: str) -> int:
        row = self._conn.execute("SELECT count(*) FROM links WHERE mapping = ?", (mapping,)).fetchone()
        return int(row[0])

    def get_base(self, mapping: str, crm_id: str) -> Base | None:
        link = self.link_by_crm(mapping, crm_id)
        return None if link is None else link.base

    def set_base(self, mapping: str, crm_id: str, base: Base) -> None:
        fields_json, lines_json, held_json = _encode_base(base)
        with self.transaction():
            cur = self._write(
                "UPDATE links SET base_fields = ?, base_lines = ?, base_held = ?, updated_at = ? "
                "WHERE mapping = ? AND crm_id = ?",
                (fields_json, lines_json, held_json, self._stamp(), mapping, crm_id),
            )
            if cur.rowcount == 0:
                raise UnknownLinkError(f"mapping {mapping!r}: crm id {crm_id!r} is not linked")

    def _require_link(self, mapping: str, crm_id: str) -> Link:
        link = self.link_by_crm(mapping, crm_id)
        if link is None:  # pragma: no cover - only reachable if the row vanished inside our transaction
            raise UnknownLinkError(f"mapping {mapping!r}: crm id {crm_id!r} is not linked")
        return link

    # ------------------------------------------------------------------ cursors

    def get_cursor(self, mapping: str, side: Side) -> str | None:
        row = self._conn.execute(
            "SELECT value FROM cursors WHERE mapping = ? AND side = ?", (mapping, _side(side))
        ).fetchone()
        return None if row is None else str(row[0])

    def set_cursor(self, mapping: str, side: Side, value: str) -> None:
        with self.transaction():
            self._write(
                "INSERT INTO cursors (mapping, side, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (mapping, side) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (_text(mapping), _side(side), _text(value), self._stamp()),
            )

    # ------------------------------------------------------------------ create journal

    def journal_create(
        self, mapping: str, target: Side, source_id: str, match_keys: Mapping[str, Any], run_id: int
    ) -> int:
        keys_json = _dump(dict(match_keys), "match keys")
        with self.transaction():
            self._require_run(run_id)
            row = self._conn.execute(
                "SELECT id FROM create_journal WHERE mapping = ? AND target = ? AND source_id = ?",
                (mapping, _side(target), source_id),
            ).fetchone()
            if row is not None:
                raise PendingCreateError(
                    f"mapping {mapping!r}: a create in {target} for source record {source_id!r} is "
                    f"already journalled (entry {row[0]}) and unresolved; reconcile it before creating"
                )
            cur = self._write(
                "INSERT INTO create_journal (mapping, target, source_id, match_keys, run_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (_text(mapping), target, _text(source_id), keys_json, run_id, self._stamp()),
            )
        return int(cast(int, cur.lastrowid))

    def resolve_create(self, journal_id: int) -> bool:
        with self.transaction():
            cur = self._write("DELETE FROM create_journal WHERE id = ?", (journal_id,))
        return cur.rowcount > 0

    def pending_creates(self, mapping: str) -> list[PendingCreate]:
        rows = self._conn.execute("SELECT * FROM create_journal WHERE mapping = ? ORDER BY id", (mapping,))
        return [
            PendingCreate(
                id=int(row["id"]),
                mapping=row["mapping"],
                target=row["target"],
                source_id=row["source_id"],
                match_keys=json.loads(row["match_keys"]),
                run_id=int(row["run_id"]),
                created_at=_parse(row["created_at"]),
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
            stamp = _format(now)
            self._write(
                "INSERT INTO quarantine (mapping, side, record_id, error_class, reason, attempts, "
                "first_failed_at, last_failed_at, next_retry_at, run_id, fingerprint) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (mapping, side, record_id) DO UPDATE SET error_class = excluded.error_class, "
                "reason = excluded.reason, attempts = excluded.attempts, "
                "last_failed_at = excluded.last_failed_at, next_retry_at = excluded.next_retry_at, "
                "run_id = excluded.run_id, fingerprint = excluded.fingerprint",
                (
                    _text(mapping),
                    side,
                    _text(record_id),
                    error_class,
                    _text(reason),
                    attempts,
                    stamp,
                    stamp,
                    _format(now + self._backoff(attempts)),
                    run_id,
                    fingerprint,
                ),
            )
            entry = self.quarantine_entry(mapping, side, record_id)
        assert entry is not None
        return entry

    def release(self, mapping: str, side: Side, record_id: str) -> bool:
        with self.transaction():
            cur = self._write(
                "DELETE FROM quarantine WHERE mapping = ? AND side = ? AND record_id = ?",
                (mapping, _side(side), record_id),
            )
        return cur.rowcount > 0

    def quarantine_entry(self, mapping: str, side: Side, record_id: str) -> QuarantineEntry | None:
        row = self._conn.execute(
            "SELECT * FROM quarantine WHERE mapping = ? AND side = ? AND record_id = ?",
            (mapping, _side(side), record_id),
        ).fetchone()
        return None if row is None else _quarantine(row)

    def due(self, mapping: str, now: datetime | None = None) -> list[QuarantineEntry]:
        cutoff = _format(_utc(self._now() if now is None else now))
        rows = self._conn.execute(
            "SELECT * FROM quarantine WHERE mapping = ? AND next_retry_at <= ? "
            "ORDER BY next_retry_at, side, record_id",
            (mapping, cutoff),
        )
        return [_quarantine(row) for row in rows]

    def list_quarantine(self, mapping: str | None = None) -> list[QuarantineEntry]:
        sql = "SELECT * FROM quarantine"
        params: tuple[str, ...] = ()
        if mapping is not None:
            sql += " WHERE mapping = ?"
            params = (mapping,)
        rows = self._conn.execute(sql + " ORDER BY mapping, side, record_id", params)
        return [_quarantine(row) for row in rows]

    def held_links(self, mapping: str | None = None) -> list[Link]:
        sql = "SELECT * FROM links WHERE base_held IS NOT NULL"
        params: tuple[str, ...] = ()
        if mapping is not None:
            sql += " AND mapping = ?"
            params = (mapping,)
        return [_link(row) for row in self._conn.execute(sql + " ORDER BY mapping, crm_id", params)]

    # ------------------------------------------------------------------ runs

    def start_run(self) -> int:
        with self.transaction():
            cur = self._write(
                "INSERT INTO runs (started_at, status, summary) VALUES (?, 'running', '{}')", (self._stamp(),)
            )
        return int(cast(int, cur.lastrowid))

    def finish_run(self, run_id: int, status: RunStatus, summary: Mapping[str, Any]) -> Run:
        _choice(status, RUN_STATUSES, "run status")
        if status == "running":
            raise ValueError("a run cannot finish with status 'running'")
        summary_json = _dump(dict(summary), "run summary")
        with self.transaction():
            cur = self._write(
                "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?",
                (self._stamp(), status, summary_json, run_id),
            )
            if cur.rowcount == 0:
                raise UnknownRunError(f"run {run_id} does not exist")
        run = self.get_run(run_id)
        assert run is not None
        return run

    def interrupt_runs(self) -> int:
        summary = _dump({"fatal": INTERRUPTED, "interrupted": True}, "run summary")
        with self.transaction():
            cur = self._write("UPDATE runs SET finished_at = ?, status = 'fatal', summary = ? WHERE status = 'running'",
                              (self._stamp(), summary))
        return cur.rowcount

    def get_run(self, run_id: int) -> Run | None:
        row = self._conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else _run(row)

    def last_run(self) -> Run | None:
        row = self._conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else _run(row)

    def _require_run(self, run_id: int) -> None:
        if self._conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
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
                "INSERT INTO audit (run_id, mapping, target, record_id, action, field, old, new, rule, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    _text(mapping),
                    _side(target),
                    _text(record_id),
                    action,
                    field,
                    old_json,
                    new_json,
                    rule,
                    self._stamp(),
                ),
            )

    def audit_entries(self, run_id: int | None = None, mapping: str | None = None) -> list[AuditEntry]:
        clauses: list[str] = []
        params: list[Any] = []
        if run_id is not None:
            clauses.append("run_id = ?")
            params.append(run_id)
        if mapping is not None:
            clauses.append("mapping = ?")
            params.append(mapping)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._conn.execute(f"SELECT * FROM audit{where} ORDER BY id", params)
        return [
            AuditEntry(
                id=int(row["id"]),
                run_id=int(row["run_id"]),
                mapping=row["mapping"],
                target=row["target"],
                record_id=row["record_id"],
                action=row["action"],
                field=row["field"],
                old=json.loads(row["old"]),
                new=json.loads(row["new"]),
                rule=row["rule"],
                at=_parse(row["at"]),
            )
            for row in rows
        ]

    # ------------------------------------------------------------------ rotated credentials

    def get_secret(self, name: str) -> str | None:
        row = self._conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def secret_lock(self, name: str) -> AbstractContextManager[None]:
        """SQLite: the file's write lock (``BEGIN IMMEDIATE``) for the block, one writer at a time."""
        return self.transaction()

    def put_secret(self, name: str, value: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("a secret needs a non-empty name")
        if not isinstance(value, str):
            raise TypeError(f"secret {name!r} must be a string")  # never echo the value
        with self.transaction():
            self._write(
                "INSERT INTO secrets (name, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (name, value, self._stamp()),
            )

    # ------------------------------------------------------------------ status

    def summary(self) -> StoreSummary:
        conn = self._conn
        names = [
            row[0]
            for row in conn.execute(
                "SELECT mapping FROM links UNION SELECT mapping FROM cursors "
                "UNION SELECT mapping FROM quarantine UNION SELECT mapping FROM create_journal ORDER BY 1"
            )
        ]
        links = dict(conn.execute("SELECT mapping, count(*) FROM links GROUP BY mapping").fetchall())
        pending = dict(
            conn.execute("SELECT mapping, count(*) FROM create_journal GROUP BY mapping").fetchall()
        )
        held = dict(conn.execute(
            "SELECT mapping, count(*) FROM links WHERE base_held IS NOT NULL GROUP BY mapping").fetchall())
        cursors: dict[str, dict[Side, str]] = {}
        for row in conn.execute("SELECT mapping, side, value FROM cursors ORDER BY mapping, side"):
            cursors.setdefault(row[0], {})[row[1]] = row[2]
        by_class: dict[str, dict[ErrorClass, int]] = {}
        for row in conn.execute(
            "SELECT mapping, error_class, count(*) FROM quarantine GROUP BY mapping, error_class"
        ):
            by_class.setdefault(row[0], {})[row[1]] = int(row[2])
        return StoreSummary(
            mappings=tuple(
                MappingSummary(
                    name=name,
                    links=int(links.get(name, 0)),
                    cursors=cursors.get(name, {}),
                    quarantined=sum(by_class.get(name, {}).values()),
                    quarantined_by_class=by_class.get(name, {}),
                    pending_creates=int(pending.get(name, 0)),
                    held=int(held.get(name, 0)),
                )
                for name in names
            ),
            last_run=self.last_run(),
        )

    # ------------------------------------------------------------------ the lease

    def acquire_lease(self, holder: str, ttl: timedelta) -> bool:
        check_lease(holder, ttl)
        self._outside_transaction("acquire")
        now = _utc(self._now())
        with self.transaction():
            row = self._conn.execute("SELECT holder, acquired_at, expires_at FROM lease WHERE id = 1").fetchone()
            held = row is not None and _parse(row["expires_at"]) > now
            if held and row["holder"] != holder:
                return False
            acquired = row["acquired_at"] if held else _format(now)
            self._write(
                "INSERT INTO lease (id, holder, acquired_at, expires_at) VALUES (1, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, "
                "expires_at = excluded.expires_at",
                (holder, acquired, _format(now + ttl)),
            )
        self._lease_holder = holder
        return True

    def renew_lease(self, holder: str, ttl: timedelta) -> bool:
        check_lease(holder, ttl)
        self._outside_transaction("renew")
        now = _utc(self._now())
        with self.transaction():
            cur = self._write(
                "UPDATE lease SET expires_at = ? WHERE id = 1 AND holder = ? AND expires_at > ?",
                (_format(now + ttl), holder, _format(now)),
            )
        return cur.rowcount > 0

    def release_lease(self, holder: str) -> bool:
        check_lease(holder)
        self._outside_transaction("release")
        with self.transaction():
            cur = self._write("DELETE FROM lease WHERE id = 1 AND holder = ?", (holder,))
        if holder == self._lease_holder:
            self._lease_holder = None
        return cur.rowcount > 0

    def lease_holder(self) -> str | None:
        row = self._conn.execute("SELECT holder, expires_at FROM lease WHERE id = 1").fetchone()
        return None if row is None or _parse(row["expires_at"]) <= _utc(self._now()) else str(row["holder"])

    def _outside_transaction(self, verb: str) -> None:
        if self._depth:
            raise StateError(f"{self._where}: cannot {verb} the lease inside transaction(): it would not "
                             "be visible to other processes until the transaction commits")

    # ------------------------------------------------------------------ helpers

    def _stamp(self) -> str:
        return _format(_utc(self._now()))

    def _write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise StateError(f"{self._where}: write refused: {exc}") from exc


def _initialise(conn: sqlite3.Connection, *, where: str = "the new state store") -> None:
    """WAL mode and the schema brought up to date (a new file, or an existing one already checked)."""
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    migrate(conn, where=where)


def _format(moment: datetime) -> str:
    """Fixed-width UTC ISO-8601, so text order is time order."""
    return moment.isoformat(timespec="microseconds")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _link(row: sqlite3.Row) -> Link:
    lines = row["base_lines"]
    return Link(
        mapping=row["mapping"],
        crm_id=row["crm_id"],
        erp_id=row["erp_id"],
        base=Base(fields=json.loads(row["base_fields"]), lines=None if lines is None else json.loads(lines),
                  held=json.loads(row["base_held"]) if row["base_held"] else {}),
        created_at=_parse(row["created_at"]),
        updated_at=_parse(row["updated_at"]),
    )


def _quarantine(row: sqlite3.Row) -> QuarantineEntry:
    return QuarantineEntry(
        mapping=row["mapping"],
        side=row["side"],
        record_id=row["record_id"],
        error_class=row["error_class"],
        reason=row["reason"],
        attempts=int(row["attempts"]),
        first_failed_at=_parse(row["first_failed_at"]),
        last_failed_at=_parse(row["last_failed_at"]),
        next_retry_at=_parse(row["next_retry_at"]),
        run_id=int(row["run_id"]),
        fingerprint=row["fingerprint"],
    )


def _run(row: sqlite3.Row) -> Run:
    finished = row["finished_at"]
    return Run(
        id=int(row["id"]),
        started_at=_parse(row["started_at"]),
        finished_at=None if finished is None else _parse(finished),
        status=row["status"],
        summary=json.loads(row["summary"]),
    )


if TYPE_CHECKING:
    _conforms: StateStore = SqliteStateStore(MEMORY)
