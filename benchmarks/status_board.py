"""Benchmark: the refresh cost of the workers' status page (``mapsync status TENANTS --http``) for many tenants.

    .venv/bin/python benchmarks/status_board.py [--tenants 200] [--runs 100]

``--tenants`` tenants in one PostgreSQL database (``$MAPSYNC_TEST_POSTGRES``, default
``postgresql://postgres@127.0.0.1:5432/test``; tenant ids ``board-bench-*`` in the default schema, deleted
before and after), each with ``--runs`` finished runs and one quarantined record. Times, median of 5: a
``PostgresStateStore`` opened per tenant for its summary and lease (what ``mapsync status`` did before the
board; only up to 200 tenants, it is slow), ``tenant_overviews`` (one connection for every tenant of the
database) and a whole ``StatusBoard.refresh`` (the registry, each tenant's secrets checked, the read). Figures,
not assertions (docs/deployment.md, "Status page").
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from mapsync.engine.state.postgres import PostgresStateStore, tenant_overviews
from mapsync.engine.tenants.status import StatusBoard

URL = os.environ.get("MAPSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "mapsync"  # the registry's stores use the default schema
TABLES = ("audit", "quarantine", "create_journal", "runs", "links", "cursors", "secrets", "leases")


def clean(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    for table in TABLES:
        conn.execute(f"DELETE FROM {SCHEMA}.{table} WHERE tenant LIKE 'board-bench-%%'")


def fill(conn: psycopg.Connection[tuple[object, ...]], ids: list[str], runs: int) -> None:
    conn.execute(f"""INSERT INTO {SCHEMA}.runs (tenant, started_at, finished_at, status, summary)
        SELECT t, now() - (g || ' minutes')::interval, now() - (g || ' minutes')::interval + interval '3 s', 'ok',
               '{{"totals": {{"created": 3, "updated": 7}}}}'
        FROM unnest(%s::text[]) AS t, generate_series(1, %s) AS g""", (ids, runs))
    conn.execute(f"""INSERT INTO {SCHEMA}.quarantine (tenant, mapping, side, record_id, error_class, reason, attempts,
        first_failed_at, last_failed_at, next_retry_at, run_id, fingerprint)
        SELECT r.tenant, 'customers', 'crm', 'rec' || r.id, 'rejected', 'bad', 1, now(), now(), now(), r.id, 'f'
        FROM (SELECT DISTINCT ON (tenant) tenant, id FROM {SCHEMA}.runs WHERE tenant LIKE 'board-bench-%%'
              ORDER BY tenant, id DESC) r""")


def median_ms(fn: Callable[[], object]) -> tuple[float, float, float]:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, min(times) * 1000, max(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    ids = [f"board-bench-{i:04d}" for i in range(args.tenants)]
    PostgresStateStore(URL).close()  # the schema made and migrated
    with psycopg.connect(URL, autocommit=True) as conn:
        clean(conn)
        fill(conn, ids, args.runs)
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            (root / "rs").mkdir()
            (root / "rs" / "ruleset.yaml").write_text("name: x\n", encoding="utf-8")
            (root / "s.env").write_text("A=1\n", encoding="utf-8")
            (root / "tenants.yaml").write_text(
                "defaults: {interval: 6m, state: '" + URL + "'}\ntenants:\n"
                + "".join(f"  - {{id: {t}, ruleset: rs, secrets: {{env_file: s.env}}}}\n" for t in ids),
                encoding="utf-8")
            board = StatusBoard(root / "tenants.yaml")
            board.refresh()

            def per_store() -> None:
                for tenant in ids:
                    with PostgresStateStore(URL, tenant=tenant) as store:
                        store.summary()
                        store.lease_holder()

            print(f"{args.tenants} tenants x {args.runs} runs, one quarantined record each")
            cases: list[tuple[str, Callable[[], object]]] = [
                ("tenant_overviews, one connection", lambda: tenant_overviews(URL, ids)),
                ("StatusBoard.refresh (registry, secrets, read)", board.refresh)]
            if args.tenants <= 200:
                cases.insert(0, ("a store opened per tenant (summary + lease)", per_store))
            for name, fn in cases:
                median, low, high = median_ms(fn)
                print(f"  {name:<48} median {median:8.1f} ms  (min {low:.1f}, max {high:.1f})")
            rows = board.status()
            assert len(rows) == args.tenants and rows[0]["quarantined"] == 1, rows[0]
    finally:
        with psycopg.connect(URL, autocommit=True) as conn:
            clean(conn)


if __name__ == "__main__":
    main()
