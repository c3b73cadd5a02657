"""Reading a rule set folder: ``ruleset.yaml``, its mapping files, and ``extends`` chains.

The result is a ``RawRuleSet``: the schema-checked documents of every level, merged (systems and
settings of the derived rule set over those it extends; a mapping file with the same ``name``
replacing the inherited one; ``overrides`` collected per mapping), each value still tied to the file
and position it came from. ``compiler`` turns it into the typed model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from mapsync.engine.diagnostics import Diagnostic, Location
from mapsync.engine.ruleset.schema import check_schema
from mapsync.engine.ruleset.source import PathKey, SourceDocument, read_source

RULESET_FILE = "ruleset.yaml"


@dataclass(frozen=True)
class Located:
    """A value in a document, with the document it came from and its path there."""

    doc: SourceDocument
    path: PathKey

    @cached_property
    def value(self) -> Any:
        current: Any = self.doc.data
        for part in self.path:
            current = current[part]
        return current

    def child(self, *parts: str | int) -> Located:
        return Located(self.doc, (*self.path, *parts))

    def get(self, key: str) -> Located | None:
        value = self.value
        if isinstance(value, dict) and key in value:
            child = Located(self.doc, (*self.path, key))
            child.__dict__["value"] = value[key]  # what ``value`` would find by walking the path again
            return child
        return None

    def location(self, *, key: bool = False) -> Location:
        return self.doc.location(self.path, key=key)


@dataclass
class RawSystem:
    connector: Located | None = None
    declared: bool = False  # some level has a `systems.<side>` entry (the schema checks its content)
    connection: dict[str, Located] = field(default_factory=dict)


@dataclass
class RawRuleSet:
    """Everything read from a rule set folder and the ones it extends, merged, with positions."""

    folder: Path
    root: SourceDocument
    name: str = ""
    description: str = ""
    systems: dict[str, RawSystem] = field(default_factory=lambda: {"crm": RawSystem(), "erp": RawSystem()})
    settings: dict[str, Any] = field(default_factory=dict)
    guardrails: dict[str, Any] = field(default_factory=dict)
    mappings: dict[str, SourceDocument] = field(default_factory=dict)
    overrides: dict[str, list[Located]] = field(default_factory=dict)
    # Where each setting (and each group of settings) got its value: the last level that wrote it.
    setting_origins: dict[tuple[str, ...], Located] = field(default_factory=dict)
    guardrail_origins: dict[str, Located] = field(default_factory=dict)  # likewise, per guardrail
    top_origins: dict[str, Located] = field(default_factory=dict)  # `name` and `description`
    files: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    incomplete: bool = False  # some level could not be read or followed: what is missing is not news


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def display_path(path: Path, *, resolved: bool = False) -> str:
    """Paths in diagnostics: relative to the working directory when below it (``resolved``: ``path`` is already
    absolute, without links)."""
    try:
        return str((path if resolved else path.resolve()).relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _resolve(base: Path, entry: str) -> Path | None:
    """``entry`` relative to ``base``, resolved; None for a path the system cannot even look at."""
    try:
        return (base / entry).resolve()
    except (OSError, ValueError, RuntimeError):  # NUL bytes, symlink loops, names too long
        return None


PACKAGED = "mapsync:"  # ``extends: mapsync:standard/fortnox`` names a rule set shipped with mapsync


def resolve_extends(base: Path, entry: str) -> Path | None:
    """The folder an ``extends`` names: ``mapsync:standard/fortnox`` is the standard rule set installed with
    mapsync (wherever it is installed); anything else is a path relative to the extending rule set."""
    if entry.startswith(PACKAGED):
        from mapsync import STANDARD_RULES  # the package root, not this subpackage

        packaged = _resolve(STANDARD_RULES, entry[len(PACKAGED):].strip().strip("/"))
        root = _resolve(STANDARD_RULES, ".")
        return packaged if packaged is not None and root is not None and packaged.is_relative_to(root) else None
    return _resolve(base, entry)


def is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def unreadable(doc: SourceDocument) -> bool:
    """Whether the file of ``doc`` could not be read at all."""
    return doc.data is None and any(d.code == "MS104" for d in doc.diagnostics)


def read_checked(path: Path) -> SourceDocument:
    """Read one rule file and check it against its schema."""
    doc = read_source(path, display_path(path))
    doc.diagnostics.extend(check_schema(doc))
    return doc


def load_raw(folder: Path, _stack: tuple[Path, ...] = ()) -> RawRuleSet:
    """Read a rule set folder (and what it extends). Problems are collected, never raised."""
    folder = folder.resolve()
    root = read_checked(folder / RULESET_FILE)
    raw = RawRuleSet(folder=folder, root=root)
    raw.files.append(root.file)
    raw.diagnostics.extend(root.diagnostics)
    if root.data is None:
        raw.incomplete = True
        return raw
    top = Located(root, ())
    extends = top.get("extends")
    if extends is not None and isinstance(extends.value, str) and extends.value.strip():
        target = resolve_extends(folder, extends.value)
        if target is not None and target in (*_stack, folder):
            chain = " -> ".join(display_path(p) for p in (*_stack, folder, target))
            raw.diagnostics.append(Diagnostic("MS105", f"extends cycle: {chain}", extends.location()))
            raw.incomplete = True
        elif target is None or not is_file(target / RULESET_FILE):
            where = display_path(target) if target is not None else repr(extends.value)
            raw.diagnostics.append(Diagnostic(
                "MS106", f"{extends.value!r} is not a rule set folder (no {RULESET_FILE} in {where})",
                extends.location()))
            raw.incomplete = True
        else:
            parent = load_raw(target, (*_stack, folder))
            raw.incomplete = parent.incomplete
            if unreadable(parent.root):
                raw.diagnostics.append(Diagnostic(
                    "MS104", parent.root.diagnostics[0].message,
                    extends.location()))
            else:
                raw.diagnostics.extend(parent.diagnostics)
                raw.files.extend(parent.files)
                raw.name, raw.description = parent.name, parent.description
                raw.systems, raw.settings = parent.systems, parent.settings
                raw.guardrails = parent.guardrails
                raw.mappings, raw.overrides = parent.mappings, parent.overrides
                raw.setting_origins = parent.setting_origins
                raw.guardrail_origins = parent.guardrail_origins
                raw.top_origins = parent.top_origins
    _apply_level(raw, top)
    return raw


def _apply_level(raw: RawRuleSet, top: Located) -> None:
    data = top.value
    raw.name = data.get("name", raw.name) if isinstance(data.get("name"), str) else raw.name
    if isinstance(data.get("description"), str):
        raw.description = data["description"]
    raw.top_origins.update({key: top.child(key) for key in ("name", "description")
                            if isinstance(data.get(key), str)})
    systems = top.get("systems")
    if systems is not None and isinstance(systems.value, dict):
        for side in ("crm", "erp"):
            entry = systems.get(side)
            if entry is None:
                continue
            system = raw.systems.setdefault(side, RawSystem())
            system.declared = True
            if not isinstance(entry.value, dict):
                continue
            connector = entry.get("connector")
            if connector is not None:
                system.connector = connector
            connection = entry.get("connection")
            if connection is not None and isinstance(connection.value, dict):
                for key in connection.value:
                    system.connection[key] = connection.child(key)
    settings = top.get("settings")
    if settings is not None and isinstance(settings.value, dict):
        raw.settings = _deep_merge(raw.settings, settings.value)
        _record_origins(raw.setting_origins, settings, ())
    _check_version(raw, top)
    guardrails = top.get("guardrails")
    if guardrails is not None and isinstance(guardrails.value, dict):
        raw.guardrails = {**raw.guardrails, **guardrails.value}
        raw.guardrail_origins.update({str(key): guardrails.child(key) for key in guardrails.value})
    mappings = top.get("mappings")
    if mappings is not None and isinstance(mappings.value, list):
        _read_mappings(raw, mappings)
    overrides = top.get("overrides")
    if overrides is not None and isinstance(overrides.value, dict):
        for name in overrides.value:
            raw.overrides.setdefault(str(name), []).append(overrides.child(name))


def _record_origins(origins: dict[tuple[str, ...], Located], at: Located, prefix: tuple[str, ...]) -> None:
    """Note where each setting of one level was written (as ``_deep_merge`` merges them)."""
    for key in at.value:
        if not isinstance(key, str):
            continue
        child = at.child(key)
        path = (*prefix, key)
        if not isinstance(child.value, dict):  # replaces whatever group the levels below had here
            for stale in [p for p in origins if len(p) > len(path) and p[:len(path)] == path]:
                del origins[stale]
        origins[path] = child
        if isinstance(child.value, dict):
            _record_origins(origins, child, path)


def is_overlay(doc: SourceDocument) -> bool:
    """Whether ``doc`` is the ruleset.yaml of a rule set that extends another (a customer's overlay)."""
    return isinstance(doc.data, dict) and "extends" in doc.data


def _check_version(raw: RawRuleSet, top: Located) -> None:
    """``mapsync: ">=0.1, <0.2"``: the versions a rule set was written for (each level may state its own)."""
    stated = top.get("mapsync")
    if stated is None or not isinstance(stated.value, str):
        return  # absent, or the schema reports the type
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from mapsync.engine import __version__

    try:
        accepted = SpecifierSet(stated.value)
    except InvalidSpecifier:
        raw.diagnostics.append(Diagnostic("MS109", f"{stated.value!r} is not a version specifier "
                                          "(write it like '>=0.1, <0.2')", stated.location()))
        return
    if not accepted.contains(__version__, prereleases=True):
        raw.diagnostics.append(Diagnostic("MS109", f"this rule set was written for mapsync {stated.value}; "
                                          f"this is mapsync {__version__}", stated.location()))


def _read_mappings(raw: RawRuleSet, mappings: Located) -> None:
    seen_here: dict[str, SourceDocument] = {}
    read: set[Path] = set()
    for index, entry in enumerate(mappings.value):
        if not isinstance(entry, str) or not entry.strip():
            continue  # the schema reported it
        located = mappings.child(index)
        path = _resolve(raw.folder, entry)
        if path in read:
            continue  # listed twice: the schema reported it
        doc = read_source(path, display_path(path, resolved=True)) if path is not None else None
        if doc is None or unreadable(doc):
            reason = doc.diagnostics[0].message if doc is not None else "not a usable path"
            raw.diagnostics.append(Diagnostic(
                "MS104", f"mapping file {entry!r} not found or unreadable ({reason})", located.location()))
            continue
        assert path is not None
        read.add(path)
        doc.diagnostics.extend(check_schema(doc))
        raw.diagnostics.extend(doc.diagnostics)
        raw.files.append(doc.file)
        if doc.data is None:
            continue
        name = doc.data.get("name")
        if not isinstance(name, str):
            continue
        if name in seen_here:
            raw.diagnostics.append(Diagnostic(
                "MS310", f"mapping name {name!r} is also used by {seen_here[name].file}",
                doc.location(("name",))))
            continue
        seen_here[name] = doc
        raw.mappings[name] = doc  # same name as an inherited mapping: replaces it
