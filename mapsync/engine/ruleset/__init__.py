"""Rule sets: reading, schema validation, compilation and semantic checks.

``load_ruleset(folder)`` runs the whole pipeline (YAML with positions -> JSON Schema -> merged
``extends`` chain -> compiled frozen model -> checks against the field catalogues) and returns the
``RuleSet`` the engine runs, with every diagnostic found. ``validate_paths`` is what
``mapsync validate`` calls: rule set folders or single rule files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from mapsync.engine.diagnostics import Diagnostic, Severity, sort_diagnostics
from mapsync.engine.ruleset.compiler import Compilation, compile_lone_mapping, compile_raw, freeze
from mapsync.engine.ruleset.loader import RULESET_FILE, display_path, is_file, load_raw, read_checked, unreadable
from mapsync.engine.ruleset.model import (
    ConflictPolicy,
    Direction,
    FieldRule,
    FieldSide,
    FirstContactPolicy,
    Guardrails,
    KeyPair,
    LineRule,
    MappingRule,
    RuleSet,
    Side,
    SystemConfig,
    UnmappedPolicy,
    WritePolicy,
)
from mapsync.engine.ruleset.semantics import check

__all__ = [
    "ConflictPolicy",
    "Direction",
    "FieldRule",
    "FieldSide",
    "FirstContactPolicy",
    "Guardrails",
    "KeyPair",
    "LineRule",
    "LoadResult",
    "MappingRule",
    "RuleSet",
    "Side",
    "SystemConfig",
    "UnmappedPolicy",
    "UsageError",
    "WritePolicy",
    "load_ruleset",
    "validate_paths",
]


class UsageError(Exception):
    """A path that is not a rule set or rule file (exit code 2)."""


@dataclass
class LoadResult:
    ruleset: RuleSet | None
    diagnostics: list[Diagnostic]
    files: list[str] = field(default_factory=list)
    compilation: Compilation | None = None  # everything compiled, with the rules switched off (render)

    @property
    def ok(self) -> bool:
        return self.ruleset is not None and not any(d.severity is Severity.ERROR for d in self.diagnostics)


def _ordered(comp: Compilation) -> tuple[MappingRule, ...]:
    """Enabled mappings, parents before children (stable otherwise)."""
    enabled = [m.rule for m in comp.mappings if m.enabled]
    names = {m.name for m in enabled}
    done: list[MappingRule] = []
    placed: set[str] = set()
    pending = list(enabled)
    while pending:
        progressed = False
        for m in list(pending):
            if m.parent is None or m.parent in placed or m.parent not in names:
                done.append(m)
                placed.add(m.name)
                pending.remove(m)
                progressed = True
        if not progressed:  # a parent cycle (semantics reported it): keep file order
            done.extend(pending)
            break
    return tuple(done)


def compile_folder(folder: Path, environ: Mapping[str, str] | None = None,
                   env_severity: Severity = Severity.WARNING) -> tuple[Compilation, list[Diagnostic]]:
    """Load, compile and check a rule set folder. ``UsageError`` when its ruleset.yaml cannot be read."""
    raw = load_raw(folder)
    if unreadable(raw.root):
        raise UsageError(raw.root.diagnostics[0].message)
    comp = compile_raw(raw)
    diags = [*raw.diagnostics, *comp.diagnostics]
    if raw.root.data is not None:
        diags.extend(check(comp, environ, env_severity))
    return comp, diags


def load_ruleset(folder: Path | str, environ: Mapping[str, str] | None = None, *,
                 for_run: bool = False) -> LoadResult:
    """Load, compile and check a rule set folder. ``for_run`` makes unset environment variables errors."""
    folder = Path(folder)
    if not (folder / RULESET_FILE).is_file():
        raise UsageError(f"{display_path(folder)} is not a rule set folder (no {RULESET_FILE})")
    comp, diags = compile_folder(folder, environ, Severity.ERROR if for_run else Severity.WARNING)
    mappings = _ordered(comp)
    diags = sort_diagnostics([*diags, *comp.diagnostics])
    ruleset = None
    if comp.crm is not None and comp.erp is not None and not any(d.severity is Severity.ERROR for d in diags):
        ruleset = RuleSet(
            name=comp.raw.name,
            description=comp.raw.description,
            folder=str(comp.raw.folder),
            crm=comp.crm,
            erp=comp.erp,
            settings=MappingProxyType(dict(freeze(comp.raw.settings))),
            mappings=mappings,
            files=tuple(comp.raw.files),
            guardrails=Guardrails.from_dict(comp.raw.guardrails),
        )
    return LoadResult(ruleset, diags, list(dict.fromkeys(comp.raw.files)), comp)


def _validate_file(path: Path, folders: dict[Path, tuple[Compilation, list[Diagnostic]]]) \
        -> tuple[list[Diagnostic], list[str]]:
    """A single rule file: within its rule set when it belongs to one, else on its own. ``folders``: the rule
    sets already compiled by this validation (several files of one rule set compile it once)."""
    doc = read_checked(path)
    if unreadable(doc):
        raise UsageError(doc.diagnostics[0].message)
    folder = path.parent
    if is_file(folder / RULESET_FILE):
        key = folder.resolve()
        if key not in folders:
            folders[key] = compile_folder(folder)
        comp, diags = folders[key]
        if doc.file in comp.raw.files:
            return [d for d in diags if d.location.file == doc.file], [doc.file]
    # Not part of a rule set: schema and compile checks only (no settings, no catalogues).
    diags = list(doc.diagnostics)
    if doc.data is not None and path.name != RULESET_FILE:
        diags.extend(compile_lone_mapping(doc))
    return diags, [doc.file]


def validate_paths(paths: Sequence[str | Path]) -> tuple[list[Diagnostic], list[str]]:
    """Validate rule set folders and single rule files; raises ``UsageError`` for unusable paths."""
    diagnostics: list[Diagnostic] = []
    files: list[str] = []
    folders: dict[Path, tuple[Compilation, list[Diagnostic]]] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            if not (path / RULESET_FILE).is_file():
                raise UsageError(f"{given}: folder has no {RULESET_FILE}")
            key = path.resolve()
            if key not in folders:
                folders[key] = compile_folder(path)
            comp, diags = folders[key]
            diagnostics.extend(diags)
            files.extend(comp.raw.files)
        elif path.is_file():
            diags, checked = _validate_file(path, folders)
            diagnostics.extend(diags)
            files.extend(checked)
        else:
            raise UsageError(f"{given}: no such file or folder")
    return sort_diagnostics(diagnostics), list(dict.fromkeys(files))
