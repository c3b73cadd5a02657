"""Every diagnostic code mapsync can emit, with a title and how to fix it.

Codes are stable: CI pipelines filter on them. ``docs/diagnostics.md`` documents each one and a test
fails when the two drift apart. Ranges: MS1xx files and YAML, MS2xx schema, MS3xx references to
connectors, entities, fields and mappings, MS4xx expressions and extractors, MS5xx secrets and
environment, MS6xx rule tests (`mapsync test`), MS7xx the tenants registry (`mapsync serve`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mapsync.connectors.registry import names_of_side


@dataclass(frozen=True)
class CodeInfo:
    code: str
    title: str
    fix: str


_CODES = [
    # files and YAML
    CodeInfo("MS101", "YAML syntax error",
             "Fix the YAML at the reported position as the message says: indentation, a missing ':', an "
             "unclosed quote or bracket."),
    CodeInfo("MS102", "File is not valid UTF-8",
             "Save the file as UTF-8 (with or without BOM). UTF-16 with a BOM is also accepted."),
    CodeInfo("MS103", "Duplicate key",
             "Remove one of the two keys: YAML would silently keep only the last one."),
    CodeInfo("MS104", "Referenced file missing or unreadable",
             "Check the file name under `mappings:` in ruleset.yaml; paths are relative to the rule set folder."),
    CodeInfo("MS105", "`extends` cycle",
             "A rule set cannot extend itself, directly or through others. Remove one `extends`."),
    CodeInfo("MS106", "`extends` target not found",
             "`extends` takes a path to another rule set folder, relative to this one, or the name of a rule set "
             "shipped with mapsync: `mapsync:standard/fortnox`, `mapsync:standard/vismanet`."),
    CodeInfo("MS107", "Empty or non-mapping document",
             "A rule file must be a YAML mapping (key: value pairs) at the top level."),
    CodeInfo("MS108", "No ruleset.yaml in folder",
             "A rule set is a folder with a ruleset.yaml; pass that folder or a single rule file."),
    CodeInfo("MS109", "Written for another mapsync version",
             "Check the rule set against this mapsync version (validate, test, plan), then widen `mapsync:` in "
             "ruleset.yaml; or install a mapsync version it names."),
    CodeInfo("MS110", "Rule file too large",
             "A rule file is at most 256 kB; split a large value map or list over several mapping files, or check "
             "that the right file is named."),
    # schema
    CodeInfo("MS201", "Unknown property",
             "Remove the property or fix its spelling; the hint lists the properties allowed here."),
    CodeInfo("MS202", "Missing required property",
             "Add the property named in the message."),
    CodeInfo("MS203", "Wrong type",
             "Give a value of the type named in the message (for example a list instead of a string)."),
    CodeInfo("MS204", "Value not allowed",
             "Use one of the allowed values named in the hint."),
    CodeInfo("MS205", "Schema violation",
             "The value breaks a rule of the schema; see the message and docs/rules.md."),
    # references
    CodeInfo("MS301", "Unknown connector",
             f"Use one of: {names_of_side('crm')} (crm side), {names_of_side('erp')} (erp side)."),
    CodeInfo("MS302", "Unknown entity",
             "Use an entity of the connector's field catalogue (docs/connectors.md lists them)."),
    CodeInfo("MS303", "Unknown field",
             "Use a field of the entity's catalogue; for nested fields use a dotted path (mainContact.email)."),
    CodeInfo("MS304", "Writing a read-only field",
             "The target system sets this field itself. Make the rule one-way towards the other system."),
    CodeInfo("MS305", "Type mismatch",
             "Add a `map` or a `transform` that converts the value, or map a field of a compatible type."),
    CodeInfo("MS306", "Extractor cannot be written back",
             "A JMESPath `read` extractor only reads. Add `field:` for writing, or make the rule one-way."),
    CodeInfo("MS307", "Value map not reversible",
             "Two keys map to the same value, so the way back is ambiguous. Add `map_reverse` or make the "
             "rule one-way."),
    CodeInfo("MS308", "Two rules write the same field",
             "Each target field may be written by one rule only; remove or disable one of them."),
    CodeInfo("MS309", "Parent mapping missing",
             "The `parent` names a mapping that does not exist or is disabled; records of this mapping "
             "cannot be linked to their parent."),
    CodeInfo("MS310", "Duplicate mapping name",
             "Mapping names must be unique in a rule set; rename one."),
    CodeInfo("MS311", "Field direction outside the mapping direction",
             "A field cannot flow in a direction its mapping does not; change the field or mapping direction."),
    CodeInfo("MS312", "Required field never written on create",
             "The target needs this field to create a record; add a rule, a `value` or a `default` for it."),
    CodeInfo("MS313", "Value longer than the field allows",
             "Shorten the constant or default to the field's maximum length."),
    CodeInfo("MS314", "Unknown setting",
             "Define the setting under `settings:` in ruleset.yaml, or fix the name."),
    CodeInfo("MS315", "Wrong connector for the side",
             f"The crm side uses {names_of_side('crm')}; the erp side uses {names_of_side('erp')}."),
    CodeInfo("MS316", "Unknown mapping in overrides",
             "`overrides` keys must be names of mappings of the rule set or the one it extends."),
    CodeInfo("MS317", "Unknown connection setting",
             "Use a connection setting the connector supports (docs/connectors.md)."),
    CodeInfo("MS318", "Line rule does not fit its entities",
             "A line rule needs a crm line entity with a parent field and an erp collection of line records."),
    CodeInfo("MS319", "Match key not usable",
             "A match key must name a field on each side that the rule set can read."),
    CodeInfo("MS320", "Rule has no effect",
             "The rule never writes anything (e.g. one side only without `value`); complete or remove it."),
    CodeInfo("MS321", "Unknown field rule in overrides",
             "`remove_fields` names inherited field rules by their `name` (or `crm <-> erp` when unnamed); "
             "the hint lists them."),
    CodeInfo("MS322", "Value map lacks values a setting lets through",
             "A condition lets records through whose value the rule's `map` has no entry for: add those values "
             "to `map`, or remove them from the setting."),
    CodeInfo("MS323", "Default or constant not in the value map",
             "A `default` or `value` of a rule with a `map` must be a key of the map (it is mapped) or one of "
             "its values (written as it is)."),
    # expressions
    CodeInfo("MS401", "Expression syntax error",
             "Fix the Python-style expression at the marked column."),
    CodeInfo("MS402", "Unknown name in expression",
             "Conditions see `record` and `settings`; transforms also `value`; `enabled` only `settings`. "
             "Functions are listed in docs/rules.md."),
    CodeInfo("MS403", "Unknown function in expression",
             "Use one of the functions listed in docs/rules.md."),
    CodeInfo("MS404", "Unsafe or unsupported expression",
             "Expressions cannot use private attributes (`_x`), lambdas, assignments, imports or "
             "comprehensions."),
    CodeInfo("MS405", "Invalid JMESPath",
             "Fix the JMESPath expression at the marked column (see jmespath.org)."),
    # secrets and environment
    CodeInfo("MS501", "Literal secret",
             "Never write a secret in a rule file: use `${env:NAME}` and set NAME in the environment."),
    CodeInfo("MS502", "Environment variable not set",
             "Set the variable before `mapsync run` (a warning for `validate`, an error for `run`)."),
    CodeInfo("MS503", "Bad `${...}` reference",
             "Write `${env:NAME}` in connection settings or `${settings.path}` in field names."),
    # rule tests
    CodeInfo("MS601", "Rule test names an unknown mapping",
             "Use the name of an enabled mapping of the rule set (`mapsync render` lists them)."),
    CodeInfo("MS602", "Invalid matcher",
             "Write a matcher as a mapping with one `$` key: $any, $absent, $regex, $contains, $type, $one_of, "
             "$approx (docs/testing.md)."),
    CodeInfo("MS603", "Rule test records do not fit the test",
             "Give the record the test reads (`from`), both records with a `base`, and entities of the "
             "connectors' catalogues under `records`."),
    # tenants registry
    CodeInfo("MS701", "Duplicate tenant id",
             "Give every tenant of the registry its own id: state stores, leases and logs are keyed by it."),
    CodeInfo("MS702", "Tenant rule set missing or invalid",
             "Fix the tenant's rule set (its diagnostics follow), or give the variables its secrets lack; "
             "until then the tenant is not run and the others are."),
    CodeInfo("MS703", "Tenant secrets unreadable",
             "Create the tenant's env file (NAME=value lines) where the registry says, readable by mapsync."),
]

CODES: dict[str, CodeInfo] = {c.code: c for c in _CODES}
