"""The webCRM simulator's data (a ``mapsync.connectors.simkit.RecordStore``): records per entity (int ids as
string keys), the last-update time of each record (``updated`` in the saved file), the write-only
fields of each record (``extra``), id counters (deliveries and opportunities share one, so a
quotation line's ``QuotationLineOpportunityId`` is never ambiguous) and the token state; saved
atomically to ``webcrm.json`` after every change when a data directory is given.
"""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path

from mapsync.connectors.simkit import Now, RecordStore, utc_now
from mapsync.connectors.simkit.records import Record
from mapsync.connectors.webcrm.simulator.dtos import ENTITIES

COUNTER = {e: e for e in ENTITIES} | {"delivery": "deal", "opportunity": "deal"}


class WebcrmStore(RecordStore):
    """Thread-safe container; callers hold ``lock`` across read-modify-write sequences."""

    side_tables = ("extra",)
    modified_key = "updated"
    extra: dict[str, dict[str, Record]]  # write-only fields

    def __init__(self, data_dir: Path | str | None = None, *, now: Now = utc_now) -> None:
        super().__init__(data_dir, file_name="webcrm.json", entities=ENTITIES, now=now)

    def next_id(self, entity: str) -> int:
        return self.next(COUNTER[entity])

    def put(self, entity: str, record_id: int, record: Record, stamp: datetime) -> None:
        with self.lock:
            self._set(entity, str(record_id), copy.deepcopy(record), stamp)

    def all(self, entity: str) -> list[Record]:
        """Every record in id order (copies)."""
        with self.lock:
            return [copy.deepcopy(self.records[entity][k]) for k in sorted(self.records[entity], key=self.order_key)]
