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

from mapsync.engine.diagnostics import Diagnostic, Location
from mapsync.engine.ruleset.yamlerrors import explain

PathKey = tuple[Any, ...]  # mapping keys (mostly texts) and list indexes


def json_path(path: PathKey) -> str:
    """``("fields", 2, "crm")`` -> ``$.fields[2].crm``."""
    out = "$"
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{part!r}]"  # other keys, including YAML's null, true and numbers
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


def _position(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of byte ``offset`` of UTF-8 bytes."""
    before = raw[:offset]
    line_start = before.rfind(b"\n") + 1
    column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
    return before.count(b"\n") + 1, column


def _decode(raw: bytes, doc: SourceDocument) -> str | None:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            doc.diagnostics.append(Diagnostic(
                "MS102", f"the file starts with a UTF-16 byte order mark but is not valid UTF-16 "
                f"({exc.reason} at byte offset {exc.start})", Location(doc.file, 1, 1)))
            return None
    body = raw[len(codecs.BOM_UTF8):] if raw.startswith(codecs.BOM_UTF8) else raw
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(body, exc.start)
        doc.diagnostics.append(Diagnostic(
            "MS102", f"byte 0x{body[exc.start]:02x} at line {line}, column {column} is not valid UTF-8 "
            "(is the file saved as Latin-1 or Windows-1252?)", Location(doc.file, line, column)))
        return None
    if "\0" in text:
        line, column = _position(body, body.index(b"\0"))
        doc.diagnostics.append(Diagnostic(
            "MS102", "the file contains NUL bytes (UTF-16 or UTF-32 without a byte order mark?)",
            Location(doc.file, line, column)))
        return None
    return text


MAX_NODES = 100_000
"""More nodes than this (after expanding aliases) is refused: a rule file is never that big."""
MAX_DEPTH = 64
"""Nor is a rule file ever nested this deep; refusing it keeps every later stage safe from recursion limits."""


class _TooBig(Exception):
    def __init__(self, message: str, node: yaml.Node | None = None) -> None:
        super().__init__(message)
        self.node = node


class _Recursive(Exception):
    def __init__(self, node: yaml.Node) -> None:
        super().__init__()
        self.node = node


def _key(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """A mapping key as the data will have it (``1``, ``true`` and ``null`` are not texts)."""
    if isinstance(node, yaml.ScalarNode):
        try:
            key = loader.construct_object(node)
            hash(key)
        except (yaml.YAMLError, TypeError):  # `<<` merge keys, bad values (construction reports them)
            return node.value
        return key
    return str(node.value)  # not hashable: construction reports it


def _walk(node: yaml.Node, path: PathKey, doc: SourceDocument, loader: yaml.SafeLoader,
          stack: tuple[int, ...] = ()) -> None:
    if id(node) in stack:
        raise _Recursive(node)
    if len(doc.values) >= MAX_NODES:
        raise _TooBig(f"the document has more than {MAX_NODES} values once aliases are expanded")
    if len(stack) >= MAX_DEPTH:
        raise _TooBig(f"the document is nested more than {MAX_DEPTH} levels deep", node)
    doc.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    inner = (*stack, id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = _key(loader, key_node)
            child = (*path, key)
            if key in seen:
                first = seen[key].start_mark.line + 1
                doc.diagnostics.append(Diagnostic(
                    "MS103", f"key {key!r} appears twice (first at line {first})",
                    Location(doc.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                             json_path(child))))
            seen[key] = key_node
            doc.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _walk(value_node, child, doc, loader, inner)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), doc, loader, inner)


class _Loader(yaml.SafeLoader):
    """The safe loader, with every failure to build a value turned into a located YAML error."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            self.recursive_objects.pop(node, None)  # so that a second attempt reports the same error
            raise
        except Exception as exc:  # e.g. `2024-13-01` or `!!int abc`: a bad value, not a crash
            self.recursive_objects.pop(node, None)
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read the value {node.value!r} as "
                f"{_TAG_WORDS.get(node.tag.rsplit(':', 1)[-1], node.tag.rsplit(':', 1)[-1])}: {exc}",
                node.start_mark) from exc


_TAG_WORDS = {"timestamp": "a date", "float": "a number", "int": "a whole number", "bool": "true or false"}
_TYPE_WORDS = {"list": "a list", "str": "a text", "int": "a number", "float": "a number", "bool": "true or false",
               "NoneType": "empty (null)"}


def parse_text(text: str, file: str) -> SourceDocument:
    """Parse YAML text; see ``read_source``."""
    doc = SourceDocument(file=file)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            doc.diagnostics.append(Diagnostic("MS107", "the file is empty", Location(file, 1, 1)))
            return doc
        _walk(node, (), doc, loader)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        problem = explain(exc, text)
        doc.diagnostics.append(Diagnostic("MS101", problem.message, Location(file, problem.line, problem.column),
                                          hint=problem.hint))
        return doc
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        doc.diagnostics.append(Diagnostic(
            "MS101", f"control character U+{exc.character:04X} is not allowed in YAML"
            if isinstance(exc.character, int) else str(exc), Location(file, line, column)))
        return doc
    except yaml.YAMLError as exc:
        doc.diagnostics.append(Diagnostic("MS101", str(exc), Location(file, 1, 1)))
        return doc
    except RecursionError:  # the parser itself gave up
        doc.diagnostics.append(Diagnostic(
            "MS101", f"the document is nested more than {MAX_DEPTH} levels deep", Location(file, 1, 1)))
        return doc
    except _Recursive as exc:
        mark = exc.node.start_mark
        doc.diagnostics.append(Diagnostic(
            "MS101", "the node anchored here contains an alias to itself (recursive data)",
            Location(file, mark.line + 1, mark.column + 1)))
        doc.values.clear()
        return doc
    except _TooBig as exc:
        mark = exc.node.start_mark if exc.node is not None else None
        doc.diagnostics.append(Diagnostic(
            "MS101", str(exc), Location(file, mark.line + 1 if mark else 1, mark.column + 1 if mark else 1)))
        doc.values.clear()
        return doc
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict):
        what = _TYPE_WORDS.get(type(data).__name__, type(data).__name__)
        doc.diagnostics.append(Diagnostic(
            "MS107", f"the top level is {what}, not a mapping (key: value pairs)", Location(file, 1, 1)))
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
