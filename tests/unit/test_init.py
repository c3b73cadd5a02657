"""`mapsync init`: the customer repository skeleton validates, its example rule tests and commented example are
right for the standard rule sets, the folder rules (empty, --force) and usage errors hold, and the version
pin and schema files are those of the installed mapsync."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from mapsync import SCHEMAS
from mapsync.engine import __version__
from mapsync.engine.cli import main
from mapsync.engine.diagnostics import Severity
from mapsync.engine.ruleset import load_ruleset, validate_paths
from mapsync.engine.ruleset.scaffold import (
    ERPS,
    FILES,
    INIT_TEMPLATES,
    compatible_range,
    default_name,
    init_ruleset,
    render_files,
)
from mapsync.engine.ruleset.schema_files import write_schemas

ERP_NAMES = sorted(ERPS)
SKELETON = {"ruleset.yaml", "tests/customers.test.yaml", ".github/workflows/mapsync.yml", ".gitlab-ci.yml",
            ".pre-commit-config.yaml", ".gitignore", "README.md", "schemas/ruleset.schema.json",
            "schemas/mapping.schema.json", "schemas/mapping.fortnox.schema.json",
            "schemas/mapping.vismanet.schema.json", "schemas/ruletest.schema.json", "schemas/tenants.schema.json"}
ACTIONS = {"create", "update", "link", "unchanged", "skip", "conflict", "quarantine"}
CONNECTION_ENV = re.compile(r"^(WEBCRM|FORTNOX|VISMANET)_")


@pytest.fixture(autouse=True)
def _no_connection_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if CONNECTION_ENV.match(n)]:
        monkeypatch.delenv(name)


def _errors(folder: Path) -> list[str]:
    diagnostics, _ = validate_paths([folder])
    return [f"{d.location.file}:{d.location.line}: {d.code} {d.message}"
            for d in diagnostics if d.severity is Severity.ERROR]


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


# -- the skeleton ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("erp", ERP_NAMES)
def test_init_writes_a_skeleton_that_validates(erp: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "acme"
    assert main(["init", str(folder), "--erp", erp]) == 0
    out, err = capsys.readouterr()
    assert _files(folder) == SKELETON
    assert set(out.split()) == SKELETON  # every file written is listed
    assert f"wrote {len(SKELETON)} files" in err
    assert main(["validate", str(folder)]) == 0
    assert "0 error(s)" in capsys.readouterr().out
    ruleset = yaml.safe_load((folder / "ruleset.yaml").read_text(encoding="utf-8"))
    assert ruleset["extends"] == f"mapsync:standard/{erp}"
    assert ruleset["name"] == f"acme-{erp}"
    assert ruleset["mapsync"] == compatible_range()
    assert not {"settings", "overrides", "mappings", "systems"} & set(ruleset)  # all of it comes from the standard


@pytest.mark.parametrize("erp", ERP_NAMES)
def test_the_editor_schema_line_points_at_the_copied_schemas(erp: str, tmp_path: Path) -> None:
    init_ruleset(tmp_path, erp, "acme")
    first = (tmp_path / "ruleset.yaml").read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert match, first
    schema = tmp_path / match.group(1)
    assert schema.read_bytes() == (SCHEMAS / "editor" / "ruleset.schema.json").read_bytes()  # with field names
    assert json.loads(schema.read_text(encoding="utf-8"))["title"]


@pytest.mark.parametrize("erp", ERP_NAMES)
def test_the_commented_example_is_a_valid_overlay(erp: str, tmp_path: Path) -> None:
    """Uncommenting the example (every `# ` from `# settings:` on, as an editor's toggle-comment does) gives a
    rule set that validates and changes what the example says it changes."""
    init_ruleset(tmp_path, erp, "acme")
    path = tmp_path / "ruleset.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index("# settings:")
    assert all(line.startswith("#") for line in lines[start:])
    path.write_text("\n".join(lines[:start] + [line.removeprefix("#").removeprefix(" ")
                                                for line in lines[start:]]) + "\n", encoding="utf-8")
    assert not _errors(tmp_path)
    result = load_ruleset(tmp_path)
    assert result.ruleset is not None and result.compilation is not None
    assert result.ruleset.settings["delivery_target"] == "invoice"
    enabled = {m.name for m in result.ruleset.mappings}
    switched_off = "items" if erp == "fortnox" else "persons"
    assert switched_off not in enabled and "customers" in enabled
    customers = next(m for m in result.ruleset.mappings if m.name == "customers")
    website = "WWW" if erp == "fortnox" else "mainContact.web"
    assert website not in {f.erp.label for f in customers.fields if f.erp is not None}


# -- the example rule tests ------------------------------------------------------------------------------

@pytest.mark.parametrize("erp", ERP_NAMES)
def test_the_example_rule_tests_have_the_rule_test_format(erp: str, tmp_path: Path) -> None:
    init_ruleset(tmp_path, erp, "acme")
    text = (tmp_path / "tests" / "customers.test.yaml").read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../schemas/ruletest.schema.json\n")
    doc = yaml.safe_load(text)
    assert set(doc) == {"tests"} and len(doc["tests"]) == 2
    result = load_ruleset(tmp_path)
    assert result.ruleset is not None
    mappings = {m.name for m in result.ruleset.mappings}
    for test in doc["tests"]:
        assert set(test) == {"name", "mapping", "crm", "expect"}, test
        assert isinstance(test["name"], str) and test["mapping"] in mappings
        assert isinstance(test["crm"], dict) and test["crm"]
        assert test["expect"]["action"] in ACTIONS
        assert set(test["expect"]) <= {"action", "erp"}
    assert [t["expect"]["action"] for t in doc["tests"]] == ["create", "skip"]


@pytest.mark.parametrize("erp", ERP_NAMES)
def test_the_example_rule_tests_pass(erp: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`mapsync test` runs the example tests of a new skeleton, and they pass, with a coverage report."""
    folder = tmp_path / "repo"
    init_ruleset(folder, erp, "acme")
    monkeypatch.chdir(folder)
    code = main(["test", "."])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 passed, 0 failed (1 test file(s))" in out and "coverage: field rules" in out


# -- the folder ------------------------------------------------------------------------------------------

def test_a_folder_that_is_not_empty_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine\n", encoding="utf-8")
    assert main(["init", str(tmp_path), "--erp", "fortnox"]) == 1
    assert "is not empty; nothing was written" in capsys.readouterr().err
    assert _files(tmp_path) == {"notes.txt"}


def test_force_writes_the_skeleton_and_leaves_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n", encoding="utf-8")
    (tmp_path / "ruleset.yaml").write_text("name: old\n", encoding="utf-8")
    assert main(["init", str(tmp_path), "--erp", "vismanet", "--name", "acme", "--force"]) == 0
    assert _files(tmp_path) == SKELETON | {"notes.txt"}
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert "name: acme\n" in (tmp_path / "ruleset.yaml").read_text(encoding="utf-8")
    assert not _errors(tmp_path)


def test_an_empty_existing_folder_is_fine(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path), "--erp", "fortnox", "--name", "acme"]) == 0
    assert _files(tmp_path) == SKELETON


def test_a_file_is_not_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "acme"
    target.write_text("x", encoding="utf-8")
    assert main(["init", str(target), "--erp", "fortnox", "--force"]) == 1
    assert "is not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["init", "x"], ["init", "x", "--erp", "sap"], ["init", "--erp", "fortnox"]])
def test_usage_errors_exit_2(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("name", ["Acme", "_acme", "acme corp", "acme!", ""])
def test_a_name_the_schema_refuses_is_a_usage_error(name: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "x"), "--erp", "fortnox", "--name", name]) == 2
    assert "is not a rule set name" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("folder", "erp", "name"), [
    ("acme", "fortnox", "acme-fortnox"),
    ("Acme AB", "vismanet", "acme-ab-vismanet"),
    ("acme-fortnox", "fortnox", "acme-fortnox"),
    ("_Åsa & Co_", "fortnox", "sa-co-fortnox"),
    ("åäö", "vismanet", "customer-vismanet"),
])
def test_default_name(folder: str, erp: str, name: str, tmp_path: Path) -> None:
    assert default_name(tmp_path / folder, erp) == name


# -- versions, templates, schemas ------------------------------------------------------------------------

@pytest.mark.parametrize(("version", "expected"), [
    ("0.1.0", ">=0.1, <0.2"),
    ("0.1.7", ">=0.1, <0.2"),
    ("0.12.3", ">=0.12, <0.13"),
    ("1.4.2", ">=1.4, <2"),
    ("2.0", ">=2.0, <3"),
    ("0.2.0.dev1", ">=0.2.0.dev1, <0.3"),
])
def test_compatible_range(version: str, expected: str) -> None:
    assert compatible_range(version) == expected
    assert SpecifierSet(expected).contains(version, prereleases=True)


def test_the_installed_version_is_in_its_own_range() -> None:
    assert SpecifierSet(compatible_range()).contains(__version__, prereleases=True)


@pytest.mark.parametrize("erp", ERP_NAMES)
def test_every_placeholder_is_filled(erp: str) -> None:
    for target, text in render_files(erp, "acme").items():
        assert "%{" not in text, target
        if target.endswith((".yaml", ".yml")):
            yaml.safe_load(text)


def test_every_template_is_used() -> None:
    used = {source.format(erp=erp) for source, _ in FILES for erp in ERPS}
    shipped = {p.relative_to(INIT_TEMPLATES).as_posix() for p in INIT_TEMPLATES.rglob("*.tmpl")}
    assert shipped == used


def test_write_schemas_writes_the_editor_schemas_and_the_others(tmp_path: Path) -> None:
    out = tmp_path / "a" / "schemas"
    written = write_schemas(out)
    editor = SCHEMAS / "editor"
    expected = sorted([*(p.name for p in editor.glob("*.json")), "ruletest.schema.json", "tenants.schema.json"])
    assert [p.name for p in written] == expected
    for path in written:
        source = editor / path.name if (editor / path.name).is_file() else SCHEMAS / path.name
        assert path.parent == out and path.read_bytes() == source.read_bytes()
    (out / "ruleset.schema.json").write_text("{}", encoding="utf-8")
    write_schemas(out)  # again: replaces
    assert (out / "ruleset.schema.json").read_bytes() == (editor / "ruleset.schema.json").read_bytes()
