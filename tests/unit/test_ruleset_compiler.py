"""engine.ruleset.compiler (through load_ruleset): settings in field names, enabled switches, value maps,
overrides, a frozen model compiled once; and validate_paths on single files."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from mapsync.engine.expressions import Expression
from mapsync.engine.extractors import MISSING, FieldPath, JmesExtractor
from mapsync.engine.ruleset import (
    ConflictPolicy,
    Direction,
    LoadResult,
    Side,
    UsageError,
    WritePolicy,
    load_ruleset,
    validate_paths,
)

RULESET = """\
name: test
systems:
  crm: {connector: webcrm, connection: {api_token: "${env:T_WEBCRM}"}}
  erp: {connector: fortnox, connection: {access_token: "${env:T_FORTNOX}"}}
settings:
  delivery_target: order
  owner: erp
  crm_fields: {customer_number: OrganisationExtraCustom1}
  nested: {deep: {name: OrganisationXText2}}
  not_a_name: [1, 2]
mappings: [customers.yaml]
"""

CUSTOMERS = """\
name: customers
crm: organisation
erp: customer
direction: both
conditions:
  crm: record.OrganisationType == 'Customer'
match:
  - {crm: "${settings.crm_fields.customer_number}", erp: CustomerNumber}
fields:
  - {crm: OrganisationName, erp: Name}
"""

ENV = {"T_WEBCRM": "x", "T_FORTNOX": "x"}


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def _load(tmp_path: Path, fields: str = "", **files: str) -> LoadResult:
    customers = CUSTOMERS + textwrap.indent(textwrap.dedent(fields), "  ")
    _write(tmp_path, {"ruleset.yaml": RULESET, "customers.yaml": customers, **files})
    return load_ruleset(tmp_path, ENV)


def _codes(result: LoadResult) -> list[tuple[str, int]]:
    return [(d.code, d.location.line) for d in result.diagnostics]


def test_settings_references_resolved_in_fields_and_keys(tmp_path: Path) -> None:
    result = _load(tmp_path, """\
      - {crm: "${settings.crm_fields.customer_number}", erp: CustomerNumber, direction: erp-to-crm}
      - crm: {field: " ${settings.nested.deep.name} "}
        erp: Comments
    """)
    assert result.ok, result.diagnostics
    assert result.ruleset is not None
    mapping = result.ruleset.mapping("customers")
    assert mapping is not None
    names = [(r.crm.writer.name if r.crm and r.crm.writer else None) for r in mapping.fields]
    assert names == ["OrganisationName", "OrganisationExtraCustom1", "OrganisationXText2"]
    assert mapping.match[0].crm == FieldPath("OrganisationExtraCustom1")


def test_settings_reference_problems(tmp_path: Path) -> None:
    result = _load(tmp_path, """\
      - {crm: "${settings.crm_fields.nope}", erp: Comments}
      - {crm: "${settings.not_a_name}", erp: Phone1}
      - {crm: "${settings.crm_fields}", erp: Phone2}
      - {crm: "${settting.owner}", erp: Fax}
      - {crm: "x${settings.owner}", erp: WWW}
    """)
    assert _codes(result) == [("MS314", 11), ("MS203", 12), ("MS203", 13), ("MS503", 14), ("MS503", 15)]
    assert result.ruleset is None and not result.ok


def test_enabled_switches_are_evaluated_once(tmp_path: Path) -> None:
    result = _load(tmp_path, """\
      - {crm: OrganisationExtraCustom1, erp: CustomerNumber, enabled: "settings.owner == 'crm'"}
      - {crm: OrganisationExtraCustom1, erp: CustomerNumber, direction: erp-to-crm,
         enabled: "settings.owner == 'erp'"}
      - {crm: OrganisationFax, erp: Fax, enabled: false}
    """, **{"orders.yaml": """\
        name: orders
        enabled: settings.delivery_target == 'invoice'
        crm: delivery
        erp: order
        direction: crm-to-erp
        parent_key: {crm: DeliveryOrganisationId, erp: CustomerNumber}
        fields:
          - {crm: DeliveryDescription, erp: Remarks}
        """}, **{"ruleset.yaml": RULESET.replace("[customers.yaml]", "[customers.yaml, orders.yaml]")})
    assert result.ok, result.diagnostics
    assert result.ruleset is not None
    assert [m.name for m in result.ruleset.mappings] == ["customers"]  # orders is switched off
    customers = result.ruleset.mappings[0]
    assert [(r.crm.label if r.crm else "", r.direction) for r in customers.fields] == [
        ("OrganisationName", Direction.BOTH), ("OrganisationExtraCustom1", Direction.ERP_TO_CRM)]


def test_switched_off_rules_are_still_checked(tmp_path: Path) -> None:
    result = _load(tmp_path, """\
      - {crm: OrganisationFaks, erp: Fax, enabled: false}
      - {crm: OrganisationWww, erp: WWW, enabled: "settings.nope"}
      - {crm: OrganisationCity, erp: City, enabled: "record.x"}
      - {crm: OrganisationTelephone, erp: Phone1, enabled: "settings.owner + 1"}
    """)
    assert _codes(result) == [("MS303", 11), ("MS314", 12), ("MS402", 13), ("MS402", 14)]
    assert "TypeError" in result.diagnostics[-1].message


def test_nested_settings_are_checked(tmp_path: Path) -> None:
    result = _load(tmp_path, """\
      - {crm: OrganisationWww, erp: WWW, enabled: "settings.nested.deep.name == 'x'"}
      - {crm: OrganisationCity, erp: City, enabled: "settings.nested.deep.nope == 'x'"}
      - {crm: OrganisationFax, erp: Fax, transform: {to_erp: "settings.nested.shallow"}}
      - {crm: OrganisationTelephone, erp: Phone1, enabled: "settings.owner > 1"}
    """)
    assert _codes(result) == [("MS314", 12), ("MS314", 13), ("MS402", 14)]
    messages = [d.message for d in result.diagnostics]
    assert messages[0].startswith("setting 'nested.deep.nope' is not defined")
    assert messages[1].startswith("setting 'nested.shallow' is not defined")
    assert messages[2].startswith("the switch cannot be evaluated: 'settings.owner > 1' failed: TypeError")


def test_value_maps_and_their_reverse(tmp_path: Path) -> None:
    result = _load(tmp_path, """\
      - {crm: OrganisationType, erp: Type, map: {Customer: COMPANY, Private Customer: PRIVATE}}
      - crm: OrganisationCountry
        erp: CountryCode
        map: {Sweden: SE, Sverige: SE}
        map_reverse: {SE: Sweden}
      - {crm: OrganisationVatCountry, erp: DeliveryCountryCode, direction: crm-to-erp, map: {a: X, b: X}}
    """)
    assert result.ok, result.diagnostics
    assert result.ruleset is not None
    rules = result.ruleset.mappings[0].fields
    assert dict(rules[1].value_map or {}) == {"Customer": "COMPANY", "Private Customer": "PRIVATE"}
    assert dict(rules[1].reverse_map or {}) == {"COMPANY": "Customer", "PRIVATE": "Private Customer"}
    assert rules[1].value_map_to(Side.ERP) is rules[1].value_map
    assert rules[1].value_map_to(Side.CRM) is rules[1].reverse_map
    assert dict(rules[2].reverse_map or {}) == {"SE": "Sweden"}
    assert rules[0].value_map is None and rules[0].reverse_map is None


def test_map_not_reversible_only_when_written_back(tmp_path: Path) -> None:
    result = _load(tmp_path, """\
      - crm: OrganisationCountry
        erp: CountryCode
        map: {Sweden: SE, Sverige: SE}
    """)
    assert _codes(result) == [("MS307", 13)]
    assert "'Sweden' and 'Sverige' both map to 'SE'" in result.diagnostics[0].message


def test_constants_defaults_and_policies(tmp_path: Path) -> None:
    result = _load(tmp_path, """\
      - {erp: Currency, value: SEK, write: on-create}
      - {crm: OrganisationXText1, erp: Comments, default: none, write: if-empty, conflict: crm-wins}
    """)
    assert result.ok, result.diagnostics
    assert result.ruleset is not None
    constant, defaulted = result.ruleset.mappings[0].fields[1:]
    assert (constant.constant, constant.write, constant.direction) == ("SEK", WritePolicy.ON_CREATE,
                                                                       Direction.CRM_TO_ERP)
    assert constant.crm is None and constant.writes(Side.ERP) and not constant.writes(Side.CRM)
    assert (defaulted.default, defaulted.constant) == ("none", MISSING)
    assert (defaulted.write, defaulted.conflict) == (WritePolicy.IF_EMPTY, ConflictPolicy.CRM_WINS)


def test_overrides_replace_what_they_name(tmp_path: Path) -> None:
    _write(tmp_path / "base", {"ruleset.yaml": RULESET, "customers.yaml": CUSTOMERS})
    _write(tmp_path / "child", {"ruleset.yaml": """\
        name: child
        extends: ../base
        settings: {owner: crm}
        overrides:
          customers:
            direction: crm-to-erp
            conflict: skip
            conditions: {erp: record.Active}
            match: [{crm: OrganisationVatNumber, erp: VATNumber}]
        """})
    result = load_ruleset(tmp_path / "child", ENV)
    assert result.ok, result.diagnostics
    assert result.ruleset is not None
    assert result.ruleset.name == "child" and result.ruleset.settings["owner"] == "crm"
    assert result.ruleset.settings["delivery_target"] == "order"  # merged, not replaced
    customers = result.ruleset.mappings[0]
    assert (customers.direction, customers.conflict) == (Direction.CRM_TO_ERP, ConflictPolicy.SKIP)
    assert list(customers.conditions) == [Side.ERP]
    assert [k.erp.name for k in customers.match] == ["VATNumber"]
    assert result.files[0].endswith("child/ruleset.yaml") and len(result.files) == 3


def test_override_switching_a_mapping_off(tmp_path: Path) -> None:
    _write(tmp_path / "base", {"ruleset.yaml": RULESET, "customers.yaml": CUSTOMERS})
    _write(tmp_path / "child", {"ruleset.yaml": """\
        name: child
        extends: ../base
        overrides: {customers: {enabled: "settings.owner == 'nobody'"}}
        """})
    result = load_ruleset(tmp_path / "child", ENV)
    assert result.ok and result.ruleset is not None and result.ruleset.mappings == ()


def test_model_is_frozen_and_compiled(tmp_path: Path) -> None:
    result = _load(tmp_path, """\
      - crm: OrganisationAddress
        erp: {read: "join(' ', [Address1, Address2][?@ != null])"}
        direction: erp-to-crm
      - {crm: OrganisationCity, erp: City, transform: {to_erp: upper(value)}}
    """)
    assert result.ok and result.ruleset is not None
    mapping = result.ruleset.mappings[0]
    assert isinstance(mapping.conditions[Side.CRM], Expression)
    extractor = mapping.fields[1].erp
    assert extractor is not None and isinstance(extractor.reader, JmesExtractor) and extractor.writer is None
    assert extractor.reader.get({"Address1": "a", "Address2": None}) == "a"
    assert isinstance(mapping.fields[2].to_erp, Expression) and mapping.fields[2].to_crm is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        mapping.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.ruleset.settings["owner"] = "crm"  # type: ignore[index]
    with pytest.raises(TypeError):
        result.ruleset.settings["crm_fields"]["deep"] = {}  # type: ignore[index]
    assert mapping.where("crm").line == 2 and mapping.fields[2].where("transform.to_erp").line == 14


def test_mappings_ordered_parents_first(tmp_path: Path) -> None:
    orders = """\
        name: orders
        crm: delivery
        erp: order
        direction: crm-to-erp
        parent: customers
        parent_key: {crm: DeliveryOrganisationId, erp: CustomerNumber}
        fields: [{crm: DeliveryDescription, erp: Remarks}]
        """
    result = _load(tmp_path, **{"orders.yaml": orders,
                                "ruleset.yaml": RULESET.replace("[customers.yaml]", "[orders.yaml, customers.yaml]")})
    assert result.ok and result.ruleset is not None
    assert [m.name for m in result.ruleset.mappings] == ["customers", "orders"]


@pytest.mark.parametrize("bad", [
    "direction: sideways", "write: never", "conflict: whoever", "direction: [1]", "write: {a: 1}",
])
def test_bad_enums_in_rules_are_schema_errors_not_crashes(tmp_path: Path, bad: str) -> None:
    result = _load(tmp_path, f"  - {{crm: OrganisationCity, erp: City, {bad}}}\n")
    assert [c for c, _ in _codes(result)] in (["MS204"], ["MS203"])


def test_parent_cycle_reported_and_order_kept(tmp_path: Path) -> None:
    orders = """\
        name: orders
        crm: delivery
        erp: order
        direction: crm-to-erp
        parent: orders
        parent_key: {crm: DeliveryOrganisationId, erp: CustomerNumber}
        fields: [{crm: DeliveryDescription, erp: Remarks}]
        """
    result = _load(tmp_path, **{"orders.yaml": orders,
                                "ruleset.yaml": RULESET.replace("[customers.yaml]", "[customers.yaml, orders.yaml]")})
    assert _codes(result) == [("MS309", 5)]


def test_unset_environment_for_validate_and_run(tmp_path: Path) -> None:
    _write(tmp_path, {"ruleset.yaml": RULESET, "customers.yaml": CUSTOMERS})
    warned = load_ruleset(tmp_path, {})
    assert warned.ok and {d.severity.value for d in warned.diagnostics} == {"warning"}
    refused = load_ruleset(tmp_path, {}, for_run=True)
    assert not refused.ok and refused.ruleset is None


# -- validate_paths on single files ----------------------------------------------------------------------------


def test_a_file_of_a_rule_set_is_checked_in_its_rule_set(tmp_path: Path) -> None:
    _write(tmp_path, {"ruleset.yaml": RULESET.replace("owner: erp", "owner: [erp]"),
                      "customers.yaml": CUSTOMERS + "  - {crm: OrganisationCity, erp: Town}\n"})
    diags, files = validate_paths([tmp_path / "customers.yaml"])
    assert [(d.code, d.location.line) for d in diags] == [("MS303", 11)]  # not ruleset.yaml's problems
    assert files == [str(tmp_path / "customers.yaml")]


def test_files_of_one_rule_set_compile_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``mapsync validate a.yaml b.yaml .``: the rule set is compiled once, each file gets its own problems."""
    import mapsync.engine.ruleset as ruleset_package

    _write(tmp_path, {"ruleset.yaml": RULESET.replace("owner: erp", "owner: [erp]")
                      .replace("mappings: [customers.yaml]", "mappings: [customers.yaml, others.yaml]"),
                      "customers.yaml": CUSTOMERS + "  - {crm: OrganisationCity, erp: Town}\n",
                      "others.yaml": CUSTOMERS.replace("name: customers", "name: others")
                      + "  - {crm: OrganisationTown, erp: City}\n"})
    compiled = []
    compile_folder = ruleset_package.compile_folder
    monkeypatch.setattr(ruleset_package, "compile_folder", lambda folder: compiled.append(folder)
                        or compile_folder(folder))
    diags, files = validate_paths([tmp_path / "customers.yaml", tmp_path / "others.yaml", tmp_path])
    assert len(compiled) == 1
    each = [d for path in ("customers.yaml", "others.yaml") for d in validate_paths([tmp_path / path])[0]]
    whole = validate_paths([tmp_path])[0]
    assert diags == sorted({*each, *whole}, key=lambda d: (d.location.file, d.location.line, d.location.column,
                                                            d.code, d.message))
    assert {(d.code, Path(d.location.file).name) for d in each} == {("MS303", "customers.yaml"),
                                                                    ("MS303", "others.yaml")}
    assert files[:2] == [str(tmp_path / "customers.yaml"), str(tmp_path / "others.yaml")]


def test_a_lone_mapping_file_is_checked_without_settings(tmp_path: Path) -> None:
    _write(tmp_path, {"lone.yaml": CUSTOMERS
                      + '  - {crm: "${settings.crm_fields.anything}", erp: Comments, enabled: settings.whatever}\n'
                      + '  - {crm: OrganisationCity, erp: City, transform: {to_erp: "upper(value"}, writ: always}\n'})
    diags, _ = validate_paths([tmp_path / "lone.yaml"])
    assert [(d.code, d.location.line) for d in diags] == [("MS401", 12), ("MS201", 12)]  # and no MS314


def test_a_mapping_file_next_to_a_rule_set_but_not_in_it(tmp_path: Path) -> None:
    _write(tmp_path, {"ruleset.yaml": RULESET, "customers.yaml": CUSTOMERS,
                      "draft.yaml": CUSTOMERS.replace("direction: both", "direction: up")})
    diags, _ = validate_paths([tmp_path / "draft.yaml"])
    assert [(d.code, d.location.line) for d in diags] == [("MS204", 4)]


def test_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no ruleset\.yaml"):
        validate_paths([tmp_path])
    with pytest.raises(UsageError, match="no such file"):
        validate_paths([tmp_path / "nope.yaml"])
    with pytest.raises(UsageError, match="not a rule set folder"):
        load_ruleset(tmp_path)
