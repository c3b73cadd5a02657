"""Semantic checks of a compiled rule set against the connectors' field catalogues.

Schema validation says a rule file is well formed; these checks say it can work: entities and
fields exist, nothing writes a read-only field, types fit, two-way rules can be written back,
one rule per target field, parents exist, match keys are readable, secrets come from the
environment, and the environment has them.
"""

from __future__ import annotations

import ast
import datetime as dt
import os
import re
from collections.abc import Mapping
from typing import Any

from mapsync.connectors.catalogue import Catalogue, EntityCatalogue, FieldInfo, load_catalogue
from mapsync.connectors.registry import (
    CONNECTION_SETTINGS,
    SIDES,
    credential_kinds,
    credential_settings,
    optional_settings,
)
from mapsync.engine.diagnostics import Diagnostic, Location, Severity
from mapsync.engine.diagnostics.suggest import did_you_mean, suggest
from mapsync.engine.expressions import Expression
from mapsync.engine.extractors import MISSING, FieldPath
from mapsync.engine.ruleset.compiler import Compilation, CompiledMapping, setting_hint, thaw, undefined_settings
from mapsync.engine.ruleset.loader import is_overlay
from mapsync.engine.ruleset.model import FieldRule, FieldSide, KeyPair, LineRule, SettingRef, Side, SystemConfig

ENV_REF = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$")
_NUMERIC = {"integer", "number"}
_SIDES = tuple(Side)  # iterating the enum itself is slower, and field rules do it for each rule


def compatible(source: str, target: str) -> bool:
    """Whether a value of catalogue type ``source`` can be written to a field of type ``target``."""
    if source == target:
        return True
    if source in _NUMERIC and target in _NUMERIC:
        return True
    if target == "string" and source in {"integer", "number", "date", "datetime"}:
        return True
    return {source, target} == {"date", "datetime"}


def _value_type(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, tuple | list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _chain(node: ast.AST) -> tuple[str, ...] | None:
    """``record.a.b`` -> ``("record", "a", "b")``; None for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return (node.id, *reversed(parts)) if isinstance(node, ast.Name) and parts else None


def restrictions(expr: Expression) -> list[tuple[str, tuple[str, ...]]]:
    """``(field, setting path)`` of every ``record.<field> in settings.<list>`` that the condition requires
    (the whole condition, or a part of it joined with ``and``)."""
    found: list[tuple[str, tuple[str, ...]]] = []
    tree = expr.tree.value if isinstance(expr.tree, ast.Expr) else expr.tree

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
            for value in node.values:
                visit(value)
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.In):
            left, right = _chain(node.left), _chain(node.comparators[0])
            if left and right and left[0] == "record" and right[0] == "settings" and len(right) > 1:
                found.append((".".join(left[1:]), right[1:]))

    visit(tree)
    return found


_TYPE_WORDS = {"integer": "whole number", "number": "number", "date": "date", "datetime": "date-time"}
_TYPE_HINTS = {
    "integer": "write a whole number, such as 30",
    "number": "write a number, such as 12.5",
    "date": "write the date as YYYY-MM-DD",
    "datetime": "write the date-time as YYYY-MM-DDTHH:MM:SS (or a date, YYYY-MM-DD)",
}


def _readable_as(value: str | int | float, field_type: str) -> bool:
    """Whether a constant can be written to a field of ``field_type`` (as the engine normalises it)."""
    if field_type not in _TYPE_WORDS:
        return True
    text = str(value).strip()
    try:
        if field_type in {"integer", "number"}:
            number = float(text.replace(",", "."))
            return field_type == "number" or number.is_integer()
        if isinstance(value, int | float):
            return False
        if field_type == "date":
            dt.date.fromisoformat(text[:10])
        else:
            dt.datetime.fromisoformat((text + "T00:00:00" if len(text) == 10 else text).replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _tops(entity: EntityCatalogue) -> set[str]:
    """The names ``record.X`` can use: fields, and the first part of dotted ones (``record.mainAddress``)."""
    return {name.split(".", 1)[0] for name in entity.fields}


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


class _Checker:
    def __init__(self, comp: Compilation, environ: Mapping[str, str], env_severity: Severity) -> None:
        self.comp = comp
        self.environ = environ
        self.env_severity = env_severity
        self.out: list[Diagnostic] = []
        self.catalogues: dict[Side, Catalogue | None] = {}
        self.current_location = Location("", 0, 0)
        self.current_mapping = ""
        # Problems of a field name set by an overlay's setting: one per setting and problem, with its users.
        self.named: dict[tuple[str, Location, str], tuple[str, dict[str, list[str]]]] = {}

    def error(self, code: str, message: str, location: Location, hint: str = "",
              severity: Severity = Severity.ERROR) -> None:
        self.out.append(Diagnostic(code, message, location, severity=severity, hint=hint))

    # -- systems -------------------------------------------------------------------------------------
    def systems(self) -> None:
        for side, system in ((Side.CRM, self.comp.crm), (Side.ERP, self.comp.erp)):
            self.catalogues[side] = None
            if system is None:
                continue
            if system.connector not in SIDES:
                continue  # the schema reported it
            if SIDES[system.connector] != side.value:
                self.error("MS315", f"connector {system.connector!r} cannot be the {side.value} side",
                           system.location)
                continue
            self.catalogues[side] = load_catalogue(system.connector)
            self.connection(side, system)

    def connection(self, side: Side, system: SystemConfig) -> None:
        known = CONNECTION_SETTINGS[system.connector]
        raw = self.comp.raw.systems[side.value].connection
        # Settings of an unused kind of credentials may stay unset when another kind is complete.
        refs = {key: ENV_REF.match(value.strip()) for key, value in system.connection.items()}
        available = {key for key, ref in refs.items() if ref is None or ref.group(1) in self.environ}
        optional = optional_settings(system.connector, available)
        for key, value in system.connection.items():
            location = raw[key].location() if key in raw else system.location
            if key not in known:
                self.error("MS317", f"{system.connector} has no connection setting {key!r}", location,
                           hint=suggest(key, known, "known"))
                continue
            match = ENV_REF.match(value.strip())
            if "${" in value and not match:
                self.error("MS503", f"{value!r} is not a valid environment reference; write ${{env:NAME}}",
                           location)
            elif match is None and known[key]:
                self.error("MS501", f"{key} of {system.connector} is written as a literal",
                           location, hint=f"write `{key}: ${{env:{system.connector.upper()}_{key.upper()}}}` "
                           "and set that variable in the environment")
            elif match is not None and match.group(1) not in self.environ and key not in optional:
                hint = ""
                if key in credential_settings(system.connector):
                    hint = f"set the variables of one kind of {system.connector} credentials: " + credential_kinds(
                        system.connector)
                self.error("MS502", f"environment variable {match.group(1)} is not set", location,
                           severity=self.env_severity, hint=hint)

    # -- mappings ------------------------------------------------------------------------------------
    def entity(self, side: Side, name: str, location: Location) -> EntityCatalogue | None:
        catalogue = self.catalogues.get(side)
        if catalogue is None:
            return None
        entity = catalogue.entity(name)
        if entity is None:
            self.error("MS302", f"{catalogue.connector} has no entity {name!r}", location,
                       hint=suggest(name, catalogue.entities, "entities"))
        return entity

    def field(self, entity: EntityCatalogue, path: FieldPath, location: Location,
              setting: SettingRef | None = None, use: str = "") -> FieldInfo | None:
        info = entity.field(path.name)
        if info is None:
            hint = did_you_mean(path.name, entity.fields)
            if setting is not None and setting.overlay:
                self.named_problem(setting, f"setting {setting.path!r} names {path.name!r}, a field "
                                   f"{entity.name} does not have", hint, use)
            else:
                self.error("MS303", f"{entity.name} has no field {path.name!r}", location, hint=hint)
        return info

    def named_problem(self, setting: SettingRef, message: str, hint: str, use: str) -> None:
        """An unknown field named by an overlay's setting: reported once, where the setting was written."""
        _, uses = self.named.setdefault(("MS303", setting.location, message), (hint, {}))
        mapping_uses = uses.setdefault(self.current_mapping, [])
        if use and use not in mapping_uses:
            mapping_uses.append(use)

    def report_named(self) -> None:
        for (code, location, message), (hint, uses) in self.named.items():
            used = "; ".join(f"{mapping} ({', '.join(what)})" if what else mapping for mapping, what in uses.items())
            self.error(code, f"{message} (used by mapping {used})" if used else message, location, hint=hint)

    def named_by(self, side: FieldSide, rule: FieldRule) -> str:
        """`` (setting 'x', used by customers rule 'y')`` when an overlay's setting names the field of ``side``."""
        if side.setting is None or not side.setting.overlay:
            return ""
        return f" (setting {side.setting.path!r}, used by {self.current_mapping} rule {rule.key!r})"

    @staticmethod
    def where(side: FieldSide) -> Location:
        """Where to report a problem of a rule side: the overlay's setting when one names the field."""
        return side.setting.location if side.setting is not None and side.setting.overlay else side.location

    def side_info(self, entity: EntityCatalogue | None, side: FieldSide | None, use: str = "") -> FieldInfo | None:
        """Check a rule side's fields exist; return the field it reads (None for extractors)."""
        if entity is None or side is None:
            return None
        info = None
        if isinstance(side.reader, FieldPath):
            info = self.field(entity, side.reader, side.location, side.setting, use)
        if side.writer is not None and side.writer != side.reader:
            written = self.field(entity, side.writer, side.location, side.setting, use)
            info = info or written
        return info

    def settings_used(self, expr: Expression, location: Location) -> None:
        for missing in undefined_settings(expr, self.comp.settings):
            self.error("MS314", f"setting {missing!r} is not defined (used in {expr.text!r})", location,
                       hint=setting_hint(missing, self.comp.settings))

    def expression_fields(self, expr: Expression, entity: EntityCatalogue | None, location: Location) -> None:
        self.settings_used(expr, location)
        for name, attr in expr.attributes:
            if name == "record" and entity is not None and entity.field(attr) is None \
                    and not any(f.startswith(attr + ".") for f in entity.fields):
                self.error("MS303", f"{entity.name} has no field {attr!r} (used in {expr.text!r})", location,
                           hint=did_you_mean(attr, _tops(entity)))

    def field_rules(self, rules: tuple[tuple[FieldRule, bool], ...],
                    entities: dict[Side, EntityCatalogue | None], mapping_creates: dict[Side, bool],
                    exempt: dict[Side, set[str]]) -> None:
        written: dict[tuple[Side, str], FieldRule] = {}
        for rule, enabled in rules:
            infos = {s: self.side_info(entities[s], rule.side(s), f"rule {rule.key!r}") for s in _SIDES}
            self.defaults_in_maps(rule)
            for target in _SIDES:
                if not rule.direction.writes(target):
                    continue
                side = rule.side(target)
                if side is None:
                    continue
                if side.writer is None:
                    self.error("MS306", f"the {target.value} side is a JMESPath extractor, but the rule writes "
                               f"to {target.value} ({rule.direction.value})", side.location)
                    continue
                entity = entities[target]
                target_info = entity.field(side.writer.name) if entity else None
                if target_info is None:
                    continue
                if enabled:
                    key = (target, side.writer.name)
                    if key in written:
                        self.error("MS308", f"{target.value} field {side.writer.name!r} is also written by the "
                                   f"rule at line {written[key].location.line}", self.where(side))
                    written[key] = rule
                if target_info.read_only:
                    away = "erp-to-crm" if target is Side.ERP else "crm-to-erp"
                    one_way = f"make the rule one-way: direction: {away}"
                    self.error("MS304", f"{entity.name}.{target_info.name} is read-only "  # type: ignore[union-attr]
                               f"in {self.catalogues[target].connector}"  # type: ignore[union-attr]
                               + self.named_by(side, rule), self.where(side),
                               hint=f"name a field {self.catalogues[target].connector} lets you write "  # type: ignore[union-attr]
                               f"in the setting, or {one_way} in {self.current_mapping}"
                               if self.where(side) != side.location else one_way)
                    continue
                other = rule.side(target.other)
                named = other if other is not None and self.where(side) == side.location \
                    and self.where(other) != other.location else side
                self.types(rule, target, infos[target.other], target_info, self.where(named),
                           self.named_by(named, rule))
            for expr, prop in ((rule.to_erp, "transform.to_erp"), (rule.to_crm, "transform.to_crm")):
                if expr is not None:
                    self.expression_fields_any(expr, entities, rule.where(prop))
        for target, creates in mapping_creates.items():
            entity = entities[target]
            if not creates or entity is None:
                continue
            provided = {k[1] for k in written if k[0] is target} | exempt[target]
            for name in entity.required_on_create:
                if name not in provided and name != entity.id_field:
                    self.error("MS312", f"{entity.name}.{name} is required to create a record, and no rule "
                               "writes it", self.current_location, severity=Severity.WARNING)

    def expression_fields_any(self, expr: Expression, entities: dict[Side, EntityCatalogue | None],
                              location: Location) -> None:
        self.settings_used(expr, location)
        for name, attr in expr.attributes:
            if name == "record":
                known = [e for e in entities.values() if e is not None]
                if known and not any(e.field(attr) or any(f.startswith(attr + ".") for f in e.fields)
                                     for e in known):
                    self.error("MS303", f"no field {attr!r} on either side (used in {expr.text!r})", location,
                               hint=did_you_mean(attr, [f for e in known for f in _tops(e)]))

    def types(self, rule: FieldRule, target: Side, source: FieldInfo | None, info: FieldInfo,
              location: Location, named_by: str = "") -> None:
        value_map = rule.value_map_to(target)
        for label, value in (("value", rule.constant), ("default", rule.default)):
            if value is MISSING or value is None:
                continue
            if value_map is not None:
                found, mapped = self.in_map(value_map, value)
                if found == "key" and rule.transform(target) is None and isinstance(mapped, str | int | float | bool):
                    self.value_fits(mapped, info, f"{label} {thaw(value)!r} (mapped to {mapped!r})", rule.where(label))
                if found != "value":
                    continue  # a key is checked as what it maps to; neither: MS323
            self.value_fits(value, info, f"{label} {thaw(value)!r}", rule.where(label))
        if rule.constant is not MISSING or rule.transform(target) is not None:
            return
        if value_map is not None:
            map_at = rule.where("map_reverse" if target is Side.CRM and "map_reverse" in rule.locations else "map")
            for v in value_map.values():
                if isinstance(v, str | int | float | bool):  # the schema reports anything else
                    self.value_fits(v, info, f"value map result {v!r}", map_at)
            return
        if source is not None and not compatible(source.type, info.type):
            self.error("MS305", f"{source.name} ({source.type}) cannot be written to {info.name} ({info.type}) "
                       "without a map or transform" + named_by, location)

    @staticmethod
    def in_map(value_map: Mapping[Any, Any], value: Any) -> tuple[str, Any]:
        """``("key", mapped)`` when ``value`` is a key of the map, ``("value", value)`` when it is one of its
        values (written as it is), ``("", None)`` when neither."""
        if isinstance(value, str | int | float | bool):
            for candidate in (value, str(value)):
                if candidate in value_map:
                    return "key", value_map[candidate]
            if any(value == v or str(value) == str(v) for v in value_map.values()):
                return "value", value
        return "", None

    def defaults_in_maps(self, rule: FieldRule) -> None:
        """MS323: a ``value`` or ``default`` of a rule with a value map must be a key of the map towards each
        side the rule writes (the value it maps to is written) or one of its values (written as it is)."""
        for label, value in (("value", rule.constant), ("default", rule.default)):
            if value is MISSING or value is None:
                continue
            wrong: list[tuple[Side, str, Mapping[Any, Any]]] = []
            for target in (Side.ERP, Side.CRM):
                value_map = rule.value_map_to(target)
                side = rule.side(target)
                if value_map is None or side is None or side.writer is None or not rule.direction.writes(target):
                    continue
                if not self.in_map(value_map, value)[0]:
                    prop = "map_reverse" if target is Side.CRM and "map_reverse" in rule.locations else "map"
                    wrong.append((target, prop, value_map))
            if not wrong:
                continue
            towards = " and ".join(f"its `{prop}` towards {target.value}" for target, prop, _ in wrong)
            _, prop, first = wrong[0]
            results = dict.fromkeys(v for v in first.values() if isinstance(v, str | int | float | bool))
            self.error("MS323", f"{label} {thaw(value)!r} of rule {rule.key!r} is neither a key nor a value of "
                       f"{towards}: it would be written as it is, a value the map never gives",
                       rule.where(label), hint=f"use a key of `{prop}` ({', '.join(map(repr, first))}), which is "
                       f"mapped, or one of its values ({', '.join(map(repr, results))}); or add {thaw(value)!r} "
                       "to the map")

    def value_fits(self, value: Any, info: FieldInfo, label: str, location: Location) -> None:
        vtype = _value_type(value)
        if vtype is not None and not compatible(vtype, info.type) and not (
                vtype == "string" and info.type in {"date", "datetime", "number", "integer"}):
            self.error("MS305", f"{label} is {_article(vtype)}, but {info.name} is {_article(info.type)}", location)
            return
        if isinstance(value, str | int | float) and not isinstance(value, bool) and not _readable_as(value, info.type):
            self.error("MS305", f"{label} cannot be read as {_article(_TYPE_WORDS[info.type])}, which {info.name} "
                       "is", location, hint=_TYPE_HINTS[info.type])
            return
        if info.enum is not None and value not in info.enum:
            self.error("MS305", f"{label} is not one of the values {info.name} allows", location,
                       hint="allowed: " + ", ".join(str(v) for v in info.enum))
        if info.max_length and isinstance(value, str) and len(value) > info.max_length:
            self.error("MS313", f"{label} has {len(value)} characters; {info.name} allows {info.max_length}",
                       location)

    def key_pair(self, pair: KeyPair, entities: dict[Side, EntityCatalogue | None], what: str) -> None:
        for side in _SIDES:
            entity = entities[side]
            if entity is not None and entity.field(pair.side(side).name) is None:
                setting = pair.settings.get(side.value)
                if setting is not None and setting.overlay:
                    self.field(entity, pair.side(side), pair.where(side.value), setting, what)
                    continue
                self.error("MS319", f"{what}: {entity.name} has no field {pair.side(side).name!r}",
                           pair.where(side.value), hint=did_you_mean(pair.side(side).name, entity.fields))

    def mapping(self, compiled: CompiledMapping) -> None:
        rule = compiled.rule
        self.current_location = rule.location
        self.current_mapping = rule.name
        entities = {
            Side.CRM: self.entity(Side.CRM, rule.crm_entity, rule.where("crm")),
            Side.ERP: self.entity(Side.ERP, rule.erp_entity, rule.where("erp")),
        }
        for side, expr in rule.conditions.items():
            self.expression_fields(expr, entities[side], rule.where(f"conditions.{side.value}"))
        for pair in rule.match:
            self.key_pair(pair, entities, "match key")
        exempt: dict[Side, set[str]] = {Side.CRM: set(), Side.ERP: set()}
        if rule.parent_key is not None:
            self.key_pair(rule.parent_key, entities, "parent key")
            for side in Side:
                exempt[side].add(rule.parent_key.side(side).name)
        for line in rule.lines:
            exempt[Side.ERP].add(line.erp_collection.name)
        # Without a list of field rules (the schema reported it), "no rule writes X" is no news.
        creates = {s: rule.direction.writes(s) and compiled.fields_listed for s in Side}
        self.field_rules(compiled.all_fields, entities, creates, exempt)
        self.maps_cover_conditions(compiled)
        for index, line in enumerate(rule.lines):
            fields = compiled.line_fields[index] if index < len(compiled.line_fields) else ()
            self.line(line, fields, entities)

    def maps_cover_conditions(self, compiled: CompiledMapping) -> None:
        """MS322: a value map on a field that a condition restricts to a settings list lacks values of the list:
        every record with such a value would fail at run time."""
        rule = compiled.rule
        for side in Side:
            for expr in (rule.conditions.get(side), rule.create_conditions.get(side)):
                if expr is None:
                    continue
                for name, path in restrictions(expr):
                    values = self.setting_value(path)
                    if not isinstance(values, list | tuple):
                        continue
                    for field_rule, _ in compiled.all_fields:
                        self.map_covers(field_rule, side, name, path, values, expr)

    def setting_value(self, path: tuple[str, ...]) -> Any:
        current: Any = self.comp.settings
        for part in path:
            if not isinstance(current, Mapping) or part not in current:
                return MISSING
            current = current[part]
        return current

    def map_covers(self, rule: FieldRule, side: Side, name: str, path: tuple[str, ...], values: Any,
                   expr: Expression) -> None:
        source = rule.side(side)
        target = side.other
        if source is None or not isinstance(source.reader, FieldPath) or source.reader.name != name \
                or rule.constant is not MISSING or not rule.direction.writes(target):
            return
        value_map = rule.value_map_to(target)
        if value_map is None:
            return
        missing = [v for v in values if v is not None and v not in value_map and str(v) not in value_map]
        if not missing:
            return
        prop = "map_reverse" if target is Side.CRM and "map_reverse" in rule.locations else "map"
        map_at = rule.where(prop)
        origin = self.comp.raw.setting_origins.get(path)
        dotted = ".".join(path)
        at_setting = origin is not None and is_overlay(origin.doc)
        listed = ", ".join(repr(v) for v in missing)
        where = f" (at {map_at.file}:{map_at.line})" if at_setting else ""
        them = "it" if len(missing) == 1 else "them"
        self.error(
            "MS322", f"setting {dotted!r} lets {listed} through the condition {expr.text!r} of mapping "
            f"{self.current_mapping}, but the `{prop}` of rule {rule.key!r}{where} has no entry for {them}: "
            "such records would fail at run time",
            origin.location() if at_setting and origin is not None else map_at,
            hint=f"add {listed} to `{prop}` of rule {rule.key!r}"
            + (" (as values of `map`, which is reversed for the way back)" if prop == "map" and target is Side.CRM
               else "") + f", or remove {them} from settings.{dotted}")

    def line(self, line: LineRule, fields: tuple[tuple[FieldRule, bool], ...],
             entities: dict[Side, EntityCatalogue | None]) -> None:
        crm_entity = self.entity(Side.CRM, line.crm_entity, line.where("crm.entity"))
        if crm_entity is not None and crm_entity.field(line.crm_parent_field.name) is None:
            self.error("MS318", f"{crm_entity.name} has no field {line.crm_parent_field.name!r}",
                       line.where("crm.parent_field"), hint=did_you_mean(line.crm_parent_field.name, crm_entity.fields))
        erp_parent = entities[Side.ERP]
        erp_entity: EntityCatalogue | None = None
        if erp_parent is not None:
            collection = erp_parent.field(line.erp_collection.name)
            if collection is None or not collection.lines:
                collections = [f.name for f in erp_parent.fields.values() if f.lines]
                self.error("MS318", f"{erp_parent.name}.{line.erp_collection.name} is not a collection of "
                           "line records", line.where("erp.collection"),
                           hint=suggest(line.erp_collection.name, collections, "collections")
                           or f"{erp_parent.name} has no collections of line records")
            else:
                catalogue = self.catalogues[Side.ERP]
                erp_entity = catalogue.entity(collection.lines) if catalogue else None
        line_entities = {Side.CRM: crm_entity, Side.ERP: erp_entity}
        for pair in line.match:
            self.key_pair(pair, line_entities, "line match key")
        self.field_rules(fields, line_entities,
                         {Side.CRM: False, Side.ERP: False}, {Side.CRM: set(), Side.ERP: set()})

    def parents(self) -> None:
        enabled = {m.rule.name: m for m in self.comp.mappings if m.enabled}
        for m in self.comp.mappings:
            if m.rule.parent is None or not m.enabled:
                continue
            if m.rule.parent not in enabled:
                if m.rule.parent in self.comp.raw.mappings and \
                        not any(x.rule.name == m.rule.parent for x in self.comp.mappings):
                    continue  # it exists but could not be compiled: its own errors are reported
                state = "disabled" if m.rule.parent in self.comp.raw.mappings else "missing"
                hint = "" if state == "disabled" else did_you_mean(m.rule.parent, self.comp.raw.mappings)
                self.error("MS309", f"parent mapping {m.rule.parent!r} is {state}",
                           m.parent_location or m.rule.location, hint=hint)
                continue
            chain = [m.rule.name]
            current: CompiledMapping | None = enabled[m.rule.parent]
            while current is not None and current.rule.name not in chain:
                chain.append(current.rule.name)
                current = enabled.get(current.rule.parent) if current.rule.parent else None
            if current is not None and current.rule.name == m.rule.name:
                self.error("MS309", "parent chain is a cycle: " + " -> ".join([*chain, m.rule.name]),
                           m.parent_location or m.rule.location)


def check(comp: Compilation, environ: Mapping[str, str] | None = None,
          env_severity: Severity = Severity.WARNING) -> list[Diagnostic]:
    """Every semantic problem of a compiled rule set."""
    checker = _Checker(comp, os.environ if environ is None else environ, env_severity)
    checker.systems()
    for compiled in comp.mappings:
        checker.mapping(compiled)
    checker.parents()
    checker.report_named()
    seen: set[tuple[str, Location, str]] = set()
    out: list[Diagnostic] = []
    for diagnostic in checker.out:  # one report per problem, even when several rules lead to it
        key = (diagnostic.code, diagnostic.location, diagnostic.message)
        if key not in seen:
            seen.add(key)
            out.append(diagnostic)
    return out
