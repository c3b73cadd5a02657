"""`mapsync render` end to end: the effective rule set with the file and line of every value."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from mapsync.engine.cli import main
from mapsync.engine.ruleset import load_ruleset
from mapsync.engine.ruleset.render import is_leaf, plain, render_tree, to_yaml

ROOT = Path(__file__).resolve().parents[2]
FORTNOX = ROOT / "mapsync/rules/standard/fortnox"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WEBCRM_BASE_URL", "WEBCRM_API_TOKEN", "FORTNOX_BASE_URL", "FORTNOX_ACCESS_TOKEN",
                 "FORTNOX_CLIENT_ID", "FORTNOX_CLIENT_SECRET", "FORTNOX_TENANT_ID"):
        monkeypatch.setenv(name, "secret-" + name.lower())
    monkeypatch.chdir(ROOT)


def _render_json(folder: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["render", "--format", "json", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # one JSON document on one line
    doc: dict[str, Any] = json.loads(out)
    return doc


def _line_of(leaf: dict[str, Any]) -> tuple[Path, int, int]:
    file, line, column = leaf["from"].rsplit(":", 2)
    return Path(file), int(line), int(column)


def _text_at(leaf: dict[str, Any]) -> str:
    """The text of the file from the leaf's position to the end of that line."""
    file, line, column = _line_of(leaf)
    return file.read_text(encoding="utf-8").splitlines()[line - 1][column - 1:]


def _mapping(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in doc["mappings"] if m["name"]["value"] == name)


def _field(mapping: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((f for f in mapping["fields"] if f["name"]["value"] == name), None)


def test_standard_fortnox_renders_every_mapping_with_origins(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _render_json(FORTNOX, capsys)
    expected = {m.name for m in load_ruleset(FORTNOX, os.environ).ruleset.mappings}  # type: ignore[union-attr]
    names = {m["name"]["value"] for m in doc["mappings"]}
    assert names == expected and {"customers", "items", "deliveries-orders", "order-invoices"} <= names
    customers = _mapping(doc, "customers")
    assert customers["name"]["from"].startswith("mapsync/rules/standard/fortnox/customers.yaml:")
    assert _text_at(customers["conflict"]) == "newest-wins"
    currency = _field(customers, "currency")
    assert currency is not None
    assert _text_at(currency["erp"]) == "Currency"
    assert _text_at(currency["default"]) == "SEK"
    # A field name given by a setting: the rule's position, and where the setting was written.
    crm = currency["crm"]
    assert crm["value"] == "OrganisationExtraCustom4" and crm["setting"] == "crm_fields.currency"
    assert _text_at(crm) == "${settings.crm_fields.currency}"
    setting_file, _, _ = _line_of({"from": crm["setting_from"]})
    assert setting_file == Path("mapsync/rules/standard/fortnox/ruleset.yaml")
    assert _text_at({"from": crm["setting_from"]}) == "OrganisationExtraCustom4"
    # Settings and guardrails
    assert doc["settings"]["crm_fields"]["currency"]["value"] == "OrganisationExtraCustom4"
    assert _text_at(doc["settings"]["delivery_target"]) == "order"
    assert doc["guardrails"]["max_blanked"] == {"value": 10, "from": "default"}
    # The switched-off customer-number rule (owner erp) is listed, not rendered twice.
    assert [f["name"]["value"] for f in customers["fields"]].count("customer-number") == 1
    assert {"mapping": "customers", "rule": "customer-number"}.items() <= doc["disabled"][0].items()
    assert _text_at({"from": doc["disabled"][0]["switch"]}).startswith("settings.customer_number_owner == 'erp'")


def test_secrets_are_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("yaml", "json"):
        assert main(["render", "--format", fmt, str(FORTNOX)]) == 0
        out = capsys.readouterr().out
        assert "secret-" not in out
        assert "${env:FORTNOX_ACCESS_TOKEN}" in out


def test_yaml_output_reads_back_as_the_plain_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(FORTNOX)]) == 0
    out = capsys.readouterr().out
    assert "conflict: newest-wins  # from mapsync/rules/standard/fortnox/customers.yaml:" in out
    result = load_ruleset(FORTNOX, os.environ)
    assert result.ruleset is not None and result.compilation is not None
    tree = render_tree(result.ruleset, result.compilation)
    assert out == to_yaml(tree)
    assert yaml.safe_load(out) == plain(tree)


def _overlay(tmp_path: Path) -> Path:
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "ruleset.yaml").write_text(f"""\
name: acme-fortnox
extends: {FORTNOX}
settings:
  delivery_target: invoice
  crm_fields:
    currency: OrganisationCustom9
guardrails:
  max_blanked: 3
overrides:
  customers:
    conflict: crm-wins
    fields:
      - name: terms-of-payment
        crm: OrganisationCustom10
        erp: TermsOfPayment
        default: "10"
    remove_fields: ["OrganisationWww <-> WWW"]
""", encoding="utf-8")
    return folder


def test_overlay_shows_overrides_and_settings_at_the_overlay(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _overlay(tmp_path)
    doc = _render_json(folder, capsys)
    overlay = str(folder / "ruleset.yaml")
    assert doc["name"]["value"] == "acme-fortnox" and doc["name"]["from"].startswith(overlay + ":")
    customers = _mapping(doc, "customers")
    # The replaced rule comes from the overlay.
    terms = _field(customers, "terms-of-payment")
    assert terms is not None
    assert terms["crm"] == {"value": "OrganisationCustom10", "from": terms["crm"]["from"]}
    assert terms["crm"]["from"].startswith(overlay + ":")
    assert _text_at(terms["crm"]) == "OrganisationCustom10"
    assert terms["default"]["value"] == "10" and terms["default"]["from"].startswith(overlay + ":")
    # The removed rule is gone; the others are unchanged and still point at the standard file.
    assert _field(customers, "OrganisationWww <-> WWW") is None
    assert _field(customers, "OrganisationTelephone <-> Phone1") is not None
    # An overridden mapping property points at the override.
    assert customers["conflict"]["value"] == "crm-wins"
    assert _text_at(customers["conflict"]) == "crm-wins"
    assert customers["conflict"]["from"].startswith(overlay + ":")
    # Settings: the overlay's point at the overlay, the inherited ones at the standard file.
    settings = doc["settings"]
    assert settings["delivery_target"]["value"] == "invoice"
    assert settings["delivery_target"]["from"].startswith(overlay + ":")
    assert settings["crm_fields"]["currency"]["from"].startswith(overlay + ":")
    assert settings["crm_fields"]["customer_number"]["from"].startswith("mapsync/rules/standard/fortnox/ruleset.yaml:")
    # A field named by a setting the overlay changed: the rule is the standard's, the setting the overlay's.
    currency = _field(customers, "currency")
    assert currency is not None and currency["crm"]["value"] == "OrganisationCustom9"
    assert currency["crm"]["from"].startswith("mapsync/rules/standard/fortnox/customers.yaml:")
    assert currency["crm"]["setting_from"].startswith(overlay + ":")
    assert doc["guardrails"]["max_blanked"]["value"] == 3
    assert doc["guardrails"]["max_blanked"]["from"].startswith(overlay + ":")
    # delivery_target: invoice switches the deliveries mappings over.
    names = {m["name"]["value"] for m in doc["mappings"]}
    assert "deliveries-invoices" in names and "deliveries-orders" not in names
    assert any(d["mapping"] == "deliveries-orders" and "rule" not in d for d in doc["disabled"])


def test_every_leaf_has_an_origin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _render_json(_overlay(tmp_path), capsys)

    def walk(node: Any) -> int:
        if is_leaf(node):
            assert node["from"] == "default" or ":" in node["from"]
            return 1
        if isinstance(node, dict):
            return sum(walk(v) for v in node.values())
        if isinstance(node, list):
            return sum(walk(v) for v in node)
        return 0

    assert walk(doc["mappings"]) > 100


def test_invalid_rule_set_exits_1_with_diagnostics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _overlay(tmp_path)
    text = (folder / "ruleset.yaml").read_text(encoding="utf-8")
    (folder / "ruleset.yaml").write_text(text.replace('"OrganisationWww <-> WWW"', '"Website"'), encoding="utf-8")
    assert main(["render", str(folder)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "MS321" in captured.err and "ruleset.yaml" in captured.err


def test_not_a_rule_set_folder_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(tmp_path)]) == 2
    assert "not a rule set folder" in capsys.readouterr().err
    assert main(["render", str(FORTNOX / "customers.yaml")]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["render", "--format", "xml", str(FORTNOX)])
    assert exc.value.code == 2
