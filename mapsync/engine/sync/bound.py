"""Mappings and line rules bound to the field catalogues: per rule side, the field's catalogue type.

Built once per pass (never per record) so that reading, converting and comparing values knows each
field's type and maximum length without looking anything up. ``BoundMapping`` and ``BoundLines`` are
both a *rule group*: ``rules`` plus a default ``conflict`` policy, which is all the field merge needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from mapsync.connectors.catalogue import Catalogue, EntityCatalogue
from mapsync.engine.extractors import FieldPath
from mapsync.engine.ruleset import ConflictPolicy, FieldRule, FirstContactPolicy, LineRule, MappingRule, RuleSet, Side

SIDES = (Side.CRM, Side.ERP)  # iterating a tuple is cheaper than iterating the Enum, per record


@dataclass(frozen=True)
class BoundRule:
    rule: FieldRule
    types: MappingProxyType[Side, str | None]
    max_length: MappingProxyType[Side, int | None]
    writes: MappingProxyType[Side, bool]  # rule.writes(side), computed once

    def type(self, side: Side) -> str | None:
        return self.types[side]


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
