"""`mapsync doc`: the rule set as Markdown for the customer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mapsync.engine.cli import main
from mapsync.engine.ruleset import load_ruleset
from mapsync.engine.ruleset.doc import cell, render_doc, switched_off

ROOT = Path(__file__).resolve().parents[2]
FORTNOX = ROOT / "mapsync/rules/standard/fortnox"
VISMANET = ROOT / "mapsync/rules/standard/vismanet"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def _doc(folder: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    assert main(["doc", str(folder), *extra]) == 0
    return capsys.readouterr().out


def _section(doc: str, mapping: str) -> str:
    start = doc.index(f"\n## {mapping}\n")
    end = doc.find("\n## ", start + 1)
    return doc[start:end if end >= 0 else None]


def test_fortnox_doc_has_every_enabled_mapping_and_the_customer_fields(
        capsys: pytest.CaptureFixture[str]) -> None:
    doc = _doc(FORTNOX, capsys)
    ruleset = load_ruleset(FORTNOX, os.environ).ruleset
    assert ruleset is not None
    assert doc.startswith(f"# {ruleset.name}\n")
    assert ruleset.description in doc
    positions = [doc.index(f"\n## {m.name}\n") for m in ruleset.mappings]
    assert positions == sorted(positions)  # run order
    assert "| Setting | Value |" in doc and "| customer_types | Customer, Private Customer |" in doc
    customers = _section(doc, "customers")
    assert "webCRM `organisation` ↔ Fortnox `customer`" in customers
    assert "- Direction: both ways" in customers
    assert "`record.OrganisationType in settings.customer_types`" in customers
    assert "| name | `OrganisationName` | `Name` | ↔ both ways |" in customers
    assert "Customer → COMPANY" in customers and "Private Customer → PRIVATE" in customers
    assert "write: if-empty" in customers and "default: `SEK`" in customers
    # customer_number_owner is crm: the erp-owned customer-number rule is switched off
    assert "1 field rule(s) of this mapping are switched off by the settings." in customers
    assert "Fortnox to webCRM only" in _section(doc, "items")
    assert "#### Lines: rows" in _section(doc, "deliveries-orders")


def test_vismanet_doc(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _doc(VISMANET, capsys)
    ruleset = load_ruleset(VISMANET, os.environ).ruleset
    assert ruleset is not None
    for mapping in ruleset.mappings:
        assert f"\n## {mapping.name}\n" in doc
    assert "Visma.net" in doc


def test_pipes_in_values_are_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "ruleset.yaml").write_text(f"""\
name: acme-fortnox
description: "Acme | Fortnox"
extends: {FORTNOX}
settings:
  customer_types: [Customer, "Key|Account"]
overrides:
  customers:
    fields:
      - name: customer-type
        crm: OrganisationType
        erp: Type
        map: {{Customer: COMPANY, "Key|Account": COMPANY}}
        map_reverse: {{COMPANY: "Key|Account"}}
""", encoding="utf-8")
    doc = _doc(folder, capsys)
    assert "| customer_types | Customer, Key\\|Account |" in doc
    assert "Key\\|Account → COMPANY" in doc and "map back: COMPANY → Key\\|Account" in doc
    assert "Acme \\| Fortnox" not in doc and "Acme | Fortnox" in doc  # not in a table: as written
    assert "Key|Account → COMPANY" not in doc.replace("\\|", "")
    for line in doc.splitlines():  # every table row keeps its column count
        if line.startswith("| customer-type "):
            assert line.replace("\\|", "").count("|") == 7
    assert cell("a|b\nc") == "a\\|b<br>c"


def test_output_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "fortnox.md"
    assert main(["doc", str(FORTNOX), "--output", str(target)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# fortnox-standard\n") and "## customers" in text


def test_no_descriptions(capsys: pytest.CaptureFixture[str]) -> None:
    with_descriptions = _doc(FORTNOX, capsys)
    without = _doc(FORTNOX, capsys, "--no-descriptions")
    assert "| Description |" in with_descriptions and "| Description |" not in without


def test_render_doc_is_pure() -> None:
    result = load_ruleset(FORTNOX, os.environ)
    assert result.ruleset is not None and result.compilation is not None
    off, mappings_off = switched_off(result.compilation)
    assert off.get("customers") == 1
    text = render_doc(result.ruleset, off, mappings_off)
    assert text == render_doc(result.ruleset, off, mappings_off)


def test_not_a_rule_set_folder_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doc", str(tmp_path)]) == 2
    assert "not a rule set folder" in capsys.readouterr().err
    assert main(["doc", str(tmp_path / "missing")]) == 2


def test_invalid_rule_set_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "ruleset.yaml").write_text(f"name: bad\nextends: {FORTNOX}\nsettings:\n  crm_fields:\n"
                                         "    currency: NoSuchField\n", encoding="utf-8")
    assert main(["doc", str(folder)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "error" in captured.err


def test_mappings_switched_off_are_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "ruleset.yaml").write_text(f"name: acme\nextends: {FORTNOX}\nsettings:\n  delivery_target: invoice\n",
                                         encoding="utf-8")
    doc = _doc(folder, capsys)
    assert "\n## order-invoices\n" not in doc and "\n## deliveries-invoices\n" in doc
    assert "Switched off by the settings: " in doc and "order-invoices" in doc.split("## Settings")[0]
