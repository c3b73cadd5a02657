"""Memory (issue 12, target 5): peak memory of a pass over 100,000 changed records next to one over 10,000.

A ``mapsync run`` pass (``SyncPass``, apply) of the standard Fortnox rule set in which N webCRM organisations
changed, each size in a process of its own, its peak resident memory taken from ``getrusage`` (``ru_maxrss``)
when the pass has finished. Target: the peak over 100,000 at most 1.2x the peak over 10,000.

Two kinds of pass (``--kind``, default both):

- ``create``: the first import of N organisations into an empty Fortnox: each is decided (condition, match
  keys against the other side read in full, create plan), journalled, created, its assigned customer number
  written back, then linked with its base, one transaction per record;
- ``update``: N organisations already linked (links and bases in the store), each renamed in webCRM since the
  last pass (nothing changed in Fortnox): read, its link and base looked up, its Fortnox customer read, merged,
  written, new base.

The systems are generated, not stored: a record is made from its number when it is listed or read
(``GeneratedSystem``), and a write answers with the record as it would be without keeping it. The
``MemoryConnector`` of the tests (and the simulators) keep every record in Python dicts: 100,000 of them
are the system's memory, not the engine's, and would hide what the pass itself holds. Lists come in pages of
500 (webCRM's size), as a lazy iterator, like the HTTP clients' ``read_changes``. The state store is a SQLite
file, the default ``--state`` (an in-memory store would count the state as the pass's memory; state lives in
the store). The guardrails are raised for the ``update`` pass: every linked record changes, which a real run
would stop at.

Also printed: the state-store reads of links per linked record (issue 12, target 2: link and base read once),
counted on the ``update`` pass (a read of a page of links counts once).

``--vet`` lists the webCRM records through ``ReadCheck`` as the HTTP clients do (the vetting of lying lists,
``mapsync/connectors/readcheck.py``), which keeps a digest per id read.

    .venv/bin/python benchmarks/memory.py [--records 10000 100000] [--kind create update] [--vet]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mapping_speed import ENV, RULESET, organisation

PAGE = 500
TARGET = 1.2


class GeneratedSystem:
    """A ``Connector`` whose records are made from their number on every read, never stored."""

    def __init__(self, name: str, entity: str, id_field: str, count: int, make: Any, vet: bool = False) -> None:
        from mapsync.connectors.catalogue import load_catalogue

        self.vet = vet  # list records through the HTTP clients' ReadCheck (mapsync/connectors/readcheck.py)
        self.name = name
        self.catalogue = load_catalogue(name)
        self.entity, self.id_field, self.count, self.make = entity, id_field, count, make
        self.next_id = 10_000_000
        self.requests_sent = 0

    def record_id(self, entity: str, record: Mapping[str, Any]) -> str:
        ent = self.catalogue.entity(entity)
        assert ent is not None
        return str(record[ent.id_field])

    def cursor_now(self) -> str:
        return "2026-01-01T00:00:00"

    def read_changes(self, entity: str, cursor: str | None, fields: frozenset[str]) -> Any:
        from mapsync.connectors.base import ChangeBatch
        from mapsync.connectors.readcheck import ReadCheck

        check = ReadCheck(self.name, entity, self.id_field, integer_ids=self.name == "webcrm") if self.vet else None

        def pages() -> Iterator[list[dict[str, Any]]]:
            if entity != self.entity:
                return
            for start in range(0, self.count, PAGE):
                self.requests_sent += 1
                page = [self.make(i) for i in range(start, min(start + PAGE, self.count))]
                yield page
                if check is not None and not check.more_pages(page, "the list"):
                    return

        def records() -> Iterator[dict[str, Any]]:
            for page in pages():
                if check is None:
                    yield from page
                else:
                    yield from (row for _, row in check.rows(page))

        return ChangeBatch(records(), self.cursor_now(), check)

    def get(self, entity: str, record_id: str) -> dict[str, Any] | None:
        self.requests_sent += 1
        if entity != self.entity:
            return None
        number = int(record_id) - 1
        return self.make(number) if 0 <= number < self.count else None

    def find(self, entity: str, field_name: str, value: Any) -> list[dict[str, Any]]:
        self.requests_sent += 1
        return []

    def create(self, entity: str, values: Mapping[str, Any]) -> dict[str, Any]:
        self.requests_sent += 1
        record = dict(values)
        ent = self.catalogue.entity(entity)
        assert ent is not None
        if not record.get(ent.id_field):
            self.next_id += 1
            record[ent.id_field] = str(self.next_id)
        return record

    def update(self, entity: str, record_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        self.requests_sent += 1
        current = self.get(entity, record_id) or {}
        return {**current, **changes}

    def delete(self, entity: str, record_id: str) -> None:
        self.requests_sent += 1

    def close(self) -> None:
        pass


def webcrm_organisation(renamed: bool) -> Any:
    def make(i: int) -> dict[str, Any]:
        record = organisation(i, random.Random(i))
        record["OrganisationType"] = "Customer"
        record["OrganisationExtraCustom1"] = str(1000 + i)
        if renamed:
            record["OrganisationName"] += " (renamed)"
        return record
    return make


class CountingReads:
    """The store, counting the calls that read links (``link_by_crm``, ``link_by_erp``, ``get_base``; ``links_of``,
    the links of a page of records, is one read)."""

    READS = ("link_by_crm", "link_by_erp", "get_base", "links_of")

    def __init__(self, store: Any) -> None:
        self._store = store
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if name in self.READS:
            def counted(*args: Any, **kwargs: Any) -> Any:
                self.reads += 1
                return attribute(*args, **kwargs)
            return counted
        return attribute


def one_pass(records: int, kind: str, vet: bool = False) -> dict[str, Any]:
    """The pass in this process; its figures as a dict."""
    from mapsync.connectors.catalogue import load_catalogue
    from mapsync.engine.ruleset import Guardrails, Side, load_ruleset
    from mapsync.engine.state import Base, SqliteStateStore
    from mapsync.engine.sync.bound import bind
    from mapsync.engine.sync.fieldmerge import base_of
    from mapsync.engine.sync.passrun import SyncPass

    loaded = load_ruleset(RULESET, ENV, for_run=True).ruleset
    assert loaded is not None
    ruleset = dataclasses.replace(loaded, mappings=tuple(m for m in loaded.mappings if m.name == "customers"),
                                  guardrails=Guardrails(max_update_share=1.0, min_updates_for_share=records,
                                                        max_blanked=records))
    crm = GeneratedSystem("webcrm", "organisation", "OrganisationId", records, webcrm_organisation(kind == "update"),
                          vet)
    catalogues = {Side.CRM: crm.catalogue, Side.ERP: load_catalogue("fortnox")}
    bound = bind(ruleset.mappings[0], catalogues, ruleset.settings)
    from mapsync.engine.ruleset.compiler import thaw
    from mapsync.engine.sync.createplan import compile_create
    create = compile_create(bound, Side.ERP, thaw(ruleset.settings))
    original = webcrm_organisation(False)

    def customer(i: int) -> dict[str, Any]:
        values = create.values(original(i), None, [])
        return {**values, "CustomerNumber": str(1000 + i)}

    erp = GeneratedSystem("fortnox", "customer", "CustomerNumber", 0, customer)  # nothing changed in Fortnox
    if kind == "update":  # each linked customer read by its CustomerNumber, 1000 + i
        erp.get = lambda entity, rid: customer(int(rid) - 1000) if entity == "customer" else None  # type: ignore
    with tempfile.TemporaryDirectory(prefix="mapsync-memory-", dir="/dev/shm" if os.path.isdir("/dev/shm")
                                     else None) as folder:
        store = SqliteStateStore(Path(folder) / "state.sqlite")
        if kind == "update":  # the links and bases of the last pass, then the cursors it left
            batch = 2_000
            for start in range(0, records, batch):
                with store.transaction():
                    for i in range(start, min(start + batch, records)):
                        fields = base_of(bound, original(i), customer(i))
                        store.link("customers", str(i + 1), str(1000 + i), Base(fields=fields))
            for side in ("crm", "erp"):
                store.set_cursor("customers", side, "2025-12-31T00:00:00")  # type: ignore[arg-type]
        counting = CountingReads(store)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        report = SyncPass(ruleset, {Side.CRM: crm, Side.ERP: erp}, catalogues, counting,  # type: ignore[arg-type]
                          apply=True).run()
        seconds = time.monotonic() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        links = store.count_links("customers")
        store.close()
    assert report.fatal is None, report.fatal
    return {"records": records, "kind": kind, "peak_kb": peak, "before_kb": before, "seconds": seconds,
            "links": links, "counts": report.mappings[0].counts, "reads": counting.reads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--kind", nargs="+", choices=("create", "update"), default=["create", "update"])
    parser.add_argument("--vet", action="store_true",
                        help="list the webCRM records through the HTTP clients' ReadCheck (lying-API vetting)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_pass(args.records[0], args.kind[0], args.vet)))
        return
    load = os.getloadavg()[0]
    print(f"memory: a pass over N changed webCRM organisations -> Fortnox customers, each N in its own process, "
          f"peak RSS (ru_maxrss){'; webCRM lists vetted by ReadCheck' if args.vet else ''}; load average "
          f"{load:.1f} on {os.cpu_count()} cores")
    for kind in args.kind:
        figures = []
        for records in args.records:
            out = subprocess.run([sys.executable, __file__, "--child", "--records", str(records), "--kind", kind,
                                  *(["--vet"] if args.vet else [])], check=True, capture_output=True, text=True)
            figure = json.loads(out.stdout.strip().splitlines()[-1])
            figures.append(figure)
            counts = ", ".join(f"{n} {k}" for k, n in figure["counts"].items() if n)
            print(f"  {kind:6} {records:>7,} records: peak {figure['peak_kb'] / 1024:7.1f} MB (before the pass "
                  f"{figure['before_kb'] / 1024:6.1f} MB), {figure['seconds']:6.1f} s; {counts}")
            if kind == "update":
                print(f"  {'':6} {'':>7}          state-store reads of links per linked record: "
                      f"{figure['reads'] / records:.3f} (target 2: at most 1)")
        smallest, largest = figures[0], figures[-1]
        if len(figures) > 1:
            ratio = largest["peak_kb"] / smallest["peak_kb"]
            print(f"  {kind}: peak at {largest['records']:,} / peak at {smallest['records']:,}: {ratio:.2f}x "
                  f"(target at most {TARGET}x: {'met' if ratio <= TARGET else 'NOT met'})")


if __name__ == "__main__":
    main()
