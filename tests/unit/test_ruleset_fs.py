"""Rule sets on a fake file system (pyfakefs): missing and unreadable files, `extends` cycles, odd encodings
and odd paths. Every problem is a diagnostic or a usage error, never a traceback."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from pyfakefs import helpers
from pyfakefs.fake_filesystem import FakeFilesystem

from mapsync.connectors.catalogue import CONNECTOR_NAMES, load_catalogue
from mapsync.engine.diagnostics import Diagnostic
from mapsync.engine.ruleset import UsageError, load_ruleset, validate_paths
from mapsync.engine.ruleset.schema import MAPPING_SCHEMA, RULESET_SCHEMA, SCHEMA_DIR, load_schema

ROOT = SCHEMA_DIR.parent
BASE = Path("/rules/base")
ENV = {"WEBCRM_API_TOKEN": "x", "FORTNOX_ACCESS_TOKEN": "x"}

RULESET = """\
name: base
systems:
  crm: {connector: webcrm, connection: {api_token: "${env:WEBCRM_API_TOKEN}"}}
  erp: {connector: fortnox, connection: {access_token: "${env:FORTNOX_ACCESS_TOKEN}"}}
settings: {level: base}
mappings: [customers.yaml]
"""
CUSTOMERS = """\
name: customers
description: Kunder i Göteborg
crm: organisation
erp: customer
direction: both
fields:
  - {crm: OrganisationName, erp: Name}
"""


@pytest.fixture
def fake(fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeFilesystem]:
    """A fake file system with the real schemas and catalogues, and a valid rule set at /rules/base."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    fs.add_real_directory(str(SCHEMA_DIR))
    fs.add_real_directory(str(ROOT / "connectors"))
    load_schema(RULESET_SCHEMA), load_schema(MAPPING_SCHEMA)
    for connector in CONNECTOR_NAMES:
        load_catalogue(connector)
    fs.create_file(BASE / "ruleset.yaml", contents=RULESET)
    fs.create_file(BASE / "customers.yaml", contents=CUSTOMERS, encoding="utf-8")
    fs.create_dir("/elsewhere")
    fs.cwd = "/elsewhere"
    yield fs
    helpers.reset_ids()


def _diags(*paths: Path | str) -> list[Diagnostic]:
    return validate_paths(list(paths))[0]


def _where(diags: list[Diagnostic]) -> list[tuple[str, str, int]]:
    return [(d.code, Path(d.location.file).as_posix(), d.location.line) for d in diags if d.code != "MS502"]


def test_the_base_is_valid(fake: FakeFilesystem) -> None:
    result = load_ruleset(BASE, ENV)
    assert result.ok and result.ruleset is not None, result.diagnostics
    assert result.files == ["/rules/base/ruleset.yaml", "/rules/base/customers.yaml"]


def test_display_paths_are_relative_to_the_working_directory(fake: FakeFilesystem) -> None:
    fake.cwd = "/rules"
    assert validate_paths(["base"])[1] == ["base/ruleset.yaml", "base/customers.yaml"]


def test_folder_without_ruleset_is_a_usage_error(fake: FakeFilesystem) -> None:
    fake.create_dir("/rules/empty")
    with pytest.raises(UsageError, match=r"no ruleset\.yaml"):
        validate_paths(["/rules/empty"])
    with pytest.raises(UsageError):
        load_ruleset("/rules/empty")
    with pytest.raises(UsageError, match="no such file"):
        validate_paths(["/rules/nowhere"])


def test_missing_mapping_file_reported_at_its_entry(fake: FakeFilesystem) -> None:
    Path(BASE / "customers.yaml").unlink()
    assert _where(_diags(BASE)) == [("MS104", "/rules/base/ruleset.yaml", 6)]


def test_unreadable_mapping_file(fake: FakeFilesystem) -> None:
    helpers.set_uid(1000)  # not root: permissions count
    Path(BASE / "customers.yaml").chmod(0o000)
    diags = _diags(BASE)
    assert _where(diags) == [("MS104", "/rules/base/ruleset.yaml", 6)]
    assert "Permission denied" in diags[0].message


def test_unreadable_file_given_directly_is_a_usage_error(fake: FakeFilesystem) -> None:
    helpers.set_uid(1000)
    Path(BASE / "customers.yaml").chmod(0o000)
    with pytest.raises(UsageError, match="Permission denied"):
        validate_paths([BASE / "customers.yaml"])


def test_unreadable_ruleset_is_a_usage_error(fake: FakeFilesystem) -> None:
    helpers.set_uid(1000)
    Path(BASE / "ruleset.yaml").chmod(0o000)
    with pytest.raises(UsageError, match="Permission denied"):
        validate_paths([BASE])
    with pytest.raises(UsageError, match="Permission denied"):
        load_ruleset(BASE)


def test_read_error_as_side_effect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same on the real file system, with an OSError raised by reading."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "ruleset.yaml").write_text(RULESET)
    (tmp_path / "customers.yaml").write_text(CUSTOMERS)
    from mapsync.engine.ruleset import source

    real = source._open

    def failing(path: Path) -> BinaryIO:
        if path.name == "customers.yaml":
            raise OSError(5, "Input/output error")
        return real(path)

    monkeypatch.setattr(source, "_open", failing)
    diags = _diags(tmp_path)
    assert _where(diags) == [("MS104", (tmp_path / "ruleset.yaml").as_posix(), 6)]
    assert "Input/output error" in diags[0].message


def test_unreadable_parent_reported_at_extends(fake: FakeFilesystem) -> None:
    fake.create_file("/rules/child/ruleset.yaml", contents="name: child\nextends: ../base\n")
    helpers.set_uid(1000)
    Path(BASE / "ruleset.yaml").chmod(0o000)
    assert _where(_diags("/rules/child")) == [("MS104", "/rules/child/ruleset.yaml", 2)]


@pytest.mark.parametrize("length", [1, 2, 3])
def test_extends_cycles(fake: FakeFilesystem, length: int) -> None:
    names = [f"/rules/c{i}" for i in range(length)]
    for i, name in enumerate(names):
        target = Path(names[(i + 1) % length]).name
        fake.create_file(f"{name}/ruleset.yaml", contents=f"# level {i}\nname: c{i}\nextends: ../{target}\n")
    diags = _diags(names[0])
    closing = f"{names[-1]}/ruleset.yaml"
    assert _where(diags) == [("MS105", closing, 3)]
    chain = " -> ".join([*names, names[0]])
    assert diags[0].message == f"extends cycle: {chain}"
    assert diags[0].location.column == 10


def test_cycle_below_a_valid_level(fake: FakeFilesystem) -> None:
    fake.create_file("/rules/a/ruleset.yaml", contents="name: a\nextends: ../b\n")
    fake.create_file("/rules/b/ruleset.yaml", contents="name: b\nextends: ../b\n")
    assert _where(_diags("/rules/a")) == [("MS105", "/rules/b/ruleset.yaml", 2)]


def test_three_levels_merge_settings(fake: FakeFilesystem) -> None:
    fake.create_file("/rules/mid/ruleset.yaml", contents="name: mid\nextends: ../base\nsettings: {level: mid, a: 1}\n")
    fake.create_file("/rules/top/ruleset.yaml", contents="name: top\nextends: ../mid\nsettings: {level: top}\n")
    result = load_ruleset("/rules/top", ENV)
    assert result.ok and result.ruleset is not None
    assert dict(result.ruleset.settings) == {"level": "top", "a": 1}
    assert result.ruleset.name == "top"


def test_parent_with_a_syntax_error_gives_no_follow_up_errors(fake: FakeFilesystem) -> None:
    Path(BASE / "ruleset.yaml").write_text("name: base\nsystems: [\n")
    fake.create_file("/rules/child/ruleset.yaml", contents="name: child\nextends: ../base\n")
    assert [c for c, _, _ in _where(_diags("/rules/child"))] == ["MS101"]


@pytest.mark.parametrize(("ruleset", "mapping"), [
    (codecs.BOM_UTF16_BE + RULESET.encode("utf-16-be"), codecs.BOM_UTF8 + CUSTOMERS.encode("utf-8")),
    (RULESET.encode("utf-16"), CUSTOMERS.encode("utf-16")),
], ids=["utf16be-and-utf8bom", "utf16-both"])
def test_odd_but_accepted_encodings(fake: FakeFilesystem, ruleset: bytes, mapping: bytes) -> None:
    Path(BASE / "ruleset.yaml").write_bytes(ruleset)
    Path(BASE / "customers.yaml").write_bytes(mapping)
    assert _where(_diags(BASE)) == []


def test_latin1_mapping_rejected_at_the_byte(fake: FakeFilesystem) -> None:
    Path(BASE / "customers.yaml").write_bytes(CUSTOMERS.encode("latin-1"))
    diags = _diags(BASE)
    assert [(d.code, d.location.line, d.location.column) for d in diags] == [("MS102", 2, 24)]
    assert diags[0].location.file == "/rules/base/customers.yaml"


def test_utf32_is_not_mistaken_for_utf16(fake: FakeFilesystem) -> None:
    Path(BASE / "customers.yaml").write_bytes(CUSTOMERS.encode("utf-32"))
    assert [d.code for d in _diags(BASE)] in (["MS102"], ["MS101"])


@pytest.mark.parametrize("entry", ['"a\\0b.yaml"', '"' + "x" * 5000 + '.yaml"', "sub", "/", "'../../../..'"])
def test_odd_mapping_entries(fake: FakeFilesystem, entry: str) -> None:
    fake.create_dir(BASE / "sub")
    Path(BASE / "ruleset.yaml").write_text(RULESET.replace("[customers.yaml]", f"[customers.yaml, {entry}]"))
    assert [c for c, _, _ in _where(_diags(BASE))] == ["MS104"]


@pytest.mark.parametrize("target", ['"a\\0b"', '"' + "x" * 5000 + '"', "loop", "'../base/customers.yaml'"])
def test_odd_extends_targets(fake: FakeFilesystem, target: str) -> None:
    fake.create_symlink("/rules/child/loop", "/rules/child/loop")
    fake.create_file("/rules/child/ruleset.yaml", contents=f"name: child\nextends: {target}\n")
    assert _where(_diags("/rules/child")) == [("MS106", "/rules/child/ruleset.yaml", 2)]


def test_mapping_outside_the_folder(fake: FakeFilesystem) -> None:
    fake.create_file("/rules/shared/customers.yaml", contents=CUSTOMERS)
    Path(BASE / "customers.yaml").unlink()
    Path(BASE / "ruleset.yaml").write_text(RULESET.replace("[customers.yaml]", "[../shared/customers.yaml]"))
    diags, files = validate_paths([BASE])
    assert _where(diags) == [] and files[-1] == "/rules/shared/customers.yaml"


def test_extends_names_a_standard_rule_set_shipped_with_mapsync(tmp_path: Path) -> None:
    from mapsync import STANDARD_RULES
    from mapsync.engine.ruleset.loader import resolve_extends

    assert resolve_extends(tmp_path, "mapsync:standard/fortnox") == (STANDARD_RULES / "standard" / "fortnox").resolve()
    assert resolve_extends(tmp_path, "../base") == (tmp_path / "../base").resolve()
