"""The Visma.net simulator's data: DTOs per resource, their modification times and row versions,
number series and the token state; saved atomically after every change when a data directory is
given (``vismanet.json``), reloaded on start.

Every write stamps the record with ``lastModifiedDateTime`` (UTC, see ``connectors.vismanet.timefmt``)
and a new row version. The row version is what the API shows as ``timeStamp`` (``timestamp`` on
inventory; sales orders have no such DTO field) and as the ``ETag`` header: like SQL Server's
rowversion, 8 bytes from one database-wide counter, base64-encoded (``"AAAAAAAAB9E="``).
"""

from __future__ import annotations

import base64
import copy
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.simkit import JsonStateFile
from connectors.vismanet.timefmt import format_dto

RESOURCES = ("customer", "contact", "inventory", "salesorder", "customerinvoice")
Record = dict[str, Any]
Now = Callable[[], datetime]

# Which DTO field carries the row version ("" = none in the DTO; the ETag header still has it).
VERSION_FIELD = {
    "customer": "timeStamp",
    "contact": "timeStamp",
    "inventory": "timestamp",
    "salesorder": "",
    "customerinvoice": "timeStamp",
}
CREATED_FIELD = {"customer": "createdDateTime", "customerinvoice": "createdDateTime"}


def utc_now() -> datetime:
    return datetime.now(UTC)


def row_version(counter: int) -> str:
    return base64.b64encode(counter.to_bytes(8, "big")).decode("ascii")


def _key(number: str) -> tuple[int, int | str]:
    return (0, int(number)) if number.isdigit() else (1, number.upper())


class VismanetStore:
    """Thread-safe container; callers hold ``lock`` across read-modify-write sequences."""

    def __init__(self, data_dir: Path | str | None = None, *, now: Now = utc_now) -> None:
        self.lock = threading.RLock()
        self.now = now
        self._file = JsonStateFile(data_dir, "vismanet.json")
        self.records: dict[str, dict[str, Record]] = {r: {} for r in RESOURCES}
        self.modified: dict[str, dict[str, str]] = {r: {} for r in RESOURCES}
        self.versions: dict[str, dict[str, str]] = {r: {} for r in RESOURCES}
        self.counters: dict[str, int] = {}
        self.auth: dict[str, Any] = {}
        self._load()

    # ------------------------------------------------------------------ persistence
    def _load(self) -> None:
        data = self._file.load()
        if not data:
            return
        for name in ("records", "modified", "versions"):
            stored = data.get(name, {})
            setattr(self, name, {r: stored.get(r, {}) for r in RESOURCES})
        self.counters = dict(data.get("counters", {}))
        self.auth = data.get("auth", {})

    def save(self) -> None:
        with self.lock:
            self._file.save(
                {
                    "records": self.records,
                    "modified": self.modified,
                    "versions": self.versions,
                    "counters": self.counters,
                    "auth": self.auth,
                }
            )

    # ------------------------------------------------------------------ records
    def get(self, resource: str, key: str) -> Record | None:
        with self.lock:
            record = self.records[resource].get(key)
            return copy.deepcopy(record) if record is not None else None

    def find_key(self, resource: str, key: str) -> str | None:
        """The stored key equal to ``key`` ignoring case (Visma.net ids are case-insensitive)."""
        with self.lock:
            if key in self.records[resource]:
                return key
            upper = key.upper()
            return next((k for k in self.records[resource] if k.upper() == upper), None)

    def put(self, resource: str, key: str, record: Record, *, stamp: datetime | None = None) -> Record:
        """Store ``record`` with a new modification time and row version (``save`` separately)."""
        with self.lock:
            when = stamp or self.now()
            version = row_version(self.next("rowversion", start=2000))
            record = copy.deepcopy(record)
            record["lastModifiedDateTime"] = format_dto(when)
            created = CREATED_FIELD.get(resource)
            if created and not record.get(created):
                record[created] = format_dto(when)
            if VERSION_FIELD[resource]:
                record[VERSION_FIELD[resource]] = version
            self.records[resource][key] = record
            self.modified[resource][key] = when.astimezone(UTC).isoformat()
            self.versions[resource][key] = version
            return copy.deepcopy(record)

    def delete(self, resource: str, key: str) -> None:
        with self.lock:
            for table in (self.records, self.modified, self.versions):
                table[resource].pop(key, None)

    def version(self, resource: str, key: str) -> str | None:
        with self.lock:
            return self.versions[resource].get(key)

    def all(self, resource: str) -> list[tuple[Record, datetime]]:
        """Every record with its modification time, in id order."""
        with self.lock:
            keys = sorted(self.records[resource], key=_key)
            return [
                (copy.deepcopy(self.records[resource][k]), datetime.fromisoformat(self.modified[resource][k]))
                for k in keys
            ]

    def is_empty(self) -> bool:
        with self.lock:
            return all(not self.records[r] for r in RESOURCES)

    # ------------------------------------------------------------------ numbering
    def next(self, series: str, *, start: int = 0) -> int:
        """The next value of a counter (the first is ``start + 1``)."""
        with self.lock:
            value = max(self.counters.get(series, start), start) + 1
            self.counters[series] = value
            return value

    def note(self, series: str, value: int) -> None:
        """Keep a counter ahead of a number chosen by the caller."""
        with self.lock:
            self.counters[series] = max(self.counters.get(series, 0), value)

    def clear(self) -> None:
        """Forget every record and counter (token state is kept)."""
        with self.lock:
            self.records = {r: {} for r in RESOURCES}
            self.modified = {r: {} for r in RESOURCES}
            self.versions = {r: {} for r in RESOURCES}
            self.counters = {}
            self.save()
