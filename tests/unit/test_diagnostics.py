"""engine.diagnostics: codes, the Diagnostic record, sorting, and the four output formats."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET

import pytest

from mapsync.engine.diagnostics import CODES, FORMATS, Diagnostic, Location, Severity, render, sort_diagnostics

ERROR = Diagnostic("MS303", "customer has no field 'Nmae'", Location("r/customers.yaml", 7, 11, "$.fields[0].erp"),
                   hint="did you mean 'Name'?")
WARNING = Diagnostic("MS502", "environment variable X is not set", Location("r/ruleset.yaml", 4, 20, "$.systems"),
                     severity=Severity.WARNING)
ODD = Diagnostic("MS101", "bad: 100%\nsecond line, with comma", Location("r/a,b:c.yaml", 1, 2))
FILES = ["r/ruleset.yaml", "r/customers.yaml", "r/items.yaml"]


def test_codes_are_well_formed() -> None:
    assert all(re.fullmatch(r"MS[1-6]\d\d", code) for code in CODES)
    assert all(info.code == code and info.title and info.fix.endswith((".", ")")) for code, info in CODES.items())
    assert len({info.title for info in CODES.values()}) == len(CODES)


def test_undocumented_code_is_refused() -> None:
    with pytest.raises(ValueError, match="undocumented"):
        Diagnostic("MS999", "x", Location("f"))


def test_hint_falls_back_to_the_fix_text() -> None:
    assert ERROR.effective_hint == "did you mean 'Name'?"
    assert WARNING.effective_hint == CODES["MS502"].fix
    assert ERROR.title == CODES["MS303"].title
    assert ERROR.as_dict()["path"] == "$.fields[0].erp" and WARNING.as_dict()["severity"] == "warning"


def test_sorted_by_place_and_deduplicated() -> None:
    same = Diagnostic("MS303", ERROR.message, ERROR.location, hint=ERROR.hint)
    ordered = sort_diagnostics([ERROR, WARNING, same, ODD])
    assert ordered == [ODD, ERROR, WARNING]


def test_text() -> None:
    out = render("text", [ERROR, WARNING], FILES)
    lines = out.splitlines()
    assert lines[0] == "r/customers.yaml:7:11: error MS303 customer has no field 'Nmae' [$.fields[0].erp]"
    assert lines[1] == "    hint: did you mean 'Name'?"
    assert lines[2].startswith("r/ruleset.yaml:4:20: warning MS502 ")
    assert lines[-1] == "1 error(s), 1 warning(s) in 3 file(s)"
    assert render("text", [], FILES) == "ok: 3 file(s) valid\n"


def test_json_is_one_document() -> None:
    doc = json.loads(render("json", [ERROR, WARNING], FILES))
    assert (doc["valid"], doc["errors"], doc["warnings"], doc["files"]) == (False, 1, 1, FILES)
    assert doc["diagnostics"][0] == {
        "file": "r/customers.yaml", "line": 7, "column": 11, "path": "$.fields[0].erp", "code": "MS303",
        "severity": "error", "title": CODES["MS303"].title, "message": "customer has no field 'Nmae'",
        "hint": "did you mean 'Name'?"}
    assert json.loads(render("json", [WARNING], FILES))["valid"] is True


def test_github_annotations_are_escaped() -> None:
    lines = render("github", [ERROR, WARNING, ODD], FILES).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("::error file=r/customers.yaml,line=7,col=11,title=MS303 Unknown field::MS303 ")
    assert "%0Ahint: did you mean 'Name'?" in lines[0]
    assert lines[1].startswith("::warning file=r/ruleset.yaml,line=4,col=20,")
    assert lines[2].startswith("::error file=r/a%2Cb%3Ac.yaml,line=1,col=2,")
    assert "100%25%0Asecond line, with comma" in lines[2]


def test_junit_one_testcase_per_file() -> None:
    out = render("junit", [ERROR, WARNING, ODD], FILES)
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(out.split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == [*FILES, "r/a,b:c.yaml"]
    assert (root.get("tests"), root.get("failures")) == ("4", "2")
    failure = cases["r/customers.yaml"].find("failure")
    assert failure is not None and failure.get("type") == "MS303"
    assert (failure.text or "").startswith("r/customers.yaml:7:11 [$.fields[0].erp]")
    warning = cases["r/ruleset.yaml"]
    assert warning.find("failure") is None
    assert (warning.findtext("system-out") or "").startswith("warning MS502 r/ruleset.yaml:4:20")
    assert list(cases["r/items.yaml"]) == []


def test_every_format_renders_nothing_found() -> None:
    for fmt in FORMATS:
        assert isinstance(render(fmt, [], FILES), str)
