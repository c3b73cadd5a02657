"""Render diagnostics as text (people), JSON (machines), GitHub annotations or JUnit XML (CI)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from xml.etree import ElementTree as ET

from mapsync.engine.diagnostics.diagnostic import Diagnostic, Severity


def _counts(diags: Sequence[Diagnostic]) -> tuple[int, int]:
    errors = sum(1 for d in diags if d.severity is Severity.ERROR)
    return errors, len(diags) - errors


def render_text(diags: Sequence[Diagnostic], files: Sequence[str]) -> str:
    lines: list[str] = []
    for d in diags:
        loc = d.location
        lines.append(
            f"{loc.file}:{loc.line}:{loc.column}: {d.severity.value} {d.code} {d.message} [{loc.json_path}]"
        )
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
            f"::{kind} file={_escape_github(loc.file, prop=True)},line={loc.line},col={loc.column},"
            f"title={_escape_github(d.code + ' ' + d.title, prop=True)}::{_escape_github(message)}"
        )
    return "".join(line + "\n" for line in out)


def render_junit(diags: Sequence[Diagnostic], files: Sequence[str]) -> str:
    """One test case per file; each error is a <failure>, warnings go to <system-out>."""
    by_file: dict[str, list[Diagnostic]] = {f: [] for f in files}
    for d in diags:
        by_file.setdefault(d.location.file, []).append(d)
    failed_files = sum(1 for ds in by_file.values() if any(d.severity is Severity.ERROR for d in ds))
    suites = ET.Element("testsuites", name="mapsync validate", tests=str(len(by_file)),
                        failures=str(failed_files))
    suite = ET.SubElement(suites, "testsuite", name="mapsync validate", tests=str(len(by_file)),
                          failures=str(failed_files), errors="0")
    for file, ds in by_file.items():
        case = ET.SubElement(suite, "testcase", classname="mapsync.validate", name=file, file=file)
        for d in ds:
            loc = d.location
            text = (f"{loc.file}:{loc.line}:{loc.column} [{loc.json_path}] {d.message}\n"
                    f"hint: {d.effective_hint}")
            if d.severity is Severity.ERROR:
                failure = ET.SubElement(case, "failure", type=d.code, message=f"{d.code} {d.message}")
                failure.text = text
            else:
                out = ET.SubElement(case, "system-out")
                out.text = f"warning {d.code} {text}"
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
