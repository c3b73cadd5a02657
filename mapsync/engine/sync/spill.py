"""What a pass holds per record, on disk: the records read, their decided plans, the ids it tracks.

A pass decides every record of a mapping before it writes any (the guardrails count over all plans), so a
mapping's records and plans must be held somewhere until it is applied; held in lists, a pass over 100,000
changed records holds 100,000 records, plans and id sets in memory. ``Spill`` keeps them in a private
temporary SQLite database instead (``sqlite3.connect("")``: on disk, pages cached up to a small bound,
deleted when closed), so the pass's memory does not grow with the number of records
(docs/decisions/0016-streaming-pass.md):

- ``records``: a mapping's records as read, one row per (side, id) in the order first read (a record read
  again replaces the earlier copy in its place), with the link found for it and the partner it pairs with;
- ``plans``: the decided outcomes, in order, applied by streaming them back;
- ``ids``: sets of ids (records decided, records claimed by a match, parents linked in the pass);
- ``keys``: the match-key index of a side read in full (a first read), built on demand per field.

Rows are pickled; the objects of the rule set (a bound mapping, its rules' field paths) are pickled by
reference (a ``copyreg`` reducer per type), since they live as long as the pass. Every call holds one lock: the threads
that apply records report the parents they link through it.
"""

from __future__ import annotations

import io
import itertools
import pickle
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from mapsync.engine.extractors import MISSING, FieldPath, JmesExtractor
from mapsync.engine.sync.bound import BoundLines, BoundMapping, BoundRule
from mapsync.engine.sync.values import is_empty

Record = dict[str, Any]
CHUNK = 256  # rows fetched at a time when streaming back
# the rule set's objects: pickled by reference to the live object (exact types, as ``copyreg`` looks them up)
SHARED = (BoundMapping, BoundLines, BoundRule, FieldPath, JmesExtractor)
_tokens = itertools.count(1)
_live: dict[int, dict[int, Any]] = {}  # spill token -> its objects pickled by reference (until it is closed)


def _shared_object(token: int, key: int) -> Any:
    """The rule set object a spill pickled by reference (the unpickling side of ``Spill._by_reference``)."""
    return _live[token][key]

_SCHEMA = """
CREATE TABLE records (seq INTEGER PRIMARY KEY, side TEXT NOT NULL, rid TEXT NOT NULL, in_batch INTEGER NOT NULL,
                      body BLOB NOT NULL, link BLOB, looked_up INTEGER NOT NULL DEFAULT 0,
                      paired INTEGER NOT NULL DEFAULT 0, waits INTEGER NOT NULL DEFAULT 0, UNIQUE (side, rid));
CREATE INDEX records_in_order ON records (side, seq);  -- a side's records a chunk at a time, not sorted each time
CREATE TABLE plans (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE ids (kind TEXT NOT NULL, side TEXT NOT NULL, rid TEXT NOT NULL, PRIMARY KEY (kind, side, rid))
    WITHOUT ROWID;
CREATE TABLE keys (side TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX keys_by_value ON keys (side, field, value);
CREATE TABLE indexed (side TEXT NOT NULL, field TEXT NOT NULL, PRIMARY KEY (side, field)) WITHOUT ROWID;
"""


class SpillError(Exception):
    """The pass's spill could not be written or read (its temporary folder is full or not writable)."""


class _Guarded:
    """A connection whose failures say what to do about them (``SpillError``), not an SQLite traceback."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _fail(self, exc: sqlite3.Error) -> SpillError:
        return SpillError(f"the pass's working storage on disk failed ({exc}): a pass keeps the records it reads "
                          "in a temporary SQLite file; free space in the temporary folder, or point SQLITE_TMPDIR "
                          "at a folder on a disk with room. The pass stopped there; the mapping's cursors stay "
                          "where they were, so the next pass reads its changes again")

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def executemany(self, sql: str, rows: Iterable[Any]) -> sqlite3.Cursor:
        try:
            return self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def executescript(self, script: str) -> sqlite3.Cursor:
        try:
            return self._conn.executescript(script)
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def close(self) -> None:
        self._conn.close()


class Spill:
    """One pass's temporary store. ``close()`` deletes it."""

    def __init__(self) -> None:
        self._conn = _Guarded(sqlite3.connect("", isolation_level=None, check_same_thread=False))
        self._conn.executescript(_SCHEMA)
        self._conn.execute("PRAGMA synchronous = OFF")
        self._conn.execute("PRAGMA journal_mode = OFF")
        self._lock = threading.RLock()
        self._token = next(_tokens)
        self._shared: dict[int, Any] = {}  # id -> the rule set object pickled by reference
        _live[self._token] = self._shared
        self._dispatch = {kind: self._by_reference for kind in SHARED}

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            _live.pop(self._token, None)

    # -- pickling, the rule set's objects by reference -------------------------------------------------
    def _by_reference(self, obj: Any) -> tuple[Any, tuple[int, int]]:
        """A rule set object pickled as a reference to itself (a ``copyreg`` reducer: called only for the
        types in ``SHARED``, not for every value pickled, as ``persistent_id`` would be)."""
        self._shared[id(obj)] = obj
        return _shared_object, (self._token, id(obj))

    def dumps(self, value: Any) -> bytes:
        out = io.BytesIO()
        pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = self._dispatch  # type: ignore[assignment]
        pickler.dump(value)
        return out.getvalue()

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)  # written by this spill, in this process

    # -- a mapping's records -------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget the previous mapping's records, plans, claims and key index (linked parents stay)."""
        with self._lock:
            self._conn.execute("DELETE FROM records")
            self._conn.execute("DELETE FROM plans")
            self._conn.execute("DELETE FROM ids WHERE kind NOT LIKE 'linked:%'")
            self._conn.execute("DELETE FROM keys")
            self._conn.execute("DELETE FROM indexed")

    def put_record(self, side: str, rid: str, record: Record, in_batch: bool) -> None:
        """Add a record read; one read again under the same id replaces the earlier copy in its place."""
        body = self.dumps(record)
        with self._lock:
            self._conn.execute(
                "INSERT INTO records (side, rid, in_batch, body) VALUES (?, ?, ?, ?) ON CONFLICT (side, rid) "
                "DO UPDATE SET body = excluded.body, in_batch = excluded.in_batch, waits = 0",
                (side, rid, int(in_batch), body))

    def put_waiting(self, side: str, rid: str, record: Record) -> None:
        """A record read that waits (quarantined, unchanged since): not decided, not anyone's partner, but
        among the records a side read in full is matched against (``SpilledKeyIndex``)."""
        body = self.dumps(record)
        with self._lock:
            self._conn.execute("INSERT OR IGNORE INTO records (side, rid, in_batch, body, waits) "
                               "VALUES (?, ?, 1, ?, 1)", (side, rid, body))

    def drop_record(self, side: str, rid: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM records WHERE side = ? AND rid = ?", (side, rid))

    def has_record(self, side: str, rid: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM records WHERE side = ? AND rid = ? AND waits = 0",
                                     (side, rid)).fetchone()
        return row is not None

    def record(self, side: str, rid: str) -> tuple[Record, bool] | None:
        """A record read, and whether it came with the changes (not fetched for a retry)."""
        with self._lock:
            row = self._conn.execute("SELECT body, in_batch FROM records WHERE side = ? AND rid = ? AND waits = 0",
                                     (side, rid)).fetchone()
        return None if row is None else (self.loads(row[0]), bool(row[1]))

    def last_seq(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()
        return int(row[0])

    def set_link(self, side: str, rid: str, link: Any) -> None:
        """The link found for a record (None: not linked), so the record's link is read once."""
        body = self.dumps(link)
        with self._lock:
            self._conn.execute("UPDATE records SET link = ?, looked_up = 1 WHERE side = ? AND rid = ?",
                               (body, side, rid))

    def pair(self, side: str, rid: str) -> None:
        """The record is processed with its partner (both sides changed): not on its own."""
        with self._lock:
            self._conn.execute("UPDATE records SET paired = 1 WHERE side = ? AND rid = ?", (side, rid))

    def rows(self, side: str, *, unpaired: bool = False) -> Iterator[tuple[str, Record, bool, bool, Any]]:
        """(id, record, in_batch, looked_up, link) of a side's records in the order read, a chunk at a time."""
        after = 0
        where = " AND waits = 0" + (" AND paired = 0" if unpaired else "")
        while True:
            with self._lock:
                chunk = self._conn.execute(
                    f"SELECT seq, rid, body, in_batch, looked_up, link FROM records WHERE side = ? AND seq > ?{where} "
                    "ORDER BY seq LIMIT ?", (side, after, CHUNK)).fetchall()
            if not chunk:
                return
            for seq, rid, body, in_batch, looked_up, link in chunk:
                after = seq
                yield rid, self.loads(body), bool(in_batch), bool(looked_up), (
                    self.loads(link) if link is not None else None)

    def count(self, side: str, *, unpaired: bool = False) -> int:
        where = " AND waits = 0" + (" AND paired = 0" if unpaired else "")
        with self._lock:
            row = self._conn.execute(f"SELECT count(*) FROM records WHERE side = ?{where}", (side,)).fetchone()
        return int(row[0])

    # -- decided plans -------------------------------------------------------------------------------
    def put_plan(self, entry: Any) -> None:
        body = self.dumps(entry)
        with self._lock:
            self._conn.execute("INSERT INTO plans (body) VALUES (?)", (body,))

    def plans(self) -> Iterator[Any]:
        """The decided entries in order, a chunk at a time."""
        after = 0
        while True:
            with self._lock:
                chunk = self._conn.execute("SELECT seq, body FROM plans WHERE seq > ? ORDER BY seq LIMIT ?",
                                           (after, CHUNK)).fetchall()
            if not chunk:
                return
            for seq, body in chunk:
                after = seq
                yield self.loads(body)

    def plan_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM plans").fetchone()[0])

    # -- sets of ids ---------------------------------------------------------------------------------
    def id_set(self, kind: str) -> IdSet:
        return IdSet(self, kind)

    def add_ids(self, kind: str, ids: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            self._conn.executemany("INSERT OR IGNORE INTO ids (kind, side, rid) VALUES (?, ?, ?)",
                                   [(kind, side, rid) for side, rid in ids])

    def has_id(self, kind: str, side: str, rid: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM ids WHERE kind = ? AND side = ? AND rid = ?",
                                     (kind, side, rid)).fetchone()
        return row is not None

    def ids_of(self, kind: str, side: str) -> list[str]:
        """The ids of one kind and side, sorted (parents linked in a pass: a list of ids, not of records)."""
        with self._lock:
            return [row[0] for row in self._conn.execute(
                "SELECT rid FROM ids WHERE kind = ? AND side = ? ORDER BY rid", (kind, side))]

    # -- the match-key index of a side read in full --------------------------------------------------
    def find_by_key(self, side: str, path: FieldPath, value: Any, upto: int) -> list[Record]:
        """Records of ``side`` (read up to ``upto``) whose ``path`` is ``value`` as text (as ``KeyIndex``)."""
        with self._lock:
            indexed = self._conn.execute("SELECT 1 FROM indexed WHERE side = ? AND field = ?",
                                         (side, path.name)).fetchone()
        if indexed is None:
            self._index(side, path, upto)
        with self._lock:
            rows = self._conn.execute(
                "SELECT r.body FROM keys k JOIN records r ON r.seq = k.seq WHERE k.side = ? AND k.field = ? "
                "AND k.value = ? ORDER BY k.seq", (side, path.name, str(value))).fetchall()
        return [self.loads(row[0]) for row in rows]

    def _index(self, side: str, path: FieldPath, upto: int) -> None:
        after = 0
        while True:
            with self._lock:
                chunk = self._conn.execute("SELECT seq, body FROM records WHERE side = ? AND seq > ? AND seq <= ? "
                                           "ORDER BY seq LIMIT ?", (side, after, upto, CHUNK)).fetchall()
            if not chunk:
                break
            keys = []
            for seq, body in chunk:
                after = seq
                key = path.get(self.loads(body))
                if key is not MISSING and not is_empty(key):
                    keys.append((side, path.name, str(key), seq))
            with self._lock:
                self._conn.executemany("INSERT INTO keys (side, field, value, seq) VALUES (?, ?, ?, ?)", keys)
        with self._lock:
            self._conn.execute("INSERT INTO indexed (side, field) VALUES (?, ?)", (side, path.name))


class IdSet:
    """A set of (side, id) pairs kept in a ``Spill`` (``in``, ``add``, ``update``), sides as ``Side`` or text."""

    def __init__(self, spill: Spill, kind: str) -> None:
        self.spill, self.kind = spill, kind

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        side, rid = item
        return self.spill.has_id(self.kind, str(getattr(side, "value", side)), str(rid))

    def add(self, item: tuple[Any, str]) -> None:
        self.update([item])

    def update(self, items: Iterable[tuple[Any, str]]) -> None:
        self.spill.add_ids(self.kind, [(str(getattr(side, "value", side)), rid) for side, rid in items])


class SpilledKeyIndex:
    """``matching.KeyIndex`` over a side's records in a ``Spill`` (those read before it was made)."""

    def __init__(self, spill: Spill, side: str) -> None:
        self.spill, self.side, self.upto = spill, side, spill.last_seq()

    def find(self, path: FieldPath, value: Any) -> list[Record]:
        return self.spill.find_by_key(self.side, path, value, self.upto)
