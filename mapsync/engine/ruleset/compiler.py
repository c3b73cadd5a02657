"""From a merged ``RawRuleSet`` to the frozen, compiled ``RuleSet`` model.

One small builder per rule kind (side, field rule, key pair, line rule, mapping, system). Builders
compile every JMESPath extractor and expression once, resolve ``${settings.path}`` in field names,
evaluate ``enabled`` switches over the settings, and collect every problem as a diagnostic. Rules
switched off by ``enabled`` are still compiled and checked (so a consultant learns about an error
before flipping the switch) but are left out of the model the engine runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from mapsync.engine.diagnostics import Diagnostic, Excerpt, Location
from mapsync.engine.diagnostics.suggest import closest, did_you_mean, suggest
from mapsync.engine.expressions import Expression, ExpressionError, compile_expression
from mapsync.engine.extractors import MISSING, FieldPath, compile_jmespath
from mapsync.engine.ruleset.loader import Located, RawRuleSet, is_overlay
from mapsync.engine.ruleset.model import (
    ConflictPolicy,
    Direction,
    FieldRule,
    FieldSide,
    FirstContactPolicy,
    KeyPair,
    LineRule,
    MappingRule,
    SettingRef,
    Side,
    SystemConfig,
    UnmappedPolicy,
    WritePolicy,
)
from mapsync.engine.ruleset.source import SourceDocument

CONDITION_NAMES = ("record", "settings")
TRANSFORM_NAMES = ("value", "record", "settings")
ENABLED_NAMES = ("settings",)
_SETTING_REF = re.compile(r"^\$\{settings\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)\}$")
_E = TypeVar("_E", Direction, WritePolicy, ConflictPolicy, FirstContactPolicy, UnmappedPolicy)


def _choice(kind: type[_E], value: Any, default: _E) -> _E:
    """The enum member named by ``value``; ``default`` for a bad value (the schema reported it)."""
    member = kind._value2member_map_.get(value) if isinstance(value, str) else None
    return member if isinstance(member, kind) else default


def undefined_settings(expr: Expression, settings: dict[str, Any]) -> list[str]:
    """Dotted names of the settings ``expr`` reads (``settings.a.b``) that ``settings`` does not define."""
    missing: list[str] = []
    for chain in expr.chains:
        if chain[0] != "settings":
            continue
        current: Any = settings
        for depth, part in enumerate(chain[1:], start=1):
            if not isinstance(current, dict):
                break  # a value, not a group of settings: what follows is not a setting name
            if part not in current:
                missing.append(".".join(chain[1:depth + 1]))
                break
            current = current[part]
    return missing


def setting_hint(dotted: str, settings: dict[str, Any]) -> str:
    """``did you mean 'crm_fields.customer_number'?`` for an undefined setting, when one is close."""
    parts = dotted.split(".")
    current: Any = settings
    for part in parts[:-1]:
        if not isinstance(current, dict) or part not in current:
            return ""
        current = current[part]
    if not isinstance(current, dict):
        return ""
    close = closest(parts[-1], current)
    return f"did you mean {'.'.join([*parts[:-1], close])!r}?" if close is not None else ""


def _locations(at: Located, *keys: str) -> MappingProxyType[str, Location]:
    """Locations of the (dotted) properties of ``at`` that are present."""
    out: dict[str, Location] = {}
    doc, path, data = at.doc, at.path, at.value
    for key, parts in _dotted(keys):
        current = data
        for part in parts:
            if not isinstance(current, dict) or part not in current:
                break
            current = current[part]
        else:
            out[key] = doc.location((*path, *parts))
    return MappingProxyType(out)


@cache
def _dotted(keys: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each key with its parts: ``transform.to_erp`` -> ``("transform", "to_erp")``."""
    return tuple((key, tuple(key.split("."))) for key in keys)


def _items(value: Any) -> range:
    """Indexes of a list; none when the value is not a list (the schema reported it)."""
    return range(len(value)) if isinstance(value, list) else range(0)


def freeze(value: Any) -> Any:
    """Deeply read-only copy of plain YAML data (dicts become mapping proxies, lists tuples)."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Plain dicts and lists again, for expression evaluation."""
    if isinstance(value, MappingProxyType | dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


@dataclass
class CompiledMapping:
    """A compiled mapping with the rules its switches turned off (kept for checking)."""

    rule: MappingRule
    enabled: bool
    all_fields: tuple[tuple[FieldRule, bool], ...]  # (rule, enabled)
    parent_location: Location | None = None
    fields_listed: bool = True  # `fields` is a list (else the schema reported it)
    line_fields: tuple[tuple[tuple[FieldRule, bool], ...], ...] = ()  # per line rule, (rule, enabled)


@dataclass
class Compilation:
    """What the compiler produced; ``semantics`` checks it against the catalogues."""

    raw: RawRuleSet
    settings: dict[str, Any]
    crm: SystemConfig | None = None
    erp: SystemConfig | None = None
    mappings: list[CompiledMapping] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


class _Builder:
    def __init__(self, raw: RawRuleSet, *, settings_known: bool = True) -> None:
        self.raw = raw
        self.settings = raw.settings
        self.settings_known = settings_known  # False for a lone mapping file: no rule set, no settings
        self.diagnostics: list[Diagnostic] = []
        self.reported: set[tuple[str, Location, str]] = set()

    # -- helpers -------------------------------------------------------------------------------------
    def error(self, code: str, message: str, location: Location, hint: str = "",
              excerpt: Excerpt | None = None) -> None:
        if (code, location, message) in self.reported:
            return  # the same problem reached twice (a setting of an overlay used by several rules)
        self.reported.add((code, location, message))
        self.diagnostics.append(Diagnostic(code, message, location, hint=hint, excerpt=excerpt))

    def expression(self, at: Located, names: tuple[str, ...]) -> Expression | None:
        text = at.value
        if not isinstance(text, str):
            return None
        compiled, problems = compile_expression(text, names)
        for problem in problems:
            self.error(problem.code, f"{problem.message} in expression {text.strip()!r}"
                       + _at(problem.line, problem.column, text.strip()), at.location(), hint=problem.hint,
                       excerpt=_excerpt(text.strip(), problem.line, problem.column, problem.end_column))
        return compiled

    def setting(self, dotted: str) -> Any:
        current: Any = self.settings
        for part in dotted.split("."):
            if not isinstance(current, dict) or part not in current:
                return MISSING
            current = current[part]
        return current

    def field_name(self, at: Located, text: str) -> str | None:
        """A field name, resolving a whole-string ``${settings.path}`` reference."""
        if "${" not in text:
            return text
        match = _SETTING_REF.match(text.strip())
        if not match:
            self.error("MS503", f"{text!r} is not a valid reference; write ${{settings.path}}", at.location())
            return None
        if not self.settings_known:
            return None  # cannot be resolved without the rule set; not an error of this file
        value = self.setting(match.group(1))
        if value is MISSING:
            self.error("MS314", f"setting {match.group(1)!r} is not defined", at.location(),
                       hint=setting_hint(match.group(1), self.settings))
            return None
        if not isinstance(value, str) or not value:
            ref = self.setting_ref(text)
            where = ref.location if ref is not None and ref.overlay else at.location()
            if not any(d.code == "MS203" and d.location == where for d in self.raw.diagnostics):  # the schema's
                self.error("MS203", f"setting {match.group(1)!r} must be a field name (text), got {value!r}", where)
            return None
        return value

    def setting_ref(self, text: str) -> SettingRef | None:
        """The setting a field name ``${settings.path}`` refers to, with where its value was written."""
        match = _SETTING_REF.match(text.strip()) if "${" in text else None
        if match is None or not self.settings_known:
            return None
        origin = self.raw.setting_origins.get(tuple(match.group(1).split(".")))
        if origin is None:
            return None
        return SettingRef(match.group(1), origin.location(), is_overlay(origin.doc))

    def enabled(self, at: Located | None) -> bool:
        if at is None:
            return True
        value = at.value
        if isinstance(value, bool):
            return value
        expr = self.expression(at, ENABLED_NAMES)
        if expr is None or not self.settings_known:
            return True  # reported (or not decidable without the rule set); keep checking the rest
        for missing in undefined_settings(expr, self.settings):
            self.error("MS314", f"setting {missing!r} is not defined", at.location(),
                       hint=setting_hint(missing, self.settings))
            return True
        try:
            return bool(expr.evaluate({"settings": self.settings}))
        except ExpressionError as exc:
            self.error("MS402", f"the switch cannot be evaluated: {exc}", at.location())
            return True

    # -- builders ------------------------------------------------------------------------------------
    def side(self, at: Located | None) -> FieldSide | None:
        if at is None:
            return None
        value = at.value
        if isinstance(value, str):
            name = self.field_name(at, value)
            if name is None:
                return None
            path = FieldPath(name)
            return FieldSide(reader=path, writer=path, location=at.location(), setting=self.setting_ref(value))
        if not isinstance(value, dict):
            return None
        writer: FieldPath | None = None
        setting: SettingRef | None = None
        field_at = at.get("field")
        if field_at is not None and isinstance(field_at.value, str):
            name = self.field_name(field_at, field_at.value)
            if name is None:
                return None
            writer = FieldPath(name)
            setting = self.setting_ref(field_at.value)
        read_at = at.get("read")
        if read_at is not None and isinstance(read_at.value, str):
            extractor, problem = compile_jmespath(read_at.value)
            if problem is not None:
                self.error("MS405", f"{problem.message} in {read_at.value!r}"
                           + _at(problem.line, problem.column, read_at.value), read_at.location(), hint=problem.hint,
                           excerpt=_excerpt(read_at.value, problem.line, problem.column, problem.end_column))
                return None
            assert extractor is not None
            return FieldSide(reader=extractor, writer=writer, location=at.location(), setting=setting)
        if writer is None:
            return None
        return FieldSide(reader=writer, writer=writer, location=at.location(), setting=setting)

    def key_pair(self, at: Located) -> KeyPair | None:
        value = at.value
        if not isinstance(value, dict) or not isinstance(value.get("crm"), str) \
                or not isinstance(value.get("erp"), str):
            return None
        crm_at, erp_at = at.child("crm"), at.child("erp")
        crm = self.field_name(crm_at, crm_at.value)
        erp = self.field_name(erp_at, erp_at.value)
        if crm is None or erp is None:
            return None
        refs = {side: ref for side, side_at in (("crm", crm_at), ("erp", erp_at))
                if (ref := self.setting_ref(side_at.value)) is not None}
        return KeyPair(FieldPath(crm), FieldPath(erp), at.location(), _locations(at, "crm", "erp"),
                       MappingProxyType(refs))

    def field_rule(self, at: Located, mapping_direction: Direction) -> tuple[FieldRule, bool] | None:
        data = at.value
        if not isinstance(data, dict):
            return None
        crm = self.side(at.get("crm"))
        erp = self.side(at.get("erp"))
        if ("crm" in data and crm is None) or ("erp" in data and erp is None):
            return None  # a side failed to compile; reported
        constant = data.get("value", MISSING)
        direction = mapping_direction
        direction_at = at.get("direction")
        if direction_at is not None:
            direction = _choice(Direction, direction_at.value, mapping_direction)
        elif crm is None or erp is None:
            direction = Direction.ERP_TO_CRM if erp is None else Direction.CRM_TO_ERP
        if (crm is None or erp is None) and constant is MISSING:
            self.error("MS320", "a rule with only one side needs `value` (a constant to write)", at.location())
            return None
        if not direction.within(mapping_direction):
            self.error("MS311", f"field direction {direction.value} lies outside the mapping direction "
                       f"{mapping_direction.value}", (direction_at or at).location())
        value_map = data.get("map")
        reverse = data.get("map_reverse")
        reverse_map: dict[Any, Any] | None = None
        if isinstance(reverse, dict):
            reverse_map = dict(reverse)
        elif isinstance(value_map, dict):
            inverted: dict[Any, Any] = {}
            clashes: list[str] = []
            for k, v in value_map.items():
                if not isinstance(v, str | int | float | bool | None):
                    continue  # not a scalar: the schema reported it
                if v in inverted:
                    clashes.append(f"{inverted[v]!r} and {k!r} both map to {v!r}")
                else:
                    inverted[v] = k
            if clashes and direction.writes(Side.CRM):
                map_at = at.child("map")
                self.error("MS307", "the value map is not reversible: " + "; ".join(clashes), map_at.location())
            reverse_map = inverted
        transform_at = at.get("transform")
        to_erp = to_crm = None
        if transform_at is not None and isinstance(transform_at.value, dict):
            if (t := transform_at.get("to_erp")) is not None:
                to_erp = self.expression(t, TRANSFORM_NAMES)
            if (t := transform_at.get("to_crm")) is not None:
                to_crm = self.expression(t, TRANSFORM_NAMES)
        labels = [s.label for s in (crm, erp) if s is not None]
        rule = FieldRule(
            key=str(data.get("name") or " <-> ".join(labels)),
            crm=crm,
            erp=erp,
            direction=direction,
            location=at.location(),
            value_map=MappingProxyType(dict(value_map)) if isinstance(value_map, dict) else None,
            reverse_map=MappingProxyType(reverse_map) if reverse_map is not None else None,
            to_erp=to_erp,
            to_crm=to_crm,
            constant=freeze(constant),
            default=freeze(data.get("default", MISSING)),
            write=_choice(WritePolicy, data.get("write", "always"), WritePolicy.ALWAYS),
            conflict=_choice(ConflictPolicy, data["conflict"], ConflictPolicy.ERP_WINS) if "conflict" in data
            else None,
            first_contact=_choice(FirstContactPolicy, data["first_contact"], FirstContactPolicy.HOLD)
            if "first_contact" in data else None,
            on_unmapped=_choice(UnmappedPolicy, data.get("on_unmapped", "hold"), UnmappedPolicy.HOLD),
            locations=_locations(at, "value", "default", "map", "map_reverse", "transform.to_erp",
                                 "transform.to_crm", "name", "direction", "write", "conflict", "first_contact",
                                 "on_unmapped", "enabled"),
        )
        return rule, self.enabled(at.get("enabled"))

    def line_rule(self, at: Located, mapping_direction: Direction) \
            -> tuple[LineRule, tuple[tuple[FieldRule, bool], ...]] | None:
        """A line rule and all its field rules with their switches (off ones are checked too)."""
        data = at.value
        if not isinstance(data, dict) or not isinstance(data.get("crm"), dict) \
                or not isinstance(data.get("erp"), dict):
            return None
        crm_entity, parent_field = data["crm"].get("entity"), data["crm"].get("parent_field")
        collection = data["erp"].get("collection")
        if not all(isinstance(v, str) for v in (crm_entity, parent_field, collection)):
            return None  # the schema reported it
        direction = _choice(Direction, data.get("direction"), mapping_direction)
        if not direction.within(mapping_direction):
            self.error("MS311", f"line direction {direction.value} lies outside the mapping direction "
                       f"{mapping_direction.value}", at.child("direction").location())
        all_fields: list[tuple[FieldRule, bool]] = []
        for index in _items(data.get("fields")):
            built = self.field_rule(at.child("fields", index), direction)
            if built is not None:
                all_fields.append(built)
        match = [kp for i in _items(data.get("match")) if (kp := self.key_pair(at.child("match", i)))]
        line = LineRule(
            name=str(data.get("name")),
            crm_entity=crm_entity,
            crm_parent_field=FieldPath(parent_field),
            erp_collection=FieldPath(collection),
            direction=direction,
            match=tuple(match),
            fields=tuple(r for r, on in all_fields if on),
            location=at.location(),
            locations=_locations(at, "crm.entity", "crm.parent_field", "erp.collection", "name", "direction",
                                 "match"),
        )
        return line, tuple(all_fields)

    def mapping(self, top: Located, overrides: list[Located]) -> CompiledMapping | None:
        data = top.value
        required = ("name", "crm", "erp", "direction")
        if not all(isinstance(data.get(k), str) for k in required):
            return None  # the schema reported it
        if data["direction"] not in Direction._value2member_map_:
            return None
        direction = Direction(data["direction"])
        conflict = _choice(ConflictPolicy, data.get("conflict"), ConflictPolicy.ERP_WINS)
        first_contact = _choice(FirstContactPolicy, data.get("first_contact"), FirstContactPolicy.HOLD)
        enabled_at = top.get("enabled")
        conditions_at = top.get("conditions")
        create_conditions_at = top.get("create_conditions")
        match_at = top.get("match")
        # Where each mapping-level property got its (effective) value: the file, or the last override.
        written: dict[str, Located] = {k: at for k in ("name", "description", "direction", "conflict",
                                                        "first_contact") if (at := top.get(k)) is not None}
        for override in overrides:
            o = override.value if isinstance(override.value, dict) else {}
            for key in ("direction", "conflict", "first_contact"):
                if key in o:
                    written[key] = override.child(key)
            if "enabled" in o:
                enabled_at = override.child("enabled")
            if "direction" in o:
                direction = _choice(Direction, o["direction"], direction)
            if "conflict" in o:
                conflict = _choice(ConflictPolicy, o["conflict"], conflict)
            if "first_contact" in o:
                first_contact = _choice(FirstContactPolicy, o["first_contact"], first_contact)
            if "conditions" in o:
                conditions_at = override.child("conditions")
            if "create_conditions" in o:
                create_conditions_at = override.child("create_conditions")
            if "match" in o:
                match_at = override.child("match")
        enabled = self.enabled(enabled_at)
        conditions = self.conditions(conditions_at)
        create_conditions = self.conditions(create_conditions_at)
        all_fields: list[tuple[FieldRule, bool]] = []
        for at in self.field_rules_at(top, overrides):
            built = self.field_rule(at, direction)
            if built is not None:
                all_fields.append(built)
        match: list[KeyPair] = []
        if match_at is not None and isinstance(match_at.value, list):
            match = [kp for i, _ in enumerate(match_at.value) if (kp := self.key_pair(match_at.child(i)))]
        parent_key = self.key_pair(top.child("parent_key")) if "parent_key" in data else None
        lines = [lr for i in _items(data.get("lines")) if (lr := self.line_rule(top.child("lines", i), direction))]
        parent_at = top.get("parent")
        rule = MappingRule(
            name=data["name"],
            description=str(data.get("description", "")),
            crm_entity=data["crm"],
            erp_entity=data["erp"],
            direction=direction,
            conflict=conflict,
            fields=tuple(r for r, on in all_fields if on),
            location=top.location(),
            file=top.doc.file,
            conditions=MappingProxyType(conditions),
            create_conditions=MappingProxyType(create_conditions),
            match=tuple(match),
            parent=data.get("parent") if isinstance(data.get("parent"), str) else None,
            parent_key=parent_key,
            lines=tuple(line for line, _ in lines),
            first_contact=first_contact,
            locations=MappingProxyType({
                **_locations(top, "crm", "erp", "parent"),
                **{key: at.location() for key, at in written.items()},
                **{f"conditions.{side.value}": c.location() for side in Side
                   if conditions_at is not None and (c := conditions_at.get(side.value)) is not None},
                **{f"create_conditions.{side.value}": c.location() for side in Side
                   if create_conditions_at is not None and (c := create_conditions_at.get(side.value)) is not None},
                **({"match": match_at.location()} if match_at is not None else {}),
                **({"enabled": enabled_at.location()} if enabled_at is not None else {}),
            }),
        )
        return CompiledMapping(rule, enabled, tuple(all_fields),
                               parent_location=parent_at.location() if parent_at else None,
                               fields_listed=isinstance(data.get("fields"), list),
                               line_fields=tuple(fields for _, fields in lines))

    def field_rules_at(self, top: Located, overrides: list[Located]) -> list[Located]:
        """The mapping's field rules after the ``overrides`` of derived rule sets: an override rule with the
        label (``name``, else ``crm <-> erp``) of an inherited one replaces it, another is added, and
        ``remove_fields`` drops inherited ones by label."""
        rules = [top.child("fields", i) for i in _items(top.value.get("fields"))]
        for override in overrides:
            o = override.value if isinstance(override.value, dict) else {}
            removals = o.get("remove_fields")
            for index, label in enumerate(removals if isinstance(removals, list) else []):
                kept = [at for at in rules if _rule_label(at.value) != label]
                if len(kept) == len(rules):
                    self.unknown_rule(override.child("remove_fields", index), str(label), rules)
                rules = kept
            for index in _items(o.get("fields")):
                at = override.child("fields", index)
                label = _rule_label(at.value)
                position = next((i for i, old in enumerate(rules) if _rule_label(old.value) == label), None)
                if position is None:
                    rules.append(at)
                else:
                    rules[position] = at
        return rules

    def unknown_rule(self, at: Located, label: str, rules: list[Located]) -> None:
        known = [lbl for r in rules if (lbl := _rule_label(r.value))]
        did = did_you_mean(label, known)
        self.error("MS321", f"no inherited field rule is labelled {label!r}", at.location(),
                   hint=(f"{did} " if did else "") + "labels: " + ", ".join(known))

    def conditions(self, at: Located | None) -> dict[Side, Expression]:
        out: dict[Side, Expression] = {}
        if at is not None and isinstance(at.value, dict):
            for side in Side:
                if (c := at.get(side.value)) is not None:
                    expr = self.expression(c, CONDITION_NAMES)
                    if expr is not None:
                        out[side] = expr
        return out

    def system(self, side: str) -> SystemConfig | None:
        raw = self.raw.systems.get(side)
        if raw is None or raw.connector is None or not isinstance(raw.connector.value, str):
            return None
        connection = {k: str(v.value) for k, v in raw.connection.items()}
        return SystemConfig(raw.connector.value, MappingProxyType(connection), raw.connector.location())


def _side_label(side: Any) -> str:
    if isinstance(side, dict):
        return str(side.get("field") or side.get("read") or "")
    return "" if side is None else str(side)


def _rule_label(rule: Any) -> str:
    """How overrides name a field rule: its ``name``, else ``<crm side> <-> <erp side>``."""
    if not isinstance(rule, dict):
        return ""
    if isinstance(rule.get("name"), str):
        return str(rule["name"])
    return " <-> ".join(label for label in (_side_label(rule.get("crm")), _side_label(rule.get("erp"))) if label)


def _at(line: int, column: int, text: str) -> str:
    """`` at column 5`` (`` at line 2, column 5`` in a text of several lines) for a message; nothing without one."""
    if column <= 0:
        return ""
    return f" at line {line}, column {column}" if "\n" in text else f" at column {column}"


def _excerpt(text: str, line: int, column: int, end_column: int = 0) -> Excerpt | None:
    """The line ``line`` of ``text`` with the span a problem points at, for the formats to mark."""
    lines = text.splitlines() or [""]
    if column <= 0 or not 0 < line <= len(lines):
        return None
    return Excerpt(lines[line - 1], column, end_column)


def compile_raw(raw: RawRuleSet) -> Compilation:
    """Compile every mapping of a merged rule set; collects problems instead of raising."""
    builder = _Builder(raw)
    result = Compilation(raw=raw, settings=raw.settings)
    result.crm = builder.system("crm")
    result.erp = builder.system("erp")
    root = raw.root.data
    if isinstance(root, dict) and ("systems" in root or "extends" in root) and not raw.incomplete:
        # Without `extends` the schema requires `systems`; with it, a side may come from the parent.
        for side in ("crm", "erp"):
            system = raw.systems.get(side)
            if system is None or not system.declared:
                builder.error("MS202", f"the rule set has no {side} system: add systems.{side}",
                              raw.root.location(("systems",), key=True))
    for name, doc in raw.mappings.items():
        if doc.data is None:
            continue
        compiled = builder.mapping(Located(doc, ()), raw.overrides.get(name, []))
        if compiled is not None:
            result.mappings.append(compiled)
    known = set(raw.mappings)
    for name, located in raw.overrides.items():
        if name not in known:
            for at in located:
                builder.error("MS316", f"overrides name {name!r}, which is not a mapping of this rule set",
                              at.location(key=True), hint=suggest(name, known, "known mappings"))
    result.diagnostics.extend(builder.diagnostics)
    return result


def compile_lone_mapping(doc: SourceDocument) -> list[Diagnostic]:
    """Compile a mapping file that has no rule set around it (no settings, no catalogue checks)."""
    builder = _Builder(RawRuleSet(folder=Path(doc.file).parent, root=doc), settings_known=False)
    builder.mapping(Located(doc, ()), [])
    return builder.diagnostics
