"""A mapping bound to the field catalogues: per rule side, the catalogue type of the field.

Built once per pass (never per record) so that reading, converting and comparing values knows each
field's type without looking anything up.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from connectors.catalogue import Catalogue, EntityCatalogue
from engine.extractors import FieldPath
from engine.ruleset import FieldRule, MappingRule, RuleSet, Side


@dataclass(frozen=True)
class BoundRule:
    rule: FieldRule
    types: MappingProxyType[Side, str | None]
    max_length: MappingProxyType[Side, int | None]

    def type(self, side: Side) -> str | None:
        return self.types[side]


@dataclass(frozen=True)
class BoundMapping:
    mapping: MappingRule
    rules: tuple[BoundRule, ...]
    entities: MappingProxyType[Side, EntityCatalogue]
    settings: MappingProxyType[str, Any]

    @property
    def name(self) -> str:
        return self.mapping.name

    def entity(self, side: Side) -> EntityCatalogue:
        return self.entities[side]


def _field_type(entity: EntityCatalogue, rule: FieldRule, side: Side) -> tuple[str | None, int | None]:
    fs = rule.side(side)
    if fs is None:
        return None, None
    path = fs.writer or (fs.reader if isinstance(fs.reader, FieldPath) else None)
    info = entity.field(path.name) if path is not None else None
    return (info.type, info.max_length) if info is not None else (None, None)


def bind(mapping: MappingRule, catalogues: dict[Side, Catalogue], settings: MappingProxyType[str, Any]) -> BoundMapping:
    entities = {}
    for side in Side:
        entity = catalogues[side].entity(mapping.entity(side))
        if entity is None:
            raise ValueError(f"{mapping.name}: unknown {side.value} entity {mapping.entity(side)!r}")
        entities[side] = entity
    rules = []
    for rule in mapping.fields:
        types: dict[Side, str | None] = {}
        lengths: dict[Side, int | None] = {}
        for side in Side:
            types[side], lengths[side] = _field_type(entities[side], rule, side)
        rules.append(BoundRule(rule, MappingProxyType(types), MappingProxyType(lengths)))
    return BoundMapping(mapping, tuple(rules), MappingProxyType(entities), settings)


def bind_ruleset(ruleset: RuleSet, catalogues: dict[Side, Catalogue]) -> tuple[BoundMapping, ...]:
    return tuple(bind(m, catalogues, ruleset.settings) for m in ruleset.mappings)
