"""Rendering a test suite's results: text (people), JSON (machines), JUnit XML and GitHub annotations (CI).

Every failure names the test file and line that states the expectation, and the rule that made the
difference with its file and line. Problems in the test files themselves are diagnostics (MS1xx, MS2xx,
MS6xx), rendered as ``mapsync validate`` renders them; in JUnit each is a failed test case of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from xml.etree import ElementTree as ET

from mapsync.engine.diagnostics import Location, render
from mapsync.engine.ruletest.coverage import shown_file
from mapsync.engine.ruletest.runner import Failure, TestResult
from mapsync.engine.ruletest.suite import SuiteResult


def _at(location: Location) -> str:
    return f"{shown_file(location.file)}:{location.line}"


def _rule(failure: Failure) -> str:
    if not failure.rule:
        return ""
    where = f" ({_at(failure.rule_location)})" if failure.rule_location is not None else ""
    return f"{failure.rule}{where}"


def summary(suite: SuiteResult) -> str:
    failed = len(suite.failed)
    passed = len(suite.results) - failed
    text = f"{passed} passed, {failed} failed"
    if suite.errors:
        text += f", {len(suite.errors)} problem(s) in the test files"
    text += f" ({len(suite.files)} test file(s))"
    if not suite.results and not suite.errors:
        text += "; no rule tests found (files named *.test.yaml in the rule set folder)"
    return text


def render_text(suite: SuiteResult, *, coverage: bool = True) -> str:
    lines: list[str] = []
    for result in suite.results:
        test = result.test
        assert result.outcome is not None
        if result.passed:
            lines.append(f"PASS {test.name}")
            continue
        lines.append(f"FAIL {test.name}  ({_at(test.location)}, mapping {test.mapping})")
        for failure in result.failures:
            lines.append(f"    {_at(failure.location)}: {failure.message}")
            if failure.rule:
                lines.append(f"        made by {_rule(failure)}")
        lines.append(f"    the plan: {result.outcome.action} -> {result.outcome.target}; {result.outcome.reason}")
    out = "\n".join(lines) + ("\n" if lines else "")
    if suite.diagnostics:
        out += render("text", suite.diagnostics, suite.files)
    out += summary(suite) + "\n"
    if coverage and suite.coverage is not None:
        out += suite.coverage.render_text()
    return out


def _failure_dict(failure: Failure) -> dict[str, object]:
    return {"file": shown_file(failure.location.file), "line": failure.location.line,
            "column": failure.location.column, "message": failure.message, "rule": failure.rule,
            "rule_file": shown_file(failure.rule_location.file) if failure.rule_location else None,
            "rule_line": failure.rule_location.line if failure.rule_location else None}


def _result_dict(result: TestResult) -> dict[str, object]:
    outcome = result.outcome
    assert outcome is not None
    return {
        "name": result.test.name, "file": shown_file(result.test.file), "line": result.test.location.line,
        "mapping": result.test.mapping, "passed": result.passed,
        "plan": {"action": outcome.action, "target": outcome.target, "reason": outcome.reason,
                 "writes": {side.value: values for side, values in outcome.writes.items()},
                 "held": list(outcome.held), "conflicts": list(outcome.conflicts)},
        "failures": [_failure_dict(f) for f in result.failures],
    }


def render_json(suite: SuiteResult, *, coverage: bool = True) -> str:
    doc = {
        "ok": suite.ok,
        "summary": summary(suite),
        "tests": [_result_dict(r) for r in suite.results],
        "problems": [d.as_dict() for d in suite.diagnostics],
        "coverage": suite.coverage.as_dict() if coverage and suite.coverage is not None else None,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"


def render_junit(suite: SuiteResult, *, coverage: bool = True) -> str:
    """One test suite per test file, one test case per rule test, one more per problem in a test file."""
    suites = ET.Element("testsuites", name="mapsync test")
    by_file: dict[str, list[TestResult]] = {f: [] for f in suite.files}
    for result in suite.results:
        by_file.setdefault(result.test.file, []).append(result)
    problems: dict[str, list] = {}
    for d in suite.diagnostics:
        problems.setdefault(d.location.file, []).append(d)
    total = failures = 0
    for file in dict.fromkeys([*by_file, *problems]):
        results, diags = by_file.get(file, []), problems.get(file, [])
        failed = sum(1 for r in results if not r.passed) + len(diags)
        element = ET.SubElement(suites, "testsuite", name=file, tests=str(len(results) + len(diags)),
                                failures=str(failed), errors="0")
        for result in results:
            case = ET.SubElement(element, "testcase", classname=file, name=result.test.name, file=file,
                                 line=str(result.test.location.line))
            for failure in result.failures:
                node = ET.SubElement(case, "failure", message=failure.message, type="expectation")
                node.text = f"{_at(failure.location)}: {failure.message}" + (
                    f"\nmade by {_rule(failure)}" if failure.rule else "")
        for d in diags:
            loc = d.location
            case = ET.SubElement(element, "testcase", classname=file, name=f"{d.code} at line {loc.line}",
                                 file=file, line=str(loc.line))
            node = ET.SubElement(case, "failure", message=f"{d.code} {d.message}", type=d.code)
            node.text = f"{loc.file}:{loc.line}:{loc.column} [{loc.json_path}] {d.message}\nhint: {d.effective_hint}"
        total += len(results) + len(diags)
        failures += failed
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    if coverage and suite.coverage is not None:
        props = ET.SubElement(suites, "properties")
        for kind, (hit, count) in suite.coverage.totals().items():
            ET.SubElement(props, "property", name=f"coverage.{kind}", value=f"{hit}/{count}")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _escape(value: str, *, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def render_github(suite: SuiteResult, *, coverage: bool = True) -> str:
    """A workflow command per failure at the test file's line (the rule named in the message), then a notice
    with the summary and coverage."""
    out = []
    for result in suite.failed:
        for failure in result.failures:
            loc = failure.location
            message = f"{result.test.name}: {failure.message}" + (f"\nmade by {_rule(failure)}" if failure.rule else "")
            out.append(f"::error file={_escape(shown_file(loc.file), prop=True)},line={loc.line},col={loc.column},"
                       f"title={_escape('mapsync test: ' + result.test.name, prop=True)}::{_escape(message)}")
    text = "".join(line + "\n" for line in out)
    if suite.diagnostics:
        text += render("github", suite.diagnostics, suite.files)
    notice = summary(suite)
    if coverage and suite.coverage is not None:
        notice += "; " + suite.coverage.render_text().splitlines()[0]
    text += f"::notice title=mapsync test::{_escape(notice.rstrip())}\n"
    return text


FORMATS: dict[str, Callable[..., str]] = {
    "text": render_text, "json": render_json, "junit": render_junit, "github": render_github,
}
