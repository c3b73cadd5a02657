"""engine.ruleset.schema: every JSON Schema error becomes a located diagnostic with a useful hint."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from mapsync.engine.diagnostics import Diagnostic
from mapsync.engine.ruleset.schema import (
    MAPPING_SCHEMA,
    RULESET_SCHEMA,
    _fast_validator,
    _validator,
    check_schema,
    is_valid_fast,
    load_schema,
    schema_for,
)
from mapsync.engine.ruleset.source import parse_text, read_source

MAPPING = """\
name: customers
crm: organisation
erp: customer
direction: both
fields:
  - {crm: OrganisationName, erp: Name}
"""


def _check(text: str, file: str = "customers.yaml") -> list[Diagnostic]:
    doc = parse_text(text, file)
    assert doc.diagnostics == [], doc.diagnostics
    return check_schema(doc)


def _one(text: str, file: str = "customers.yaml") -> Diagnostic:
    diags = _check(text, file)
    assert len(diags) == 1, diags
    return diags[0]


def test_valid_mapping_has_no_errors() -> None:
    assert _check(MAPPING) == []


def test_schema_chosen_by_file_name() -> None:
    assert schema_for("x/ruleset.yaml") == RULESET_SCHEMA
    assert schema_for("x/customers.yaml") == MAPPING_SCHEMA
    assert load_schema(MAPPING_SCHEMA)["title"] == "mapsync mapping"


def test_unknown_property_with_did_you_mean_and_allowed_list() -> None:
    d = _one(MAPPING + "conflcit: crm-wins\n")
    assert d.code == "MS201" and (d.location.line, d.location.column) == (7, 1)
    assert d.location.json_path == "$.conflcit"
    assert d.hint.startswith("did you mean 'conflict'?")
    assert "allowed here: " in d.hint and "direction" in d.hint


def test_unknown_property_without_close_match_lists_allowed() -> None:
    d = _one(MAPPING.replace("  - {crm: OrganisationName, erp: Name}", "  - {crm: X, erp: Y, zzz: 1}"))
    assert d.code == "MS201" and "did you mean" not in d.hint and "allowed here: conflict" in d.hint
    assert (d.location.line, d.location.column) == (6, 22)


def test_unknown_property_inside_a_side_object() -> None:
    d = _one(MAPPING + "  - crm: {field: OrganisationCity, raed: x}\n    erp: City\n")
    assert d.code == "MS201" and d.hint.startswith("did you mean 'read'?")
    assert d.location.json_path == "$.fields[1].crm.raed"


def test_missing_required_at_the_parent() -> None:
    d = _one(MAPPING.replace("direction: both\n", ""))
    assert (d.code, d.location.line) == ("MS202", 1) and "'direction'" in d.message


def test_side_needs_field_or_read() -> None:
    d = _one(MAPPING + "  - crm: {}\n    erp: City\n")
    assert d.code == "MS202" and d.message == "one of 'field' or 'read' is required here"
    assert d.location.line == 7


def test_field_rule_needs_a_side() -> None:
    d = _one(MAPPING + "  - {value: 1}\n")
    assert d.code == "MS202" and "'crm' or 'erp'" in d.message


def test_wrong_type_names_the_expected_type() -> None:
    d = _one(MAPPING.replace("fields:\n  - {crm: OrganisationName, erp: Name}", "fields: {crm: A, erp: B}"))
    assert d.code == "MS203" and d.message.startswith("expected a list, got dict")
    d = _one(MAPPING + "  - {crm: 7, erp: B}\n")
    assert d.code == "MS203" and d.message.startswith("expected a text") and d.location.column == 11


def test_enum_value_with_did_you_mean() -> None:
    d = _one(MAPPING.replace("direction: both", "direction: crm-to-erpp"))
    assert d.code == "MS204" and (d.location.line, d.location.column) == (4, 12)
    assert d.hint == "did you mean 'crm-to-erp'? allowed: crm-to-erp, erp-to-crm, both"


def test_enum_value_far_from_any() -> None:
    d = _one(MAPPING.replace("direction: both", "direction: sideways"))
    assert d.hint == "allowed: crm-to-erp, erp-to-crm, both"


def test_pattern() -> None:
    d = _one(MAPPING.replace("name: customers", "name: My Customers"))
    assert d.code == "MS204" and "pattern" in d.message


def test_other_rules_are_ms205_and_duplicates_point_at_the_second() -> None:
    text = ("name: r\nsystems: {crm: {connector: webcrm}, erp: {connector: fortnox}}\n"
            "mappings:\n  - a.yaml\n  - b.yaml\n  - a.yaml\n")
    d = _one(text, "ruleset.yaml")
    assert d.code == "MS205" and d.message == "'a.yaml' is listed twice" and d.location.line == 6
    d = _one("name: r\nextends: ''\n", "ruleset.yaml")
    assert d.code == "MS205" and d.location.line == 2


def test_ruleset_if_then_requires_systems_without_extends() -> None:
    codes = sorted((d.code, d.message) for d in _check("name: r\n", "ruleset.yaml"))
    assert codes == [("MS202", "missing required property 'mappings'"),
                     ("MS202", "missing required property 'systems'")]
    assert _check("name: r\nextends: ../base\n", "ruleset.yaml") == []


def test_every_error_is_reported_at_once() -> None:
    text = ("name: Bad Name\ncrm: organisation\nerp: customer\ndirection: up\nconflict: nobody\n"
            "fields:\n  - {crm: 1, erp: Name, write: never, extra: x}\n")
    got = sorted((d.code, d.location.line) for d in _check(text))
    assert got == [("MS201", 7), ("MS203", 7), ("MS204", 1), ("MS204", 4), ("MS204", 5), ("MS204", 7)]


@pytest.mark.parametrize("value", ["[]", "{}", "1", "true", "null", "'x'"])
def test_odd_values_anywhere_give_diagnostics_not_exceptions(value: str) -> None:
    for key in ("fields", "match", "lines", "conditions", "crm", "map"):
        text = MAPPING.replace("fields:\n  - {crm: OrganisationName, erp: Name}", f"{key}: {value}")
        for d in check_schema(parse_text(text, "customers.yaml")):
            assert d.location.line >= 1


def _corpus() -> list[Any]:
    """The data of every readable rule file of the test corpus and the standard rule sets."""
    root = Path(__file__).resolve().parents[2]
    out = []
    for path in sorted([*root.glob("tests/rules/**/*.yaml"), *root.glob("mapsync/rules/standard/**/*.yaml")]):
        doc = read_source(path)
        if doc.data is not None:
            out.append(doc.data)
    return out


def _mutations(data: dict[str, Any]) -> list[Any]:
    """``data`` with one value replaced by a value of each other kind: at the top level and in each field rule."""
    odd: list[Any] = [None, 1, 1.5, True, "x", [], {}, ["x"], {"x": 1}]
    out: list[Any] = []
    for key in data:
        out.extend({**data, key: value} for value in odd)
    for index, rule in enumerate(data.get("fields") or []):
        if isinstance(rule, dict):
            for key in [*rule, "bogus"]:
                for value in odd:
                    fields = list(data["fields"])
                    fields[index] = {**rule, key: value}
                    out.append({**data, "fields": fields})
    return out


def test_the_compiled_check_never_passes_what_the_detailed_check_refuses() -> None:
    """The fast path (jsonschema-rs) may only skip the detailed check (jsonschema) for documents it finds valid;
    each document of the corpus, and each mutation of the mapping files, checked against both schemas."""
    assert _fast_validator(MAPPING_SCHEMA) is not None, "jsonschema-rs is a dependency"
    documents = _corpus()
    documents += [m for data in documents if isinstance(data, dict) and "fields" in data for m in _mutations(data)]
    passed = refused = 0
    for data in documents:
        for name in (MAPPING_SCHEMA, RULESET_SCHEMA):
            if is_valid_fast(data, name):
                passed += 1
                assert list(_validator(name).iter_errors(data)) == [], (name, data)
            else:
                refused += 1
    assert passed > 100 and refused > 1000, (passed, refused)


def test_data_the_compiled_check_cannot_take_goes_to_the_detailed_check() -> None:
    """A date or a key that is not a text (which YAML allows where the schema does not forbid them) is not
    taken by jsonschema-rs: the detailed check runs and still finds the document's errors."""
    d = _one(MAPPING + "  - {crm: OrganisationName, erp: Name, default: 2024-01-01, map: {1: a}, bogus: 1}\n")
    assert (d.code, d.location.json_path) == ("MS201", "$.fields[1].bogus"), d
    assert _check(MAPPING + "  - {crm: OrganisationName, erp: Name, default: 2024-01-01, map: {1: a}}\n") == []
    assert not is_valid_fast({"name": dt.date(2024, 1, 1)}, MAPPING_SCHEMA)
