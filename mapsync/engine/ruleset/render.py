"""The effective rule set, every value annotated with where it was written (``mapsync render``).

``render_tree`` turns the compiled ``RuleSet`` (what the engine runs: ``extends`` merged, settings
substituted, ``enabled`` switches applied, ``overrides`` applied) into a plain tree of dicts and lists.
Each value the rule files set is a *leaf*::

    {"value": <the effective value>, "from": "file:line:column"}

with, for a field name given by a setting (``${settings.crm_fields.x}``), two more keys: ``"setting"``
(the setting's dotted name) and ``"setting_from"`` (where that setting's value was written). ``"from"``
is ``"default"`` for a value no file sets (a guardrail's default, the default first-contact policy).
A leaf is recognised as a dict with a ``"value"`` key and a text ``"from"``; every other dict is a group.

Rules and mappings switched off by ``enabled`` are not in the tree's ``mappings``; their names and
locations are listed under ``disabled``. Connection settings are shown as written (``${env:NAME}``),
never resolved. ``to_yaml`` prints the tree as YAML with the origins as trailing comments.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from mapsync.engine.diagnostics import Location
from mapsync.engine.extractors import MISSING, FieldPath
from mapsync.engine.ruleset.compiler import Compilation, thaw
from mapsync.engine.ruleset.loader import Located
from mapsync.engine.ruleset.model import FieldRule, FieldSide, KeyPair, LineRule, MappingRule, RuleSet, SettingRef, Side

DEFAULT = "default"
LEAF_KEYS = frozenset({"value", "from", "setting", "setting_from"})


def origin(location: Location | None) -> str:
    """``file:line:column`` (``default`` for no location)."""
    if location is None:
        return DEFAULT
    if location.line <= 0:
        return location.file
    return f"{location.file}:{location.line}:{location.column}" if location.column > 0 \
        else f"{location.file}:{location.line}"


def leaf(value: Any, location: Location | None, setting: SettingRef | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"value": thaw(value), "from": origin(location)}
    if setting is not None:
        out["setting"] = setting.path
        out["setting_from"] = origin(setting.location)
    return out


def is_leaf(node: Any) -> bool:
    return isinstance(node, dict) and "value" in node and isinstance(node.get("from"), str) \
        and set(node) <= LEAF_KEYS


def _text(value: Any) -> Any:
    """An expression or extractor as written; other values unchanged."""
    return getattr(value, "text", value)


def _side(side: FieldSide) -> dict[str, Any]:
    reader, writer = side.reader, side.writer
    if isinstance(reader, FieldPath) and writer == reader:
        return leaf(reader.name, side.location, side.setting)
    out: dict[str, Any] = {}
    if not isinstance(reader, FieldPath) or writer is None:
        out["read"] = leaf(getattr(reader, "expression", None) or getattr(reader, "name", "?"), side.location)
    if writer is not None:
        out["field"] = leaf(writer.name, side.location, side.setting)
    return out


def _key_pair(pair: KeyPair) -> dict[str, Any]:
    return {side.value: leaf(pair.side(side).name, pair.where(side.value), pair.settings.get(side.value))
            for side in Side}


def _field_rule(rule: FieldRule, outer_direction: Location) -> dict[str, Any]:
    out: dict[str, Any] = {"name": leaf(rule.key, rule.where("name"))}
    for side in Side:
        fs = rule.side(side)
        if fs is not None:
            out[side.value] = _side(fs)
    if "direction" in rule.locations:
        direction_at = rule.locations["direction"]
    elif rule.crm is None or rule.erp is None:
        direction_at = rule.location  # one side only: the direction follows from it
    else:
        direction_at = outer_direction  # the mapping's (or line rule's)
    out["direction"] = leaf(rule.direction.value, direction_at)
    if rule.value_map is not None:
        out["map"] = leaf(rule.value_map, rule.where("map"))
    if rule.reverse_map is not None and "map_reverse" in rule.locations:
        out["map_reverse"] = leaf(rule.reverse_map, rule.where("map_reverse"))
    transforms = {f"to_{side.value}": leaf(expr.text, rule.where(f"transform.to_{side.value}"))
                  for side in Side if (expr := rule.transform(side)) is not None}
    if transforms:
        out["transform"] = transforms
    if rule.constant is not MISSING:
        out["value"] = leaf(rule.constant, rule.where("value"))
    if rule.default is not MISSING:
        out["default"] = leaf(rule.default, rule.where("default"))
    for key in ("write", "conflict", "first_contact", "on_unmapped"):
        value = getattr(rule, key)
        if key in rule.locations or (value is not None and key == "write" and value.value != "always"):
            out[key] = leaf(value.value if value is not None else None, rule.where(key))
    return out


def _conditions(rule: MappingRule, attribute: str) -> dict[str, Any]:
    conditions = getattr(rule, attribute)
    return {side.value: leaf(conditions[side].text, rule.where(f"{attribute}.{side.value}"))
            for side in Side if side in conditions}


def _line(line: LineRule, mapping_direction: Location) -> dict[str, Any]:
    direction_at = line.locations.get("direction", mapping_direction)
    out: dict[str, Any] = {
        "name": leaf(line.name, line.where("name")),
        "crm": {"entity": leaf(line.crm_entity, line.where("crm.entity")),
                "parent_field": leaf(line.crm_parent_field.name, line.where("crm.parent_field"))},
        "erp": {"collection": leaf(line.erp_collection.name, line.where("erp.collection"))},
        "direction": leaf(line.direction.value, direction_at),
    }
    if line.match:
        out["match"] = [_key_pair(kp) for kp in line.match]
    out["fields"] = [_field_rule(r, direction_at) for r in line.fields]
    return out


def _mapping(rule: MappingRule) -> dict[str, Any]:
    out: dict[str, Any] = {"name": leaf(rule.name, rule.where("name"))}
    if rule.description:
        out["description"] = leaf(rule.description, rule.where("description"))
    out["crm"] = leaf(rule.crm_entity, rule.where("crm"))
    out["erp"] = leaf(rule.erp_entity, rule.where("erp"))
    out["direction"] = leaf(rule.direction.value, rule.where("direction"))
    out["conflict"] = leaf(rule.conflict.value, rule.locations.get("conflict"))
    out["first_contact"] = leaf(rule.first_contact.value, rule.locations.get("first_contact"))
    if rule.parent is not None:
        out["parent"] = leaf(rule.parent, rule.where("parent"))
    if rule.parent_key is not None:
        out["parent_key"] = _key_pair(rule.parent_key)
    for attribute in ("conditions", "create_conditions"):
        if conditions := _conditions(rule, attribute):
            out[attribute] = conditions
    if rule.match:
        out["match"] = [_key_pair(kp) for kp in rule.match]
    out["fields"] = [_field_rule(r, rule.where("direction")) for r in rule.fields]
    if rule.lines:
        out["lines"] = [_line(line, rule.where("direction")) for line in rule.lines]
    return out


def _settings(value: Any, origins: dict[tuple[str, ...], Located], path: tuple[str, ...]) -> Any:
    """A group of settings (merged key by key over the levels) or one setting's leaf."""
    if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
        return {k: _settings(v, origins, (*path, k)) for k, v in value.items()}
    at = origins.get(path)
    return leaf(value, at.location() if at is not None else None)


def _disabled(compilation: Compilation) -> list[dict[str, Any]]:
    """Mappings and rules switched off by ``enabled``: where each is written and where its switch is."""
    out: list[dict[str, Any]] = []
    for compiled in compilation.mappings:
        rule = compiled.rule
        if not compiled.enabled:
            out.append({"mapping": rule.name, "from": origin(rule.location), "switch": origin(rule.where("enabled"))})
            continue
        for field, on in compiled.all_fields:
            if not on:
                out.append({"mapping": rule.name, "rule": field.key, "from": origin(field.location),
                            "switch": origin(field.where("enabled"))})
        for line, fields in zip(rule.lines, compiled.line_fields, strict=False):
            for field, on in fields:
                if not on:
                    out.append({"mapping": rule.name, "line": line.name, "rule": field.key,
                                "from": origin(field.location), "switch": origin(field.where("enabled"))})
    return out


def render_tree(ruleset: RuleSet, compilation: Compilation) -> dict[str, Any]:
    """The effective rule set as a plain, annotated tree (see the module docstring)."""
    raw = compilation.raw
    top = raw.top_origins
    tree: dict[str, Any] = {
        "name": leaf(ruleset.name, top["name"].location() if "name" in top else None),
    }
    if ruleset.description:
        tree["description"] = leaf(ruleset.description,
                                   top["description"].location() if "description" in top else None)
    tree["files"] = list(dict.fromkeys(ruleset.files))
    systems: dict[str, Any] = {}
    for side in Side:
        system = ruleset.system(side)
        connection = raw.systems[side.value].connection if side.value in raw.systems else {}
        systems[side.value] = {
            "connector": leaf(system.connector, system.location),
            # As written: `${env:NAME}` references stay unresolved (no secret is ever printed).
            "connection": {key: leaf(str(at.value), at.location()) for key, at in connection.items()},
        }
    tree["systems"] = systems
    tree["settings"] = {key: _settings(thaw(value), raw.setting_origins, (key,))
                        for key, value in ruleset.settings.items()}
    tree["guardrails"] = {
        key: leaf(getattr(ruleset.guardrails, key),
                  raw.guardrail_origins[key].location() if key in raw.guardrail_origins else None)
        for key in ("max_update_share", "min_updates_for_share", "max_blanked")}
    tree["mappings"] = [_mapping(m) for m in ruleset.mappings]
    tree["disabled"] = _disabled(compilation)
    return tree


def plain(tree: Any) -> Any:
    """The tree without annotations: each leaf replaced by its value."""
    if is_leaf(tree):
        return tree["value"]
    if isinstance(tree, dict):
        return {k: plain(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [plain(v) for v in tree]
    return tree


# -- YAML -----------------------------------------------------------------------------------------------

def _scalar(value: Any) -> str:
    """One value on one line, in YAML flow style (JSON for text spanning lines)."""
    dumped = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1 << 30, sort_keys=False)
    dumped = dumped.removesuffix("\n").removesuffix("\n...").strip()
    if "\n" in dumped:
        return json.dumps(value, ensure_ascii=False)
    return dumped


def _comment(node: dict[str, Any]) -> str:
    text = f"  # from {node['from']}"
    if "setting" in node:
        text += f", ${{settings.{node['setting']}}} set at {node['setting_from']}"
    return text


def _emit(key: str | None, node: Any, indent: int, lines: list[str], first_prefix: str | None = None) -> None:
    pad = " " * indent
    head = first_prefix if first_prefix is not None else pad
    label = f"{_scalar(key)}:" if key is not None else ""
    if is_leaf(node):
        sep = " " if label else ""
        lines.append(f"{head}{label}{sep}{_scalar(node['value'])}{_comment(node)}")
    elif isinstance(node, dict) and node:
        if label:
            lines.append(f"{head}{label}")
            _emit_dict(node, indent + 2, lines)
        else:
            _emit_dict(node, indent, lines, first_prefix=head)
    elif isinstance(node, list) and node:
        if label:
            lines.append(f"{head}{label}")
            head, indent = " " * (indent + 2), indent + 2
        for item in node:
            _emit(None, item, indent + 2, lines, first_prefix=f"{head}- ")
            head = " " * indent
    else:
        sep = " " if label else ""
        lines.append(f"{head}{label}{sep}{_scalar(node)}")


def _emit_dict(node: dict[str, Any], indent: int, lines: list[str], first_prefix: str | None = None) -> None:
    for index, (key, value) in enumerate(node.items()):
        _emit(key, value, indent, lines, first_prefix=first_prefix if index == 0 else None)


def to_yaml(tree: dict[str, Any]) -> str:
    """The annotated tree as YAML: every value followed by ``# from file:line:column``."""
    lines: list[str] = []
    _emit_dict(tree, 0, lines)
    return "\n".join(lines) + "\n"
