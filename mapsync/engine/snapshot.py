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

``limit`` caps the records per entity, and keeps the references whole: children are chosen before their
parents (the first ``limit`` records in the list's order); a parent entity then keeps every record its
kept children refer to by the rule set's ``parent_key`` (fetched with ``get`` when needed), and fills up
to ``limit`` with the first others, so it holds ``max(limit, parents needed)`` records; lines are never cut
(a document with some of its lines would be wrong data). The manifest says per entity whether records were
left out (``limited``). Partners on the other side are not chosen by match keys: a limited rehearsal shows
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from mapsync.connectors.base import ChangeBatch, Connector, Record
from mapsync.connectors.catalogue import Catalogue
from mapsync.engine import __version__
from mapsync.engine.extractors import MISSING, FieldPath
from mapsync.engine.ruleset import RuleSet, Side

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

@dataclass
class EntityScope:
    """What to read of one entity of one side, and how its records relate to others."""

    side: Side
    entity: str
    mappings: list[str] = field(default_factory=list)
    whole: bool = False  # a mapping's entity (else only lines of kept parents)
    parents: list[tuple[FieldPath, str]] = field(default_factory=list)  # refers to parent entity ids by field
    lines_of: list[tuple[str, FieldPath]] = field(default_factory=list)  # lines of an owner entity by field


def scope(ruleset: RuleSet) -> list[EntityScope]:
    """The entities a rule set touches, in the order to read them: children before the parents they refer
    to, line owners before their lines."""
    scopes: dict[tuple[Side, str], EntityScope] = {}

    def add(side: Side, entity: str, mapping: str) -> EntityScope:
        found = scopes.setdefault((side, entity), EntityScope(side, entity))
        if mapping not in found.mappings:
            found.mappings.append(mapping)
        return found

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
    # "a before b": a child before the parent it refers to, an owner before its lines
    before: dict[tuple[Side, str], set[tuple[Side, str]]] = {key: set() for key in scopes}
    for key, item in scopes.items():
        for _, parent_entity in item.parents:
            if (item.side, parent_entity) in scopes and (item.side, parent_entity) != key:
                before[(item.side, parent_entity)].add(key)
        for owner, _ in item.lines_of:
            if (item.side, owner) in scopes and (item.side, owner) != key:
                before[key].add((item.side, owner))
    ordered: list[EntityScope] = []
    pending = list(scopes)
    while pending:
        ready = [key for key in pending if not (before[key] & set(pending))]
        if not ready:  # a cycle of references: read the rest in rule set order
            ready = pending[:1]
        for key in ready:
            ordered.append(scopes[key])
            pending.remove(key)
    return ordered


# -- taking a snapshot -------------------------------------------------------------------------------------

def _reference(path: FieldPath, record: Mapping[str, Any]) -> str | None:
    value = path.get(record)
    if value is MISSING or value is None or value == "" or isinstance(value, dict | list):
        return None
    return str(value)


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
            wanted = self._referenced(item, everything)
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
                    ", and every record the kept children refer to" if wanted else ""))
            for record_id in wanted:  # parents that are not listed (or changed while reading)
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
        ordered = {key: records[key] for key in sorted(records, key=order_key)}
        self.kept[(item.side, entity)] = ordered
        self.limited[(item.side, entity)] = limited
        return ordered, limited, "; ".join(choice)

    def _referenced(self, item: EntityScope, everything: list[EntityScope]) -> list[str]:
        """Ids of ``item``'s records that kept records of other entities refer to (in order, once each)."""
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
        items = scope(ruleset)
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
