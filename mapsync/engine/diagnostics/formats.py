"""Render diagnostics as text (people), JSON (machines), GitHub annotations or JUnit XML (CI).

A diagnostic with an ``Excerpt`` (the line of an expression it points into) is drawn in the text and JUnit
formats with a caret (``^``, or ``^^^^`` under a span) below that line. ``excerpt_lines`` makes the two lines
line up in a monospaced font: tabs become spaces on both lines, a wide (East Asian) character takes two
columns and a combining one none, a column past the end of the line marks the place just after it, and a
span that runs on past its line is marked to the end of it. Where they could not line up (a control
character, a variation selector, whose width terminals disagree on) the excerpt is left out: the message
still names the column. GitHub annotations are not shown in a monospaced font: they never carry one. JSON
gives the excerpt as data (``text``, ``column``, ``end_column``).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.etree import ElementTree as ET

from mapsync import STANDARD_RULES
from mapsync.engine.diagnostics.diagnostic import Diagnostic, Excerpt, Severity

TAB_WIDTH = 4
"""A tab in an excerpt is drawn as spaces up to the next multiple of this (on both lines)."""
_UNDRAWABLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}



def shown_file(path: str) -> str:
    """A file as the user knows it: a standard rule set's file as ``mapsync:standard/fortnox/customers.yaml``
    (where it was installed is no concern of theirs), any other as given (relative to the working folder)."""
    try:
        return "mapsync:" + Path(path).resolve().relative_to(STANDARD_RULES.resolve()).as_posix()
    except (ValueError, OSError):
        return path

def _width(char: str) -> int | None:
    """Columns ``char`` takes in a monospaced terminal; None when that is not known for sure."""
    category = unicodedata.category(char)
    if category in _UNDRAWABLE or 0xFE00 <= ord(char) <= 0xFE0F or 0x1F3FB <= ord(char) <= 0x1F3FF:
        return None  # control and format characters, variation selectors, skin tones
    if category in ("Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def excerpt_lines(excerpt: Excerpt) -> list[str]:
    """The excerpt's line and a line of carets under its span, lined up; empty when they cannot line up."""
    text = excerpt.text
    start = min(max(excerpt.column, 1), len(text) + 1)
    end = min(excerpt.end_column, len(text) + 1) if excerpt.end_column > start else start + 1
    shown: list[str] = []
    marks: list[str] = []
    position = 0
    for index, char in enumerate(text):
        if char == "\t":
            width = TAB_WIDTH - position % TAB_WIDTH
            shown.append(" " * width)
        else:
            measured = _width(char)
            if measured is None:
                return []
            width = measured
            shown.append(char)
        marks.append(("^" if start - 1 <= index < end - 1 else " ") * width)
        position += width
    if start == len(text) + 1:
        marks.append("^")  # just after the end: something is missing there
    if not "".join(marks).strip():
        return []  # the span falls on characters that take no room
    return ["".join(shown).rstrip(), "".join(marks).rstrip()]


def _counts(diags: Sequence[Diagnostic]) -> tuple[int, int]:
    errors = sum(1 for d in diags if d.severity is Severity.ERROR)
    return errors, len(diags) - errors


def render_text(diags: Sequence[Diagnostic], files: Sequence[str]) -> str:
    lines: list[str] = []
    for d in diags:
        loc = d.location
        lines.append(
            f"{shown_file(loc.file)}:{loc.line}:{loc.column}: {d.severity.value} {d.code} {d.message} [{loc.json_path}]"
        )
        if d.excerpt is not None:
            lines.extend(f"        {line}" for line in excerpt_lines(d.excerpt))
        hint = d.effective_hint
        if hint:
            lines.append(f"    hint: {hint}")
        for key, value in d.extra:
            lines.append(f"    {key}: {value}")
    errors, warnings = _counts(diags)
    if errors or warnings:
        lines.append(f"{errors} error(s), {warnings} warning(s) in {len(files)} file(s)")
    else:
        lines.append(f"ok: {len(files)} file(s) valid")
    return "\n".join(lines) + "\n"


def render_json(diags: Sequence[Diagnostic], files: Sequence[str]) -> str:
    errors, warnings = _counts(diags)
    doc = {
        "valid": errors == 0,
        "errors": errors,
        "warnings": warnings,
        "files": list(files),
        "diagnostics": [d.as_dict() for d in diags],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _escape_github(value: str, *, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def render_github(diags: Sequence[Diagnostic], files: Sequence[str]) -> str:
    out = []
    for d in diags:
        loc = d.location
        kind = "error" if d.severity is Severity.ERROR else "warning"
        message = f"{d.code} {d.message} [{loc.json_path}]"
        if d.effective_hint:
            message += f"\nhint: {d.effective_hint}"
        out.append(
            f"::{kind} file={_escape_github(shown_file(loc.file), prop=True)},line={loc.line},col={loc.column},"
            f"title={_escape_github(d.code + ' ' + d.title, prop=True)}::{_escape_github(message)}"
        )
    return "".join(line + "\n" for line in out)


def _junit_text(d: Diagnostic) -> str:
    loc = d.location
    excerpt = [f"    {line}" for line in excerpt_lines(d.excerpt)] if d.excerpt is not None else []
    return "\n".join([f"{shown_file(loc.file)}:{loc.line}:{loc.column} [{loc.json_path}] {d.message}", *excerpt,
                      f"hint: {d.effective_hint}"])


def render_junit(diags: Sequence[Diagnostic], files: Sequence[str]) -> str:
    """One test case per diagnostic, so that CI lists each problem on its own: named by file, line, column
    and code, with ``file`` and ``line`` attributes; an error is a <failure>, a warning passes with its text in
    <system-out>. A file without diagnostics is one passing test case."""
    suites = ET.Element("testsuites", name="mapsync validate")
    suite = ET.SubElement(suites, "testsuite", name="mapsync validate", errors="0")
    tests = failures = 0
    for file in dict.fromkeys([*files, *(d.location.file for d in diags)]):
        mine = [d for d in diags if d.location.file == file]
        if not mine:
            ET.SubElement(suite, "testcase", classname="mapsync.validate", name=f"{file}: valid", file=file)
            tests += 1
        for d in mine:
            loc = d.location
            shown = shown_file(loc.file)
            case = ET.SubElement(suite, "testcase", classname="mapsync.validate",
                                 name=f"{shown}:{loc.line}:{loc.column} {d.code} {d.message}", file=shown,
                                 line=str(loc.line))
            tests += 1
            if d.severity is Severity.ERROR:
                failure = ET.SubElement(case, "failure", type=d.code, message=f"{d.code} {d.message}")
                failure.text = _junit_text(d)
                failures += 1
            else:
                ET.SubElement(case, "system-out").text = f"warning {d.code} {_junit_text(d)}"
    for element in (suites, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


FORMATS: dict[str, Callable[[Sequence[Diagnostic], Sequence[str]], str]] = {
    "text": render_text,
    "json": render_json,
    "github": render_github,
    "junit": render_junit,
}


def render(fmt: str, diags: Sequence[Diagnostic], files: Sequence[str]) -> str:
    return FORMATS[fmt](diags, files)
