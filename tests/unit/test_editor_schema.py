"""engine.ruleset.editor_schema and `mapsync schema`: the editor schemas offer the catalogues' field names,
never refuse a rule set `mapsync validate` accepts, flag the names `validate` refuses, and the copies in the
package never drift from the catalogues."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mapsync.connectors.catalogue import load_catalogue
from mapsync.engine.cli import main
from mapsync.engine.diagnostics import Severity
from mapsync.engine.ruleset import editor_schema as es
from mapsync.engine.ruleset import load_ruleset, validate_paths
from mapsync.engine.ruleset.loader import load_raw
from mapsync.engine.ruleset.schema import MAPPING_SCHEMA, RULESET_SCHEMA, load_schema
from mapsync.engine.ruleset.source import read_source

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "tests" / "rules"
STANDARD = ROOT / "mapsync" / "rules" / "standard"
NAME_CODES = {"MS302", "MS303", "MS318", "MS319"}  # what the editor schemas check: entity and field names
_YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)
_FILE_LINE = re.compile(r"^# file: (\S+)\n")


def _validators() -> dict[str, Draft202012Validator]:
    return {name: Draft202012Validator(schema) for name, schema in es.editor_schemas().items()}


VALIDATORS = _validators()


def _errors(schema_name: str, data: Any) -> list[str]:
    """``path: message`` of each error, at the most specific place: within an ``anyOf``, the deepest error of its
    branches (an editor reports the branch that fits the value best, a side object's ``field``)."""
    out = []
    for error in VALIDATORS[schema_name].iter_errors(data):
        while error.context:
            error = max(error.context, key=lambda e: len(e.absolute_path))
        out.append(f"{'/'.join(map(str, error.absolute_path))}: {error.message[:120]}")
    return out


def _schemas_for(file: str, erp: str | None) -> list[str]:
    """The editor schemas a file may point at: ruleset.yaml's, or both mapping schemas that fit its ERP."""
    if Path(file).name == "ruleset.yaml":
        return [RULESET_SCHEMA]
    return [MAPPING_SCHEMA, *([es.mapping_file_name(erp)] if erp in es.ERPS else [])]


def _erp(folder: Path) -> str | None:
    connector = load_raw(folder).systems["erp"].connector
    return connector.value if connector is not None and isinstance(connector.value, str) else None


def _refused(folder: Path, skip: frozenset[Path] = frozenset()) -> list[str]:
    """Every editor-schema error of the files of a rule set, except those in ``skip``."""
    erp = _erp(folder)
    out = []
    for file in validate_paths([folder])[1]:
        if Path(file).resolve() in skip:
            continue
        data = read_source(Path(file)).data
        if data is None:
            continue
        out.extend(f"{file} ({name}) {error}" for name in _schemas_for(file, erp) for error in _errors(name, data))
    return out


# -- what is in the package ---------------------------------------------------------------------------------


def test_package_schemas_are_what_the_catalogues_give_now() -> None:
    assert es.stale() == [], "run python -m mapsync.engine.ruleset.editor_schema"
    assert es.main(["--check"]) == 0
    assert sorted(p.name for p in es.EDITOR_DIR.iterdir()) == sorted(es.editor_schemas())


def test_a_drifted_copy_is_noticed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    es.write_schemas(tmp_path)
    assert es.stale(tmp_path) == []
    path = tmp_path / "mapping.fortnox.schema.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"OrganisationName",', ""), encoding="utf-8")
    (tmp_path / RULESET_SCHEMA).unlink()
    assert sorted(es.stale(tmp_path)) == sorted(["mapping.fortnox.schema.json", RULESET_SCHEMA])


@pytest.mark.parametrize("name", sorted(es.editor_schemas()))
def test_each_is_a_valid_schema_built_on_the_hand_written_one(name: str) -> None:
    schema = es.editor_schemas()[name]
    Draft202012Validator.check_schema(schema)
    source = load_schema(RULESET_SCHEMA if name == RULESET_SCHEMA else MAPPING_SCHEMA)
    assert schema["properties"].keys() == source["properties"].keys()
    assert set(source["$defs"]) <= set(schema["$defs"])
    assert schema["$id"].endswith("/editor/" + name) and "do not edit" in schema["description"]


def test_entity_names_and_field_names_with_their_facts_are_offered() -> None:
    schema = es.editor_schemas()["mapping.vismanet.schema.json"]
    assert schema["properties"]["crm"]["enum"][:2] == ["organisation", "person"]
    assert "sales_order" in schema["properties"]["erp"]["enum"] and "order" not in schema["properties"]["erp"]["enum"]
    fields = schema["$defs"]["fields.webcrm.organisation"]
    assert fields["enum"] == list(load_catalogue("webcrm").entities["organisation"].fields)
    described = dict(zip(fields["enum"], fields["enumDescriptions"], strict=True))
    assert described["OrganisationExtraCustom1"].startswith("string, at most 50 characters")
    customer = dict(zip(*(schema["$defs"]["fields.vismanet.customer"][k] for k in ("enum", "enumDescriptions")),
                        strict=True))
    assert "read-only" in customer["internalId"] or "read-only" in customer.get("lastModifiedDateTime", "read-only")
    # keyed on the mapping's entities: the condition for `crm: organisation` names the organisation fields
    conditions = {(next(iter(c["if"]["properties"])), next(iter(c["if"]["properties"].values()))["const"]): c["then"]
                  for c in schema["allOf"]}
    then = conditions[("crm", "organisation")]["properties"]
    assert then["fields"]["items"]["properties"]["crm"] == {"$ref": "#/$defs/side.webcrm.organisation"}
    assert then["match"]["items"]["properties"]["crm"] == {"$ref": "#/$defs/name.webcrm.organisation"}
    lines = conditions[("erp", "sales_order")]["properties"]["lines"]["items"]
    assert lines["properties"]["erp"]["properties"]["collection"]["enum"] == ["lines"]


def _completions(schema: Any, root: dict[str, Any]) -> list[Any]:
    """The values an editor offers for a property, collected as the YAML language server does: ``enum`` values
    through ``$ref``, ``anyOf``, ``oneOf`` and ``allOf`` (never through the branches of an ``if``)."""
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    found = list(schema.get("enum", []))
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            found.extend(_completions(sub, root))
    return found


@pytest.mark.parametrize("name", [MAPPING_SCHEMA, "mapping.fortnox.schema.json", "mapping.vismanet.schema.json"])
def test_an_editor_can_complete_every_field_name(name: str) -> None:
    schema = es.editor_schemas()[name]
    fields = list(load_catalogue("webcrm").entities["delivery"].fields)
    [then] = [c["then"] for c in schema["allOf"] if c["if"]["properties"].get("crm") == {"const": "delivery"}]
    rule = then["properties"]["fields"]["items"]["properties"]["crm"]
    assert set(_completions(rule, schema)) == set(fields)
    key = then["properties"]["match"]["items"]["properties"]["crm"]
    assert set(_completions(key, schema)) == set(fields)
    [line] = [c["then"] for c in schema["$defs"]["line_rule"]["allOf"]
              if c["if"]["properties"]["crm"]["properties"]["entity"] == {"const": "quotation_line"}]
    parent_field = line["properties"]["crm"]["properties"]["parent_field"]
    assert "QuotationLineOpportunityId" in _completions(parent_field, schema)
    erp = next(e for e in schema["properties"]["erp"]["enum"] if e in ("order", "sales_order"))
    [then] = [c["then"] for c in schema["allOf"] if c["if"]["properties"].get("erp") == {"const": erp}]
    collection = then["properties"]["lines"]["items"]["properties"]["erp"]["properties"]["collection"]
    assert _completions(collection, schema) in (["OrderRows"], ["lines"])


def test_the_rule_sets_person_checkbox_is_completed() -> None:
    schema = es.editor_schemas()[RULESET_SCHEMA]
    offered = _completions(schema["properties"]["settings"]["properties"]["person_checkbox"], schema)
    assert offered == list(load_catalogue("webcrm").entities["person"].fields)


# -- never refuses what validate accepts --------------------------------------------------------------------


def _doc_examples(tmp: Path) -> list[Path]:
    """The complete (``# file:``) examples of docs/rules.md and docs/tutorial.md, written out as rule sets."""
    shutil.copytree(STANDARD, tmp / "rules" / "standard")
    folders: set[Path] = set()
    for doc in ("rules.md", "tutorial.md"):
        for block in _YAML_BLOCK.findall((ROOT / "docs" / doc).read_text(encoding="utf-8")):
            match = _FILE_LINE.match(block)
            if match and not match.group(1).endswith(".test.yaml"):  # rule tests are not rule files
                target = tmp / match.group(1)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block, encoding="utf-8")
                folders.add(target.parent)
    return sorted(folders)


def _valid_folders() -> Iterator[Path]:
    yield from sorted(p for p in (RULES / "valid").iterdir() if p.is_dir())
    yield RULES / "shared-base"
    yield from sorted(p for p in STANDARD.iterdir() if p.is_dir())


@pytest.mark.parametrize("folder", list(_valid_folders()), ids=lambda p: p.name)
def test_every_valid_rule_set_is_accepted(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    diagnostics, files = validate_paths([folder])
    assert not [d for d in diagnostics if d.severity is Severity.ERROR] and files
    assert _refused(folder) == []


def test_the_docs_complete_examples_are_accepted(tmp_path: Path) -> None:
    folders = _doc_examples(tmp_path)
    assert len(folders) >= 2
    for folder in folders:
        assert not [d for d in validate_paths([folder])[0] if d.severity is Severity.ERROR], folder
        assert _refused(folder) == []


def test_files_of_invalid_cases_are_accepted_unless_validate_reports_an_error_in_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    cases = sorted(p for p in (RULES / "invalid").iterdir() if p.is_dir())
    refused = []
    for case in cases:
        diagnostics, _ = validate_paths([case])
        in_error = {Path(d.location.file).resolve() for d in diagnostics if d.severity is Severity.ERROR}
        refused.extend(_refused(case, frozenset(in_error)))
    assert refused == []


# -- flags the names validate refuses -----------------------------------------------------------------------

MAPPING = {
    "name": "orders", "crm": "delivery", "erp": "order", "direction": "both",
    "parent_key": {"crm": "DeliveryOrganisationId", "erp": "CustomerNumber"},
    "match": [{"crm": "${settings.crm_fields.order_number}", "erp": "DocumentNumber"}],
    "fields": [
        {"crm": "DeliveryDescription", "erp": "Remarks"},
        {"crm": {"field": "DeliveryNumber", "read": "DeliveryNumber || `0`"}, "erp": {"read": "join(' ', [a, b])"}},
        {"crm": " ${settings.crm_fields.currency} ", "erp": "Currency"},
        {"erp": "OrderType", "value": "x"},
    ],
    "lines": [{
        "name": "rows", "crm": {"entity": "quotation_line", "parent_field": "QuotationLineOpportunityId"},
        "erp": {"collection": "OrderRows"},
        "match": [{"crm": "QuotationLineData1", "erp": "ArticleNumber"}],
        "fields": [{"crm": "QuotationLineQuantity", "erp": "OrderedQuantity"}],
    }],
}


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(MAPPING))
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return data


def test_the_example_mapping_is_accepted() -> None:
    for name in (MAPPING_SCHEMA, "mapping.fortnox.schema.json"):
        assert _errors(name, MAPPING) == []
    assert [e.split(":")[0] for e in _errors("mapping.vismanet.schema.json", MAPPING)] == ["erp"]  # no such entity


@pytest.mark.parametrize(("path", "value"), [
    (("crm",), "deliveries"),
    (("erp",), "sales_order"),
    (("fields", 0, "crm"), "DeliveryDescriptoin"),
    (("fields", 0, "erp"), "remarks"),
    (("fields", 1, "crm", "field"), "DeliveryNr"),
    (("fields", 2, "crm"), "${crm_fields.currency}"),
    (("fields", 3, "erp"), "OrganisationName"),
    (("match", 0, "erp"), "OrderNumber"),
    (("parent_key", "crm"), "OrganisationId"),
    (("lines", 0, "crm", "entity"), "quotation_lines"),
    (("lines", 0, "crm", "parent_field"), "QuotationLineDeliveryId"),
    (("lines", 0, "erp", "collection"), "InvoiceRows"),
    (("lines", 0, "fields", 0, "crm"), "DeliveryDescription"),
    (("lines", 0, "fields", 0, "erp"), "Remarks"),
    (("lines", 0, "match", 0, "erp"), "ArticleNo"),
])
def test_a_wrong_name_is_flagged_where_it_is(path: tuple[Any, ...], value: str) -> None:
    errors = _errors("mapping.fortnox.schema.json", _with(path, value))
    assert [e.split(":")[0] for e in errors] == ["/".join(map(str, path))], errors


def test_the_lines_follow_their_own_entity_and_collection() -> None:
    invoice = _with(("erp",), "invoice")
    invoice["fields"] = invoice["fields"][:3]
    assert [e.split(":")[0] for e in _errors("mapping.fortnox.schema.json", invoice)] == ["lines/0/erp/collection"]
    invoice["lines"][0]["erp"]["collection"] = "InvoiceRows"  # invoice rows have no OrderedQuantity
    assert [e.split(":")[0] for e in _errors("mapping.fortnox.schema.json", invoice)] == ["lines/0/fields/0/erp"]
    invoice["lines"][0]["fields"][0]["erp"] = "DeliveredQuantity"
    assert _errors("mapping.fortnox.schema.json", invoice) == []
    person_lines = _with(("lines", 0, "crm"), {"entity": "person", "parent_field": "PersonOrganisationId"})
    assert {e.split(":")[0] for e in _errors("mapping.fortnox.schema.json", person_lines)} == \
        {"lines/0/match/0/crm", "lines/0/fields/0/crm"}


def test_an_entity_both_erps_have_accepts_either_erps_fields_only_in_the_common_schema() -> None:
    customer = {"name": "customers", "crm": "organisation", "erp": "customer", "direction": "both",
                "fields": [{"crm": "OrganisationName", "erp": "Name"}, {"crm": "OrganisationCity", "erp": "name"}]}
    assert _errors(MAPPING_SCHEMA, customer) == []
    assert [e.split(":")[0] for e in _errors("mapping.fortnox.schema.json", customer)] == ["fields/1/erp"]
    assert [e.split(":")[0] for e in _errors("mapping.vismanet.schema.json", customer)] == ["fields/0/erp"]
    customer["fields"][0]["erp"] = "nmae"
    assert [e.split(":")[0] for e in _errors(MAPPING_SCHEMA, customer)] == ["fields/0/erp"]


@pytest.mark.parametrize(("top", "fortnox_ok", "vismanet_ok"), [
    ({"extends": "mapsync:standard/fortnox"}, True, False),
    ({"extends": "mapsync: standard/vismanet/"}, False, True),
    ({"extends": "../base"}, True, True),
    ({"extends": "mapsync:standard/vismanet", "systems": {"erp": {"connector": "fortnox"}}}, True, False),
    ({"systems": {"crm": {"connector": "webcrm"}, "erp": {"connector": "vismanet"}}, "mappings": ["a.yaml"]},
     False, True),
])
def test_ruleset_overrides_take_the_field_names_of_the_rule_sets_erp(
        top: dict[str, Any], fortnox_ok: bool, vismanet_ok: bool) -> None:
    def check(erp_field: str) -> list[str]:
        overrides = {"customers": {"fields": [{"crm": "OrganisationName", "erp": erp_field}],
                                   "match": [{"crm": "${settings.crm_fields.x}", "erp": erp_field}]}}
        return _errors(RULESET_SCHEMA, {"name": "acme", **top, "overrides": overrides})

    assert (check("Name") == [], check("name") == []) == (fortnox_ok, vismanet_ok)
    assert len(check("Nmae")) == 2
    wrong_crm = {"name": "acme", **top, "overrides": {"items": {"fields": [{"crm": "ItemName", "erp": "Name"}]}}}
    assert [e.split(":")[0] for e in _errors(RULESET_SCHEMA, wrong_crm)][:1] == ["overrides/items/fields/0/crm"]


def test_settings_that_name_fields_are_suggested_never_flagged() -> None:
    schema = es.editor_schemas()[RULESET_SCHEMA]
    crm_fields = schema["properties"]["settings"]["properties"]["crm_fields"]["additionalProperties"]
    offered = [schema["$defs"][ref["$ref"].rsplit("/", 1)[1]] for ref in crm_fields["anyOf"] if "$ref" in ref]
    assert any("OrganisationExtraCustom1" in d["enum"] for d in offered)
    data = {"name": "acme", "extends": "../base",
            "settings": {"crm_fields": {"x": "NotAFieldAtAll"}, "person_checkbox": "Whatever"}}
    assert _errors(RULESET_SCHEMA, data) == []
    assert _errors(RULESET_SCHEMA, {**data, "settings": {"crm_fields": {"x": 3}}}) != []  # still a text


# -- the property: editor accepts <=> validate finds no wrong name ------------------------------------------


def _entities(connector: str, lines: bool = False) -> list[str]:
    return [e.name for e in load_catalogue(connector).entities.values() if (e.line_of is not None) == lines]


def _mostly(draw: st.DrawFn, good: list[str], wrong: str) -> str:
    """One of ``good``, or (one time in eight) ``wrong``."""
    return wrong if draw(st.integers(0, 7)) == 0 else draw(st.sampled_from(good))


@st.composite
def _name(draw: st.DrawFn, connector: str, entity: str, settings_used: dict[str, str]) -> str:
    catalogue = load_catalogue(connector)
    fields = list(catalogue.entities[entity].fields) if entity in catalogue.entities else ["Anything"]
    kind = draw(st.sampled_from(["field"] * 12 + ["other", "typo", "setting", "setting"]))
    if kind == "other":  # a field of another entity of the same connector: sometimes also one of this one
        other = draw(st.sampled_from(sorted(catalogue.entities)))
        return draw(st.sampled_from(list(catalogue.entities[other].fields)))
    name = draw(st.sampled_from(fields))
    if kind == "typo":
        return name[:-1] + ("x" if name[-1] != "x" else "y")
    if kind == "setting":
        key = f"f{len(settings_used)}"
        settings_used[key] = name  # a setting always names a field of the entity: the editor cannot see it
        return f"${{settings.crm_fields.{key}}}"
    return name


@st.composite
def _rule_sets(draw: st.DrawFn) -> tuple[str, dict[str, Any], dict[str, str]]:
    erp = draw(st.sampled_from(es.ERPS))
    crm_entity = _mostly(draw, _entities("webcrm"), "organisations")
    erp_entity = _mostly(draw, _entities(erp), "customers")
    used: dict[str, str] = {}

    def side(connector: str, entity: str) -> Any:
        name = draw(_name(connector, entity, used))
        form = draw(st.sampled_from(["name", "name", "field", "read"]))
        # A `read` is JMESPath, which the editor leaves alone (a name in it is not checked by validate either).
        return name if form == "name" else {"field": name} if form == "field" else {"read": "a.b || `1`"}

    fields = [{"crm": side("webcrm", crm_entity), "erp": side(erp, erp_entity)}
              for _ in range(draw(st.integers(1, 3)))]
    mapping: dict[str, Any] = {"name": "m", "crm": crm_entity, "erp": erp_entity, "direction": "both",
                               "fields": fields}
    if draw(st.booleans()):
        mapping["match"] = [{"crm": draw(_name("webcrm", crm_entity, used)), "erp": draw(_name(erp, erp_entity, used))}]
    parent = load_catalogue(erp).entities.get(erp_entity)
    lines = {f.name: f.lines for f in parent.fields.values() if f.lines} if parent is not None else {}
    if lines and draw(st.integers(0, 3)):
        collection = _mostly(draw, list(lines), "rows")
        crm_line = _mostly(draw, ["quotation_line"] * 3 + ["delivery"], "lines")
        parent_field = _mostly(draw, ["QuotationLineOpportunityId"], "Parent")
        mapping["lines"] = [{
            "name": "rows", "crm": {"entity": crm_line, "parent_field": parent_field},
            "erp": {"collection": collection},
            "fields": [{"crm": side("webcrm", crm_line), "erp": side(erp, lines.get(collection) or "none")}],
        }]
        if draw(st.booleans()):
            mapping["lines"][0]["match"] = [{"crm": draw(_name("webcrm", crm_line, used)),
                                             "erp": draw(_name(erp, lines.get(collection) or "none", used))}]
    return erp, mapping, used


def _write(folder: Path, erp: str, mapping: dict[str, Any], used: dict[str, str]) -> None:
    ruleset = {"name": "generated", "systems": {"crm": {"connector": "webcrm"}, "erp": {"connector": erp}},
               "settings": {"crm_fields": used}, "mappings": ["m.yaml"]}
    (folder / "ruleset.yaml").write_text(yaml.safe_dump(ruleset, sort_keys=False), encoding="utf-8")
    (folder / "m.yaml").write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")


@settings(max_examples=150, derandomize=True)
@given(_rule_sets())
def test_editor_accepts_exactly_when_validate_finds_no_wrong_name(
        case: tuple[str, dict[str, Any], dict[str, str]]) -> None:
    erp, mapping, used = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, erp, mapping, used)
        result = load_ruleset(folder, {})
        wrong_names = [d for d in result.diagnostics if d.code in NAME_CODES and d.severity is Severity.ERROR]
        other_schema = [d for d in result.diagnostics if d.code.startswith(("MS1", "MS2"))]
    assert other_schema == []
    specific = _errors(es.mapping_file_name(erp), mapping)
    assert (specific == []) == (wrong_names == []), (specific, [d.message for d in wrong_names])
    if not wrong_names:
        assert _errors(MAPPING_SCHEMA, mapping) == []


# -- mapsync schema -----------------------------------------------------------------------------------------


def test_cli_writes_every_schema_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "repo" / "schemas"
    assert main(["schema", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    names = sorted([*es.editor_schemas(), "ruletest.schema.json", "tenants.schema.json"])
    assert printed == [f"wrote {out / name}" for name in names]
    for name in es.editor_schemas():
        assert (out / name).read_bytes() == (es.EDITOR_DIR / name).read_bytes()
    assert main(["schema", "--out", str(out)]) == 0  # again: replaced, same content
    assert es.stale(out) == []


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["schema"])
    assert exited.value.code == 2
    a_file = tmp_path / "schemas"
    a_file.write_text("not a folder", encoding="utf-8")
    assert main(["schema", "--out", str(a_file)]) == 2
    assert "is not a folder" in capsys.readouterr().err
