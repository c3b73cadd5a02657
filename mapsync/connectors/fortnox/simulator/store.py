"""The Fortnox simulator's data (a ``mapsync.connectors.simkit.RecordStore``): records per entity, their
last-modified times, number counters, reserved customer numbers and the OAuth token state; saved
atomically after every change when a data directory is given (``fortnox.json``), reloaded on start.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from mapsync.connectors.simkit import Now, RecordStore, utc_now
from mapsync.connectors.simkit.records import Record

ENTITIES = ("customer", "article", "order", "invoice")


class FortnoxStore(RecordStore):
    """Thread-safe container; callers hold ``lock`` across read-modify-write sequences."""

    used_customer_numbers: set[str]

    def __init__(self, data_dir: Path | str | None = None, *, now: Now = utc_now) -> None:
        super().__init__(data_dir, file_name="fortnox.json", entities=ENTITIES, now=now)

    # ------------------------------------------------------------------ persistence
    def _reset(self) -> None:
        super()._reset()
        self.counters = {e: 0 for e in ENTITIES} | {"row": 0}
        self.used_customer_numbers = set()

    def _load_extra(self, data: dict[str, Any]) -> None:
        self.used_customer_numbers = set(data.get("used_customer_numbers", []))

    def _extra_state(self) -> dict[str, Any]:
        return {"used_customer_numbers": sorted(self.used_customer_numbers, key=self.order_key)}

    # ------------------------------------------------------------------ records
    def exists(self, entity: str, number: str) -> bool:
        with self.lock:
            return number in self.records[entity]

    def put(self, entity: str, number: str, record: Record) -> None:
        """Store ``record`` and stamp its last-modified time (does not save; call ``save``)."""
        with self.lock:
            self._set(entity, number, copy.deepcopy(record), self.now())
            if entity == "customer":
                self.used_customer_numbers.add(number)

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
                candidate = str(self.next(entity))
                if not self.is_number_taken(entity, candidate):
                    return candidate

    def note_number(self, entity: str, number: str) -> None:
        """Keep the counter ahead of a number chosen by the caller."""
        if number.isdigit():
            self.note(entity, int(number))

    def next_row_id(self) -> int:
        return self.next("row")
