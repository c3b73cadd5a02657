"""Rule test case folders: each folder under cases/ is a customer rule set with rule tests and an
expected.yaml stating what ``mapsync test`` reports: the exit code, how many tests pass, each failure (test
file line, message, the rule behind it and its location), each problem in the test files (file, line, code)
and, where given, the coverage (totals, items missed, items exercised)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mapsync.engine.cli import main

CASES = Path(__file__).parent / "cases"


def _run(folder: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["test", ".", "--format", "json", *args])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if (p / "expected.yaml").is_file()))
def test_case(case: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    folder = CASES / case
    monkeypatch.chdir(folder)
    expected = yaml.safe_load((folder / "expected.yaml").read_text(encoding="utf-8"))
    code, report = _run(folder, capsys)
    assert code == expected["exit"], report["summary"]
    passed = [t for t in report["tests"] if t["passed"]]
    assert len(passed) == expected["passed"], report["summary"]
    failed = {t["name"]: t for t in report["tests"] if not t["passed"]}
    assert sorted(failed) == sorted(f["test"] for f in expected["failed"])
    for want in expected["failed"]:
        got = failed[want["test"]]["failures"]
        assert len(got) >= len(want["failures"])
        for item in want["failures"]:
            matches = [f for f in got if f["line"] == item["line"] and item["message"] in f["message"]
                       and all(f[k] == item[k] for k in ("rule", "rule_file", "rule_line") if k in item)]
            assert matches, f"{want['test']}: no failure like {item} in {got}"
    problems = sorted((p["file"], p["line"], p["code"]) for p in report["problems"])
    assert problems == sorted((p["file"], p["line"], p["code"]) for p in expected.get("problems", []))
    if "coverage" in expected:
        _check_coverage(expected["coverage"], report["coverage"])


def _check_coverage(want: dict[str, Any], got: dict[str, Any]) -> None:
    totals = {k: [v["exercised"], v["total"]] for k, v in got["totals"].items()}
    assert totals == want["totals"]
    assert got["untested_mappings"] == want["untested_mappings"]
    for item in want["missed"]:
        assert any(all(m.get(k) == v for k, v in item.items()) for m in got["missed"]), item
    for item in want["exercised"]:
        assert not any(all(m.get(k) == v for k, v in item.items()) for m in got["missed"]), item


def test_failures_in_every_format(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """text names the test line and the rule's file and line; junit has one test case per test and per problem;
    github annotates the test file's line."""
    monkeypatch.chdir(CASES / "fortnox-failing")
    assert main(["test", "."]) == 1
    text = capsys.readouterr().out
    assert "FAIL wrong mapped value  (tests/customers.test.yaml:2, mapping customers)" in text
    assert "tests/customers.test.yaml:7: erp field Type: expected 'PRIVATE', got 'COMPANY'" in text
    assert "made by rule customer-type (ruleset.yaml:9)" in text
    assert "0 passed, 5 failed" in text and "coverage: field rules" in text
    assert main(["test", ".", "--format", "junit", "--no-coverage"]) == 1
    junit = capsys.readouterr().out
    from xml.etree import ElementTree as ET

    root = ET.fromstring(junit)
    cases = root.findall(".//testcase")
    assert len(cases) == 5 and all(c.find("failure") is not None for c in cases)
    assert main(["test", ".", "--format", "github"]) == 1
    github = capsys.readouterr().out
    assert "::error file=tests/customers.test.yaml,line=7," in github
    assert github.splitlines()[-1].startswith("::notice title=mapsync test::0 passed, 5 failed")


def test_problems_are_junit_cases_of_their_own(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES / "bad-test-files")
    assert main(["test", ".", "--format", "junit"]) == 1
    from xml.etree import ElementTree as ET

    root = ET.fromstring(capsys.readouterr().out)
    failures = [f.get("type") for f in root.iter("failure")]
    assert sorted(failures) == sorted(["MS202", "MS201", "MS601", "MS602", "MS602", "MS603", "MS603", "MS603",
                                       "MS603", "MS603", "MS603", "MS101"])
    assert root.get("tests") == "13"  # the 12 problems and the one sound test


def test_usage_and_selection(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                             tmp_path: Path) -> None:
    monkeypatch.chdir(CASES / "fortnox-passing")
    assert main(["test", str(tmp_path)]) == 2  # not a rule set folder
    assert main(["test", ".", "no-such.test.yaml"]) == 2
    capsys.readouterr()
    assert main(["test", ".", "-k", "conflict", "--no-coverage"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 1 and "coverage" not in out
    assert main(["test", ".", "tests/deliveries.test.yaml", "--no-coverage"]) == 0
    assert "1 passed, 0 failed (1 test file(s))" in capsys.readouterr().out


def test_no_tests_is_a_failure(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ruleset.yaml").write_text("name: x\nextends: mapsync:standard/fortnox\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["test", "."]) == 1
    assert "no rule tests found" in capsys.readouterr().out


def test_a_rule_set_with_errors_is_not_tested(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ruleset.yaml").write_text("name: x\nextends: mapsync:standard/fortnox\nsettings: {crm_fields: "
                                           "{customer_number: NoSuchField}}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["test", "."]) == 1
    assert "MS303" in capsys.readouterr().err
