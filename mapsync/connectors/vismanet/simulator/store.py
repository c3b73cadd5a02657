"""The Visma.net simulator's data (a ``mapsync.connectors.simkit.RecordStore``): DTOs per resource, their
modification times and row versions, number series and the token state; saved atomically after every
change when a data directory is given (``vismanet.json``), reloaded on start.

Every write stamps the record with ``lastModifiedDateTime`` (UTC, see ``mapsync.connectors.vismanet.timefmt``)
and a new row version. The row version is what the API shows as ``timeStamp`` (``timestamp`` on
inventory; sales orders have no such DTO field) and as the ``ETag`` header: like SQL Server's
rowversion, 8 bytes from one database-wide counter, base64-encoded (``"AAAAAAAAB9E="``).
"""

from __future__ import annotations

import base64
import copy
from datetime import datetime
from pathlib import Path

from mapsync.connectors.simkit import Now, RecordStore, utc_now
from mapsync.connectors.simkit.records import Record
from mapsync.connectors.vismanet.timefmt import format_dto

RESOURCES = ("customer", "contact", "inventory", "salesorder", "customerinvoice")

# Which DTO field carries the row version ("" = none in the DTO; the ETag header still has it).
VERSION_FIELD = {
    "customer": "timeStamp",
    "contact": "timeStamp",
    "inventory": "timestamp",
    "salesorder": "",
    "customerinvoice": "timeStamp",
}
CREATED_FIELD = {"customer": "createdDateTime", "customerinvoice": "createdDateTime"}


def row_version(counter: int) -> str:
    return base64.b64encode(counter.to_bytes(8, "big")).decode("ascii")


class VismanetStore(RecordStore):
    """Thread-safe container; callers hold ``lock`` across read-modify-write sequences."""

    side_tables = ("versions",)
    versions: dict[str, dict[str, str]]

    def __init__(self, data_dir: Path | str | None = None, *, now: Now = utc_now) -> None:
        super().__init__(data_dir, file_name="vismanet.json", entities=RESOURCES, now=now)

    @staticmethod
    def order_key(key: str) -> tuple[int, int | str]:
        """Numbers by value first, then the others as text ignoring case."""
        return (0, int(key)) if key.isdigit() else (1, key.upper())

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
            self._set(resource, key, record, when)
            self.versions[resource][key] = version
            return copy.deepcopy(record)

    def version(self, resource: str, key: str) -> str | None:
        with self.lock:
            return self.versions[resource].get(key)
