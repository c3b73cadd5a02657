"""The rule set as Markdown to hand to the customer (``mapsync doc``).

``render_doc`` turns the compiled ``RuleSet`` (``extends`` merged, settings substituted, ``enabled``
switches and ``overrides`` applied) into a document: the rule set's name and description, its settings,
then one section per enabled mapping in run order (parents first) with its entity pair, direction,
conditions, match keys, policies and a table of its field rules (line rules as sub-tables).

Pure: no connection, no file written. Field descriptions come from the connectors' field catalogues
(shipped with the code) when ``describe`` is true and the catalogue describes the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from mapsync.connectors.catalogue import EntityCatalogue, load_catalogue
from mapsync.connectors.registry import title_of
from mapsync.engine.extractors import MISSING, FieldPath
from mapsync.engine.ruleset.compiler import Compilation, thaw
from mapsync.engine.ruleset.model import (
    ConflictPolicy,
    Direction,
    FieldRule,
    FieldSide,
    FirstContactPolicy,
    KeyPair,
    LineRule,
    MappingRule,
    RuleSet,
    Side,
    UnmappedPolicy,
    WritePolicy,
)

ARROWS = {Direction.BOTH: "↔", Direction.CRM_TO_ERP: "→", Direction.ERP_TO_CRM: "←"}

EntityLookup = Callable[[Side, str], EntityCatalogue | None]


def product(connector: str) -> str:
    return title_of(connector)


def cell(value: Any) -> str:
    """Text for one table cell: ``|`` escaped, line breaks as ``<br>``."""
    text = value if isinstance(value, str) else _value(value)
    return text.replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>")


def code(text: str) -> str:
    """``text`` as a Markdown code span (a longer fence when it holds a backtick)."""
    if not text:
        return "` `"
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" or text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _value(value: Any) -> str:
    """A value as the customer reads it: text as is, lists comma-separated, everything else as JSON."""
    value = thaw(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{_value(k)}: {_value(v)}" for k, v in value.items())
    return str(value)


def _pairs(value_map: Mapping[Any, Any]) -> str:
    return ", ".join(f"{_value(k)} → {_value(v)}" for k, v in value_map.items())


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table; cells already escaped."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out.extend("| " + " | ".join(row) + " |" for row in rows)
    return out


class _Words:
    """Policies and directions in words, with the rule set's product names."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.crm = product(ruleset.crm.connector)
        self.erp = product(ruleset.erp.connector)

    def side(self, side: Side) -> str:
        return self.crm if side is Side.CRM else self.erp

    def direction(self, direction: Direction) -> str:
        if direction is Direction.BOTH:
            return "both ways"
        if direction is Direction.CRM_TO_ERP:
            return f"{self.crm} to {self.erp} only"
        return f"{self.erp} to {self.crm} only"

    def arrow(self, direction: Direction) -> str:
        if direction is Direction.BOTH:
            return "↔ both ways"
        target = self.erp if direction is Direction.CRM_TO_ERP else self.crm
        return f"{ARROWS[direction]} to {target}"

    def conflict(self, policy: ConflictPolicy) -> str:
        return {
            ConflictPolicy.CRM_WINS: f"{self.crm} wins",
            ConflictPolicy.ERP_WINS: f"{self.erp} wins",
            ConflictPolicy.NEWEST_WINS: "the side whose record changed last wins",
            ConflictPolicy.SKIP: "neither side is changed; the conflict is reported",
        }[policy]

    def first_contact(self, policy: FirstContactPolicy) -> str:
        return {
            FirstContactPolicy.CRM_WINS: f"{self.crm} wins",
            FirstContactPolicy.ERP_WINS: f"{self.erp} wins",
            FirstContactPolicy.HOLD: "the field is held back for a person to decide",
        }[policy]


def _catalogue_lookup(ruleset: RuleSet) -> EntityLookup:
    def lookup(side: Side, entity: str) -> EntityCatalogue | None:
        try:
            return load_catalogue(ruleset.system(side).connector).entity(entity)
        except (KeyError, OSError, ValueError):
            return None
    return lookup


def _no_lookup(side: Side, entity: str) -> EntityCatalogue | None:
    return None


def _flatten_settings(settings: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and all(isinstance(k, str) for k in value):
            out.extend(_flatten_settings(value, f"{name}."))
        else:
            out.append((name, value))
    return out


def _field_cell(side: FieldSide | None) -> str:
    if side is None:
        return "—"
    reader, writer = side.reader, side.writer
    if isinstance(reader, FieldPath) and (writer is None or writer == reader):
        text = code(reader.name)
    elif writer is None:
        text = f"{code(getattr(reader, 'expression', '?'))} (read only)"
    else:
        text = f"{code(writer.name)} (read as {code(getattr(reader, 'expression', getattr(reader, 'name', '?')))})"
    if side.setting is not None:
        text += f" (settings.{side.setting.path})"
    return cell(text)


def _notes(rule: FieldRule, words: _Words) -> str:
    notes: list[str] = []
    if rule.value_map is not None:
        notes.append(f"map: {_pairs(rule.value_map)}")
    if rule.reverse_map is not None and "map_reverse" in rule.locations:
        notes.append(f"map back: {_pairs(rule.reverse_map)}")
    for side in Side:
        expr = rule.transform(side)
        if expr is not None:
            notes.append(f"to {words.side(side)}: {code(expr.text)}")
    if rule.constant is not MISSING:
        notes.append(f"always the value {code(_value(rule.constant))}")
    if rule.default is not MISSING:
        notes.append(f"default: {code(_value(rule.default))}")
    if rule.write is not WritePolicy.ALWAYS:
        notes.append(f"write: {rule.write.value}")
    if rule.conflict is not None:
        notes.append(f"conflict: {words.conflict(rule.conflict)}")
    if rule.first_contact is not None:
        notes.append(f"first contact: {words.first_contact(rule.first_contact)}")
    if rule.on_unmapped is not UnmappedPolicy.HOLD:
        notes.append(f"value not in the map: {rule.on_unmapped.value}")
    return cell("; ".join(notes))


def _description(rule: FieldRule, entities: Mapping[Side, EntityCatalogue | None]) -> str:
    texts: list[str] = []
    for side in Side:
        fs, entity = rule.side(side), entities.get(side)
        if fs is None or entity is None or fs.setting is not None:
            continue  # a field named by a setting: the catalogue only says "a custom field"
        path = fs.writer if fs.writer is not None else fs.reader
        if not isinstance(path, FieldPath):
            continue
        info = entity.field(path.name)
        if info is not None and info.description and info.description not in texts:
            texts.append(info.description)
    return cell(" / ".join(texts))


def _field_table(fields: tuple[FieldRule, ...], words: _Words,
                 entities: Mapping[Side, EntityCatalogue | None]) -> list[str]:
    descriptions = [_description(r, entities) for r in fields]
    header = ["Rule", f"{words.crm} field", f"{words.erp} field", "Direction", "Notes"]
    with_descriptions = any(descriptions)
    if with_descriptions:
        header.append("Description")
    rows: list[list[str]] = []
    for rule, description in zip(fields, descriptions, strict=True):
        row = [cell(rule.key), _field_cell(rule.crm), _field_cell(rule.erp),
               cell(words.arrow(rule.direction)), _notes(rule, words)]
        if with_descriptions:
            row.append(description)
        rows.append(row)
    return _table(header, rows)


def _key(pair: KeyPair) -> str:
    return f"{code(pair.crm.name)} ↔ {code(pair.erp.name)}"


def _conditions(rule: MappingRule, words: _Words) -> list[str]:
    out: list[str] = []
    for attribute, what in (("conditions", "Synced when"), ("create_conditions", "Created when")):
        conditions = getattr(rule, attribute)
        for side in Side:
            if side in conditions:
                out.append(f"- {what} ({words.side(side)} record): {code(conditions[side].text)}")
    return out


def _line_section(line: LineRule, mapping: MappingRule, words: _Words, lookup: EntityLookup) -> list[str]:
    erp_parent = lookup(Side.ERP, mapping.erp_entity)
    collection = erp_parent.field(line.erp_collection.name) if erp_parent is not None else None
    erp_line = lookup(Side.ERP, collection.lines) if collection is not None and collection.lines else None
    out = [
        f"#### Lines: {line.name}",
        "",
        f"- {words.crm} {code(line.crm_entity)} (parent field {code(line.crm_parent_field.name)}) ↔ "
        f"{words.erp} collection {code(line.erp_collection.name)}",
        f"- Direction: {words.direction(line.direction)}",
    ]
    if line.match:
        out.append("- Lines matched on: " + ", ".join(_key(k) for k in line.match))
    out.append("")
    entities = {Side.CRM: lookup(Side.CRM, line.crm_entity), Side.ERP: erp_line}
    out.extend(_field_table(line.fields, words, entities))
    return out


def _mapping_section(rule: MappingRule, words: _Words, lookup: EntityLookup, switched_off: int) -> list[str]:
    out = [f"## {rule.name}", ""]
    if rule.description:
        out += [rule.description, ""]
    out.append(f"- Entities: {words.crm} {code(rule.crm_entity)} ↔ {words.erp} {code(rule.erp_entity)}")
    out.append(f"- Direction: {words.direction(rule.direction)}")
    out.extend(_conditions(rule, words))
    if rule.match:
        out.append("- Matched on (in this order): " + ", ".join(_key(k) for k in rule.match))
    if rule.parent is not None:
        text = f"- Parent: {rule.parent}"
        if rule.parent_key is not None:
            text += f" (through {_key(rule.parent_key)})"
        out.append(text)
    out.append(f"- Conflict (a field changed on both sides): {words.conflict(rule.conflict)}")
    out.append(f"- First contact (both records existed, values differ): {words.first_contact(rule.first_contact)}")
    out.append("")
    entities = {side: lookup(side, rule.entity(side)) for side in Side}
    out.extend(_field_table(rule.fields, words, entities))
    for line in rule.lines:
        out.append("")
        out.extend(_line_section(line, rule, words, lookup))
    if switched_off:
        out += ["", f"{switched_off} field rule(s) of this mapping are switched off by the settings."]
    out.append("")
    return out


def switched_off(compilation: Compilation) -> tuple[dict[str, int], list[str]]:
    """Per enabled mapping, how many field and line-field rules ``enabled`` switched off; and the
    mappings switched off altogether."""
    counts: dict[str, int] = {}
    mappings: list[str] = []
    for compiled in compilation.mappings:
        if not compiled.enabled:
            mappings.append(compiled.rule.name)
            continue
        off = sum(1 for _, on in compiled.all_fields if not on)
        off += sum(1 for fields in compiled.line_fields for _, on in fields if not on)
        if off:
            counts[compiled.rule.name] = off
    return counts, mappings


def render_doc(ruleset: RuleSet, off: Mapping[str, int] | None = None,
               mappings_off: list[str] | None = None, *, describe: bool = True) -> str:
    """The rule set as Markdown. ``off``: per mapping, the field rules switched off (``switched_off``);
    ``mappings_off``: the mappings switched off; ``describe``: add catalogue field descriptions."""
    words = _Words(ruleset)
    lookup = _catalogue_lookup(ruleset) if describe else _no_lookup
    out = [f"# {ruleset.name}", ""]
    if ruleset.description:
        out += [ruleset.description, ""]
    out += [f"{words.crm} ↔ {words.erp}. Mappings run in this order: "
            + ", ".join(m.name for m in ruleset.mappings) + ".", ""]
    if mappings_off:
        out += ["Switched off by the settings: " + ", ".join(mappings_off) + ".", ""]
    out += ["## Settings", ""]
    settings = _flatten_settings(thaw(ruleset.settings))
    if settings:
        out.extend(_table(["Setting", "Value"], [[cell(name), cell(value)] for name, value in settings]))
    else:
        out.append("No settings.")
    out.append("")
    for rule in ruleset.mappings:
        out.extend(_mapping_section(rule, words, lookup, (off or {}).get(rule.name, 0)))
    return "\n".join(out).rstrip("\n") + "\n"
