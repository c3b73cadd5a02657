"""The rule-file corpus: every folder under ``valid/`` validates clean, every folder under ``invalid/``
produces exactly the diagnostics its ``expected.yaml`` lists, and the CLI reports them in all formats.

``expected.yaml`` of an invalid case::

    # what this case shows
    diagnostics:            # exactly these, no more, no fewer (compared as a set)
      - {code: MS303, file: customers.yaml, line: 12}
      - {code: MS201, file: ruleset.yaml, line: 4, column: 3}                 # column optional
      - {code: MS502, file: ruleset.yaml, line: 8, severity: warning}         # default: error
      - {code: MS202, file: ruleset.yaml, line: 2, message: "'name'"}        # a part of the message
      - {code: MS314, file: ruleset.yaml, line: 9, hint: "did you mean"}      # a part of the hint

``file`` is relative to the case folder (``../../shared-base/orders.yaml`` for the base it extends).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml

from mapsync.engine.cli import main
from mapsync.engine.diagnostics import CODES, Diagnostic
from mapsync.engine.ruleset import load_ruleset, validate_paths

RULES = Path(__file__).resolve().parent
ROOT = RULES.parents[1]
VALID = sorted(p for p in (RULES / "valid").iterdir() if p.is_dir())
INVALID = sorted(p for p in (RULES / "invalid").iterdir() if p.is_dir())
COMBINED = RULES / "invalid" / "combined-one-file"
ENV_UNSET = RULES / "invalid" / "ms502-env-not-set"

ENVIRONMENT = (
    "WEBCRM_BASE_URL", "WEBCRM_API_TOKEN", "FORTNOX_BASE_URL", "FORTNOX_ACCESS_TOKEN", "FORTNOX_CLIENT_SECRET",
    "VISMANET_BASE_URL", "VISMANET_TOKEN_URL", "VISMANET_CLIENT_ID", "VISMANET_CLIENT_SECRET", "VISMANET_TENANT_ID",
)
UNSET = ("MAPSYNC_TEST_UNSET_REFRESH_TOKEN", "MAPSYNC_TEST_UNSET_CLIENT_ID", "MAPSYNC_TEST_UNSET_ACCESS_TOKEN")

# Codes no rule file can produce, and why.
UNPRODUCIBLE = {
    "MS108": "a folder without ruleset.yaml is a usage error (exit 2) before any file is read",
    "MS301": "the schema's enum of connectors reports an unknown connector first (MS204 with a hint)",
}

EXPECTED_KEYS = {"code", "file", "line", "column", "severity", "message", "hint"}


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.setenv(name, "set-by-the-test")
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT)


def _expected(case: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load((case / "expected.yaml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict) and isinstance(doc.get("diagnostics"), list), f"{case.name}: bad expected.yaml"
    for entry in doc["diagnostics"]:
        assert set(entry) <= EXPECTED_KEYS, f"{case.name}: unknown keys {set(entry) - EXPECTED_KEYS}"
        assert {"code", "file", "line"} <= set(entry), f"{case.name}: {entry} lacks code, file or line"
        assert entry["code"] in CODES, f"{case.name}: {entry['code']} is not a diagnostic code"
    return list(doc["diagnostics"])


def _relative(case: Path, diagnostic: Diagnostic) -> str:
    return Path(os.path.relpath(Path(diagnostic.location.file).resolve(), case)).as_posix()


def _key(entry: dict[str, Any], with_column: bool) -> tuple[Any, ...]:
    key: tuple[Any, ...] = (entry["code"], entry["file"], entry["line"], entry.get("severity", "error"))
    return (*key, entry["column"]) if with_column else key


def _actual(case: Path, diagnostic: Diagnostic) -> dict[str, Any]:
    loc = diagnostic.location
    return {"code": diagnostic.code, "file": _relative(case, diagnostic), "line": loc.line, "column": loc.column,
            "severity": diagnostic.severity.value, "message": diagnostic.message, "hint": diagnostic.hint}


@pytest.mark.parametrize("case", VALID, ids=[p.name for p in VALID])
def test_valid_case(case: Path) -> None:
    diagnostics, files = validate_paths([case])
    assert [f"{d.location.file}:{d.location.line}: {d.code} {d.message}" for d in diagnostics] == []
    assert files
    result = load_ruleset(case)
    assert result.ok and result.ruleset is not None
    assert result.ruleset.mappings


@pytest.mark.parametrize("case", INVALID, ids=[p.name for p in INVALID])
def test_invalid_case(case: Path) -> None:
    expected = _expected(case)
    assert expected, f"{case.name}: an invalid case must expect at least one diagnostic"
    diagnostics, _ = validate_paths([case])
    actual = [_actual(case, d) for d in diagnostics]

    def matches(e: dict[str, Any], a: dict[str, Any]) -> bool:
        return _key(e, "column" in e) == _key(a, "column" in e)

    missing = [e for e in expected if not any(matches(e, a) for a in actual)]
    unexpected = [a for a in actual if not any(matches(e, a) for e in expected)]
    details = "\n".join(f"  {a['code']} {a['file']}:{a['line']}:{a['column']} {a['message']}" for a in actual)
    assert not missing and not unexpected, (
        f"{case.name}:\n missing: {missing}\n unexpected: {unexpected}\n actual:\n{details}")
    for entry in expected:
        if "message" in entry:
            assert any(_key(a, False) == _key(entry, False) and entry["message"] in a["message"] for a in actual), \
                f"{case.name}: no {entry['code']} at line {entry['line']} with {entry['message']!r} in its message"
        if "hint" in entry:
            assert any(_key(a, False) == _key(entry, False) and entry["hint"] in a["hint"] for a in actual), \
                f"{case.name}: no {entry['code']} at line {entry['line']} with {entry['hint']!r} in its hint"


RULE_TEST_CASES = Path(__file__).resolve().parents[1] / "ruletests" / "cases"
TENANT_CASES = Path(__file__).resolve().parents[1] / "tenants" / "cases"


def test_corpus_covers_every_producible_code() -> None:
    """Every code is produced by an invalid rule case, or by a rule test case of tests/ruletests/cases (MS6xx,
    problems in rule test files) or a tenants registry case of tests/tenants/cases (MS7xx), or by a hostile case
    of tests/rules/hostile.py (MS110: files of megabytes are generated, not stored)."""
    from tests.rules.hostile import CASES as HOSTILE

    covered = {entry["code"] for case in INVALID for entry in _expected(case)}
    covered |= {case.code for case in HOSTILE if case.exit == 1}
    for expected in [*RULE_TEST_CASES.glob("*/expected.yaml"), *TENANT_CASES.glob("*/expected.yaml")]:
        covered |= {p["code"] for p in yaml.safe_load(expected.read_text(encoding="utf-8")).get("problems", [])}
    assert set(UNPRODUCIBLE) <= set(CODES)
    assert sorted(set(CODES) - set(UNPRODUCIBLE) - covered) == []
    assert not covered & set(UNPRODUCIBLE), "a code listed as unproducible is produced: update UNPRODUCIBLE"


def test_corpus_is_large_enough() -> None:
    assert len(VALID) >= 8
    assert len(INVALID) >= 45
    combined = _expected(COMBINED)
    assert len({e["code"] for e in combined}) >= 5 and len({e["file"] for e in combined}) == 1


def test_shared_base_is_valid() -> None:
    assert validate_paths([RULES / "shared-base"])[0] == []


# -- the CLI on the combined case -------------------------------------------------------------------------------


def _combined() -> Iterator[tuple[str, int, int, str]]:
    """(display path, line, column, code) of every diagnostic the combined case expects."""
    for entry in _expected(COMBINED):
        path = (COMBINED / entry["file"]).resolve().relative_to(ROOT).as_posix()
        yield path, entry["line"], entry["column"], entry["code"]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["validate", *args])
    return code, capsys.readouterr().out


def test_cli_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(capsys, str(COMBINED.relative_to(ROOT)))
    assert code == 1
    for path, line, column, diag in _combined():
        assert any(row.startswith(f"{path}:{line}:{column}:") and diag in row for row in out.splitlines()), \
            (path, line, diag)


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(capsys, "--format", "json", str(COMBINED.relative_to(ROOT)))
    assert code == 1
    doc = json.loads(out)
    assert doc["valid"] is False and doc["errors"] == len(doc["diagnostics"])
    found = {(d["file"], d["line"], d["column"], d["code"]) for d in doc["diagnostics"]}
    assert set(_combined()) == found
    assert all(d["path"].startswith("$") and d["message"] and d["hint"] for d in doc["diagnostics"])


def test_cli_github(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(capsys, "--format", "github", str(COMBINED.relative_to(ROOT)))
    assert code == 1
    rows = out.splitlines()
    for path, line, column, diag in _combined():
        prefix = f"::error file={path},line={line},col={column},title={diag} "
        assert any(row.startswith(prefix) for row in rows), prefix


def test_cli_junit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(capsys, "--format", "junit", str(COMBINED.relative_to(ROOT)))
    assert code == 1
    suites = ET.fromstring(out.split("\n", 1)[1])
    cases = suites.findall("./testsuite/testcase")
    names = [c.get("name") for c in cases]
    assert len(names) == len(set(names)), "test case names are unique"
    expected = list(_combined())
    failed = [c for c in cases if c.findall("failure")]
    assert len(failed) == len(expected), "one <testcase> per diagnostic"
    for path, line, column, diag in expected:
        matching = [c for c in failed if (c.get("file"), c.get("line")) == (path, str(line))
                    and (c.get("name") or "").startswith(f"{path}:{line}:{column} {diag} ")]
        assert len(matching) == 1, (path, line, column, diag)
        [failure] = matching[0].findall("failure")
        assert failure.get("type") == diag and f"{path}:{line}:{column}" in (failure.text or "")
    assert suites.get("failures") == str(len(expected))
    assert suites.get("tests") == str(len(cases))


def test_cli_unset_variable_is_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(capsys, "--format", "json", str(ENV_UNSET.relative_to(ROOT)))
    assert code == 0
    doc = json.loads(out)
    assert doc["valid"] is True and doc["errors"] == 0 and doc["warnings"] == len(UNSET)
    assert {d["code"] for d in doc["diagnostics"]} == {"MS502"}
    assert all(d["severity"] == "warning" for d in doc["diagnostics"])


def test_unset_variable_is_an_error_for_run() -> None:
    result = load_ruleset(ENV_UNSET, for_run=True)
    assert not result.ok and result.ruleset is None
    assert {(d.code, d.severity.value) for d in result.diagnostics} == {("MS502", "error")}


def test_unset_variable_given_later_clears_the_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in UNSET:
        monkeypatch.setenv(name, "now-set")
    assert validate_paths([ENV_UNSET])[0] == []
