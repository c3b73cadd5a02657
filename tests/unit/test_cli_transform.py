"""`mapsync transform`: one mapping applied offline to JSON lines or CSV, what a create would send."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mapsync.engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
FORTNOX = ROOT / "mapsync/rules/standard/fortnox"

CUSTOMER = {"OrganisationName": "Acme AB", "OrganisationType": "Customer", "OrganisationCountry": "Sweden"}
SUPPLIER = {"OrganisationName": "Parts AB", "OrganisationType": "Supplier", "OrganisationCountry": "Sweden"}
FAR_AWAY = {"OrganisationName": "Far Ltd", "OrganisationType": "Customer", "OrganisationCountry": "Peru",
            "OrganisationExtraCustom4": "EUR"}
NOWHERE = {"OrganisationName": "Atlantis AB", "OrganisationType": "Customer", "OrganisationCountry": "Atlantis"}


def _transform(capsys: pytest.CaptureFixture[str], path: Path, *extra: str,
               mapping: str = "customers", side: str = "crm") -> tuple[int, list[dict[str, Any]], str]:
    code = main(["transform", str(FORTNOX), "--mapping", mapping, "--from", side, "--input", str(path), *extra])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def _jsonl(tmp_path: Path, *records: dict[str, Any]) -> Path:
    path = tmp_path / "organisations.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_customer_gets_name_type_and_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _transform(capsys, _jsonl(tmp_path, CUSTOMER))
    assert code == 0
    assert out == [{"Name": "Acme AB", "Type": "COMPANY", "VisitingCountryCode": "SE",
                    "TermsOfPayment": "30", "Currency": "SEK"}]
    assert "1 read, 1 written, 0 skipped by the condition, 0 with errors, 0 fields held back" in err


def test_condition_skips_and_every_country_converts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _transform(capsys, _jsonl(tmp_path, CUSTOMER, SUPPLIER, FAR_AWAY, NOWHERE))
    assert code == 0
    assert [r["Name"] for r in out] == ["Acme AB", "Far Ltd"]
    far = out[1]
    assert far["VisitingCountryCode"] == "PE"  # country_code: not a value map of a few countries
    assert far["Currency"] == "EUR" and far["TermsOfPayment"] == "30"
    assert "'Atlantis' names no country" in err
    assert err.strip().endswith("4 read, 2 written, 1 skipped by the condition, 1 with errors, 0 fields held back")


def test_csv_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "organisations.csv"
    path.write_text("OrganisationName,OrganisationType,OrganisationCountry,OrganisationExtraCustom3\n"
                    "Acme AB,Customer,Sverige,\n"
                    "Parts AB,Supplier,Sweden,10\n"
                    "Home,Private Customer,,10\n", encoding="utf-8")
    code, out, err = _transform(capsys, path)
    assert code == 0
    assert out == [{"Name": "Acme AB", "Type": "COMPANY", "VisitingCountryCode": "SE", "TermsOfPayment": "30",
                    "Currency": "SEK"},
                   {"Name": "Home", "Type": "PRIVATE", "TermsOfPayment": "10", "Currency": "SEK"}]
    assert "3 read, 2 written, 1 skipped by the condition" in err


def test_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out" / "customers.jsonl"
    target.parent.mkdir()
    code, out, err = _transform(capsys, _jsonl(tmp_path, CUSTOMER, SUPPLIER), "--output", str(target))
    assert code == 0 and out == []
    assert [json.loads(line)["Name"] for line in target.read_text(encoding="utf-8").splitlines()] == ["Acme AB"]
    assert not list(target.parent.glob("*.partial"))
    assert "2 read, 1 written" in err


def test_bad_json_line_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "organisations.jsonl"
    path.write_text(json.dumps(CUSTOMER) + "\n\n{not json\n", encoding="utf-8")
    target = tmp_path / "customers.jsonl"
    code, _, err = _transform(capsys, path, "--output", str(target))
    assert code == 1
    assert "line 3" in err and "not JSON" in err
    assert not target.exists() and not list(tmp_path.glob("*.partial"))


def test_not_an_object_and_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "organisations.jsonl"
    path.write_text("[1, 2]\n", encoding="utf-8")
    code, _, err = _transform(capsys, path)
    assert code == 1 and "line 1: not a JSON object" in err
    code, _, err = _transform(capsys, tmp_path / "missing.jsonl")
    assert code == 1 and "cannot read" in err


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _jsonl(tmp_path, CUSTOMER)
    code, out, err = _transform(capsys, path, mapping="nope")
    assert code == 2 and out == [] and "unknown mapping 'nope'" in err and "customers" in err
    code, _, err = _transform(capsys, path, side="both")
    assert code == 2 and "--from" in err
    txt = tmp_path / "organisations.txt"
    txt.write_text("", encoding="utf-8")
    code, _, err = _transform(capsys, txt)
    assert code == 2 and ".jsonl or .csv" in err
    code = main(["transform", str(tmp_path), "--mapping", "customers", "--from", "crm", "--input", str(path)])
    assert code == 2


def test_rule_error_is_reported_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "ruleset.yaml").write_text(
        f"name: strict\nextends: {FORTNOX}\n"
        "overrides:\n  customers:\n    fields:\n"
        "      - {name: visiting-country, crm: OrganisationCountry, erp: VisitingCountryCode,\n"
        "         map: {Sweden: SE}, on_unmapped: quarantine}\n",
        encoding="utf-8")
    path = _jsonl(tmp_path, NOWHERE, CUSTOMER)
    code = main(["transform", str(folder), "--mapping", "customers", "--from", "crm", "--input", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [json.loads(line)["Name"] for line in out.splitlines()] == ["Acme AB"]
    assert f"{path}:1: " in err and "Atlantis" in err
    assert "2 read, 1 written, 0 skipped by the condition, 1 with errors, 0 fields held back" in err


def test_csv_with_byte_order_mark_and_from_erp(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "organisations.csv"
    path.write_bytes(b"\xef\xbb\xbfOrganisationName,OrganisationType\nAcme AB,Customer\n")
    code, out, _ = _transform(capsys, path)
    assert code == 0 and out[0]["Name"] == "Acme AB"
    customers = _jsonl(tmp_path, {"Name": "Acme AB", "Type": "COMPANY", "CountryCode": "SE"})
    code, out, _ = _transform(capsys, customers, side="erp")
    assert code == 0
    assert out[0]["OrganisationName"] == "Acme AB" and out[0]["OrganisationType"] == "Customer"
    assert out[0]["OrganisationExtraCustom8"] == "Sweden"
