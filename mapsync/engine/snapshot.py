"""Snapshot folders: the records a rule set would touch, copied read-only from the real systems, and read back.

``take_snapshot`` writes one (``mapsync snapshot``); ``SnapshotFolder`` reads one, for ``mapsync sandbox
--from`` (``mapsync.engine.sandbox`` loads it into the simulators) and for tests that take their fixtures
from a snapshot (``SnapshotFolder(path).record("crm", "organisation", 12)``). See docs/rehearsal.md.

The folder::

    snapshot.yaml                 the manifest: format, mapsync version, rule set, when, systems, entities
    README.txt                    the personal-data notice
    .gitignore                    "*": git never picks the folder up, wherever it lies
    <connector>/<entity>.jsonl    one record a line, exactly as the connector reads it

What is read: for every enabled mapping, the entity of both sides (whatever the mapping's direction: a
rehearsal matches against the other side too), the crm line entity of its line rules (webCRM quotation
lines; erp rows travel inside their documents), all through the connectors' read paths only
(``read_changes`` from no cursor, as a first pass reads, and ``get``), wrapped in ``ReadOnlyConnector`` so
that nothing else can be called. Records are read full: the fields asked for are every readable field of
the entity's catalogue, so a connector whose lists give a subset (Fortnox) fetches each record, as a pass
does. Lines are kept for the kept parent records only (the lines of webCRM opportunities, say, are not).

Records the kept ones refer to come along, whether or not a mapping covers their entity: a product refuses
a record naming one it does not have (Fortnox "Kan inte hitta artikeln"), and a rehearsal must not report
problems the real systems would not have. The catalogues say which fields name a record (``refers_to``) and
which fields hold a document's rows (``lines``): the kept records and their rows are read for those fields
(``FieldReference``: the ``ArticleNumber`` of a Fortnox order's rows), and so are the values the enabled
mappings' field and line rules would write into such a field, made from the kept records of the other side
(``WrittenReference``: the item number of a webCRM quotation line, which becomes the ``ArticleNumber`` of the
invoice row created from it). The records named are fetched with ``get``; an entity no mapping covers holds
those only, a mapping's entity its own selection and those.

``limit`` caps the records per entity, and keeps the references whole: children are chosen before their
parents (the first ``limit`` records in the list's order); a parent entity then keeps every record its
kept children refer to by the rule set's ``parent_key`` (fetched with ``get`` when needed), and fills up
to ``limit`` with the first others, so it holds ``max(limit, parents needed)`` records; lines are never cut
(a document with some of its lines would be wrong data), nor are the records named by kept ones (an
invoice without its articles would be refused). The manifest says per entity whether records were left
out (``limited``). Partners on the other side are not chosen by match keys: a limited rehearsal shows
creates for records whose partner was left out.

Nothing secret is written: records and the base URL of each system (without user info or query) only,
never a connection setting, token or the state store. The folder is written under a temporary name beside
``out`` and renamed when complete, so a failed snapshot leaves no half folder of personal data behind.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from mapsync.connectors.base import ChangeBatch, Connector, Record
from mapsync.connectors.catalogue import Catalogue, EntityCatalogue, load_catalogue
from mapsync.engine import __version__
from mapsync.engine.extractors import MISSING, FieldPath
from mapsync.engine.ruleset import RuleSet, Side
from mapsync.engine.ruleset.compiler import thaw
from mapsync.engine.sync.bound import BoundRule, RuleGroup, bind
from mapsync.engine.sync.fieldmerge import RuleError, values_for_create

FORMAT = 1
MANIFEST = "snapshot.yaml"
NOTICE = "README.txt"
GITIGNORE = ".gitignore"
Progress = Callable[["EntityEntry"], None]

PERSONAL_DATA_WARNING = (
    "holds personal data: names, e-mail addresses, phone numbers and addresses of real people, copied "
    "from the customer's systems. Keep it outside every repository (never in the customer's), on an "
    "encrypted disk, and delete it when the rehearsal is over.")


class SnapshotError(Exception):
    """A folder that is not a snapshot (or one this version cannot read), or a snapshot that cannot be written."""


class NotInSnapshot(SnapshotError, LookupError):
    """The snapshot holds no such system, entity or record."""


def notice_text(what: str) -> str:
    """The personal-data notice written as README.txt into a snapshot folder (and a sandbox serving one)."""
    return f"""PERSONAL DATA - handle with care

{what}
It holds copies of real records: names, e-mail addresses, phone numbers and addresses of real people
and companies, with their orders and invoices.

- Keep it only as long as the rehearsal needs it, on an encrypted disk, and delete it afterwards,
  together with the sandbox folder that served it (the simulators keep a copy of the records there).
- Never put it in the customer's repository or any other, and never attach it to a ticket or a mail.
  The .gitignore in this folder keeps git from picking it up; also list the folder in .gitignore.
- It holds no token, password or client secret: connection settings come from the environment and
  are never written.

See docs/rehearsal.md in mapsync.
"""


def write_notice(folder: Path, what: str) -> None:
    """README.txt with the personal-data notice and a .gitignore that ignores the whole folder."""
    _write(folder / NOTICE, notice_text(what))
    _write(folder / GITIGNORE, "# personal data: never commit (see README.txt)\n*\n")


def _write(path: Path, text: str) -> None:
    """Write a file readable by its owner only (it may hold personal data); replaces an existing one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def public_url(url: str) -> str:
    """A base URL without user info, query or fragment (nothing secret can ride along)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def order_key(record_id: str) -> tuple[int, int | str]:
    """Ids in order: numbers by value first, then the others as text."""
    return (0, int(record_id)) if record_id.isdigit() else (1, record_id)


class ReadOnlyConnector:
    """The read methods of a connector and nothing else: a snapshot cannot write to a system."""

    def __init__(self, inner: Connector) -> None:
        self._inner = inner
        self.name = inner.name

    def record_id(self, entity: str, record: Mapping[str, Any]) -> str:
        return self._inner.record_id(entity, record)

    def read_changes(self, entity: str, cursor: str | None, fields: frozenset[str]) -> ChangeBatch:
        return self._inner.read_changes(entity, cursor, fields)

    def get(self, entity: str, record_id: str) -> Record | None:
        return self._inner.get(entity, record_id)


# -- the manifest ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EntityEntry:
    """One file of a snapshot: the records of one entity of one system."""

    system: str  # crm | erp
    connector: str
    entity: str
    id_field: str
    file: str  # relative to the folder
    count: int
    limited: bool  # records were left out by the limit
    selection: str  # how the records were chosen, in words
    mappings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"system": self.system, "connector": self.connector, "entity": self.entity,
                "id_field": self.id_field, "file": self.file, "count": self.count, "limited": self.limited,
                "selection": self.selection, "mappings": list(self.mappings)}


@dataclass(frozen=True)
class Manifest:
    """``snapshot.yaml``: what a snapshot holds."""

    ruleset: str
    taken_at: str  # ISO 8601 UTC
    limit: int | None
    systems: dict[str, dict[str, str]]  # crm/erp -> {connector, base_url}
    entities: tuple[EntityEntry, ...]
    mapsync: str = __version__
    format: int = FORMAT

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "mapsync": self.mapsync, "ruleset": self.ruleset, "taken_at": self.taken_at,
                "limit": self.limit, "systems": self.systems, "entities": [e.as_dict() for e in self.entities]}

    def to_yaml(self) -> str:
        head = ("# mapsync snapshot: personal data of real people (see README.txt); never commit this folder.\n")
        return head + yaml.safe_dump(self.as_dict(), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        if not isinstance(data, dict) or "entities" not in data or "systems" not in data:
            raise SnapshotError(f"{MANIFEST} is not a snapshot manifest")
        if data.get("format") != FORMAT:
            raise SnapshotError(f"snapshot format {data.get('format')!r} is not supported (this mapsync reads "
                                f"format {FORMAT})")
        try:
            entities = tuple(EntityEntry(
                system=str(e["system"]), connector=str(e["connector"]), entity=str(e["entity"]),
                id_field=str(e["id_field"]), file=str(e["file"]), count=int(e["count"]),
                limited=bool(e["limited"]), selection=str(e.get("selection", "")),
                mappings=tuple(e.get("mappings") or ())) for e in data["entities"])
            systems = {str(side): {str(k): str(v) for k, v in spec.items()} for side, spec in data["systems"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SnapshotError(f"{MANIFEST} is not a snapshot manifest ({exc})") from None
        limit = data.get("limit")
        return cls(ruleset=str(data.get("ruleset", "")), taken_at=str(data.get("taken_at", "")),
                   limit=int(limit) if isinstance(limit, int) else None, systems=systems, entities=entities,
                   mapsync=str(data.get("mapsync", "")), format=FORMAT)


# -- what a rule set touches -------------------------------------------------------------------------------

Kept = Mapping[tuple[Side, str], Mapping[str, Record]]  # the records kept so far, by side and entity


def _id(value: Any) -> str | None:
    """A value naming a record, as text; None for no value."""
    if value is MISSING or value is None or value == "" or isinstance(value, dict | list):
        return None
    return str(value)


def _reference(path: FieldPath, record: Mapping[str, Any]) -> str | None:
    return _id(path.get(record))


def _rows(collection: FieldPath, record: Mapping[str, Any]) -> list[Record]:
    """The line records in a record's collection (a document's rows)."""
    value = collection.get(record)
    return [row for row in value if isinstance(row, dict)] if isinstance(value, list) else []


@dataclass(frozen=True)
class FieldReference:
    """Ids named by a ``refers_to`` field of the kept records of one entity, or, with ``rows``, of the line
    records in that collection of each of them (a Fortnox order's ``OrderRows``: ``ArticleNumber``)."""

    side: Side
    entity: str  # the entity whose kept records are read
    field: FieldPath  # the refers_to field, in the record or in each row
    label: str  # in words, for the manifest
    rows: FieldPath | None = None

    @property
    def sources(self) -> tuple[tuple[Side, str], ...]:
        """The entities to read before these ids are known."""
        return ((self.side, self.entity),)

    def ids(self, kept: Kept) -> Iterable[str]:
        for record in kept.get((self.side, self.entity), {}).values():
            for item in _rows(self.rows, record) if self.rows is not None else (record,):
                if (value := _reference(self.field, item)) is not None:
                    yield value


@dataclass(frozen=True)
class WrittenReference:
    """Ids a mapping's field rules would write into a ``refers_to`` field on the other side, made from the kept
    records of one entity: the item number of a webCRM quotation line becomes the ``ArticleNumber`` of the
    Fortnox invoice row created from it, and Fortnox refuses the row when it has no such article.

    ``owner`` (crm lines) keeps only the lines whose parent field names a kept record of the owner entity;
    ``rows`` (erp rows) takes the rows in that collection of each kept record."""

    side: Side  # the side the values come from (the other side is written)
    entity: str
    group: RuleGroup  # the bound mapping or line rule, with only the rule that writes ``field``
    field: str  # the refers_to field written (a name of the target entity or line entity)
    label: str
    settings: Mapping[str, Any]
    owner: tuple[str, FieldPath] | None = None
    rows: FieldPath | None = None

    @property
    def sources(self) -> tuple[tuple[Side, str], ...]:
        if self.owner is not None:
            return (self.side, self.entity), (self.side, self.owner[0])
        return ((self.side, self.entity),)

    def ids(self, kept: Kept) -> Iterable[str]:
        records: Iterable[Record] = kept.get((self.side, self.entity), {}).values()
        if self.owner is not None:
            owner, parent_field = self.owner
            owners = kept.get((self.side, owner), {})
            records = [r for r in records if _reference(parent_field, r) in owners]
        if self.rows is not None:
            rows = self.rows
            records = [row for record in records for row in _rows(rows, record)]
        settings = thaw(self.settings)  # as a pass gives them to the rules
        for record in records:
            try:
                values = values_for_create(self.group, self.side.other, dict(record), settings, [])
            except RuleError:  # the rehearsal reports that record; it names nothing to take along
                continue
            for change in values:
                if change.field == self.field and (value := _id(change.new)) is not None:
                    yield value


Reference = FieldReference | WrittenReference


@dataclass
class EntityScope:
    """What to read of one entity of one side, and how its records relate to others."""

    side: Side
    entity: str
    mappings: list[str] = field(default_factory=list)
    whole: bool = False  # a mapping's entity (else only lines of kept parents, or records referred to)
    parents: list[tuple[FieldPath, str]] = field(default_factory=list)  # refers to parent entity ids by field
    lines_of: list[tuple[str, FieldPath]] = field(default_factory=list)  # lines of an owner entity by field
    referred_by: list[Reference] = field(default_factory=list)  # records naming records of this entity


def _catalogues(ruleset: RuleSet) -> dict[Side, Catalogue]:
    return {side: load_catalogue(ruleset.system(side).connector) for side in Side}


def scope(ruleset: RuleSet, catalogues: Mapping[Side, Catalogue] | None = None) -> list[EntityScope]:
    """The entities a rule set touches, in the order to read them: children before the parents they refer
    to, line owners before their lines, records before the records they refer to (``refers_to`` in the
    catalogues, read from ``catalogues`` or the shipped ones)."""
    catalogues = catalogues if catalogues is not None else _catalogues(ruleset)
    scopes: dict[tuple[Side, str], EntityScope] = {}
    pending: list[tuple[Side, str]] = []

    def add(side: Side, entity: str, mapping: str | None = None) -> EntityScope:
        if (side, entity) not in scopes:
            scopes[(side, entity)] = EntityScope(side, entity)
            pending.append((side, entity))
        found = scopes[(side, entity)]
        if mapping is not None and mapping not in found.mappings:
            found.mappings.append(mapping)
        return found

    def refer(side: Side, entity: str, reference: Reference) -> None:
        referred = add(side, entity)
        if reference not in referred.referred_by:
            referred.referred_by.append(reference)

    for mapping in ruleset.mappings:
        for side in Side:
            add(side, mapping.entity(side), mapping.name).whole = True
        parent = ruleset.mapping(mapping.parent) if mapping.parent else None
        if parent is not None and mapping.parent_key is not None:
            for side in Side:
                ref = (mapping.parent_key.side(side), parent.entity(side))
                child = scopes[(side, mapping.entity(side))]
                if ref not in child.parents:
                    child.parents.append(ref)
        for line in mapping.lines:
            lines = add(Side.CRM, line.crm_entity, mapping.name)
            owned_by = (mapping.crm_entity, line.crm_parent_field)
            if owned_by not in lines.lines_of:
                lines.lines_of.append(owned_by)
    for mapping in ruleset.mappings:  # what the rules would write into a field naming a record
        bound = bind(mapping, dict(catalogues), ruleset.settings)
        for target in Side:
            source = target.other
            for br in bound.rules:
                if (written := _written(br, target, bound.entity(target))) is not None:
                    name, referred = written
                    refer(target, referred, WrittenReference(
                        source, mapping.entity(source), replace(bound, rules=(br,)), name,
                        f"the {bound.entity(target).name}.{name} values mapping {mapping.name} makes from "
                        f"the kept {mapping.entity(source)} records", ruleset.settings))
            for lines_bound in bound.lines:
                line = lines_bound.line
                for br in lines_bound.rules:
                    if (written := _written(br, target, lines_bound.entity(target))) is None:
                        continue
                    name, referred = written
                    if source is Side.CRM:  # crm lines of the kept records, by their parent field
                        origin, line_owner, rows = line.crm_entity, (mapping.crm_entity, line.crm_parent_field), None
                    else:  # erp rows inside the kept documents
                        origin, line_owner, rows = mapping.erp_entity, None, line.erp_collection
                    refer(target, referred, WrittenReference(
                        source, origin, replace(lines_bound, rules=(br,)), name,
                        f"the {lines_bound.entity(target).name}.{name} values mapping {mapping.name} makes "
                        f"from the kept {lines_bound.entity(source).name} records", ruleset.settings, line_owner, rows))
    while pending:  # what the records read name by refers_to fields, the records referred to included
        side, entity = pending.pop(0)
        spec = catalogues[side].entity(entity)
        if spec is None:
            continue
        for info in spec.references:
            if not info.write_only and info.refers_to is not None:
                refer(side, info.refers_to, FieldReference(side, entity, FieldPath(info.name),
                                                           f"the kept {entity} records ({entity}.{info.name})"))
        for collection in spec.line_collections:
            line_spec = catalogues[side].entity(collection.lines or "")
            if line_spec is None:
                continue
            for info in line_spec.references:
                if not info.write_only and info.refers_to is not None:
                    refer(side, info.refers_to, FieldReference(
                        side, entity, FieldPath(info.name),
                        f"the {collection.name} of the kept {entity} records ({line_spec.name}.{info.name})",
                        FieldPath(collection.name)))
    for item in scopes.values():  # the fields of the records first, then what the rules make of them
        item.referred_by.sort(key=lambda reference: isinstance(reference, WrittenReference))
    # "a before b": a child before the parent it refers to, an owner before its lines, records before those
    # they name
    before: dict[tuple[Side, str], set[tuple[Side, str]]] = {key: set() for key in scopes}
    for key, item in scopes.items():
        for _, parent_entity in item.parents:
            if (item.side, parent_entity) in scopes and (item.side, parent_entity) != key:
                before[(item.side, parent_entity)].add(key)
        for owner, _ in item.lines_of:
            if (item.side, owner) in scopes and (item.side, owner) != key:
                before[key].add((item.side, owner))
        for reference in item.referred_by:
            before[key].update(source for source in reference.sources if source in scopes and source != key)
    ordered: list[EntityScope] = []
    waiting = list(scopes)
    while waiting:
        ready = [key for key in waiting if not (before[key] & set(waiting))]
        if not ready:  # a cycle of references: read the rest in rule set order
            ready = waiting[:1]
        for key in ready:
            ordered.append(scopes[key])
            waiting.remove(key)
    return ordered


def _written(br: BoundRule, target: Side, entity: EntityCatalogue) -> tuple[str, str] | None:
    """The field a rule writes on ``target`` and the entity it names, when that field names a record
    (``refers_to`` in the catalogue)."""
    side = br.rule.side(target)
    if not br.writes[target] or side is None or side.writer is None:
        return None
    info = entity.field(side.writer.name)
    return (info.name, info.refers_to) if info is not None and info.refers_to is not None else None


# -- taking a snapshot -------------------------------------------------------------------------------------

class _Reader:
    """Chooses and reads the records of each entity in scope (see the module docstring)."""

    def __init__(self, connectors: Mapping[Side, ReadOnlyConnector], catalogues: Mapping[Side, Catalogue],
                 limit: int | None) -> None:
        self.connectors = connectors
        self.catalogues = catalogues
        self.limit = limit
        self.kept: dict[tuple[Side, str], dict[str, Record]] = {}
        self.limited: dict[tuple[Side, str], bool] = {}

    def _fields(self, side: Side, entity: str) -> frozenset[str]:
        spec = self.catalogues[side].entity(entity)
        return spec.readable_fields if spec is not None else frozenset()

    def read(self, item: EntityScope, everything: list[EntityScope]) -> tuple[dict[str, Record], bool, str]:
        """The records kept for ``item``, whether the limit left some out, and how they were chosen."""
        connector = self.connectors[item.side]
        entity = item.entity
        records: dict[str, Record] = {}
        limited = False
        choice: list[str] = []
        if item.whole:
            parents = self._parents(item, everything)
            referred = self._referred(item)
            wanted = list(dict.fromkeys([*parents, *referred]))
            batch = connector.read_changes(entity, None, self._fields(item.side, entity))
            if self.limit is None:
                for record in batch.records:
                    records.setdefault(connector.record_id(entity, record), record)
                choice.append("every record")
            else:
                for record_id in wanted:
                    found = connector.get(entity, record_id)
                    if found is not None:
                        records[record_id] = found
                for record in batch.records:
                    record_id = connector.record_id(entity, record)
                    if record_id in records:
                        continue
                    if len(records) >= self.limit:
                        limited = True
                        break
                    records[record_id] = record
                choice.append(f"the first {self.limit} record(s) listed" + (
                    ", and every record the kept children refer to" if parents else "") + (
                    ", and " + _referred_to(item) if referred else ""))
            for record_id in wanted:  # records named but not listed (or changed while reading)
                if record_id not in records and (found := connector.get(entity, record_id)) is not None:
                    records[record_id] = found
        if item.lines_of:
            owners = {(owner, path): set(self.kept.get((item.side, owner), {})) for owner, path in item.lines_of}
            batch = connector.read_changes(entity, None, self._fields(item.side, entity))
            for record in batch.records:
                if any(_reference(path, record) in ids for (_, path), ids in owners.items()):
                    records.setdefault(connector.record_id(entity, record), record)
            limited = limited or any(self.limited.get((item.side, owner), False) for owner, _ in item.lines_of)
            choice.append("the lines of the kept " + " and ".join(owner for owner, _ in item.lines_of) + " records")
        if item.referred_by and not item.whole:  # only the records named: every one of them, whatever the limit
            for record_id in self._referred(item):
                if record_id not in records and (found := connector.get(entity, record_id)) is not None:
                    records[record_id] = found
            limited = limited or any(self.limited.get(source, False) for reference in item.referred_by
                                     for source in reference.sources)
            choice.append(_referred_to(item))
        ordered = {key: records[key] for key in sorted(records, key=order_key)}
        self.kept[(item.side, entity)] = ordered
        self.limited[(item.side, entity)] = limited
        return ordered, limited, "; ".join(choice)

    def _parents(self, item: EntityScope, everything: list[EntityScope]) -> list[str]:
        """Ids of ``item``'s records that kept child records refer to by ``parent_key`` (in order, once each)."""
        wanted: dict[str, None] = {}
        for child in everything:
            if child.side is not item.side:
                continue
            for path, parent_entity in child.parents:
                if parent_entity != item.entity:
                    continue
                for record in self.kept.get((child.side, child.entity), {}).values():
                    if (value := _reference(path, record)) is not None:
                        wanted.setdefault(value, None)
        return list(wanted)

    def _referred(self, item: EntityScope) -> list[str]:
        """Ids of ``item``'s records that kept records name (``item.referred_by``; in order, once each)."""
        return list(dict.fromkeys(value for reference in item.referred_by for value in reference.ids(self.kept)))


def _referred_to(item: EntityScope) -> str:
    labels = list(dict.fromkeys(reference.label for reference in item.referred_by))
    return "the records referred to by " + (", ".join(labels[:-1]) + " and " if len(labels) > 1 else "") + labels[-1]


def take_snapshot(ruleset: RuleSet, connectors: Mapping[Side, Connector], catalogues: Mapping[Side, Catalogue],
                  out: Path, *, limit: int | None = None, base_urls: Mapping[Side, str] | None = None,
                  progress: Progress | None = None, now: Callable[[], datetime] | None = None) -> Manifest:
    """Read the records ``ruleset`` touches through ``connectors`` (read methods only) into the folder ``out``.

    ``out`` must not exist or be empty (``SnapshotError`` otherwise). Connector errors propagate, and then
    nothing is left behind. ``progress`` is called after each entity with its manifest entry.
    """
    if limit is not None and limit < 1:
        raise SnapshotError("the limit must be at least 1")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SnapshotError(f"{out} already exists and is not an empty folder; choose a new folder for the snapshot")
    taken = (now or (lambda: datetime.now(UTC)))().astimezone(UTC)
    readers = {side: ReadOnlyConnector(connector) for side, connector in connectors.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))  # mode 0700
    try:
        entries: list[EntityEntry] = []
        reader = _Reader(readers, catalogues, limit)
        items = scope(ruleset, catalogues)
        for item in items:
            records, limited, selection = reader.read(item, items)
            system = ruleset.system(item.side)
            spec = catalogues[item.side].entity(item.entity)
            relative = f"{system.connector}/{item.entity}.jsonl"
            (work / system.connector).mkdir(mode=0o700, exist_ok=True)
            _write(work / relative, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records.values()))
            entry = EntityEntry(item.side.value, system.connector, item.entity,
                                spec.id_field if spec is not None else "", relative, len(records), limited,
                                selection, tuple(item.mappings))
            entries.append(entry)
            if progress is not None:
                progress(entry)
        systems = {}
        for side in Side:
            spec_system: dict[str, str] = {"connector": ruleset.system(side).connector}
            if base_urls and base_urls.get(side):
                spec_system["base_url"] = public_url(base_urls[side])
            systems[side.value] = spec_system
        manifest = Manifest(ruleset=ruleset.name, taken_at=taken.strftime("%Y-%m-%dT%H:%M:%SZ"), limit=limit,
                            systems=systems, entities=tuple(entries))
        _write(work / MANIFEST, manifest.to_yaml())
        names = " and ".join(s["connector"] for s in systems.values())
        write_notice(work, f"This folder is a snapshot taken by `mapsync snapshot` on {manifest.taken_at} from\n"
                           f"{names} for the rule set {ruleset.name}.")
        if out.exists():
            out.rmdir()
        work.rename(out)
        return manifest
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


# -- reading a snapshot ------------------------------------------------------------------------------------

class SnapshotFolder:
    """A snapshot folder written by ``mapsync snapshot``, read only (docs/rehearsal.md).

    ``SnapshotFolder(path)`` reads the manifest (``SnapshotError`` when ``path`` is not a snapshot this
    version can read). Systems are named ``"crm"``/``"erp"`` or by their connector (``"webcrm"``,
    ``"fortnox"``, ``"vismanet"``), entities by the connector's entity names (``"organisation"``,
    ``"customer"``, ``"inventory_item"``), ids as text or numbers (``12`` and ``"12"`` are the same record).

    - ``record(system, entity, record_id)``: one record as the connector read it from the real system (a
      fresh copy, safe to change), e.g. ``SnapshotFolder("snap").record("erp", "customer", "1001")``, for a
      test fixture; ``NotInSnapshot`` (a ``LookupError``) names what is missing.
    - ``records(system, entity)``: every record of one entity (copies), in id order.
    - ``manifest``: what the snapshot holds (``Manifest``; ``entities`` with counts and ``limited``).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        manifest_path = self.path / MANIFEST
        if not manifest_path.is_file():
            raise SnapshotError(f"{self.path} is not a snapshot folder (no {MANIFEST})")
        try:
            data = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SnapshotError(f"{manifest_path} cannot be read: {exc}") from None
        self.manifest = Manifest.from_dict(data)
        self._index: dict[tuple[str, str], dict[str, Record]] = {}

    def connector(self, system: str) -> str:
        """The connector of ``system`` (``crm``, ``erp`` or a connector name)."""
        spec = self.manifest.systems.get(system)
        if spec is not None:
            return spec["connector"]
        if any(s.get("connector") == system for s in self.manifest.systems.values()):
            return system
        raise NotInSnapshot(f"the snapshot has no system {system!r} (it has "
                            + ", ".join(f"{side} ({s['connector']})" for side, s in self.manifest.systems.items())
                            + ")")

    def entry(self, system: str, entity: str) -> EntityEntry:
        connector = self.connector(system)
        for entry in self.manifest.entities:
            if entry.connector == connector and entry.entity == entity:
                return entry
        known = ", ".join(e.entity for e in self.manifest.entities if e.connector == connector)
        raise NotInSnapshot(f"the snapshot has no {connector} entity {entity!r} (it has {known})")

    def _records(self, entry: EntityEntry) -> dict[str, Record]:
        key = (entry.connector, entry.entity)
        if key not in self._index:
            path = self.path / entry.file
            index: dict[str, Record] = {}
            where = str(path)
            try:
                with path.open(encoding="utf-8") as fh:
                    for number, line in enumerate(fh, 1):
                        where = f"{path}:{number}"
                        if line.strip():
                            record = json.loads(line)
                            if not isinstance(record, dict):
                                raise ValueError("not a JSON object")
                            index[str(record.get(entry.id_field))] = record
            except (OSError, ValueError) as exc:
                raise SnapshotError(f"{where}: cannot be read ({exc})") from None
            self._index[key] = index
        return self._index[key]

    def records(self, system: str, entity: str) -> list[Record]:
        return copy.deepcopy(list(self._records(self.entry(system, entity)).values()))

    def record(self, system: str, entity: str, record_id: str | int) -> Record:
        entry = self.entry(system, entity)
        found = self._records(entry).get(str(record_id).strip())
        if found is None:
            raise NotInSnapshot(f"the snapshot has no {entry.connector} {entity} with {entry.id_field} {record_id}"
                                + (" (the snapshot was limited)" if entry.limited else ""))
        return copy.deepcopy(found)

    def by_connector(self) -> dict[str, list[EntityEntry]]:
        """The entries of each connector, in manifest order."""
        out: dict[str, list[EntityEntry]] = {}
        for entry in self.manifest.entities:
            out.setdefault(entry.connector, []).append(entry)
        return out

    def iter_records(self, entry: EntityEntry) -> Iterable[Record]:
        """The records of one entry as stored (not copies; for loading them elsewhere)."""
        return self._records(entry).values()
