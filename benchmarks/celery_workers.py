"""Benchmark: many tenants on Celery worker processes (``mapsync worker``): 1, 2 and 4 processes.

    .venv/bin/python benchmarks/celery_workers.py [--tenants 200] [--processes 1,2,4]
        [--threads 16 | --passes-at-once 32] [--rounds 2] [--interval 6m | --interval 0] [--latency 100-300ms]
        [--rate-limits shared|local]

The world of ``benchmarks/tenants.py`` (``_tenantworld``): N tenants, each with its own webCRM token, Fortnox
tenant, env file and rule set (the standard Fortnox set reduced to customers by an overlay), against one
webCRM and one Fortnox simulator in a child process with the real rate limits per tenant and every request
delayed by ``--latency``; ``--organisations`` organisations each (the first pass imports them), ``--changed``
records changed after each of a tenant's passes. The tenants' state is in PostgreSQL
(``$MAPSYNC_TEST_POSTGRES``, default ``postgresql://postgres@127.0.0.1:5432/test``: each tenant its own tenant
key, the run's own, deleted afterwards), the broker a Redis server of the benchmark's own (db 0), the
workers' rate limiters shared in it (db 2; ``--rate-limits local``: each process its own).

Per configuration (every ``--processes`` count with every ``--threads`` count, or with ``--passes-at-once``
shared among them: 1 x 32, 2 x 16, 4 x 8 by default; each with tenants of its own): the worker processes are
started (``mapsync worker TENANTS --concurrency THREADS``), then the passes are sent as the scheduler
(``mapsync scheduler``, Celery beat with ``RegistryScheduler``) sends them: the task ``mapsync.tenant_pass``
for every tenant at once (round 1: the import, rule sets compiled), again every ``--interval`` (beat's
schedule: every tenant due at the same moment each interval; the pass expires after one interval).
``--interval 0`` sends each round once the last one is done (capacity). A pass is done when its run is
finished in the state store. A running pass holds two PostgreSQL connections (its store, its lease's
heartbeat): configurations that could exceed the server's ``max_connections`` are refused.

Prints per round: passes per minute, pass durations (the run's start to its end) and due to done
(p50/p95/max), whether every pass was done within its interval, the workers' CPU per pass and share of one
core, requests per pass and 429s (the simulators' log), PostgreSQL connections, Redis clients and the
workers' open files at most, the simulators' CPU, how busy the machine was and its load average; per
configuration the workers' CPU over the run and resident memory (after start, peak, and per tenant); and a
Markdown row per round. The simulators, PostgreSQL, Redis and this process share the machine with the
workers. Figures, not
assertions: run it, read it (docs/deployment.md, "Beyond one machine", "Sizing").
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
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from _tenantworld import Simulators, percentile, spread, write_tenants
from celery import Celery
from psycopg import sql

from mapsync.connectors.simkit import parse_latency
from mapsync.engine.tenants.registry import interval_seconds

MAPSYNC = str(Path(sys.executable).parent / "mapsync")
POSTGRES = os.environ.get("MAPSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
TABLES = ("audit", "quarantine", "create_journal", "runs", "links", "cursors", "secrets", "leases")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Redis server of the benchmark's own; its URL (without a database)."""
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
                    return process, f"redis://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    sys.exit("redis-server did not start")


# ----------------------------------------------------------------------------- the workers' processes
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


def memory_mb(pids: list[int], field: str = "VmRSS") -> float:
    """Resident memory (``VmRSS``) or its peak (``VmHWM``) of the processes and their children, in MB."""
    total = 0
    for pid in pids:
        for one in _family(pid):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1])
    return total / 1024


def machine_cpu() -> tuple[float, float]:
    """The machine's busy and total CPU seconds so far, all cores (``/proc/stat``)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(ticks[:8])  # user nice system idle iowait irq softirq steal
    return (total - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK"), total / os.sysconf("SC_CLK_TCK")


def open_files(pids: list[int]) -> int:
    return sum(len(os.listdir(f"/proc/{one}/fd")) for pid in pids for one in _family(pid))


def redis_clients(url: str) -> int:
    import redis

    with redis.Redis.from_url(f"{url}/0") as client:
        return int(client.info("clients")["connected_clients"])


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


# ----------------------------------------------------------------------------- one configuration
@dataclass
class Pass:
    tenant: str
    number: int  # the tenant's first pass is 1
    due: float  # when it was sent (epoch seconds)
    started: float
    finished: float
    status: str


@dataclass
class Round:
    number: int
    sent: float  # epoch seconds
    cpu: float  # the workers' CPU seconds when it was sent
    stats: dict[str, Any]  # the simulators' when it was sent
    machine: tuple[float, float]  # the machine's busy and total CPU seconds when it was sent
    done: float = 0.0
    cpu_done: float = 0.0
    machine_done: tuple[float, float] = (0.0, 0.0)
    stats_done: dict[str, Any] | None = None
    connections: int = 0  # PostgreSQL connections at most while it ran
    redis_clients: int = 0  # the benchmark's Redis's clients at most while it ran
    files: int = 0  # the workers' open files (sockets included) at most while it ran
    load: float = 0.0  # the load average at most while it ran


class Poller:
    """The finished runs of the configuration's tenants in PostgreSQL, as they finish."""

    def __init__(self, tenants: list[str]) -> None:
        self.tenants = tenants
        self.seen: set[int] = set()
        self.since = 0.0
        self.conn = psycopg.connect(POSTGRES, autocommit=True)

    def new(self) -> list[tuple[str, float, float, str]]:
        """Runs finished since the last call: (tenant, started, finished, status) in the order they finished."""
        rows = self.conn.execute(
            "SELECT id, tenant, extract(epoch FROM started_at), extract(epoch FROM finished_at), status "
            "FROM mapsync.runs WHERE tenant = ANY(%s) AND finished_at IS NOT NULL "
            "AND finished_at >= to_timestamp(%s) ORDER BY finished_at", (self.tenants, self.since - 30)).fetchall()
        found = []
        for run_id, tenant, started, finished, status in rows:
            if run_id not in self.seen:
                self.seen.add(run_id)
                found.append((str(tenant), float(started), float(finished), str(status)))
                self.since = max(self.since, float(finished))
        return found

    def connections(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
                   .fetchone()[0])  # type: ignore[index]

    def close(self) -> None:
        self.conn.close()


def configure(processes: int, threads: int, args: argparse.Namespace, sims: Simulators, redis_url: str,
              folder: Path) -> list[str]:
    """Run one configuration; its Markdown rows."""
    root = folder / f"p{processes}t{threads}"
    prefix = f"cb{uuid.uuid4().hex[:6]}p{processes}t{threads}-"
    interval = interval_seconds(args.interval) if args.interval != "0" else 0.0
    tokens = write_tenants(root, args.tenants, sims.urls, args.interval if interval else "6m", prefix=prefix,
                           state=POSTGRES)
    tenants = list(tokens)
    sims.setup(tokens, args.organisations)
    rate_limits = f"{redis_url}/2" if args.rate_limits == "shared" else "local"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAPSYNC_")} | {
        "MAPSYNC_BROKER_URL": f"{redis_url}/0", "MAPSYNC_RATE_LIMITS_URL": rate_limits}
    workers: list[subprocess.Popen[bytes]] = []
    rounds: list[Round] = []
    passes: list[Pass] = []
    poller: Poller | None = None
    label = f"{processes} x {threads}"
    print(f"\n== {label}: {processes} worker process(es) x {threads} threads, {args.tenants} tenants, rate limits "
          f"{args.rate_limits}; load average {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
    try:
        for n in range(processes):
            log = (root / f"worker-{n}.log").open("wb")
            workers.append(subprocess.Popen(
                [MAPSYNC, "worker", str(root / "tenants.yaml"), "--name", f"bench{n}@{prefix}",
                 "--concurrency", str(threads)], env=env, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 120
        while not all(" ready." in p.read_text(errors="replace") for p in root.glob("worker-*.log")):
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                sys.exit(f"workers did not start: see {root}")
            time.sleep(0.2)
        pids = [w.pid for w in workers]
        started_mb = memory_mb(pids)
        sender = Celery("bench", broker=f"{redis_url}/0")
        sender.conf.task_default_queue = "mapsync"
        poller = Poller(tenants)
        number: dict[str, int] = defaultdict(int)  # passes done per tenant
        due: dict[str, float] = {}
        start = time.time()
        for round_no in range(1, args.rounds + 1):
            if interval:  # beat: every tenant due at the same moment, once an interval
                while time.time() < start + (round_no - 1) * interval:
                    _collect(poller, number, due, passes, rounds, tokens, sims, args, pids, redis_url)
                    time.sleep(0.25)
            this = Round(round_no, time.time(), cpu_seconds(pids), sims.stats(), machine_cpu())
            rounds.append(this)
            for tenant in tenants:
                due[tenant] = this.sent
                sender.send_task("mapsync.tenant_pass", args=(tenant,), queue="mapsync",
                                 expires=interval or None)
            if not interval or round_no == args.rounds:  # wait for the round (the last: for every pass)
                limit = time.monotonic() + args.timeout
                while min(number[t] for t in tenants) < round_no:
                    if time.monotonic() > limit:
                        missing = sum(1 for t in tenants if number[t] < round_no)
                        print(f"round {round_no}: {missing} pass(es) not done after {args.timeout:g} s; see {root}")
                        break
                    _collect(poller, number, due, passes, rounds, tokens, sims, args, pids, redis_url)
                    time.sleep(0.25)
        sender.close()
        wall, used = time.time() - start, cpu_seconds(pids) - rounds[0].cpu
        print(f"workers' CPU over the run: {used:.1f} s in {wall:.0f} s = {used / wall:.0%} of one core "
              f"({used / max(len(passes), 1) * 1000:.0f} ms per pass, idle time included)")
        peak_mb = memory_mb(pids, "VmHWM")
        customers = sims.ask(("customers", [f"tenant-{t}" for t in tenants]))
        not_run = sum(p.read_text(errors="replace").count("pass not run") for p in root.glob("worker-*.log"))
        rows = report(label, args, interval, rounds, passes, started_mb, peak_mb, memory_mb(pids))
        print(f"  customers in Fortnox {customers} (expected {args.tenants * args.organisations}); "
              f"passes not run (worker logs): {not_run}", flush=True)
        return rows
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        if poller is not None:
            poller.close()
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            for table in TABLES:
                conn.execute(sql.SQL("DELETE FROM mapsync.{} WHERE tenant = ANY(%s)").format(sql.Identifier(table)),
                             (tenants,))


def _collect(poller: Poller, number: dict[str, int], due: dict[str, float], passes: list[Pass],
             rounds: list[Round], tokens: dict[str, str], sims: Simulators, args: argparse.Namespace,
             pids: list[int], redis_url: str) -> None:
    """Passes finished since the last look: recorded, their tenants' records changed; the round's figures."""
    last = 0.0
    for tenant, started, finished, status in poller.new():
        number[tenant] += 1
        passes.append(Pass(tenant, number[tenant], due[tenant], started, finished, status))
        if status in ("ok", "quarantined"):
            sims.change(tokens[tenant], tenant, number[tenant], args.changed)
        last = finished
    running = [r for r in rounds if r.stats_done is None]
    if running and last and min(number[t] for t in tokens) >= running[0].number:
        running[0].done, running[0].cpu_done, running[0].stats_done = last, cpu_seconds(pids), sims.stats()
        running[0].machine_done = machine_cpu()
    connections, load, files = poller.connections(), load_average(), open_files(pids)
    clients = redis_clients(redis_url)
    for this in running:
        this.connections, this.load = max(this.connections, connections), max(this.load, load)
        this.redis_clients, this.files = max(this.redis_clients, clients), max(this.files, files)


def report(label: str, args: argparse.Namespace, interval: float, rounds: list[Round], passes: list[Pass],
           started_mb: float, peak_mb: float, now_mb: float) -> list[str]:
    rows = []
    per_tenant_kb = (peak_mb - started_mb) * 1024 / args.tenants
    memory = f"{peak_mb:.0f} MB peak ({started_mb:.0f} at start; {per_tenant_kb:.0f} kB per tenant)"
    for this in rounds:
        done = [p for p in passes if p.number == this.number]
        if not done or this.stats_done is None:
            print(f"round {this.number}: {len(done)} of {args.tenants} passes done")
            continue
        wall = this.done - this.sent
        cpu = this.cpu_done - this.cpu
        after, before = this.stats_done, this.stats
        sent = {k: after["requests"][k] - before["requests"][k] for k in after["requests"]}
        limited = {k: after["429"][k] - before["429"][k] for k in after["429"]}
        durations = sorted(p.finished - p.started for p in done)
        to_done = sorted(p.finished - p.due for p in done)
        allowed = interval or 360.0
        late = sum(1 for d in to_done if d > allowed)
        not_ok = sum(1 for p in done if p.status not in ("ok", "quarantined"))
        simulators = after["cpu"] - before["cpu"]
        busy = (this.machine_done[0] - this.machine[0]) / max(this.machine_done[1] - this.machine[1], 1e-9)
        kind = "import, rule sets compiled" if this.number == 1 else "incremental"
        print(f"round {this.number} ({kind}): {len(done)} passes in {wall:.1f} s = {len(done) / wall * 60:.0f} "
              f"passes/min; workers' CPU {cpu:.1f} s = {cpu / wall:.0%} of one core, {cpu / len(done):.3f} s per pass")
        print(f"  pass duration {spread(durations)}; due to done {spread(to_done)}; within "
              f"{'the interval' if interval else '6 minutes'} ({allowed:g} s): "
              f"{'every pass' if not late else f'{late} passes NOT'}; not ok: {not_ok}")
        print(f"  requests per pass: webcrm {sent['webcrm'] / len(done):.1f}, "
              f"fortnox {sent['fortnox'] / len(done):.1f}; "
              f"429s: {limited}; PostgreSQL connections at most {this.connections}; load average at most "
              f"{this.load:.1f}")
        print(f"  Redis clients at most {this.redis_clients}; the workers' open files at most {this.files}")
        print(f"  simulators' CPU {simulators / wall:.0%} of one core; the machine's {os.cpu_count()} cores "
              f"{busy:.0%} busy (everything on it)", flush=True)
        rows.append(
            f"| {label} | {args.rate_limits} | {args.tenants} | {this.number} ({kind}) | {len(done) / wall * 60:.0f} | "
            f"{durations[len(durations) // 2]:.1f} / {percentile(durations, 0.95):.1f} / {durations[-1]:.1f} s | "
            f"{to_done[-1]:.0f} s: {'yes' if not late else f'{late} late'} | {cpu / len(done) * 1000:.0f} ms, "
            f"{cpu / wall:.0%} | {peak_mb:.0f} MB, {per_tenant_kb:.0f} kB | webCRM {sent['webcrm'] / len(done):.1f}, "
            f"Fortnox {sent['fortnox'] / len(done):.1f}; 429: {sum(limited.values())} | {busy:.0%}, {this.load:.1f} |")
    print(f"  workers' memory: {memory}; now {now_mb:.0f} MB", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--processes", default="1,2,4", help="worker process counts to measure (1,2,4)")
    parser.add_argument("--threads", default=None,
                        help="threads per worker process (--concurrency); a list too (default: --passes-at-once "
                             "shared by the processes)")
    parser.add_argument("--passes-at-once", type=int, default=32,
                        help="without --threads: the passes all processes together run at once (default 32)")
    parser.add_argument("--rounds", type=int, default=2, help="passes of every tenant")
    parser.add_argument("--interval", default="6m",
                        help="the tenants' interval: rounds sent that far apart (0: each once the last is done)")
    parser.add_argument("--latency", type=parse_latency, default=parse_latency("100-300ms"))
    parser.add_argument("--organisations", type=int, default=5)
    parser.add_argument("--changed", type=int, default=2, help="records changed per tenant after each pass")
    parser.add_argument("--rate-limits", choices=("shared", "local"), default="shared",
                        help="the workers' rate limiters: in the broker's Redis (db 2) or each process its own")
    parser.add_argument("--timeout", type=float, default=900, help="seconds the last round may take at most")
    args = parser.parse_args()
    counts = [int(p) for p in args.processes.split(",")]
    configs = ([(p, int(t)) for p in counts for t in args.threads.split(",")] if args.threads
               else [(p, max(1, args.passes_at_once // p)) for p in counts])
    with psycopg.connect(POSTGRES) as conn:
        allowed = int(conn.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
    for processes, threads in configs:
        if 2 * processes * threads > allowed - 20:  # a pass holds two connections: its store and its lease's
            sys.exit(f"{processes} x {threads} passes at once hold up to {2 * processes * threads} PostgreSQL "
                     f"connections; the server allows {allowed} (others use it too)")
    print(f"celery workers benchmark: {args.tenants} tenants, {args.rounds} rounds, interval {args.interval}, latency "
          f"{args.latency[0] * 1000:g}-{args.latency[1] * 1000:g} ms per request, real rate limits per tenant; "
          f"{args.organisations} organisations per tenant, {args.changed} records changed after each pass; "
          f"{os.cpu_count()} cores")
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mapsync-celery-") as tmp:
        redis, url = start_redis(Path(tmp))
        sims = Simulators(args.latency)
        try:
            for processes, threads in configs:
                rows += configure(processes, threads, args, sims, url, Path(tmp))
        finally:
            sims.close()
            redis.terminate()
            redis.wait(10)
    print("\n| workers x threads | rate limits | tenants | round | passes/min | pass p50 / p95 / max | due to done "
          "at most: within interval | workers' CPU per pass, share of one core | workers' peak RSS, per tenant | "
          "requests per pass | machine busy, load average |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
