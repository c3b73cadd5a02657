"""The Fortnox simulator's data: records per entity, their last-modified times, number counters,
reserved customer numbers and the OAuth token state; saved atomically after every change when a
data directory is given (``fortnox.json``), reloaded on start.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.simkit import JsonStateFile

ENTITIES = ("customer", "article", "order", "invoice")
Record = dict[str, Any]
Now = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _number_key(number: str) -> tuple[int, int | str]:
    return (0, int(number)) if number.isdigit() else (1, number)


class FortnoxStore:
    """Thread-safe container; callers hold ``lock`` across read-modify-write sequences."""

    def __init__(self, data_dir: Path | str | None = None, *, now: Now = utc_now) -> None:
        self.lock = threading.RLock()
        self.now = now
        self._file = JsonStateFile(data_dir, "fortnox.json")
        self.records: dict[str, dict[str, Record]] = {e: {} for e in ENTITIES}
        self.modified: dict[str, dict[str, str]] = {e: {} for e in ENTITIES}
        self.counters: dict[str, int] = {e: 0 for e in ENTITIES} | {"row": 0}
        self.used_customer_numbers: set[str] = set()
        self.auth: dict[str, Any] = {}
        self._load()

    # ------------------------------------------------------------------ persistence
    def _load(self) -> None:
        data = self._file.load()
        if not data:
            return
        self.records = {e: data.get("records", {}).get(e, {}) for e in ENTITIES}
        self.modified = {e: data.get("modified", {}).get(e, {}) for e in ENTITIES}
        self.counters.update(data.get("counters", {}))
        self.used_customer_numbers = set(data.get("used_customer_numbers", []))
        self.auth = data.get("auth", {})

    def save(self) -> None:
        with self.lock:
            self._file.save(
                {
                    "records": self.records,
                    "modified": self.modified,
                    "counters": self.counters,
                    "used_customer_numbers": sorted(self.used_customer_numbers, key=_number_key),
                    "auth": self.auth,
                }
            )

    # ------------------------------------------------------------------ records
    def get(self, entity: str, number: str) -> Record | None:
        with self.lock:
            record = self.records[entity].get(number)
            return copy.deepcopy(record) if record is not None else None

    def exists(self, entity: str, number: str) -> bool:
        with self.lock:
            return number in self.records[entity]

    def put(self, entity: str, number: str, record: Record) -> None:
        """Store ``record`` and stamp its last-modified time (does not save; call ``save``)."""
        with self.lock:
            self.records[entity][number] = copy.deepcopy(record)
            self.modified[entity][number] = self.now().astimezone(UTC).isoformat()
            if entity == "customer":
                self.used_customer_numbers.add(number)

    def delete(self, entity: str, number: str) -> None:
        with self.lock:
            self.records[entity].pop(number, None)
            self.modified[entity].pop(number, None)

    def all(self, entity: str) -> list[tuple[Record, datetime]]:
        """Every record with its last-modified time, in number order."""
        with self.lock:
            numbers = sorted(self.records[entity], key=_number_key)
            return [
                (copy.deepcopy(self.records[entity][n]), datetime.fromisoformat(self.modified[entity][n]))
                for n in numbers
            ]

    # ------------------------------------------------------------------ numbering
    def is_number_taken(self, entity: str, number: str) -> bool:
        with self.lock:
            if entity == "customer":
                return number in self.used_customer_numbers or number in self.records[entity]
            return number in self.records[entity]

    def next_number(self, entity: str) -> str:
        """The next free number (customer numbers stay reserved after deletion)."""
        with self.lock:
            while True:
                self.counters[entity] += 1
                candidate = str(self.counters[entity])
                if not self.is_number_taken(entity, candidate):
                    return candidate

    def note_number(self, entity: str, number: str) -> None:
        """Keep the counter ahead of a number chosen by the caller."""
        with self.lock:
            if number.isdigit():
                self.counters[entity] = max(self.counters[entity], int(number))

    def next_row_id(self) -> int:
        with self.lock:
            self.counters["row"] += 1
            return self.counters["row"]

    def clear(self) -> None:
        """Forget every record and counter (token state is kept)."""
        with self.lock:
            self.records = {e: {} for e in ENTITIES}
            self.modified = {e: {} for e in ENTITIES}
            self.counters = {e: 0 for e in ENTITIES} | {"row": 0}
            self.used_customer_numbers = set()
            self.save()
