"""The webCRM simulator's data: records per entity (int ids as string keys), the last-update time
of each record, id counters (deliveries and opportunities share one, so a quotation line's
``QuotationLineOpportunityId`` is never ambiguous) and the token state; saved atomically to
``webcrm.json`` after every change when a data directory is given.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.simkit import JsonStateFile
from connectors.webcrm.simulator.dtos import ENTITIES

Record = dict[str, Any]
Now = Callable[[], datetime]
COUNTER = {e: e for e in ENTITIES} | {"delivery": "deal", "opportunity": "deal"}


def utc_now() -> datetime:
    return datetime.now(UTC)


class WebcrmStore:
    """Thread-safe container; callers hold ``lock`` across read-modify-write sequences."""

    def __init__(self, data_dir: Path | str | None = None, *, now: Now = utc_now) -> None:
        self.lock = threading.RLock()
        self.now = now
        self._file = JsonStateFile(data_dir, "webcrm.json")
        self.records: dict[str, dict[str, Record]] = {e: {} for e in ENTITIES}
        self.updated: dict[str, dict[str, str]] = {e: {} for e in ENTITIES}
        self.extra: dict[str, dict[str, Record]] = {e: {} for e in ENTITIES}  # write-only fields
        self.counters: dict[str, int] = {}
        self.auth: dict[str, Any] = {}
        self._load()

    def _load(self) -> None:
        data = self._file.load()
        if not data:
            return
        for key in ("records", "updated", "extra"):
            getattr(self, key).update({e: data.get(key, {}).get(e, {}) for e in ENTITIES})
        self.counters = dict(data.get("counters", {}))
        self.auth = dict(data.get("auth", {}))

    def save(self) -> None:
        with self.lock:
            self._file.save(
                {
                    "records": self.records,
                    "updated": self.updated,
                    "extra": self.extra,
                    "counters": self.counters,
                    "auth": self.auth,
                }
            )

    def next_id(self, entity: str) -> int:
        with self.lock:
            key = COUNTER[entity]
            self.counters[key] = self.counters.get(key, 0) + 1
            return self.counters[key]

    def get(self, entity: str, record_id: int | str) -> Record | None:
        with self.lock:
            record = self.records[entity].get(str(record_id))
            return copy.deepcopy(record) if record is not None else None

    def put(self, entity: str, record_id: int, record: Record, stamp: datetime) -> None:
        with self.lock:
            self.records[entity][str(record_id)] = copy.deepcopy(record)
            self.updated[entity][str(record_id)] = stamp.astimezone(UTC).isoformat()

    def delete(self, entity: str, record_id: int | str) -> bool:
        with self.lock:
            found = self.records[entity].pop(str(record_id), None) is not None
            self.updated[entity].pop(str(record_id), None)
            self.extra[entity].pop(str(record_id), None)
            return found

    def all(self, entity: str) -> list[Record]:
        """Every record in id order (copies)."""
        with self.lock:
            return [copy.deepcopy(self.records[entity][k]) for k in sorted(self.records[entity], key=int)]

    def updated_at(self, entity: str, record_id: int | str) -> datetime:
        with self.lock:
            return datetime.fromisoformat(self.updated[entity][str(record_id)])

    def clear(self) -> None:
        with self.lock:
            self.records = {e: {} for e in ENTITIES}
            self.updated = {e: {} for e in ENTITIES}
            self.extra = {e: {} for e in ENTITIES}
            self.counters = {}
            self.save()
