"""The compiled rule set: frozen, typed objects built once at load time.

Everything the engine needs per record is here, already compiled: JMESPath extractors, field paths,
parsed expressions, value maps. Nothing in this module parses text. Every object keeps the
``Location`` it was written at, so run-time problems can point back to the rule file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from mapsync.engine.diagnostics import Location
from mapsync.engine.expressions import Expression
from mapsync.engine.extractors import MISSING, FieldPath, JmesExtractor


class Side(StrEnum):
    CRM = "crm"
    ERP = "erp"

    @property
    def other(self) -> Side:
        return Side.ERP if self is Side.CRM else Side.CRM


class Direction(StrEnum):
    CRM_TO_ERP = "crm-to-erp"
    ERP_TO_CRM = "erp-to-crm"
    BOTH = "both"

    def writes(self, target: Side) -> bool:
        """Whether data flows into ``target`` in this direction."""
        if self is Direction.BOTH:
            return True
        return (self is Direction.CRM_TO_ERP) == (target is Side.ERP)

    def within(self, outer: Direction) -> bool:
        return outer is Direction.BOTH or self is outer


class WritePolicy(StrEnum):
    ALWAYS = "always"
    ON_CREATE = "on-create"
    IF_EMPTY = "if-empty"


class ConflictPolicy(StrEnum):
    CRM_WINS = "crm-wins"
    ERP_WINS = "erp-wins"
    NEWEST_WINS = "newest-wins"
    SKIP = "skip"


class FirstContactPolicy(StrEnum):
    """Both records existed before they were linked and hold different values: who wins, or hold."""

    CRM_WINS = "crm-wins"
    ERP_WINS = "erp-wins"
    HOLD = "hold"


class UnmappedPolicy(StrEnum):
    """A value the value map has no entry for: hold the field back, pass it through, or quarantine."""

    HOLD = "hold"
    PASS = "pass"
    QUARANTINE = "quarantine"


Reader = FieldPath | JmesExtractor


def _no_locations() -> MappingProxyType[str, Location]:
    return MappingProxyType({})


class _Located:
    """``where(key)``: the location of one property (``"value"``, ``"transform.to_erp"``, ...)."""

    location: Location
    locations: MappingProxyType[str, Location]

    def where(self, key: str) -> Location:
        return self.locations.get(key) or self.location


@dataclass(frozen=True)
class SettingRef:
    """A field name given by a setting (``${settings.crm_fields.x}``): the setting and where its value was
    written; ``overlay`` when that is the ruleset.yaml of a rule set that extends another."""

    path: str
    location: Location
    overlay: bool = False


@dataclass(frozen=True)
class FieldSide:
    """One side of a field rule: how to read it and, when writable, where to write it."""

    reader: Reader
    writer: FieldPath | None
    location: Location
    setting: SettingRef | None = field(default=None, compare=False)  # the setting that names the field

    @property
    def label(self) -> str:
        return self.writer.name if self.writer else getattr(self.reader, "expression", "?")


@dataclass(frozen=True)
class FieldRule(_Located):
    """One field pair. ``key`` names it in bases, plans and the audit trail."""

    key: str
    crm: FieldSide | None
    erp: FieldSide | None
    direction: Direction
    location: Location
    value_map: MappingProxyType[Any, Any] | None = None  # crm value -> erp value
    reverse_map: MappingProxyType[Any, Any] | None = None  # erp value -> crm value
    to_erp: Expression | None = None
    to_crm: Expression | None = None
    constant: Any = MISSING
    default: Any = MISSING
    write: WritePolicy = WritePolicy.ALWAYS
    conflict: ConflictPolicy | None = None
    first_contact: FirstContactPolicy | None = None
    on_unmapped: UnmappedPolicy = UnmappedPolicy.HOLD
    locations: MappingProxyType[str, Location] = field(default_factory=_no_locations, compare=False)

    def side(self, side: Side) -> FieldSide | None:
        return self.crm if side is Side.CRM else self.erp

    def writes(self, target: Side) -> bool:
        side = self.side(target)
        return side is not None and side.writer is not None and self.direction.writes(target)

    def transform(self, target: Side) -> Expression | None:
        return self.to_erp if target is Side.ERP else self.to_crm

    def value_map_to(self, target: Side) -> MappingProxyType[Any, Any] | None:
        return self.value_map if target is Side.ERP else self.reverse_map


@dataclass(frozen=True)
class KeyPair(_Located):
    """A pair of fields compared across the sides (match keys, parent keys)."""

    crm: FieldPath
    erp: FieldPath
    location: Location
    locations: MappingProxyType[str, Location] = field(default_factory=_no_locations, compare=False)
    settings: MappingProxyType[str, SettingRef] = field(
        default_factory=lambda: MappingProxyType({}), compare=False)  # by side: the setting naming the field

    def side(self, side: Side) -> FieldPath:
        return self.crm if side is Side.CRM else self.erp


@dataclass(frozen=True)
class LineRule(_Located):
    """A nested collection synced with its parent record (delivery lines <-> order rows)."""

    name: str
    crm_entity: str
    crm_parent_field: FieldPath
    erp_collection: FieldPath
    direction: Direction
    match: tuple[KeyPair, ...]
    fields: tuple[FieldRule, ...]
    location: Location
    locations: MappingProxyType[str, Location] = field(default_factory=_no_locations, compare=False)


@dataclass(frozen=True)
class MappingRule(_Located):
    """One entity pair of the rule set."""

    name: str
    description: str
    crm_entity: str
    erp_entity: str
    direction: Direction
    conflict: ConflictPolicy
    fields: tuple[FieldRule, ...]
    location: Location
    file: str
    conditions: MappingProxyType[Side, Expression] = field(
        default_factory=lambda: MappingProxyType({}))
    create_conditions: MappingProxyType[Side, Expression] = field(
        default_factory=lambda: MappingProxyType({}))
    match: tuple[KeyPair, ...] = ()
    parent: str | None = None
    parent_key: KeyPair | None = None
    lines: tuple[LineRule, ...] = ()
    first_contact: FirstContactPolicy = FirstContactPolicy.HOLD
    locations: MappingProxyType[str, Location] = field(default_factory=_no_locations, compare=False)

    def entity(self, side: Side) -> str:
        return self.crm_entity if side is Side.CRM else self.erp_entity

    def fields_read(self, side: Side) -> frozenset[str]:
        """Top-level field names the rules read on ``side`` (for list-subset detection)."""
        names: set[str] = set()
        for rule in self.fields:
            fs = rule.side(side)
            if fs is not None and isinstance(fs.reader, FieldPath):
                names.add(fs.reader.parts[0])
            elif fs is not None:
                return frozenset({"*"})
        for key in self.match:
            names.add(key.side(side).parts[0])
        if self.parent_key:
            names.add(self.parent_key.side(side).parts[0])
        return frozenset(names)


@dataclass(frozen=True)
class SystemConfig:
    """One side's connector and its connection settings (``${env:NAME}`` references unresolved)."""

    connector: str
    connection: MappingProxyType[str, str]
    location: Location


@dataclass(frozen=True)
class Guardrails:
    """What one pass may change in a mapping before a run stops and asks for ``--force`` (docs/sync.md)."""

    max_update_share: float = 0.25  # of the mapping's linked records
    min_updates_for_share: int = 20  # the share counts only beyond this many updates
    max_blanked: int = 10  # records in which one field is blanked

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Guardrails:
        default = cls()

        def number(name: str, kind: type) -> Any:
            value = data.get(name)
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            return kind(value) if ok else getattr(default, name)

        return cls(number("max_update_share", float), number("min_updates_for_share", int),
                   number("max_blanked", int))


@dataclass(frozen=True)
class RuleSet:
    """A compiled rule set; mappings ordered parents first."""

    name: str
    description: str
    folder: str
    crm: SystemConfig
    erp: SystemConfig
    settings: MappingProxyType[str, Any]
    mappings: tuple[MappingRule, ...]
    files: tuple[str, ...]
    guardrails: Guardrails = field(default_factory=Guardrails)

    def system(self, side: Side) -> SystemConfig:
        return self.crm if side is Side.CRM else self.erp

    def mapping(self, name: str) -> MappingRule | None:
        return next((m for m in self.mappings if m.name == name), None)
