"""engine.diagnostics: codes, the Diagnostic record, sorting, and the four output formats."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET

import pytest

from mapsync.engine.diagnostics import CODES, FORMATS, Diagnostic, Excerpt, Location, Severity, render, sort_diagnostics
from mapsync.engine.diagnostics.formats import TAB_WIDTH, excerpt_lines
from mapsync.engine.ruleset.compiler import compile_lone_mapping
from mapsync.engine.ruleset.source import parse_text

ERROR = Diagnostic("MS303", "customer has no field 'Nmae'", Location("r/customers.yaml", 7, 11, "$.fields[0].erp"),
                   hint="did you mean 'Name'?")
WARNING = Diagnostic("MS502", "environment variable X is not set", Location("r/ruleset.yaml", 4, 20, "$.systems"),
                     severity=Severity.WARNING)
ODD = Diagnostic("MS101", "bad: 100%\nsecond line, with comma", Location("r/a,b:c.yaml", 1, 2))
FILES = ["r/ruleset.yaml", "r/customers.yaml", "r/items.yaml"]


def test_codes_are_well_formed() -> None:
    assert all(re.fullmatch(r"MS[1-7]\d\d", code) for code in CODES)
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
        "hint": "did you mean 'Name'?", "excerpt": None}
    assert json.loads(render("json", [WARNING], FILES))["valid"] is True


def test_github_annotations_are_escaped() -> None:
    lines = render("github", [ERROR, WARNING, ODD], FILES).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("::error file=r/customers.yaml,line=7,col=11,title=MS303 Unknown field::MS303 ")
    assert "%0Ahint: did you mean 'Name'?" in lines[0]
    assert lines[1].startswith("::warning file=r/ruleset.yaml,line=4,col=20,")
    assert lines[2].startswith("::error file=r/a%2Cb%3Ac.yaml,line=1,col=2,")
    assert "100%25%0Asecond line, with comma" in lines[2]


def test_junit_one_testcase_per_diagnostic() -> None:
    second = Diagnostic("MS305", "Name (string) cannot be written to Active (boolean)",
                        Location("r/customers.yaml", 9, 5, "$.fields[2]"))
    out = render("junit", [ERROR, second, WARNING, ODD], FILES)
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(out.split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    names = [c.get("name") for c in cases]
    assert len(names) == len(set(names)) == 5
    assert names[0] == "r/ruleset.yaml:4:20 MS502 environment variable X is not set"
    assert names[1:3] == ["r/customers.yaml:7:11 MS303 customer has no field 'Nmae'",
                          "r/customers.yaml:9:5 MS305 Name (string) cannot be written to Active (boolean)"]
    assert names[3] == "r/items.yaml: valid"  # a file without problems passes
    assert names[4].startswith("r/a,b:c.yaml:1:2 MS101 ")
    assert (root.get("tests"), root.get("failures")) == ("5", "3")
    assert (suite.get("tests"), suite.get("failures")) == ("5", "3")
    by_name = dict(zip(names, cases, strict=True))
    first = by_name["r/customers.yaml:7:11 MS303 customer has no field 'Nmae'"]
    assert (first.get("file"), first.get("line")) == ("r/customers.yaml", "7")
    failures = first.findall("failure")
    assert len(failures) == 1 and failures[0].get("type") == "MS303"
    assert (failures[0].text or "").startswith("r/customers.yaml:7:11 [$.fields[0].erp]")
    assert "hint: did you mean 'Name'?" in (failures[0].text or "")
    warning = by_name["r/ruleset.yaml:4:20 MS502 environment variable X is not set"]
    assert warning.find("failure") is None
    assert (warning.findtext("system-out") or "").startswith("warning MS502 r/ruleset.yaml:4:20")
    assert list(by_name["r/items.yaml: valid"]) == []


def test_every_format_renders_nothing_found() -> None:
    for fmt in FORMATS:
        assert isinstance(render(fmt, [], FILES), str)


# -- carets under excerpts ------------------------------------------------------------------------------------


def _display_width(text: str) -> int:
    """Columns a monospaced terminal gives ``text`` (no tabs in it)."""
    import unicodedata

    return sum(0 if unicodedata.category(c) in ("Mn", "Me") else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


@pytest.mark.parametrize(("excerpt", "lines"), [
    (Excerpt("record.a == (x", 13), ["record.a == (x", "            ^"]),
    (Excerpt("lenght(value)", 1, 7), ["lenght(value)", "^^^^^^"]),  # a span is underlined
    (Excerpt("record.Active ==", 17), ["record.Active ==", "                ^"]),  # just after the end
    (Excerpt("record.Active ==", 40), ["record.Active ==", "                ^"]),  # past the end: after it
    (Excerpt("abc", 2, 10), ["abc", " ^^"]),  # a span running on past the line: to its end
    (Excerpt("a\tand (", 7), ["a   and (", "        ^"]),  # a tab is spaces on both lines
    (Excerpt("\t\tx(", 4), ["        x(", "         ^"]),
    (Excerpt("x\ty", 2, 3), ["x   y", " ^^^"]),  # a tab in the span: as wide as it is drawn
    (Excerpt("'日本' and foo(", 13), ["'日本' and foo(", " " * 14 + "^"]),  # wide characters: two columns
    (Excerpt("x == '日本'", 6, 10), ["x == '日本'", "     ^^^^^^"]),
    (Excerpt("'e\u0301' == foo(", 12), ["'e\u0301' == foo(", " " * 10 + "^"]),  # a combining accent: none
])
def test_excerpt_marks_line_up(excerpt: Excerpt, lines: list[str]) -> None:
    assert excerpt_lines(excerpt) == lines
    caret = lines[1].index("^")
    # the caret stands under the character at the excerpt's column (or just after the end of the line)
    column = min(excerpt.column, len(excerpt.text) + 1)
    assert _display_width(excerpt.text[:column - 1].expandtabs(TAB_WIDTH)) == caret


@pytest.mark.parametrize("text", ["a\x07b == c(", "'\u263a\ufe0f' == x(", "a\u200bb(", "\u0301"])
def test_marks_that_could_not_line_up_are_left_out(text: str) -> None:
    assert excerpt_lines(Excerpt(text, len(text), 0)) == []


def test_text_draws_the_excerpt_under_the_message_and_github_never() -> None:
    d = Diagnostic("MS403", "unknown function 'lenght' in expression \"'日本' == lenght(v)\" at column 8",
                   Location("r/c.yaml", 6, 8, "$.conditions.crm"), hint="did you mean 'len'?",
                   excerpt=Excerpt("'日本' == lenght(v)", 8, 14))
    lines = render("text", [d], FILES).splitlines()
    assert lines[1] == "        '日本' == lenght(v)"
    assert lines[2] == "        " + " " * 9 + "^" * 6
    assert lines[3] == "    hint: did you mean 'len'?"
    assert "^" not in render("github", [d], FILES)
    assert json.loads(render("json", [d], FILES))["diagnostics"][0]["excerpt"] == {
        "text": "'日本' == lenght(v)", "column": 8, "end_column": 14}
    junit = render("junit", [d], FILES)
    assert "    '日本' == lenght(v)\n    " + " " * 9 + "^^^^^^\nhint: did you mean 'len'?" in junit


def test_an_expression_of_several_lines_shows_the_line_of_the_problem() -> None:
    doc = parse_text(
        "name: c\ncrm: organisation\nerp: customer\ndirection: both\nconditions:\n"
        "  crm: |\n    (record.OrganisationType == 'Customer' and\n     lenght(record.OrganisationName) > 0)\n"
        "fields:\n  - {crm: OrganisationName, erp: Name}\n", "c.yaml")
    [d] = compile_lone_mapping(doc)
    assert d.code == "MS403" and "at line 2, column 2" in d.message
    assert d.excerpt == Excerpt(" lenght(record.OrganisationName) > 0)", 2, 8)
    assert excerpt_lines(d.excerpt) == [" lenght(record.OrganisationName) > 0)", " ^^^^^^"]
