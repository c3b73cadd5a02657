"""Vetting the records a system's list answers with, before the engine sees them (issue 13, "lying APIs").

A record the engine cannot key is set aside with a reason instead of stopping the read (or being linked
under the id ``"None"``): not an object, no id field, a null, empty, boolean or structured id, a non-integer
id where the system numbers its records, an id longer than ``MAX_ID``. The same record served twice (on two
pages, say) is kept once; two *different* records served under one id are both set aside under that id (which
one is real cannot be told), so the engine quarantines the id and its retry reads it alone with ``get``.

Nothing is dropped silently: every record set aside is an ``InvalidRecord`` in the ``ChangeBatch`` the
engine reports and quarantines (``mapsync.engine.sync.passrun``). Those without a usable id are quarantined
under ``INVALID_PREFIX`` and a short hash of their content (stable while the record stays the same); they
cannot be read back alone, so no retry is attempted for them: the system's record has to be fixed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

INVALID_PREFIX = "invalid:"
MAX_PAGES = 20_000  # pages of one read: beyond, the list is taken to never end
MAX_ID = 200  # characters: longer is no system's id
SHOWN = 80  # characters of a value quoted in a reason


@dataclass(frozen=True)
class InvalidRecord:
    """A record set aside while reading: its quarantine key (the id when it has one) and why."""

    entity: str
    record_id: str
    reason: str


def content_key(row: Any) -> str:
    """``INVALID_PREFIX`` and a short, stable hash of the row's content."""
    text = json.dumps(row, sort_keys=True, ensure_ascii=True, default=str)
    return INVALID_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def shown(value: Any) -> str:
    """A value for a message: its repr, cut to ``SHOWN`` characters."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + f"... ({len(text)} characters)"


def id_problem(value: Any, id_field: str, *, integer: bool) -> str | None:
    """Why ``value`` cannot be a record's id (None: it can)."""
    if value is None:
        return f"{id_field} is null"
    if isinstance(value, bool) or not isinstance(value, int | str):
        return f"{id_field} is a {type(value).__name__} ({shown(value)}), not an id"
    text = str(value)
    if not text.strip():
        return f"{id_field} is empty"
    if len(text) > MAX_ID:
        return f"{id_field} is {len(text)} characters long"
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return f"{id_field} holds a control character ({shown(text)})"
    if integer and not (isinstance(value, int) or text.strip().lstrip("-").isdigit()):
        return f"{id_field} is not an integer ({shown(value)})"
    return None


def _label(row: dict[str, Any]) -> str:
    """A hint to find the record in the system: its first name-like field."""
    for key, value in row.items():
        if "name" in key.lower() and isinstance(value, str) and value.strip():
            return f" ({key} {shown(value)})"
    return ""


class SeenIds:
    """The content key of the record first read under each id of one read: a dict up to ``IN_MEMORY`` ids, then
    a private temporary SQLite table on disk, so that a read of 100,000 records does not hold 100,000 keys in
    memory (docs/decisions/0016-streaming-pass.md)."""

    IN_MEMORY = 10_000

    def __init__(self) -> None:
        self._recent: dict[str, str] = {}
        self._disk: sqlite3.Connection | None = None

    def get(self, record_id: str) -> str | None:
        found = self._recent.get(record_id)
        if found is None and self._disk is not None:
            row = self._disk.execute("SELECT content FROM seen WHERE id = ?", (record_id,)).fetchone()
            found = None if row is None else str(row[0])
        return found

    def add(self, record_id: str, content: str) -> None:
        self._recent[record_id] = content
        if len(self._recent) >= self.IN_MEMORY:
            if self._disk is None:
                self._disk = sqlite3.connect("", isolation_level=None, check_same_thread=False)
                self._disk.execute("PRAGMA journal_mode = OFF")
                self._disk.execute("CREATE TABLE seen (id TEXT PRIMARY KEY, content TEXT NOT NULL) WITHOUT ROWID")
            self._disk.executemany("INSERT INTO seen (id, content) VALUES (?, ?)", self._recent.items())
            self._recent = {}


class ReadCheck:
    """One read of one entity: ``vet`` the rows as they come; ``invalid`` lists what was set aside."""

    def __init__(self, system: str, entity: str, id_field: str, *, integer_ids: bool) -> None:
        self.system, self.entity, self.id_field, self.integer_ids = system, entity, id_field, integer_ids
        self.invalid: list[InvalidRecord] = []
        self._seen = SeenIds()  # id -> content key of the record first read under it
        self._ambiguous: set[str] = set()
        self.warnings: list[str] = []
        self._pages: set[str] = set()
        self.page_count = 0

    def key(self, row: Any) -> str | None:
        """The row's id, or None when it is set aside (recorded in ``invalid``) or a repeat of one read."""
        if not isinstance(row, dict):
            self._set_aside(content_key(row), f"the {self.system} list answered with a {type(row).__name__} "
                                              f"where a {self.entity} record belongs ({shown(row)})")
            return None
        if self.id_field not in row:
            problem: str | None = f"it has no {self.id_field}"
        else:
            problem = id_problem(row[self.id_field], self.id_field, integer=self.integer_ids)
        if problem is not None:
            self._set_aside(content_key(row), f"{self.system} {self.entity} record{_label(row)} cannot be synced: "
                                              f"{problem}; fix it in {self.system}")
            return None
        record_id = str(row[self.id_field])
        content = content_key(row)
        first = self._seen.get(record_id)
        if first is None:  # the first time this id is read: yielded (unless found ambiguous since)
            self._seen.add(record_id, content)
        elif first != content and record_id not in self._ambiguous:
            self._ambiguous.add(record_id)
            self._set_aside(record_id, f"{self.system} served two different {self.entity} records with "
                                       f"{self.id_field} {record_id}; neither was synced, the record is read "
                                       "again on its own at the retry")
        if first is not None or record_id in self._ambiguous:
            return None  # the second copy of a record served twice is the same record: kept once
        return record_id

    def full_ok(self, full: Any, record_id: str) -> bool:
        """The full record fetched for a list row names the same id (else it is set aside under that id)."""
        value = full.get(self.id_field) if isinstance(full, dict) else None
        if isinstance(full, dict) and id_problem(value, self.id_field, integer=self.integer_ids) is None \
                and str(value) == record_id:
            return True
        self._ambiguous.add(record_id)
        self._set_aside(record_id, f"{self.system} {self.entity} {record_id} read on its own answers with "
                                   f"{self.id_field} {shown(value)}; not synced, read again at the retry")
        return False

    def more_pages(self, page: list[Any], where: str) -> bool:
        """Whether to ask for the page after ``page``: not when the system served this very page before (it
        ignores the paging: what follows would repeat too), noted in ``warnings``. ``TransientError`` beyond
        ``MAX_PAGES`` (the read fails; its cursor stays put)."""
        from mapsync.connectors.base import TransientError  # base imports this module

        self.page_count += 1
        if self.page_count > MAX_PAGES:
            raise TransientError(f"{self.system}: {where} answered more than {MAX_PAGES} pages; stopped reading "
                              f"{self.entity} records")
        digest = content_key(page)
        if digest in self._pages:
            self.warnings.append(f"{self.system}: {where} served page {self.page_count} again as it served an "
                                 f"earlier one (it ignores the paging); stopped reading {self.entity} there")
            return False
        self._pages.add(digest)
        return True

    def _set_aside(self, record_id: str, reason: str) -> None:
        if all(bad.record_id != record_id for bad in self.invalid):
            self.invalid.append(InvalidRecord(self.entity, record_id, reason))

    def keep(self, record_id: str) -> bool:
        """False for an id found to be ambiguous later in the read (filter the batch once read)."""
        return record_id not in self._ambiguous

    def rows(self, rows: Iterable[Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        """(id, row) for each row that passes, in order."""
        for row in rows:
            record_id = self.key(row)
            if record_id is not None:
                yield record_id, row
