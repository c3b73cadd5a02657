"""Benchmark: the plan's scratch copy of a PostgreSQL tenant with a long history (issue 10).

    .venv/bin/python benchmarks/plan_copy.py [--links 2000] [--passes 20000] [--audit 200000]

``mapsync plan`` (and every dry run) plans against an in-memory SQLite copy of the tenant's state
(``StateStore.scratch_copy``). A tenant synced every 6 minutes runs 240 passes a day; each leaves a run row,
and each write an audit row. The copy for a plan leaves that history out (only the runs a pass may look at are
kept); ``explain`` asks for it (``history=True``). This fills one tenant of its own in the PostgreSQL test
database (``$MAPSYNC_TEST_POSTGRES``, default ``postgresql://postgres@127.0.0.1:5432/test``, schema
``mapsync_bench_plan_copy``, dropped afterwards) with ``--links`` links, ``--passes`` finished runs and
``--audit`` audit rows (about three months of a tenant writing 10 fields a pass with the defaults), then
times both copies and prints the rows each holds. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid

import psycopg
from psycopg import sql

from mapsync.engine.state import Base
from mapsync.engine.state.postgres import PostgresStateStore

POSTGRES = os.environ.get("MAPSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "mapsync_bench_plan_copy"


def fill(store: PostgresStateStore, url: str, links: int, passes: int, audit: int) -> None:
    """Links through the store; runs and audit rows in bulk, as many passes would have left them."""
    with store.transaction():
        for i in range(links):
            store.link("customers", f"c{i}", f"e{i}", Base({"Name": f"Customer {i}", "Phone": f"+46 {i}"}))
    summary = json.dumps({"mappings": {"customers": {"read": 12, "updated": 3}}})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(SCHEMA)))
        conn.execute("INSERT INTO runs (tenant, started_at, finished_at, status, summary) "
                     "SELECT %s, now(), now(), 'ok', %s::json FROM generate_series(1, %s)",
                     (store.tenant, summary, passes))
        conn.execute("INSERT INTO audit (tenant, run_id, mapping, target, record_id, action, field, old, new, rule, at)"
                     " "
                     "SELECT r.tenant, r.id, 'customers', 'erp', 'e' || (g %% %s), 'update', 'Phone', "
                     "to_json('+46 ' || g), to_json('+46 ' || (g + 1)), 'phone', now() "
                     "FROM runs r CROSS JOIN generate_series(1, %s) g WHERE r.tenant = %s",
                     (max(links, 1), max(audit // max(passes, 1), 1), store.tenant))


def timed_copy(store: PostgresStateStore, history: bool) -> tuple[float, int, int]:
    started = time.perf_counter()
    copy = store.scratch_copy(history=history)
    seconds = time.perf_counter() - started
    try:
        runs = copy._conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        audit = copy._conn.execute("SELECT count(*) FROM audit").fetchone()[0]
    finally:
        copy.close()
    return seconds, runs, audit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=20000)
    parser.add_argument("--audit", type=int, default=200000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tenant = "bench" + uuid.uuid4().hex[:8]
    store = PostgresStateStore(POSTGRES, tenant=tenant, schema=SCHEMA)
    try:
        fill(store, POSTGRES, args.links, args.passes, args.audit)
        print(f"tenant: {args.links:,} links, {args.passes:,} finished runs, {args.audit:,} audit rows")
        for history, label in ((True, "with history (explain)"), (False, "for a plan")):
            best = min(timed_copy(store, history) for _ in range(args.rounds))
            print(f"  scratch copy {label:<24} {best[0] * 1000:8.0f} ms   runs {best[1]:>7,}   audit {best[2]:>8,}")
    finally:
        store.close()
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))


if __name__ == "__main__":
    main()
