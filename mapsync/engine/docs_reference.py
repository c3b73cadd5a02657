"""The property reference of docs/rules.md, generated from the JSON Schemas of the rule files.

``render_reference()`` turns ``schemas/ruleset.schema.json`` and ``schemas/mapping.schema.json`` into
Markdown: one table per object (property, type, allowed values, description, example), objects in the
order a reader meets them, each with the places it appears. ``python -m mapsync.engine.docs_reference`` writes
it into docs/rules.md between the markers; ``--check`` only reports whether the file is up to date.
``tests/unit/test_docs.py`` fails when the two drift apart.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mapsync.engine.ruleset.schema import MAPPING_SCHEMA, RULESET_SCHEMA, SCHEMA_DIR, load_schema

BEGIN = "<!-- BEGIN GENERATED: schema reference -->"
END = "<!-- END GENERATED -->"
RULES_MD = Path(__file__).resolve().parents[2] / "docs" / "rules.md"

SCHEMAS: tuple[tuple[str, str], ...] = (
    (RULESET_SCHEMA, "Rule set file: `ruleset.yaml`"),
    (MAPPING_SCHEMA, "Mapping file"),
)

_TYPE_WORDS = {
    "string": "text",
    "boolean": "true/false",
    "integer": "integer",
    "number": "number",
    "object": "mapping",
    "array": "list",
    "null": "null",
}


@dataclass
class _Object:
    """One object of a schema with its properties, and every path where it appears."""

    name: str
    schema: dict[str, Any]
    paths: list[str] = field(default_factory=list)


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    name = _ref_name(schema)
    if name is None:
        return schema, None
    resolved: dict[str, Any] = root["$defs"][name]
    return resolved, name


def _human(def_name: str) -> str:
    return def_name.replace("_", " ")


def _children(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path suffix, sub-schema) of every place below a property where an object may stand."""
    yield "", schema
    for key in ("oneOf", "anyOf"):
        for alternative in schema.get(key, []):
            yield "", alternative
    items = schema.get("items")
    if isinstance(items, dict):
        yield "[]", items
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield ".<name>", extra


def _objects(root: dict[str, Any], top_name: str) -> list[_Object]:
    """Every object with properties, in the order met walking the schema from its top."""
    found: dict[int, _Object] = {}
    order: list[_Object] = []

    def visit(schema: dict[str, Any], path: str, name: str) -> None:
        resolved, def_name = _resolve(schema, root)
        if "properties" not in resolved:
            return
        key = id(resolved)
        if key not in found:
            found[key] = _Object(_human(def_name) if def_name else name, resolved)
            order.append(found[key])
        found[key].paths.append(path)
        for prop, sub in resolved["properties"].items():
            prop_path = f"{path}.{prop}" if path else prop
            for suffix, candidate in _children(sub):
                visit(candidate, prop_path + suffix, str(sub.get("title", prop)))

    visit(root, "", top_name)
    return order


def _type(schema: dict[str, Any], root: dict[str, Any]) -> str:
    name = _ref_name(schema)
    if name is not None:
        target = root["$defs"][name]
        return f"mapping ({_human(name)})" if "properties" in target else _type(target, root)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " or ".join(_type(alt, root) for alt in schema[key])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(_TYPE_WORDS.get(str(k), str(k)) for k in kind)
    if kind == "array":
        items = schema.get("items")
        return f"list of {_type(items, root)}" if isinstance(items, dict) else "list"
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and "properties" not in schema:
            return f"mapping of names to {_type(extra, root)}"
        return "mapping"
    if kind is None:
        return "any"
    return _TYPE_WORDS.get(kind, kind)


def _allowed(schema: dict[str, Any]) -> str:
    parts: list[str] = []
    if "enum" in schema:
        parts.append(", ".join(_code(v) for v in schema["enum"]))
    if "pattern" in schema:
        parts.append(f"matches {_code(schema['pattern'])}")
    if schema.get("minLength") == 1:
        parts.append("not empty")
    items = schema.get("items")
    if isinstance(items, dict) and items.get("minLength") == 1:
        parts.append("items not empty")
    if schema.get("uniqueItems"):
        parts.append("no duplicates")
    return "; ".join(parts)


def _flow(value: Any) -> str:
    """A value as one line of YAML (flow style), the way it is written in a rule file."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False, allow_unicode=True)
    return text.removesuffix("\n...\n").strip()


def _code(value: Any) -> str:
    text = _flow(value).replace("|", "\\|")
    return f"``{text}``" if "`" in text else f"`{text}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _notes(schema: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    required = schema.get("required", [])
    if required:
        notes.append("Required: " + ", ".join(f"`{r}`" for r in required) + ".")
    if "if" in schema and "then" in schema:
        condition = schema["if"].get("not", {}).get("required", [])
        then = schema["then"].get("required", [])
        if condition and then:
            notes.append(" and ".join(f"`{t}`" for t in then) + " are required unless "
                         + " or ".join(f"`{c}`" for c in condition) + " is given.")
    alternatives = [alt.get("required", []) for alt in schema.get("anyOf", [])]
    if alternatives and all(len(a) == 1 for a in alternatives):
        notes.append("At least one of " + ", ".join(f"`{a[0]}`" for a in alternatives) + " is required.")
    if schema.get("additionalProperties") is False:
        notes.append("No other properties are allowed.")
    elif "additionalProperties" not in schema:
        notes.append("Other properties may be added.")
    return notes


def _table(obj: _Object, root: dict[str, Any]) -> list[str]:
    required = set(obj.schema.get("required", []))
    lines = [
        "| Property | Type | Allowed values | Description | Example |",
        "|---|---|---|---|---|",
    ]
    for prop, sub in obj.schema["properties"].items():
        name = f"`{prop}`" + (" (required)" if prop in required else "")
        title = sub.get("title", "")
        description = f"**{title}.** {sub.get('description', '')}" if title else sub.get("description", "")
        examples = "<br>".join(_code(e) for e in sub.get("examples", []))
        lines.append(f"| {name} | {_cell(_type(sub, root))} | {_cell(_allowed(sub))} | {_cell(description)} "
                     f"| {examples} |")
    return lines


def render_schema(file_name: str, heading: str) -> str:
    """The reference of one schema: a heading, its description, one table per object."""
    root = load_schema(file_name)
    out = [f"### {heading}", "", f"Schema: `schemas/{file_name}`. {root.get('description', '')}", ""]
    for obj in _objects(root, heading):
        where = ", ".join(f"`{p}`" for p in obj.paths if p)
        out.append(f"#### {obj.name[0].upper() + obj.name[1:]}" if where else "#### Top level")
        out.append("")
        if where:
            out.append(f"Where: {where}.")
            out.append("")
        notes = _notes(obj.schema)
        if notes:
            out.append(" ".join(notes))
            out.append("")
        out.extend(_table(obj, root))
        out.append("")
    return "\n".join(out)


def render_reference() -> str:
    """The whole generated section (without the markers)."""
    intro = ("This section is generated from the JSON Schemas in `mapsync/schemas/` by "
             "`python -m mapsync.engine.docs_reference`; do not edit it by hand.")
    parts = [intro, ""] + [render_schema(name, heading) for name, heading in SCHEMAS]
    return "\n".join(parts).rstrip("\n") + "\n"


def replace_section(text: str, generated: str) -> str:
    """``text`` with the part between the markers replaced by ``generated``."""
    start = text.find(BEGIN)
    end = text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"docs/rules.md needs the markers {BEGIN!r} and {END!r}, in that order")
    return text[: start + len(BEGIN)] + "\n" + generated + text[end:]


def generated_section(text: str) -> str:
    """The part of ``text`` between the markers."""
    start = text.find(BEGIN)
    end = text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"markers {BEGIN!r} and {END!r} not found")
    return text[start + len(BEGIN):end].lstrip("\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mapsync.engine.docs_reference",
        description=f"Rewrite the schema reference in docs/rules.md from {SCHEMA_DIR.name}/*.schema.json.")
    parser.add_argument("--check", action="store_true", help="only report whether docs/rules.md is up to date")
    parser.add_argument("--file", type=Path, default=RULES_MD, help="the Markdown file (default: docs/rules.md)")
    args = parser.parse_args(argv)
    text = args.file.read_text(encoding="utf-8")
    updated = replace_section(text, render_reference())
    if args.check:
        if updated != text:
            print(f"{args.file}: schema reference is out of date; run python -m mapsync.engine.docs_reference",
                  file=sys.stderr)
            return 1
        return 0
    if updated != text:
        args.file.write_text(updated, encoding="utf-8")
        print(f"{args.file}: schema reference updated", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
