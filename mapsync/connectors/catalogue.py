"""Field catalogues: what entities and fields each product has, as data.

Each connector package ships ``catalogue.yaml``; this module loads it into frozen objects that the
semantic validator (unknown field, read-only, type mismatch, required on create) and the engine use.

File format::

    connector: fortnox
    sources: [...]                 # where the facts come from
    entities:
      customer:
        title: Customer
        id: CustomerNumber         # the field that identifies a record
        changed_since: true        # the API can list records changed since a time
        fields:
          Name: {type: string, max_length: 1024, required_on_create: true}
          Country: {type: string, read_only: true}
          Type: {type: string, enum: [PRIVATE, COMPANY]}
          OrganisationCustom{1..15}: {type: string}      # a range expands to 15 fields
          mainAddress.addressLine1: {type: string}       # nested fields use dotted paths
          OrderRows: {type: array, lines: order_row}     # a collection of line records
      order_row:
        line_of: order             # a line entity: only lives inside its parent's collection
        id: RowId
        fields:
          ArticleNumber: {type: string, refers_to: article}   # the value is an article's id
        locked:                    # states in which the product refuses any change
          - {field: Booked, in: [true], reason: booked invoice}
          - {field: status, not_in: [Hold, Balanced], reason: released invoice}

Types: ``string``, ``integer``, ``number``, ``boolean``, ``date``, ``datetime``, ``array``, ``object``.
``wire: string`` notes that the API sends a number or boolean as a string ("1", "false"); ``write_only: true``
marks a field the API accepts on write but never returns (webCRM ``QuotationLineLinkedDataId``).
``refers_to: ENTITY`` marks a field whose value is the id of a record of ``ENTITY`` in the same catalogue (a
Fortnox order row's ``ArticleNumber`` names an ``article``): the product refuses a record that names one it
does not have, so a snapshot (``mapsync.engine.snapshot``) takes the records referred to along. ``ENTITY``
must be a catalogue entity that is not a line entity (a line has no id of its own to be named by).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

import yaml

from mapsync.connectors.registry import CONNECTOR_NAMES, CONNECTORS

FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "array", "object")
_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")


@dataclass(frozen=True)
class FieldInfo:
    """One field of an entity."""

    name: str
    type: str
    max_length: int | None = None
    read_only: bool = False
    write_only: bool = False  # accepted on write, never in a record read back
    required_on_create: bool = False
    enum: tuple[Any, ...] | None = None
    lines: str | None = None
    wire: str | None = None
    description: str = ""
    refers_to: str | None = None  # the entity whose id the value is


@dataclass(frozen=True)
class LockRule:
    """A record state in which the product refuses changes (a booked invoice): ``field`` in ``values``,
    or not in them when ``negate``."""

    field: str
    values: tuple[Any, ...]
    reason: str
    negate: bool = False

    def applies(self, record: dict[str, Any]) -> bool:
        value = record.get(self.field)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        return (value not in self.values) if self.negate else (value in self.values)


@dataclass(frozen=True)
class EntityCatalogue:
    """One entity: its id field and its fields by name."""

    name: str
    title: str
    id_field: str
    fields: dict[str, FieldInfo]
    line_of: str | None = None
    changed_since: bool = True
    locked: tuple[LockRule, ...] = ()

    def locked_reason(self, record: dict[str, Any]) -> str | None:
        """Why the product refuses changes to this record, or None when it accepts them."""
        for rule in self.locked:
            if rule.applies(record):
                return rule.reason
        return None

    def field(self, name: str) -> FieldInfo | None:
        return self.fields.get(name)

    @property
    def references(self) -> tuple[FieldInfo, ...]:
        """The fields that name a record of another entity (``refers_to``), in catalogue order."""
        return tuple(f for f in self.fields.values() if f.refers_to is not None)

    @property
    def line_collections(self) -> tuple[FieldInfo, ...]:
        """The fields that hold this entity's line records (``lines``), in catalogue order."""
        return tuple(f for f in self.fields.values() if f.lines is not None)

    @property
    def required_on_create(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields.values() if f.required_on_create)

    @property
    def readable_fields(self) -> frozenset[str]:
        """Top-level names of the fields a record read back can hold (write-only fields left out)."""
        return frozenset(name.split(".")[0] for name, f in self.fields.items() if not f.write_only)


@dataclass(frozen=True)
class Catalogue:
    """All entities of one connector."""

    connector: str
    entities: dict[str, EntityCatalogue]

    def entity(self, name: str) -> EntityCatalogue | None:
        return self.entities.get(name)


def _expand(name: str) -> list[str]:
    match = _RANGE.search(name)
    if not match:
        return [name]
    start, end = int(match.group(1)), int(match.group(2))
    out: list[str] = []
    for i in range(start, end + 1):
        out.extend(_expand(name[: match.start()] + str(i) + name[match.end() :]))
    return out


def _field(name: str, spec: dict[str, Any]) -> FieldInfo:
    ftype = spec.get("type", "string")
    if ftype not in FIELD_TYPES:
        raise ValueError(f"field {name}: unknown type {ftype!r}")
    enum = spec.get("enum")
    return FieldInfo(
        name=name,
        type=ftype,
        max_length=spec.get("max_length"),
        read_only=bool(spec.get("read_only", False)),
        write_only=bool(spec.get("write_only", False)),
        required_on_create=bool(spec.get("required_on_create", False)),
        enum=tuple(enum) if enum is not None else None,
        lines=spec.get("lines"),
        wire=spec.get("wire"),
        description=spec.get("description", ""),
        refers_to=spec.get("refers_to"),
    )


def _lock(spec: dict[str, Any]) -> LockRule:
    if "in" in spec:
        return LockRule(spec["field"], tuple(spec["in"]), spec["reason"])
    return LockRule(spec["field"], tuple(spec["not_in"]), spec["reason"], negate=True)


def parse_catalogue(data: dict[str, Any]) -> Catalogue:
    """Turn the parsed YAML of a catalogue file into a ``Catalogue``."""
    entities: dict[str, EntityCatalogue] = {}
    for ename, espec in data["entities"].items():
        fields: dict[str, FieldInfo] = {}
        for raw_name, fspec in (espec.get("fields") or {}).items():
            for name in _expand(raw_name):
                fields[name] = _field(name, fspec or {})
        id_field = espec["id"]
        if id_field not in fields:
            raise ValueError(f"entity {ename}: id field {id_field!r} is not among its fields")
        entities[ename] = EntityCatalogue(
            name=ename,
            title=espec.get("title", ename),
            id_field=id_field,
            fields=fields,
            line_of=espec.get("line_of"),
            changed_since=bool(espec.get("changed_since", True)),
            locked=tuple(_lock(spec) for spec in espec.get("locked") or ()),
        )
    for ent in entities.values():
        for f in ent.fields.values():
            if f.lines and f.lines not in entities:
                raise ValueError(f"{ent.name}.{f.name}: line entity {f.lines!r} is not defined")
            if f.refers_to is not None:
                referred = entities.get(f.refers_to)
                if referred is None:
                    raise ValueError(f"{ent.name}.{f.name}: refers_to entity {f.refers_to!r} is not defined")
                if referred.line_of is not None:
                    raise ValueError(f"{ent.name}.{f.name}: refers_to entity {f.refers_to!r} is a line entity "
                                     f"(of {referred.line_of}), which no field can name by id")
                if f.type in ("array", "object"):
                    raise ValueError(f"{ent.name}.{f.name}: a refers_to field holds an id, not an {f.type}")
    return Catalogue(connector=data["connector"], entities=entities)


def _load_yaml(stream: Any) -> Any:
    """``yaml.safe_load``, by libyaml when PyYAML has it: pure-Python YAML of the catalogues was 70% of a
    command's start-up."""
    return yaml.load(stream, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


_catalogues: dict[str, Catalogue] = {}
_catalogues_lock = threading.Lock()


def load_catalogue(connector: str) -> Catalogue:
    """The catalogue shipped with ``connectors/<connector>/catalogue.yaml``, read once per process: threads
    asking at once (``mapsync serve``'s first passes) wait for the one reading it rather than each parsing
    the YAML again."""
    found = _catalogues.get(connector)
    if found is not None:
        return found
    if connector not in CONNECTOR_NAMES:
        raise KeyError(connector)
    with _catalogues_lock:
        if connector not in _catalogues:
            with CONNECTORS[connector].catalogue_path.open(encoding="utf-8") as fh:
                _catalogues[connector] = parse_catalogue(_load_yaml(fh))
        return _catalogues[connector]
