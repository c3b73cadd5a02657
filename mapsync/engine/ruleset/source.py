"""Reading one YAML rule file safely, keeping the line and column of every node.

``read_source(path)`` returns a ``SourceDocument``: the plain data (dicts, lists, scalars built by
PyYAML's safe constructor) and a table from JSON path to position, so that every later stage can
report ``file:line:column`` for any value or key. Problems (unreadable file, bad encoding, YAML syntax,
duplicate keys, a top level that is not a mapping) come back as diagnostics, never as exceptions.

Hostile files are refused in bounded time: a file larger than ``MAX_BYTES`` (or not a regular file: a FIFO,
a device) before a byte of it is parsed; nesting deeper than ``MAX_DEPTH`` by the scanner as soon as it
opens the level too many; more than ``MAX_NODES`` values once aliases are expanded before any is built.

A plain document (texts, numbers, booleans, nulls, dates, lists, mappings, aliases: every rule file in practice)
is read quickly: composed by libyaml in C, then its data, positions and duplicate keys made in one pass
(``_load_quickly``). Whatever that reading does not take or finds wrong is read again the exact way (libyaml's
events composed in Python with the bounds above, then PyYAML's own parser for the plain-words message of a YAML
error), so that what is reported does not depend on which reading ran.
"""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from mapsync.engine.diagnostics import Diagnostic, Location

PathKey = tuple[Any, ...]  # mapping keys (mostly texts) and list indexes


def json_path(path: PathKey) -> str:
    """``("fields", 2, "crm")`` -> ``$.fields[2].crm``."""
    return "$" + "".join(map(_json_step, path))


def _json_step(part: Any) -> str:
    if isinstance(part, int) and not isinstance(part, bool):
        return f"[{part}]"
    if isinstance(part, str) and part.isidentifier():
        return f".{part}"
    return f"[{part!r}]"  # other keys, including YAML's null, true and numbers


@dataclass
class SourceDocument:
    """One parsed rule file with positions. ``data`` is None when the file could not be read."""

    file: str
    data: Any = None
    values: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    keys: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    json_paths: dict[PathKey, str] = field(default_factory=dict, repr=False, compare=False)
    """``json_path`` of the paths located so far, each made from its parent's (a rule's many locations)."""

    def location(self, path: PathKey, *, key: bool = False) -> Location:
        """Location of the value at ``path`` (or of its key), falling back to the nearest parent."""
        table = self.keys if key else self.values
        probe = path
        while True:
            pos = table.get(probe) or self.values.get(probe)
            if pos is not None:
                return Location(self.file, pos[0], pos[1], self.json_path(path))
            if not probe:
                return Location(self.file, 1, 1, self.json_path(path))
            probe = probe[:-1]

    def json_path(self, path: PathKey) -> str:
        known = self.json_paths.get(path)
        if known is None:
            known = self.json_path(path[:-1]) + _json_step(path[-1]) if path else "$"
            self.json_paths[path] = known
        return known


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


MAX_BYTES = 256 * 1024
"""A rule file larger than this is refused before it is parsed (the largest standard rule file is 3 kB)."""
MAX_NODES = 100_000
"""More nodes than this (after expanding aliases) is refused: a rule file is never that big."""
MAX_DEPTH = 64
"""Nor is a rule file ever nested this deep; refusing it keeps every later stage safe from recursion limits."""


class _TooBig(Exception):
    def __init__(self, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.mark = mark


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
        raise _TooBig(f"the document has more than {MAX_NODES} values once aliases are expanded",
                      node.start_mark)
    if len(stack) >= MAX_DEPTH:
        raise _TooBig(f"the document is nested more than {MAX_DEPTH} levels deep", node.start_mark)
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


class _Constructing(yaml.constructor.SafeConstructor):
    """The safe constructor, with every failure to build a value turned into a located YAML error."""

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


class _Loader(_Constructing, yaml.SafeLoader):
    """PyYAML's own safe loader (pure Python), with nesting refused by the scanner at the level too many (its
    scanner is quadratic in the flow depth)."""

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise yaml.scanner.ScannerError(
                None, None, f"the document is nested more than {MAX_DEPTH} levels deep", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def add_indent(self, column: int) -> bool:
        if len(self.indents) >= MAX_DEPTH and self.indent < column:
            raise yaml.scanner.ScannerError(
                None, None, f"the document is nested more than {MAX_DEPTH} levels deep", self.get_mark())
        return bool(super().add_indent(column))


class _Composing(yaml.composer.Composer):
    """PyYAML's composer, over libyaml's events: nesting and the number of nodes bounded as nodes are made."""

    _depth = 0
    _nodes = 0

    def _mark(self) -> Any:
        return self.peek_event().start_mark  # type: ignore[attr-defined]  # the parser's, mixed in

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _TooBig(f"the document has more than {MAX_NODES} values", self._mark())
        if self._depth >= MAX_DEPTH:
            raise _TooBig(f"the document is nested more than {MAX_DEPTH} levels deep", self._mark())
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_FastLoader: type[Any] | None = None
try:
    from yaml.cyaml import CParser  # type: ignore[attr-defined]
except ImportError:  # PyYAML built without libyaml: its own parser reads everything
    pass
else:
    class _LibyamlLoader(_Constructing, _Composing, CParser, yaml.resolver.Resolver):
        """libyaml's parser (C) with the composer and constructor above (Python): same nodes, same data."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _Composing.__init__(self)
            _Constructing.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    _FastLoader = _LibyamlLoader


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_C_DEPTH = 1_000
"""libyaml's composer (C) recurses without a bound: it composes only a text that cannot nest this deep."""


class _Unusual(Exception):
    """A document the quick reading leaves to the exact one: a tag other than texts, numbers, booleans, nulls,
    dates, lists and mappings; a merge key; a key that is a list or mapping."""


def _nesting_bound(text: str) -> int:
    """A depth no document of ``text`` can exceed: a block collection nested in another starts at a greater column
    (or, a list under a key, at the same one, once), and each flow level opens with ``[`` or ``{``."""
    widest = max(map(len, text.splitlines()), default=0)
    return 2 * widest + 2 + text.count("[") + text.count("{")


def _build(node: yaml.Node, path: PathKey, doc: SourceDocument, loader: Any, stack: tuple[int, ...],
           built: dict[int, Any]) -> Any:
    """The value of ``node``, its positions (and those of everything in it) noted in ``doc``: ``_walk`` and the
    safe constructor in one pass, for the documents they would read plainly (else ``_Unusual``)."""
    if id(node) in stack:
        raise _Recursive(node)
    if id(node) in built:  # an alias: the anchored value itself, as the safe constructor shares it
        _walk(node, path, doc, loader, stack)
        return built[id(node)]
    if len(doc.values) >= MAX_NODES:
        raise _TooBig(f"the document has more than {MAX_NODES} values once aliases are expanded",
                      node.start_mark)
    if len(stack) >= MAX_DEPTH:
        raise _TooBig(f"the document is nested more than {MAX_DEPTH} levels deep", node.start_mark)
    mark = node.start_mark
    doc.values[path] = (mark.line + 1, mark.column + 1)
    tag = node.tag
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = node.value if tag == _STR_TAG else loader.yaml_constructors[tag](loader, node)
    elif isinstance(node, yaml.MappingNode):
        if tag != _MAP_TAG:
            raise _Unusual(tag)
        inner = (*stack, id(node))
        value = {}
        seen: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            key_tag = key_node.tag
            if not isinstance(key_node, yaml.ScalarNode) or key_tag == _MERGE_TAG:
                raise _Unusual(key_tag)
            key = key_node.value if key_tag == _STR_TAG else loader.yaml_constructors[key_tag](loader, key_node)
            hash(key)
            child = (*path, key)
            key_mark = key_node.start_mark
            if key in seen:
                doc.diagnostics.append(Diagnostic(
                    "MS103", f"key {key!r} appears twice (first at line {seen[key].start_mark.line + 1})",
                    Location(doc.file, key_mark.line + 1, key_mark.column + 1, json_path(child))))
            seen[key] = key_node
            doc.keys[child] = (key_mark.line + 1, key_mark.column + 1)
            value[key] = _build(value_node, child, doc, loader, inner, built)
    elif tag == _SEQ_TAG:
        inner = (*stack, id(node))
        value = [_build(item, (*path, index), doc, loader, inner, built) for index, item in enumerate(node.value)]
    else:
        raise _Unusual(tag)
    built[id(node)] = value
    return value


def _load_quickly(text: str, doc: SourceDocument) -> Any:
    """The data of ``text`` (``_EMPTY`` for no document) composed by libyaml in C and built with its positions
    in one pass; any exception means "read it the exact way" (``_load``), which reports what is wrong."""
    if _nesting_bound(text) >= _C_DEPTH:
        raise _Unusual("deep")
    loader = yaml.CSafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return _EMPTY
        return _build(node, (), doc, loader, (), {})
    finally:
        loader.dispose()


_TAG_WORDS = {"timestamp": "a date", "float": "a number", "int": "a whole number", "bool": "true or false"}
_TYPE_WORDS = {"list": "a list", "str": "a text", "int": "a number", "float": "a number", "bool": "true or false",
               "NoneType": "empty (null)"}


_EMPTY: Any = object()


def _load(loader_class: type[Any], text: str, doc: SourceDocument) -> Any:
    """The data of ``text`` (``_EMPTY`` for no document), its positions noted in ``doc``."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return _EMPTY
        _walk(node, (), doc, loader)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _refused(doc: SourceDocument, exc: Exception) -> SourceDocument:
    """A document refused for its shape (recursive, too big, too deep), whichever parser found it."""
    if isinstance(exc, _Recursive):
        mark = exc.node.start_mark
        doc.diagnostics.append(Diagnostic(
            "MS101", "the node anchored here contains an alias to itself (recursive data)",
            Location(doc.file, mark.line + 1, mark.column + 1)))
    elif isinstance(exc, _TooBig):
        mark = exc.mark
        doc.diagnostics.append(Diagnostic(
            "MS101", str(exc), Location(doc.file, mark.line + 1 if mark else 1, mark.column + 1 if mark else 1)))
    else:  # RecursionError: the parser itself gave up
        doc.diagnostics.append(Diagnostic(
            "MS101", f"the document is nested more than {MAX_DEPTH} levels deep", Location(doc.file, 1, 1)))
    doc.values.clear()
    doc.keys.clear()
    return doc


def parse_text(text: str, file: str) -> SourceDocument:
    """Parse YAML text; see ``read_source``. libyaml's parser reads it when it is installed (twenty times faster
    than PyYAML's own), first the quick way, then, for a document that way does not take, the exact way; a file
    libyaml finds wrong is read again by PyYAML's, whose errors ``yamlerrors`` explains, and so is a file with a
    tab (libyaml accepts tabs in places where PyYAML, and so mapsync, refuse them)."""
    doc = SourceDocument(file=file)
    if _FastLoader is not None and "\t" not in text:  # libyaml takes tabs where PyYAML refuses them
        try:
            return _finish(doc, _load_quickly(text, doc))
        except Exception:  # anything at all: the exact reading below decides and reports
            doc = SourceDocument(file=file)
        try:
            return _finish(doc, _load(_FastLoader, text, doc))
        except yaml.YAMLError:
            doc = SourceDocument(file=file)  # read again below, for the plain-words message
        except (_Recursive, _TooBig, RecursionError) as exc:
            return _refused(doc, exc)
    try:
        data = _load(_Loader, text, doc)
    except yaml.MarkedYAMLError as exc:
        from mapsync.engine.ruleset.yamlerrors import explain  # only for a file with a YAML error

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
    except (_Recursive, _TooBig, RecursionError) as exc:
        return _refused(doc, exc)
    return _finish(doc, data)


def _finish(doc: SourceDocument, data: Any) -> SourceDocument:
    file = doc.file
    if data is _EMPTY:
        doc.diagnostics.append(Diagnostic("MS107", "the file is empty", Location(file, 1, 1)))
        return doc
    if not isinstance(data, dict):
        what = _TYPE_WORDS.get(type(data).__name__, type(data).__name__)
        doc.diagnostics.append(Diagnostic(
            "MS107", f"the top level is {what}, not a mapping (key: value pairs)", Location(file, 1, 1)))
        return doc
    doc.data = data
    return doc




def _open(path: Path) -> BinaryIO:
    """``path`` opened for reading without blocking (a FIFO with no writer does not wait for one)."""
    return open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb")


def _read_bounded(path: Path, doc: SourceDocument) -> bytes | None:
    """The bytes of a regular file of at most ``MAX_BYTES``; None (and a diagnostic) otherwise. The size is
    checked on the open file, and no more than ``MAX_BYTES + 1`` bytes are ever read (a file that grows). Opened
    without blocking: a FIFO with no writer is refused at once, not waited for."""
    file = doc.file
    try:
        with _open(path) as stream:
            info = os.fstat(stream.fileno())
            if not stat.S_ISREG(info.st_mode):
                doc.diagnostics.append(Diagnostic(
                    "MS104", f"cannot read {file}: not a regular file (a device, pipe or socket)",
                    Location(file, 0, 0)))
                return None
            raw = stream.read(MAX_BYTES + 1) if info.st_size <= MAX_BYTES else b""
            size = max(info.st_size, len(raw))
    except OSError as exc:
        doc.diagnostics.append(Diagnostic(
            "MS104", f"cannot read {file}: {exc.strerror or exc}", Location(file, 0, 0)))
        return None
    except ValueError as exc:  # a NUL byte in the path
        doc.diagnostics.append(Diagnostic("MS104", f"cannot read {file}: {exc}", Location(file, 0, 0)))
        return None
    if size > MAX_BYTES:
        doc.diagnostics.append(Diagnostic(
            "MS110", f"the file has {size:,} bytes; a rule file is at most {MAX_BYTES:,} bytes, "
            "so it is not read", Location(file, 1, 1)))
        return None
    return raw


def read_source(path: Path, display: str | None = None) -> SourceDocument:
    """Read and parse one YAML file. Never raises for user mistakes."""
    file = display or str(path)
    doc = SourceDocument(file=file)
    raw = _read_bounded(path, doc)
    if raw is None:
        return doc
    holder = SourceDocument(file=file)
    text = _decode(raw, holder)
    if text is None:
        return holder
    return parse_text(text, file)
