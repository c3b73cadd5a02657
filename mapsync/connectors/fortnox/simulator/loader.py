"""Loading records as the Fortnox client reads them (a snapshot of a real Fortnox, ``mapsync snapshot``) into
the simulator's store, for ``mapsync sandbox --from``.

Each record keeps its number (``CustomerNumber``, ``ArticleNumber``, ``DocumentNumber``) and its rows their
``RowId``; ``@url`` links are dropped (the simulator serves its own); fields of the recorded templates the
record lacks get their defaults. Fortnox records carry no modification time, so a loaded record counts as
modified at the load. The number series (and those of rows and vouchers) move past the highest number
loaded, so records created afterwards get new numbers; loaded customer numbers stay reserved.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mapsync.connectors.fortnox.simulator.backend import IGNORED
from mapsync.connectors.fortnox.simulator.store import ENTITIES, FortnoxStore
from mapsync.connectors.fortnox.simulator.templates import NUMBER_FIELDS, ROW_FIELDS, record_template, row_template


def _number(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else None


def load_records(store: FortnoxStore, entity: str, records: Iterable[dict[str, Any]]) -> int:
    """Store ``records`` of ``entity`` under their own numbers; the number loaded. ``ValueError`` for an
    entity the simulator does not have or a record without its number."""
    if entity not in ENTITIES:
        raise ValueError(f"the fortnox simulator has no entity {entity!r}")
    number_field = NUMBER_FIELDS[entity]
    rows_field = ROW_FIELDS.get(entity)
    count = 0
    with store.lock:
        for given in records:
            record = record_template(entity)
            record.update({k: v for k, v in given.items() if k not in IGNORED})
            number = str(record.get(number_field) or "").strip()
            if not number:
                raise ValueError(f"a fortnox {entity} record without its {number_field}")
            record[number_field] = number
            if rows_field:
                rows = [{**row_template(entity), **row} for row in record.get(rows_field) or []
                        if isinstance(row, dict)]
                record[rows_field] = rows
                for row in rows:
                    if (row_id := _number(row.get("RowId"))) is not None:
                        store.note("row", row_id)
            if (voucher := _number(record.get("VoucherNumber"))) is not None:
                store.note("voucher", voucher)
            store.put(entity, number, record)
            store.note_number(entity, number)
            count += 1
        store.save()
    return count
