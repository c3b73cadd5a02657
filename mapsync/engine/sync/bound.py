"""Mappings and line rules bound to the field catalogues: per rule side, the field's catalogue type.

Built once per pass (never per record) so that reading, converting and comparing values knows each
field's type and maximum length without looking anything up. ``BoundMapping`` and ``BoundLines`` are
both a *rule group*: ``rules`` plus a default ``conflict`` policy, which is all the field merge needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from mapsync.connectors.catalogue import Catalogue, EntityCatalogue
from mapsync.engine.extractors import FieldPath
from mapsync.engine.ruleset import ConflictPolicy, FieldRule, FirstContactPolicy, LineRule, MappingRule, RuleSet, Side
from mapsync.engine.sync.readers import compiled_reader

SIDES = (Side.CRM, Side.ERP)  # iterating a tuple is cheaper than iterating the Enum, per record


@dataclass(frozen=True)
class BoundRule:
    rule: FieldRule
    types: MappingProxyType[Side, str | None]
    max_length: MappingProxyType[Side, int | None]
    writes: MappingProxyType[Side, bool]  # rule.writes(side), computed once
    # fieldmerge.read per side, compiled (readers.compiled_reader): made here, once per bound mapping
    readers: MappingProxyType[Side, Callable[[dict[str, Any] | None], Any]] = field(
        init=False, repr=False, compare=False)

    read_crm: Callable[[dict[str, Any] | None], Any] = field(init=False, repr=False, compare=False)
    read_erp: Callable[[dict[str, Any] | None], Any] = field(init=False, repr=False, compare=False)

    # (crm field, erp field) when both sides are plain text fields: the merge reads them inline
    text_fields: tuple[str, str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text_fields", _text_fields(self.rule, self.types))
        readers = {side: compiled_reader(self.rule, side, self.types[side]) for side in SIDES}
        object.__setattr__(self, "readers", MappingProxyType(readers))
        object.__setattr__(self, "read_crm", readers[Side.CRM])
        object.__setattr__(self, "read_erp", readers[Side.ERP])

    def type(self, side: Side) -> str | None:
        return self.types[side]


def _text_fields(rule: FieldRule, types: MappingProxyType[Side, str | None]) -> tuple[str, str] | None:
    names = []
    for side in SIDES:
        fs = rule.side(side)
        if fs is None or not isinstance(fs.reader, FieldPath) or len(fs.reader.parts) != 1 \
                or types[side] not in ("string", None):
            return None
        names.append(fs.reader.name)
    return names[0], names[1]


class RuleGroup(Protocol):
    """What the field merge needs: bound rules and the default conflict policy."""

    @property
    def rules(self) -> tuple[BoundRule, ...]: ...

    @property
    def conflict(self) -> ConflictPolicy: ...

    @property
    def first_contact(self) -> FirstContactPolicy: ...


@dataclass(frozen=True)
class BoundLines:
    """A line rule bound to its crm line entity and the erp collection's line entity."""

    line: LineRule
    rules: tuple[BoundRule, ...]
    entities: MappingProxyType[Side, EntityCatalogue]
    conflict: ConflictPolicy
    first_contact: FirstContactPolicy = FirstContactPolicy.HOLD

    def entity(self, side: Side) -> EntityCatalogue:
        return self.entities[side]


@dataclass(frozen=True)
class BoundMapping:
    mapping: MappingRule
    rules: tuple[BoundRule, ...]
    entities: MappingProxyType[Side, EntityCatalogue]
    settings: MappingProxyType[str, Any]
    lines: tuple[BoundLines, ...] = ()

    @property
    def name(self) -> str:
        return self.mapping.name

    @property
    def conflict(self) -> ConflictPolicy:
        return self.mapping.conflict

    @property
    def first_contact(self) -> FirstContactPolicy:
        return self.mapping.first_contact

    def entity(self, side: Side) -> EntityCatalogue:
        return self.entities[side]


def _field_type(entity: EntityCatalogue, rule: FieldRule, side: Side) -> tuple[str | None, int | None]:
    fs = rule.side(side)
    if fs is None:
        return None, None
    path = fs.writer or (fs.reader if isinstance(fs.reader, FieldPath) else None)
    info = entity.field(path.name) if path is not None else None
    return (info.type, info.max_length) if info is not None else (None, None)


def bind_rules(rules: tuple[FieldRule, ...], entities: dict[Side, EntityCatalogue]) -> tuple[BoundRule, ...]:
    bound = []
    for rule in rules:
        types: dict[Side, str | None] = {}
        lengths: dict[Side, int | None] = {}
        for side in Side:
            types[side], lengths[side] = _field_type(entities[side], rule, side)
        writes = MappingProxyType({side: rule.writes(side) for side in SIDES})
        bound.append(BoundRule(rule, MappingProxyType(types), MappingProxyType(lengths), writes))
    return tuple(bound)


def _entity(catalogue: Catalogue, name: str, what: str) -> EntityCatalogue:
    entity = catalogue.entity(name)
    if entity is None:
        raise ValueError(f"{what}: unknown {catalogue.connector} entity {name!r}")
    return entity


def bind(mapping: MappingRule, catalogues: dict[Side, Catalogue], settings: MappingProxyType[str, Any]) -> BoundMapping:
    entities = {side: _entity(catalogues[side], mapping.entity(side), mapping.name) for side in Side}
    lines = []
    for line in mapping.lines:
        collection = entities[Side.ERP].field(line.erp_collection.name)
        if collection is None or collection.lines is None:
            raise ValueError(f"{mapping.name}: {line.erp_collection.name} is not a line collection")
        line_entities = {Side.CRM: _entity(catalogues[Side.CRM], line.crm_entity, line.name),
                         Side.ERP: _entity(catalogues[Side.ERP], collection.lines, line.name)}
        lines.append(BoundLines(line, bind_rules(line.fields, line_entities), MappingProxyType(line_entities),
                                mapping.conflict, mapping.first_contact))
    return BoundMapping(mapping, bind_rules(mapping.fields, entities), MappingProxyType(entities), settings,
                        tuple(lines))


def bind_ruleset(ruleset: RuleSet, catalogues: dict[Side, Catalogue]) -> tuple[BoundMapping, ...]:
    return tuple(bind(m, catalogues, ruleset.settings) for m in ruleset.mappings)
