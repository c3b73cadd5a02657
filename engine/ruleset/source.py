"""Reading one YAML rule file safely, keeping the line and column of every node.

``read_source(path)`` returns a ``SourceDocument``: the plain data (dicts, lists, scalars built by
PyYAML's safe constructor) and a table from JSON path to position, so that every later stage can
report ``file:line:column`` for any value or key. Problems (unreadable file, bad encoding, YAML syntax,
duplicate keys, a top level that is not a mapping) come back as diagnostics, never as exceptions.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.diagnostics import Diagnostic, Location

PathKey = tuple[str | int, ...]


def json_path(path: PathKey) -> str:
    """``("fields", 2, "crm")`` -> ``$.fields[2].crm``."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{part!r}]"
    return out


@dataclass
class SourceDocument:
    """One parsed rule file with positions. ``data`` is None when the file could not be read."""

    file: str
    data: Any = None
    values: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    keys: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def location(self, path: PathKey, *, key: bool = False) -> Location:
        """Location of the value at ``path`` (or of its key), falling back to the nearest parent."""
        table = self.keys if key else self.values
        probe = path
        while True:
            pos = table.get(probe) or self.values.get(probe)
            if pos is not None:
                return Location(self.file, pos[0], pos[1], json_path(path))
            if not probe:
                return Location(self.file, 1, 1, json_path(path))
            probe = probe[:-1]


def _decode(raw: bytes, doc: SourceDocument) -> str | None:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        doc.diagnostics.append(Diagnostic(
            "MS102", f"byte 0x{raw[exc.start]:02x} at offset {exc.start} is not valid UTF-8",
            Location(doc.file, line, column)))
        return None


def _walk(node: yaml.Node, path: PathKey, doc: SourceDocument) -> None:
    doc.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = (*path, key)
            if key in seen:
                first = seen[key].start_mark.line + 1
                doc.diagnostics.append(Diagnostic(
                    "MS103", f"key {key!r} appears twice (first at line {first})",
                    Location(doc.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                             json_path(child))))
            seen[key] = key_node
            doc.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _walk(value_node, child, doc)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), doc)


def parse_text(text: str, file: str) -> SourceDocument:
    """Parse YAML text; see ``read_source``."""
    doc = SourceDocument(file=file)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            doc.diagnostics.append(Diagnostic("MS107", "the file is empty", Location(file, 1, 1)))
            return doc
        _walk(node, (), doc)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        doc.diagnostics.append(Diagnostic("MS101", f"{problem}{context}", Location(file, line, column)))
        return doc
    except yaml.YAMLError as exc:
        doc.diagnostics.append(Diagnostic("MS101", str(exc), Location(file, 1, 1)))
        return doc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        doc.diagnostics.append(Diagnostic(
            "MS107", f"the top level is a {type(data).__name__}, not a mapping", Location(file, 1, 1)))
        return doc
    doc.data = data
    return doc


def read_source(path: Path, display: str | None = None) -> SourceDocument:
    """Read and parse one YAML file. Never raises for user mistakes."""
    file = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        doc = SourceDocument(file=file)
        doc.diagnostics.append(Diagnostic(
            "MS104", f"cannot read {file}: {exc.strerror or exc}", Location(file, 0, 0)))
        return doc
    holder = SourceDocument(file=file)
    text = _decode(raw, holder)
    if text is None:
        return holder
    return parse_text(text, file)
