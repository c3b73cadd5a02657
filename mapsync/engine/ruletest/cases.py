"""Rule test files: finding them, reading them with positions, and turning them into frozen ``RuleTest`` objects.

A rule test file is YAML named ``*.test.yaml`` anywhere in the rule set's folder (hidden folders and
``snapshots/`` left out), checked against ``mapsync/schemas/ruletest.schema.json`` and then against the rule
set: the mapping must exist, the records must fit the test, the matchers must be valid. Every problem of
every file comes back at once as a located diagnostic (MS1xx YAML, MS2xx schema, MS6xx rule tests); the
tests that are sound still run. Expected values are compiled here, once (``matchers.compile_expected``).
The format is documented in docs/testing.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mapsync.connectors.catalogue import Catalogue
from mapsync.engine.diagnostics import Diagnostic, Location
from mapsync.engine.ruleset import RuleSet, Side
from mapsync.engine.ruleset.loader import display_path
from mapsync.engine.ruleset.schema import check_schema
from mapsync.engine.ruleset.source import PathKey, SourceDocument, read_source
from mapsync.engine.ruletest.matchers import Expected, MatcherError, compile_expected
from mapsync.engine.snapshot import SnapshotError, SnapshotFolder

TEST_SUFFIX = ".test.yaml"
TEST_SCHEMA = "ruletest.schema.json"
_SKIPPED_FOLDERS = {"snapshots", "node_modules", "__pycache__"}

Record = dict[str, Any]


@dataclass(frozen=True)
class ExpectedValue:
    """An expected value and where the test wrote it."""

    expected: Expected
    location: Location


@dataclass(frozen=True)
class Expectation:
    """What a test expects of the record plan; None where it expects nothing."""

    location: Location
    action: str | None = None
    target: str | None = None
    writes: MappingProxyType[Side, MappingProxyType[str, ExpectedValue]] = field(
        default_factory=lambda: MappingProxyType({}))
    only: bool = False
    mapped: MappingProxyType[str, ExpectedValue] | None = None
    held: tuple[str, ...] | None = None
    conflicts: tuple[str, ...] | None = None
    reason: ExpectedValue | None = None
    locations: MappingProxyType[str, Location] = field(default_factory=lambda: MappingProxyType({}))

    def where(self, key: str) -> Location:
        return self.locations.get(key, self.location)


@dataclass(frozen=True)
class RuleTest:
    """One rule test: the records a pass would find, and what its plan for the ``source`` record must be."""

    name: str
    location: Location
    mapping: str
    source: Side
    records: MappingProxyType[Side, Record]  # the test's crm and erp records (one or both)
    base: MappingProxyType[Side, Record] | None  # per side, the fields that differed at the last sync: linked
    others: MappingProxyType[Side, MappingProxyType[str, tuple[Record, ...]]]  # other records per entity
    links: tuple[tuple[str, str, str], ...]  # (mapping, crm id, erp id) the state store holds
    expect: Expectation

    @property
    def file(self) -> str:
        return self.location.file


@dataclass
class TestFiles:
    """The rule tests found, the files read, and every problem found in them."""

    tests: list[RuleTest] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def find_test_files(folder: Path) -> list[Path]:
    """Every ``*.test.yaml`` below ``folder``, sorted, outside hidden folders and ``snapshots/``."""
    found = []
    for path in sorted(folder.rglob(f"*{TEST_SUFFIX}")):
        parts = path.relative_to(folder).parts[:-1]
        if any(p.startswith(".") or p in _SKIPPED_FOLDERS for p in parts):
            continue
        if path.is_file():
            found.append(path)
    return found


class _Reader:
    """Builds the tests of one document, collecting diagnostics instead of raising."""

    def __init__(self, doc: SourceDocument, ruleset: RuleSet, catalogues: dict[Side, Catalogue]) -> None:
        self.doc = doc
        self.ruleset = ruleset
        self.catalogues = catalogues
        self.mappings = {m.name: m for m in ruleset.mappings}
        self.diagnostics: list[Diagnostic] = []
        self.snapshots: dict[Path, SnapshotFolder] = {}

    def error(self, code: str, message: str, path: PathKey, hint: str = "", *, key: bool = False) -> None:
        self.diagnostics.append(Diagnostic(code, message, self.doc.location(path, key=key), hint=hint))

    def expected(self, value: Any, path: PathKey) -> ExpectedValue | None:
        try:
            return ExpectedValue(compile_expected(value), self.doc.location(path))
        except MatcherError as exc:
            self.error("MS602", str(exc), path)
            return None

    def values(self, data: Any, path: PathKey) -> MappingProxyType[str, ExpectedValue] | None:
        if not isinstance(data, dict):
            return None
        out: dict[str, ExpectedValue] = {}
        for name, value in data.items():
            compiled = self.expected(value, (*path, name))
            if compiled is not None:
                out[str(name)] = compiled
        return MappingProxyType(out)

    def expectation(self, data: dict[str, Any], path: PathKey) -> Expectation:
        writes = {}
        for side in Side:
            values = self.values(data.get(side.value), (*path, side.value))
            if values is not None:
                writes[side] = values
        reason = self.expected(data["reason"], (*path, "reason")) if "reason" in data else None
        return Expectation(
            location=self.doc.location(path),
            action=data.get("action"),
            target=data.get("target"),
            writes=MappingProxyType(writes),
            only=bool(data.get("only", False)),
            mapped=self.values(data.get("mapped"), (*path, "mapped")),
            held=tuple(data["held"]) if "held" in data else None,
            conflicts=tuple(data["conflicts"]) if "conflicts" in data else None,
            reason=reason,
            locations=MappingProxyType({key: self.doc.location((*path, key)) for key in data}),
        )

    def others(self, data: dict[str, Any], path: PathKey) -> dict[Side, MappingProxyType[str, tuple[Record, ...]]]:
        out: dict[Side, MappingProxyType[str, tuple[Record, ...]]] = {}
        for side in Side:
            entities = data.get(side.value) or {}
            catalogue = self.catalogues[side]
            kept = {}
            for entity, records in entities.items():
                if catalogue.entity(entity) is None:
                    self.error("MS603", f"{catalogue.connector} has no entity {entity!r}",
                               (*path, side.value, entity), key=True,
                               hint="entities: " + ", ".join(sorted(catalogue.entities)))
                    continue
                kept[entity] = tuple(dict(r) for r in records)
            out[side] = MappingProxyType(kept)
        return out

    def records(self, data: dict[str, Any], path: PathKey) -> dict[Side, Record]:
        """The test's crm and erp records: as written, or taken from a snapshot by id (``crm_id``, ``erp_id``)
        with the fields written under ``crm``/``erp`` changed."""
        records = {side: dict(data[side.value]) for side in Side if isinstance(data.get(side.value), dict)}
        wanted = {side: data[f"{side.value}_id"] for side in Side if f"{side.value}_id" in data}
        if not wanted:
            return records
        if "snapshot" not in data:
            self.error("MS603", "crm_id and erp_id take records from a snapshot: name it with `snapshot:`",
                       (*path, f"{next(iter(wanted)).value}_id"))
            return records
        folder = Path(self.doc.file).parent / data["snapshot"]
        try:
            snapshot = self.snapshots.get(folder) or SnapshotFolder(folder)
        except SnapshotError as exc:
            self.error("MS603", str(exc), (*path, "snapshot"), hint="the folder is relative to this test file; "
                       "`mapsync snapshot RULESET --out DIR` writes one (docs/rehearsal.md)")
            return records
        self.snapshots[folder] = snapshot
        mapping = self.mappings.get(data["mapping"])
        for side, record_id in wanted.items():
            if mapping is None:
                continue
            try:
                record = snapshot.record(side.value, mapping.entity(side), record_id)
            except SnapshotError as exc:
                self.error("MS603", str(exc), (*path, f"{side.value}_id"))
                continue
            records[side] = {**record, **records.get(side, {})}
        return records

    def test(self, data: dict[str, Any], path: PathKey) -> RuleTest | None:
        count = len(self.diagnostics)
        mapping = self.mappings.get(data["mapping"])
        if mapping is None:
            names = ", ".join(self.mappings)
            self.error("MS601", f"no enabled mapping {data['mapping']!r} in rule set {self.ruleset.name}",
                       (*path, "mapping"), hint=f"mappings: {names}")
        records = self.records(data, path)
        given = Side.CRM in records or "crm_id" in data
        source = Side(data["from"]) if "from" in data else (Side.CRM if given else Side.ERP)
        if source not in records and len(self.diagnostics) == count:  # not already reported by records()
            self.error("MS603", f"the test reads the {source.value} record (from: {source.value}) but gives none",
                       (*path, "from"))
        base = data.get("base")
        if base is not None and len(records) != 2:
            self.error("MS603", "a base makes the crm and erp records a linked pair: give both records",
                       (*path, "base"))
        links = []
        for index, link in enumerate(data.get("links") or []):
            if link["mapping"] not in self.mappings:
                self.error("MS601", f"no enabled mapping {link['mapping']!r} in rule set {self.ruleset.name}",
                           (*path, "links", index, "mapping"))
            links.append((str(link["mapping"]), str(link["crm"]), str(link["erp"])))
        others = self.others(data.get("records") or {}, (*path, "records"))
        expect = self.expectation(data["expect"], (*path, "expect"))
        if len(self.diagnostics) > count:
            return None
        return RuleTest(
            name=data["name"],
            location=self.doc.location(path),
            mapping=data["mapping"],
            source=source,
            records=MappingProxyType(records),
            base=MappingProxyType({side: dict(base.get(side.value) or {}) for side in Side})
            if base is not None else None,
            others=MappingProxyType(others),
            links=tuple(links),
            expect=expect,
        )


def read_tests(paths: list[Path], ruleset: RuleSet, catalogues: dict[Side, Catalogue]) -> TestFiles:
    """The rule tests of ``paths``, with every problem found in them (a test with a problem is left out)."""
    out = TestFiles()
    for path in paths:
        doc = read_source(path, display_path(path))
        out.files.append(doc.file)
        out.diagnostics.extend(doc.diagnostics)
        if doc.data is None:
            continue
        schema_problems = check_schema(doc, TEST_SCHEMA)
        out.diagnostics.extend(schema_problems)
        if schema_problems:
            continue
        reader = _Reader(doc, ruleset, catalogues)
        names: dict[str, int] = {}
        for index, item in enumerate(doc.data["tests"]):
            if item["name"] in names:
                reader.error("MS603", f"two tests are named {item['name']!r} in this file",
                             ("tests", index, "name"), hint="give each test its own name: reports refer to it")
                continue
            names[item["name"]] = index
            test = reader.test(item, ("tests", index))
            if test is not None:
                out.tests.append(test)
        out.diagnostics.extend(reader.diagnostics)
    return out
