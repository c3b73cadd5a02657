"""Loading records as the Visma.net client reads them (a snapshot of a real Visma.net, ``mapsync snapshot``)
into the simulator's store, for ``mapsync sandbox --from``.

Records come by the client's entity names (``inventory_item`` is the ``inventory`` resource, see
``mapsync.connectors.vismanet.entities``) in the read shape. Each keeps its id (customer ``number``,
``contactId``, ``inventoryNumber``, ``orderNo``, ``referenceNumber``), its line numbers and its
``lastModifiedDateTime`` (the load time when it has none); it gets a new row version. Fields of the DTO
the record lacks get their defaults. Every number series moves past the highest number loaded (customer
and document numbers, internal ids, contact ids, address and contact-info ids, line numbers per
document, shipment numbers), so records created afterwards get new numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from mapsync.connectors.vismanet.entities import ENTITIES as CLIENT_ENTITIES
from mapsync.connectors.vismanet.simulator.backend import ID_FIELDS
from mapsync.connectors.vismanet.simulator.schema import LINE_SPECS, LINE_TEMPLATES, TEMPLATES
from mapsync.connectors.vismanet.simulator.store import VismanetStore
from mapsync.connectors.vismanet.timefmt import parse_dto

RESOURCES = {spec.name: spec.resource for spec in CLIENT_ENTITIES.values()}
INTERNAL_IDS = {"customer": ("internalId", "customer.internalId"),
                "inventory": ("inventoryId", "inventory.inventoryId")}


def _number(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip() if isinstance(value, str) else ""
    return int(text) if text.isdigit() else None


def _objects(value: Any, depth: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every object inside ``value`` with its depth (the record itself is depth 0)."""
    if isinstance(value, dict):
        yield depth, value
        for child in value.values():
            yield from _objects(child, depth + 1)
    elif isinstance(value, list):
        for child in value:
            yield from _objects(child, depth + 1)


def _note_series(store: VismanetStore, resource: str, key: str, record: dict[str, Any]) -> None:
    if resource in ("customer", "contact", "salesorder", "customerinvoice") and (number := _number(key)) is not None:
        store.note(resource, number)
    if resource in INTERNAL_IDS:
        field, series = INTERNAL_IDS[resource]
        if (internal := _number(record.get(field))) is not None:
            store.note(series, internal)
    if resource in LINE_SPECS:
        lines_field, line_id, _ = LINE_SPECS[resource]
        for line in record.get(lines_field) or []:
            if isinstance(line, dict) and (number := _number(line.get(line_id))) is not None:
                store.note(f"lines:{resource}:{key}", number)
            if isinstance(line, dict) and (shipment := _number(line.get("soShipmentNbr"))) is not None:
                store.note("shipment", shipment)
    for depth, obj in _objects(record):
        if (address := _number(obj.get("addressId"))) is not None:
            store.note("addressId", address)
        if depth > 0 and (contact := _number(obj.get("contactId"))) is not None:
            store.note("contactInfoId", contact)  # a customer's or document's contact info, not a contact


def load_records(store: VismanetStore, entity: str, records: Iterable[dict[str, Any]]) -> int:
    """Store ``records`` of the client's ``entity`` under their own ids; the number loaded. ``ValueError`` for
    an entity the simulator does not have or a record without its id."""
    resource = RESOURCES.get(entity)
    if resource is None:
        raise ValueError(f"the vismanet simulator has no entity {entity!r}")
    id_field = ID_FIELDS[resource]
    count = 0
    with store.lock:
        for given in records:
            record = {**TEMPLATES[resource](), **{k: v for k, v in given.items() if k != "metadata"}}
            if resource in LINE_SPECS:
                lines_field = LINE_SPECS[resource][0]
                record[lines_field] = [{**LINE_TEMPLATES[resource](), **line}
                                       for line in record.get(lines_field) or [] if isinstance(line, dict)]
            key = str(record.get(id_field) or "").strip()
            if not key:
                raise ValueError(f"a vismanet {entity} record without its {id_field}")
            stamp = None
            if isinstance(record.get("lastModifiedDateTime"), str):
                try:
                    stamp = parse_dto(record["lastModifiedDateTime"])
                except ValueError:
                    stamp = None
            store.put(resource, key, record, stamp=stamp)
            _note_series(store, resource, key, record)
            count += 1
        store.save()
    return count
