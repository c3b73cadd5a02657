"""The consultant documentation stays true to the code: schema reference, functions, diagnostic codes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from mapsync.engine.diagnostics import Severity
from mapsync.engine.diagnostics.codes import CODES
from mapsync.engine.docs_reference import BEGIN, END, generated_section, main, render_reference, replace_section
from mapsync.engine.expressions import FUNCTION_DOCS, FUNCTIONS
from mapsync.engine.ruleset import validate_paths
from mapsync.engine.ruleset.schema import MAPPING_SCHEMA, RULESET_SCHEMA, load_schema

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RULES_MD = DOCS / "rules.md"
DIAGNOSTICS_MD = DOCS / "diagnostics.md"
DECISIONS = DOCS / "decisions"

_YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)
_FILE_LINE = re.compile(r"^# file: (\S+)\n")
_CODE_HEADING = re.compile(r"^## (MS\d{3}): (.+)$", re.M)


def _properties(schema: Any, path: str = "$") -> list[tuple[str, dict[str, Any]]]:
    """Every (path, property schema) under a ``properties`` keyword, at any depth."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    found.append((f"{path}.{name}", sub))
                    found.extend(_properties(sub, f"{path}.{name}"))
            else:
                found.extend(_properties(value, f"{path}/{key}"))
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            found.extend(_properties(item, f"{path}[{index}]"))
    return found


# -- docs/rules.md ---------------------------------------------------------------------------------------

def test_schema_reference_matches_the_schemas() -> None:
    text = RULES_MD.read_text(encoding="utf-8")
    assert generated_section(text) == render_reference(), (
        "docs/rules.md is out of date with schemas/: run `python -m mapsync.engine.docs_reference`")


def test_check_mode_agrees() -> None:
    assert main(["--check"]) == 0


def test_replace_section_is_idempotent() -> None:
    text = f"intro\n{BEGIN}\nold\n{END}\noutro\n"
    once = replace_section(text, "new\n")
    assert once == f"intro\n{BEGIN}\nnew\n{END}\noutro\n"
    assert replace_section(once, "new\n") == once
    with pytest.raises(ValueError):
        replace_section("no markers", "x")


@pytest.mark.parametrize("schema_name", [RULESET_SCHEMA, MAPPING_SCHEMA])
def test_every_schema_property_has_title_description_examples(schema_name: str) -> None:
    missing = [
        f"{path}: {', '.join(k for k in ('title', 'description', 'examples') if not prop.get(k))}"
        for path, prop in _properties(load_schema(schema_name))
        if not (prop.get("title") and prop.get("description") and prop.get("examples"))
    ]
    assert not missing, f"{schema_name} properties lacking documentation:\n" + "\n".join(missing)


def test_every_function_is_in_the_function_table() -> None:
    text = RULES_MD.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)\(", text, re.M))
    assert set(FUNCTION_DOCS) <= documented, f"missing from docs/rules.md: {sorted(set(FUNCTION_DOCS) - documented)}"
    assert documented <= set(FUNCTIONS), f"documented but not functions: {sorted(documented - set(FUNCTIONS))}"


@pytest.mark.parametrize("doc", ["rules.md", "tutorial.md"])
def test_every_yaml_example_parses(doc: str) -> None:
    for block in _YAML_BLOCK.findall((DOCS / doc).read_text(encoding="utf-8")):
        yaml.safe_load(block)


@pytest.mark.parametrize("doc", ["rules.md", "tutorial.md"])
def test_complete_examples_validate(doc: str, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "mapsync" / "rules" / "standard", tmp_path / "rules" / "standard")
    folders: set[Path] = set()
    written: list[Path] = []
    for block in _YAML_BLOCK.findall((DOCS / doc).read_text(encoding="utf-8")):
        match = _FILE_LINE.match(block)
        if match is None:
            continue
        target = tmp_path / match.group(1)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block, encoding="utf-8")
        written.append(target)
        if target.name == "ruleset.yaml":
            folders.add(target.parent)
    assert folders, f"docs/{doc} has no complete (# file: ruleset.yaml) examples"
    orphans = [str(path) for path in written if not any(path.is_relative_to(folder) for folder in folders)]
    assert not orphans, f"not in or below a rule set folder (with its ruleset.yaml): {orphans}"
    for folder in sorted(folders):
        diagnostics, _ = validate_paths([folder])
        errors = [f"{d.location.file}:{d.location.line}: {d.code} {d.message}"
                  for d in diagnostics if d.severity is Severity.ERROR]
        assert not errors, "\n".join(errors)


# -- docs/diagnostics.md ---------------------------------------------------------------------------------

def test_every_code_is_documented_with_its_title() -> None:
    text = DIAGNOSTICS_MD.read_text(encoding="utf-8")
    headings = _CODE_HEADING.findall(text)
    codes = [code for code, _ in headings]
    assert len(codes) == len(set(codes)), "a code has two sections"
    assert set(codes) == set(CODES), (
        f"missing: {sorted(set(CODES) - set(codes))}; not codes: {sorted(set(codes) - set(CODES))}")
    wrong_titles = [f"{code}: {title!r} (codes.py: {CODES[code].title!r})"
                    for code, title in headings if title.strip() != CODES[code].title]
    assert not wrong_titles, "\n".join(wrong_titles)


def test_diagnostics_doc_names_no_unknown_code() -> None:
    mentioned = set(re.findall(r"\bMS\d{3}\b", DIAGNOSTICS_MD.read_text(encoding="utf-8")))
    assert mentioned <= set(CODES), f"not codes: {sorted(mentioned - set(CODES))}"


def test_rules_doc_names_no_unknown_code() -> None:
    mentioned = set(re.findall(r"\bMS\d{3}\b", RULES_MD.read_text(encoding="utf-8")))
    assert mentioned <= set(CODES), f"not codes: {sorted(mentioned - set(CODES))}"


# -- docs/decisions --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["0001-layout.md", "0002-rule-language.md", "0003-expressions.md",
                                  "0004-rotated-tokens-in-state-store.md", "0006-new-state-store-guard.md",
                                  "0010-postgresql-state-store.md", "0012-celery-workers.md"])
def test_decision_records_have_their_parts(name: str) -> None:
    text = (DECISIONS / name).read_text(encoding="utf-8")
    for part in ("## Context", "## Decision", "## Consequences"):
        assert part in text, f"{name} lacks {part}"


def test_definitions_shared_by_both_schemas_are_identical() -> None:
    """ruleset.yaml's overrides reuse the mapping schema's field rules: the copies must not drift."""
    import json
    from pathlib import Path

    schemas = Path(__file__).resolve().parents[2] / "mapsync" / "schemas"
    ruleset = json.loads((schemas / "ruleset.schema.json").read_text(encoding="utf-8"))["$defs"]
    mapping = json.loads((schemas / "mapping.schema.json").read_text(encoding="utf-8"))["$defs"]
    shared = set(ruleset) & set(mapping)
    assert {"field_rule", "side", "key_pair"} <= shared
    for name in shared:
        assert ruleset[name] == mapping[name], name
