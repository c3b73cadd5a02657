"""Benchmark: throughput of Celery worker processes (``mapsync worker``) with 1, 2 and 4 processes.

    .venv/bin/python benchmarks/celery_workers.py [--tenants 16] [--organisations 10] [--concurrency 4]
        [--processes 1,2,4]

Per configuration: ``--tenants`` tenants, each with a sandbox of its own (webCRM and Fortnox simulators, no
server-side rate limits; the clients keep theirs) holding ``--organisations`` organisations, their state in
PostgreSQL (``$MAPSYNC_TEST_POSTGRES``, default ``postgresql://postgres@127.0.0.1:5432/test``; tenants of
the run's own, deleted afterwards) and a Redis server of the benchmark's own as the broker. It starts the
worker processes (``--concurrency`` threads each), sends one pass of every tenant at once and waits for them
all (the import: every organisation created in Fortnox), then does it again (the next pass, which reads back
the import's own writes), and prints per round the wall time, passes per minute and the CPU time the workers
spent per pass, and the workers' memory (resident set). The simulators of every tenant run in this one
process: on a small machine they share its cores with the workers (and PostgreSQL and Redis), so the figures
are a floor. Figures, not assertions: run it, read it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from celery import Celery
from psycopg import sql

from mapsync import STANDARD_RULES
from mapsync.engine.sandbox import Sandbox, start_sandbox

MAPSYNC = str(Path(sys.executable).parent / "mapsync")
POSTGRES = os.environ.get("MAPSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
TABLES = ("audit", "quarantine", "create_journal", "runs", "links", "cursors", "secrets", "leases")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    program = shutil.which("redis-server")
    if program is None:
        sys.exit("redis-server not found")
    port = free_port()
    process = subprocess.Popen([program, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    sys.exit("redis-server did not start")


def finished_runs(tenants: list[str]) -> dict[str, int]:
    with psycopg.connect(POSTGRES) as conn:
        rows = conn.execute("SELECT tenant, count(*) FROM mapsync.runs WHERE tenant = ANY(%s) "
                            "AND finished_at IS NOT NULL GROUP BY tenant", (tenants,)).fetchall()
    return {str(tenant): int(count) for tenant, count in rows}


def _family(pid: int) -> list[int]:
    """A process and its children (the prefork pool's)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(p) for p in children.read_text().split())] if children.exists() else [pid]


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes (and their children) have used."""
    ticks = 0
    for pid in pids:
        for one in _family(pid):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the prefork pool's), in MB."""
    total = 0
    for one in _family(pid):
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def run(processes: int, args: argparse.Namespace, redis_url: str, folder: Path) -> list[str]:
    root = folder / f"ops-{processes}"
    (root / "secrets").mkdir(parents=True)
    sandboxes: dict[str, Sandbox] = {}
    workers: list[subprocess.Popen[bytes]] = []
    rows = []
    try:
        lines = [f"defaults: {{interval: 1h, state: '{POSTGRES}'}}", "tenants:"]
        for index in range(args.tenants):
            tenant = f"bench{processes}-{index}-{uuid.uuid4().hex[:6]}"
            box = sandboxes[tenant] = start_sandbox(None, realistic_limits=False, products=("webcrm", "fortnox"))
            for n in range(args.organisations):
                box.simulators["webcrm"].backend.create("organisation", {
                    "OrganisationName": f"Customer {n}", "OrganisationType": "Customer",
                    "OrganisationExtraCustom2": f"5560{n % 100:02d}-{n:04d}"})
            (root / "secrets" / f"{tenant}.env").write_text("".join(f"{k}={v}\n" for k, v in box.env.items()),
                                                             encoding="utf-8")
            lines.append(f"  - {{id: {tenant}, ruleset: {STANDARD_RULES / 'standard' / 'fortnox'}, "
                         f"secrets: {{env_file: secrets/{tenant}.env}}}}")
        registry = root / "tenants.yaml"
        registry.write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAPSYNC_")} | {"MAPSYNC_BROKER_URL": redis_url}
        for n in range(processes):
            log = (root / f"worker-{n}.log").open("wb")
            workers.append(subprocess.Popen([MAPSYNC, "worker", str(registry), "--name", f"bench{n}@bench",
                                             "--concurrency", str(args.concurrency)], env=env, stdout=log,
                                            stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while not all(" ready." in p.read_text(errors="replace") for p in root.glob("worker-*.log")):
            if time.monotonic() > deadline:
                sys.exit(f"workers did not start: see {root}")
            time.sleep(0.1)
        sender = Celery("bench", broker=redis_url)
        sender.conf.task_default_queue = "mapsync"
        tenants = list(sandboxes)
        for round_no, name in enumerate(("import", "next pass"), start=1):
            started, cpu = time.monotonic(), cpu_seconds([p.pid for p in workers])
            for tenant in tenants:
                sender.send_task("mapsync.tenant_pass", args=(tenant,))
            deadline = time.monotonic() + args.timeout
            while (done := sum(1 for c in finished_runs(tenants).values() if c >= round_no)) < len(tenants):
                if time.monotonic() > deadline:  # a pass that did not run records no run: see the logs
                    sys.exit(f"{name}: {len(tenants) - done} pass(es) not done after {args.timeout} s; see {root}")
                time.sleep(0.1)
            wall = time.monotonic() - started
            used = cpu_seconds([p.pid for p in workers]) - cpu
            rows.append(f"| {processes} x {args.concurrency} | {name} | {len(tenants)} | {wall:.1f} s | "
                        f"{len(tenants) / wall * 60:.0f} | {used / len(tenants):.2f} s |")
        sender.close()
        created = sum(len(box.simulators["fortnox"].backend.store.all_dated("customer")) for box in sandboxes.values())
        assert created == args.tenants * args.organisations, created
        memory = ", ".join(f"{rss_mb(p.pid):.0f}" for p in workers)
        rows = [f"{row} {memory} MB |" for row in rows]
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.wait(30)
        for box in sandboxes.values():
            box.stop()
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            for table in TABLES:
                conn.execute(sql.SQL("DELETE FROM mapsync.{} WHERE tenant = ANY(%s)").format(sql.Identifier(table)),
                             (list(sandboxes),))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=16)
    parser.add_argument("--organisations", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker process")
    parser.add_argument("--processes", default="1,2,4", help="worker process counts to measure")
    parser.add_argument("--timeout", type=float, default=300, help="seconds a round may take at most")
    args = parser.parse_args()
    print(f"{args.tenants} tenants of {args.organisations} organisations each; {os.cpu_count()} cores")
    print("| workers x threads | round | passes | wall | passes/min | workers' CPU per pass | workers' memory |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        redis, url = start_redis(Path(tmp))
        try:
            for processes in (int(p) for p in args.processes.split(",")):
                for row in run(processes, args, url, Path(tmp)):
                    print(row, flush=True)
        finally:
            redis.terminate()
            redis.wait(10)


if __name__ == "__main__":
    main()
