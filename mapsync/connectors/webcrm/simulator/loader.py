"""Loading records as the webCRM client reads them (a snapshot of a real webCRM, ``mapsync snapshot``) into
the simulator's store, for ``mapsync sandbox --from``.

Each record keeps its id and its ``*UpdatedAt`` time (the load time when it has none); fields the DTO
has and the record lacks get their defaults. The id counters move past the highest id loaded (deliveries
and opportunities share one), so records created afterwards get new ids. Write-only fields are not in a
record read back, so a loaded quotation line names no catalogue item (``QuotationLineLinkedDataId``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from mapsync.connectors.webcrm.simulator.dtos import ENTITIES, PREFIXES, default_record, id_field, parse_timestamp
from mapsync.connectors.webcrm.simulator.store import COUNTER, WebcrmStore


def _stamp(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, str) and value.strip():
        try:
            return parse_timestamp(value)
        except ValueError:
            pass
    return fallback


def load_records(store: WebcrmStore, entity: str, records: Iterable[dict[str, Any]]) -> int:
    """Store ``records`` of ``entity`` under their own ids; the number loaded. ``ValueError`` for an entity
    the simulator does not have or a record without an integer id."""
    if entity not in ENTITIES:
        raise ValueError(f"the webcrm simulator has no entity {entity!r}")
    name = id_field(entity)
    updated = f"{PREFIXES[entity]}UpdatedAt"
    count = 0
    with store.lock:
        now = store.now()
        for given in records:
            try:
                key = int(given[name])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"a webcrm {entity} record without an integer {name}") from None
            record = {**default_record(entity), **given}
            record[name] = key
            store.put(entity, key, record, _stamp(record.get(updated), now))
            store.extra[entity][str(key)] = {}
            store.note(COUNTER[entity], key)
            count += 1
        store.save()
    return count
