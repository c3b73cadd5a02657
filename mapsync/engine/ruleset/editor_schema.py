"""Editor schemas: the rule-file JSON Schemas with the field names of the connectors' catalogues.

The hand-written schemas in ``mapsync/schemas/`` (``ruleset.schema.json``, ``mapping.schema.json``) stay the
source of truth of the rule language, and ``mapsync validate`` checks against them. This module owns the
editor variants in ``mapsync/schemas/editor/``: a copy of each hand-written schema to which it adds, from
the field catalogues, the names an editor with the YAML language server completes and underlines:

- in a mapping file, the entity names of ``crm`` and ``erp``, and, keyed on them with ``if``/``then``, the
  field names of each side of a field rule (a name, or ``field`` of a side object; a JMESPath ``read`` is
  free), of ``match`` and ``parent_key``, and of line rules (``crm.entity``, ``crm.parent_field``,
  ``erp.collection``, and the line entities' fields, keyed on the line's own entity and collection);
- in ``ruleset.yaml``, the field names of ``overrides`` (every entity of the webCRM side; of the ERP the
  rule set names by ``systems.erp.connector`` or by ``extends: mapsync:standard/<erp>``, both ERPs when it
  names none), and suggestions (never errors) for the field names of ``settings.person_checkbox`` and
  ``settings.crm_fields``.

The conditions sit where an editor evaluates them (``if``/``then`` on the mapping, the line rule, the rule set);
the names themselves are ``enum``s reached through ``anyOf`` only, which is what the YAML language server
collects completions from.

A field name given by a setting (``${settings.path}``) is always accepted: the editor cannot see the
settings, ``validate`` resolves and checks it. A mapping file does not say its ERP, so there are three
mapping schemas: ``mapping.fortnox.schema.json``, ``mapping.vismanet.schema.json``, and
``mapping.schema.json`` for either ERP (an entity name both ERPs have, ``customer``, accepts the fields of
both). The editor schemas never refuse what ``validate`` accepts (tests/unit/test_editor_schema.py).

``python -m mapsync.engine.ruleset.editor_schema`` writes them into the package; ``--check`` reports whether
they are up to date (a test fails when they drift from the catalogues). ``mapsync schema --out DIR`` writes
them for a repository outside mapsync. docs/decisions/0009-editor-schemas.md says why they are committed.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapsync.connectors.catalogue import EntityCatalogue, FieldInfo, load_catalogue
from mapsync.connectors.registry import connectors_of_side
from mapsync.engine.ruleset.loader import PACKAGED
from mapsync.engine.ruleset.schema import MAPPING_SCHEMA, RULESET_SCHEMA, SCHEMA_DIR, load_schema

EDITOR_DIR = SCHEMA_DIR / "editor"
CRM = connectors_of_side("crm")[0]
ERPS: tuple[str, ...] = connectors_of_side("erp")
SETTING_PATTERN = r"^\s*\$\{settings\.[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*\}\s*$"
"""A whole field name taken from a setting, as the compiler resolves it (``${settings.crm_fields.x}``)."""

_ID = "https://mapsync.dev/schemas/editor/"
_GENERATED = ("Generated from the connectors' field catalogues by mapsync.engine.ruleset.editor_schema; do not "
              "edit. `mapsync validate` remains the authority; see docs/rules.md, Editor support.")


def mapping_file_name(erp: str | None) -> str:
    """``mapping.fortnox.schema.json`` for one ERP, ``mapping.schema.json`` for either."""
    return f"mapping.{erp}.schema.json" if erp else MAPPING_SCHEMA


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _describe(info: FieldInfo) -> str:
    """What completion shows beside a field name: its type, limits, and the catalogue's description."""
    facts = [info.type]
    if info.read_only:
        facts.append("read-only")
    if info.required_on_create:
        facts.append("required to create")
    if info.max_length:
        facts.append(f"at most {info.max_length} characters")
    if info.enum:
        facts.append("one of " + ", ".join(str(v) for v in info.enum))
    text = ", ".join(facts)
    return f"{text}: {info.description}" if info.description else text


@dataclass
class _Defs:
    """The ``$defs`` an editor schema adds, built on demand so that each schema holds only what it uses."""

    defs: dict[str, Any] = field(default_factory=dict)

    def setting(self) -> str:
        self.defs.setdefault("setting_reference", {
            "title": "Field name from a setting",
            "description": "`${settings.path}`: the field name is the value of that setting; `mapsync validate` "
                           "checks it.",
            "type": "string",
            "pattern": SETTING_PATTERN,
        })
        return "setting_reference"

    def fields(self, connector: str, entity: EntityCatalogue) -> str:
        """The plain names of one entity's fields (an ``enum``)."""
        name = f"fields.{connector}.{entity.name}"
        if name not in self.defs:
            infos = list(entity.fields.values())
            self.defs[name] = {
                "title": f"{connector} {entity.name} field",
                "description": f"A field of the {connector} entity `{entity.name}` ({entity.title}).",
                "enum": [info.name for info in infos],
                "enumDescriptions": [_describe(info) for info in infos],
            }
        return name

    def names(self, key: str, parts: Sequence[tuple[str, EntityCatalogue]]) -> str:
        """A field name of any of ``parts`` (connector, entity), or a ``${settings.path}`` reference. Only
        ``anyOf`` (no ``if``): the YAML language server completes values from ``enum``, ``anyOf``, ``oneOf`` and
        ``allOf``, not from the branches of an ``if``."""
        name = f"name.{key}"
        if name not in self.defs:
            self.defs[name] = {"anyOf": [*(_ref(self.fields(c, e)) for c, e in parts), _ref(self.setting())]}
        return name

    def side(self, key: str, parts: Sequence[tuple[str, EntityCatalogue]]) -> str:
        """A field rule's side: a field name, or an object whose ``field`` is one (``read`` is free)."""
        name = f"side.{key}"
        if name not in self.defs:
            names = _ref(self.names(key, parts))
            self.defs[name] = {"anyOf": [names, {"type": "object", "properties": {"field": names}}]}
        return name


def _entities(connectors: Sequence[str]) -> dict[str, list[tuple[str, EntityCatalogue]]]:
    """Entity name -> (connector, entity) of each connector that has an entity of that name, in catalogue order."""
    out: dict[str, list[tuple[str, EntityCatalogue]]] = {}
    for connector in connectors:
        for entity in load_catalogue(connector).entities.values():
            out.setdefault(entity.name, []).append((connector, entity))
    return out


def _key(parts: Sequence[tuple[str, EntityCatalogue]]) -> str:
    return "+".join(f"{c}.{e.name}" for c, e in parts)


def _collections(parts: Sequence[tuple[str, EntityCatalogue]]) -> dict[str, list[tuple[str, EntityCatalogue]]]:
    """Collection field -> the line entities it holds, over the entities ``parts`` (one per connector)."""
    out: dict[str, list[tuple[str, EntityCatalogue]]] = {}
    for connector, entity in parts:
        catalogue = load_catalogue(connector)
        for info in entity.fields.values():
            line = catalogue.entity(info.lines) if info.lines else None
            if line is not None and (connector, line) not in out.get(info.name, []):
                out.setdefault(info.name, []).append((connector, line))
    return out


def _when(prop: str, value: str, then: dict[str, Any]) -> dict[str, Any]:
    return {"if": {"required": [prop], "properties": {prop: {"const": value}}}, "then": then}


def _rules(side: str, side_def: str, name_def: str) -> dict[str, Any]:
    """Constraints on one side of the field rules and match keys of a mapping (or of a line rule)."""
    return {
        "fields": {"items": {"properties": {side: _ref(side_def)}}},
        "match": {"items": {"properties": {side: _ref(name_def)}}},
    }


def mapping_schema(erps: Sequence[str]) -> dict[str, Any]:
    """The mapping-file schema with entity and field names, for a rule set whose ERP is one of ``erps``."""
    schema = copy.deepcopy(load_schema(MAPPING_SCHEMA))
    defs = _Defs()
    file_name = mapping_file_name(erps[0] if len(erps) == 1 else None)
    schema["$id"] = _ID + file_name
    which = " or ".join(erps)
    schema["title"] = f"{schema['title']} ({which}, with field names)"
    schema["description"] = f"{schema['description']} The ERP is {which}. {_GENERATED}"
    props = schema["properties"]
    crm_entities = _entities([CRM])
    erp_entities = _entities(erps)
    props["crm"]["enum"] = list(crm_entities)
    props["erp"]["enum"] = list(erp_entities)
    conditions: list[dict[str, Any]] = []
    for entity, parts in crm_entities.items():
        key = _key(parts)
        conditions.append(_when("crm", entity, {"properties": {
            **_rules("crm", defs.side(key, parts), defs.names(key, parts)),
            "parent_key": {"properties": {"crm": _ref(defs.names(key, parts))}},
        }}))
    for entity, parts in erp_entities.items():
        key = _key(parts)
        then: dict[str, Any] = {"properties": {
            **_rules("erp", defs.side(key, parts), defs.names(key, parts)),
            "parent_key": {"properties": {"erp": _ref(defs.names(key, parts))}},
        }}
        collections = _collections(parts)
        if collections:
            line_conditions = []
            for collection, lines in collections.items():
                line_key = _key(lines)
                line_conditions.append({
                    "if": {"required": ["erp"], "properties": {"erp": {
                        "required": ["collection"], "properties": {"collection": {"const": collection}}}}},
                    "then": {"properties": _rules("erp", defs.side(line_key, lines), defs.names(line_key, lines))},
                })
            then["properties"]["lines"] = {"items": {
                "properties": {"erp": {"properties": {"collection": {"enum": list(collections)}}}},
                "allOf": line_conditions,
            }}
        conditions.append(_when("erp", entity, then))
    schema["allOf"] = conditions
    # A line rule's crm side names its own entity: its parent field and field names follow from it.
    line_rule = schema["$defs"]["line_rule"]
    line_rule["properties"]["crm"]["properties"]["entity"]["enum"] = list(crm_entities)
    line_rule["allOf"] = [
        {"if": {"required": ["crm"], "properties": {"crm": {
            "required": ["entity"], "properties": {"entity": {"const": entity}}}}},
         "then": {"properties": {
             "crm": {"properties": {"parent_field": _ref(defs.fields(*parts[0]))}},
             **_rules("crm", defs.side(_key(parts), parts), defs.names(_key(parts), parts)),
         }}}
        for entity, parts in crm_entities.items()
    ]
    schema["$defs"].update(defs.defs)
    return schema


def _standard(erp: str) -> str:
    """``extends`` naming the standard rule set of ``erp`` (``mapsync:standard/fortnox``, as the loader reads it)."""
    return r"^" + PACKAGED + r"\s*/*standard/" + erp + r"/*\s*$"


def ruleset_schema() -> dict[str, Any]:
    """The ``ruleset.yaml`` schema with the field names of ``overrides`` and suggestions for settings."""
    schema = copy.deepcopy(load_schema(RULESET_SCHEMA))
    defs = _Defs()
    schema["$id"] = _ID + RULESET_SCHEMA
    schema["title"] = f"{schema['title']} (with field names)"
    schema["description"] = f"{schema['description']} {_GENERATED}"
    crm_parts = [p for parts in _entities([CRM]).values() for p in parts]

    def overrides(side: str, parts: list[tuple[str, EntityCatalogue]], key: str) -> dict[str, Any]:
        return {"properties": {"overrides": {"additionalProperties": {
            "properties": _rules(side, defs.side(key, parts), defs.names(key, parts))}}}}

    def erp_parts(erps: Sequence[str]) -> list[tuple[str, EntityCatalogue]]:
        return [p for parts in _entities(erps).values() for p in parts]

    # The ERP a ruleset.yaml names: its own systems.erp.connector, else the standard rule set it extends;
    # when it names neither (extends a folder), a field of either ERP is accepted.
    erp_rule: dict[str, Any] = overrides("erp", erp_parts(ERPS), "erp")
    for erp in reversed(ERPS):
        erp_rule = {"if": {"required": ["extends"], "properties": {"extends": {"pattern": _standard(erp)}}},
                    "then": overrides("erp", erp_parts([erp]), erp), "else": erp_rule}
    for erp in reversed(ERPS):
        erp_rule = {"if": {"required": ["systems"], "properties": {"systems": {
                        "required": ["erp"], "properties": {"erp": {
                            "required": ["connector"], "properties": {"connector": {"const": erp}}}}}}},
                    "then": overrides("erp", erp_parts([erp]), erp), "else": erp_rule}
    schema["allOf"] = [overrides("crm", crm_parts, "crm"), erp_rule]
    # Settings that name fields: completion offers webCRM's field names; any text is accepted.
    settings = schema["properties"]["settings"]["properties"]
    every_crm_field = [_ref(defs.fields(c, e)) for c, e in crm_parts]
    settings["crm_fields"]["additionalProperties"]["anyOf"] = [*every_crm_field, {"type": "string"}]
    person = load_catalogue(CRM).entity("person")
    if person is not None:
        settings["person_checkbox"]["anyOf"] = [_ref(defs.fields(CRM, person)), {"type": "string"}]
    schema["$defs"].update(defs.defs)
    return schema


def editor_schemas() -> dict[str, dict[str, Any]]:
    """Every editor schema by file name, as generated from the catalogues now."""
    out = {RULESET_SCHEMA: ruleset_schema(), mapping_file_name(None): mapping_schema(ERPS)}
    for erp in ERPS:
        out[mapping_file_name(erp)] = mapping_schema([erp])
    return out


def dumps(schema: dict[str, Any]) -> str:
    """The text of a schema file (stable, so a drift shows as a diff)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    """Write every editor schema into ``folder`` (created when missing); returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in editor_schemas().items():
        path = folder / name
        path.write_text(dumps(schema), encoding="utf-8")
        written.append(path)
    return written


def stale(folder: Path = EDITOR_DIR) -> list[str]:
    """Names of the editor schemas in ``folder`` that differ from what the catalogues give now (or are missing)."""
    out = []
    for name, schema in editor_schemas().items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != dumps(schema):
            out.append(name)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the editor schemas (field names from the catalogues) "
                                                 f"into {EDITOR_DIR}.")
    parser.add_argument("--check", action="store_true", help="only report whether they are up to date")
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale()
        for name in out_of_date:
            print(f"{EDITOR_DIR / name} is out of date: run python -m mapsync.engine.ruleset.editor_schema")
        return 1 if out_of_date else 0
    for path in write_schemas(EDITOR_DIR):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
