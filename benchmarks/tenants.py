"""Benchmark: many tenants on one machine: ``mapsync serve``'s ``Server`` against one set of simulators.

    .venv/bin/python benchmarks/tenants.py [--tenants 200] [--rounds 2 | --duration 10m] [--workers 32]
                                           [--interval 60s] [--latency 100-300ms]

N tenants, each with its own webCRM application token and Fortnox tenant (client credentials with its own
``TenantId``), its own env file, state store and rule set: the standard Fortnox rule set with every mapping
but ``customers`` switched off by an overlay. One webCRM and one Fortnox simulator serve them all, each
tenant with its own data and the real rate limits per tenant (webCRM 250/min, Fortnox 25 per 5 s), every
request delayed by ``--latency`` (``_tenantworld``, shared with ``celery_workers.py``). The simulators run in a
child process, so the figures of this process are
``serve``'s own. Each tenant starts with ``--organisations`` organisations in webCRM (the first pass imports
them into Fortnox); after each of its passes ``--changed`` of its records are changed through the
simulators' backends (not counted as requests), alternately in webCRM and in Fortnox.

Every tenant is due at once at the start (round 1: the first import, and the rule sets compiled), then
every ``--interval`` after its last pass was started. ``--rounds R`` stops when every tenant has run R
passes; ``--duration`` after that long. Time may be scaled: the product's cadence is 6 minutes; with
``--interval 60s`` the tenants come due six times as often, and each pass also reads back the writes of
the last one (the cursors' safety overlap is 1-2 minutes), so a scaled run is the harder one.

Prints: passes per minute (round 1 with every tenant due at once is the capacity; the later rounds follow
the cadence), pass durations and queue waits (p50/p95/max), whether every pass ended before its tenant was
due again, requests per pass and 429s, CPU share of this process, peak RSS and memory per tenant, and the
simulators' process. Figures, not assertions: run it, read it (README, "Measured"; docs/deployment.md,
"Sizing").
"""

from __future__ import annotations

import argparse
import logging
import resource
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _tenantworld import Simulators, rss_kb, spread, write_tenants

from mapsync.connectors.simkit import parse_latency
from mapsync.engine.sync.report import PassReport
from mapsync.engine.tenants.metrics import PassMetrics
from mapsync.engine.tenants.registry import interval_seconds
from mapsync.engine.tenants.serve import DEFAULT_WORKERS, Server, TenantState


# ----------------------------------------------------------------------------- the measured server
@dataclass
class Pass:
    tenant: str
    number: int  # 1 for the tenant's first pass
    submitted: float  # when the scheduler handed it to the pool (the tenant was due)
    started: float
    finished: float
    status: str
    error: str
    requests: dict[str, int] = field(default_factory=dict)
    rate_limited: dict[str, int] = field(default_factory=dict)


class ReportsKept(PassMetrics):
    """The server's metrics, also keeping each tenant's last pass report for the benchmark."""

    def __init__(self) -> None:
        super().__init__()
        self.last: dict[str, PassReport] = {}

    def observe(self, tenant: str, report: PassReport, quarantined: int) -> None:
        super().observe(tenant, report, quarantined)
        self.last[tenant] = report


class MeasuredServer(Server):
    """``Server`` with every pass timed; after each pass the tenant's records are changed (``after_pass``)."""

    def __init__(self, registry: Path, *, workers: int, after_pass: Any) -> None:
        super().__init__(registry, workers=workers)
        self.metrics = ReportsKept()
        self.passes: list[Pass] = []
        self.after_pass = after_pass
        self._passes_lock = threading.Lock()

    def run_tenant(self, state: TenantState) -> None:
        submitted = state.next_due - state.tenant.interval
        started = self.clock()
        super().run_tenant(state)
        finished = self.clock()
        report = self.metrics.last.pop(state.tenant.id, None)
        done = Pass(state.tenant.id, state.passes, submitted, started, finished, state.last_status, state.last_error,
                    dict(report.requests) if report else {}, dict(report.rate_limited) if report else {})
        with self._passes_lock:
            self.passes.append(done)
        self.after_pass(done)


# ----------------------------------------------------------------------------- report
class CpuSampler:
    """This process's CPU time, sampled twice a second, to tell the CPU share of one span of the run."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def _run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), time.process_time()))
            if self.stop.wait(0.5):
                return

    def share(self, start: float, end: float) -> float:
        """CPU seconds per wall second between ``start`` and ``end`` (the nearest samples)."""
        inside = [s for s in self.samples if start <= s[0] <= end] or self.samples[-1:]
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        return (c1 - c0) / (t1 - t0) if t1 > t0 else 0.0


def describe(label: str, passes: list[Pass], interval: float, cpu: CpuSampler) -> None:
    if not passes:
        print(f"{label}: no passes")
        return
    first, last = min(p.submitted for p in passes), max(p.finished for p in passes)
    minutes = max(last - first, 1e-9) / 60
    sent: dict[str, int] = defaultdict(int)
    limited: dict[str, int] = defaultdict(int)
    for p in passes:
        for system, n in p.requests.items():
            sent[system] += n
        for system, n in p.rate_limited.items():
            limited[system] += n
    per_pass = ", ".join(f"{system} {n / len(passes):.1f}" for system, n in sorted(sent.items()))
    late = [p for p in passes if p.finished - p.submitted > interval]
    worst = max(p.finished - p.submitted for p in passes)
    not_ok = [p for p in passes if p.status not in ("ok",)]
    print(f"{label}: {len(passes)} passes in {last - first:.1f} s = {len(passes) / minutes:.0f} passes/min; "
          f"serve's CPU meanwhile {cpu.share(first, last):.0%} of one core")
    print(f"  pass duration {spread([p.finished - p.started for p in passes])}; "
          f"queue wait {spread([p.started - p.submitted for p in passes])}")
    print(f"  within the interval ({interval:g} s from due to done): "
          f"{'every pass' if not late else f'{len(late)} passes NOT'} (the slowest took {worst:.1f} s)")
    print(f"  requests per pass: {per_pass}; 429s: {dict(limited) or 0}")
    if not_ok:
        reasons = defaultdict(int)
        for p in not_ok:
            reasons[f"{p.status}: {p.error[:100]}"] += 1
        print(f"  NOT ok: {len(not_ok)} passes: {dict(reasons)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="stop when every tenant has run this many passes")
    parser.add_argument("--duration", default=None, help="stop after this long instead (e.g. 10m)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--interval", default="60s", help="each tenant's interval (the product's is 6m)")
    parser.add_argument("--latency", type=parse_latency, default=parse_latency("100-300ms"))
    parser.add_argument("--organisations", type=int, default=5)
    parser.add_argument("--changed", type=int, default=2, help="records changed per tenant after each pass")
    args = parser.parse_args()
    interval = interval_seconds(args.interval)
    duration = interval_seconds(args.duration) if args.duration else None
    # A pass's outcome and error are in the figures ("NOT ok"); passes still running at the end stop on request.
    logging.basicConfig(level=logging.CRITICAL, format="%(levelname)s %(name)s %(message)s")

    sims = Simulators(args.latency)
    try:
        with tempfile.TemporaryDirectory(prefix="mapsync-tenants-") as tmp:
            root = Path(tmp)
            tokens = write_tenants(root, args.tenants, sims.urls, args.interval)
            sims.setup(tokens, args.organisations)
            rounds_done = threading.Event()
            finished: dict[str, int] = defaultdict(int)

            counting = threading.Lock()

            def after_pass(done: Pass) -> None:
                if done.status in ("ok", "quarantined"):
                    sims.change(tokens[done.tenant], done.tenant, done.number, args.changed)
                with counting:
                    finished[done.tenant] = max(finished[done.tenant], done.number)
                    if duration is None and len(finished) == args.tenants and min(finished.values()) >= args.rounds:
                        rounds_done.set()

            before = sims.stats()
            baseline_kb = rss_kb()
            server = MeasuredServer(root / "tenants.yaml", workers=args.workers, after_pass=after_pass)
            sampler = CpuSampler()
            sampler.thread.start()
            cpu = resource.getrusage(resource.RUSAGE_SELF)
            started = time.monotonic()
            thread = threading.Thread(target=server.serve, kwargs={"tick": 0.2}, name="serve")
            thread.start()
            rounds_done.wait(duration)
            server.stop.set()
            thread.join()
            sampler.stop.set()
            sampler.thread.join()
            wall = time.monotonic() - started
            used = resource.getrusage(resource.RUSAGE_SELF)
            after = sims.stats()

            last_round = args.rounds if duration is None else None
            counted = [p for p in server.passes if last_round is None or p.number <= last_round]
            print(f"tenants benchmark: {args.tenants} tenants, {args.workers} workers, interval {args.interval}"
                  f"{' (the product: 6m)' if interval != 360 else ''}, latency "
                  f"{args.latency[0] * 1000:g}-{args.latency[1] * 1000:g} ms per request, real rate limits per "
                  f"tenant; {args.organisations} organisations per tenant, {args.changed} records changed after "
                  f"each pass; " + (f"{args.rounds} rounds" if duration is None else f"for {args.duration}"))
            describe("round 1 (every tenant due at once: first import, rule sets compiled)",
                     [p for p in counted if p.number == 1], interval, sampler)
            describe("later rounds (incremental, on the cadence)", [p for p in counted if p.number > 1], interval,
                     sampler)
            describe("all passes", counted, interval, sampler)
            user_s, sys_s = used.ru_utime - cpu.ru_utime, used.ru_stime - cpu.ru_stime
            cpu_s = user_s + sys_s
            peak_kb = used.ru_maxrss
            print(f"serve process: CPU {cpu_s:.1f} s ({user_s:.1f} user, {sys_s:.1f} system) in {wall:.1f} s wall "
                  f"= {cpu_s / wall:.0%} of one core; {cpu_s * 1000 / max(len(server.passes), 1):.0f} ms per pass; "
                  f"peak RSS {peak_kb / 1024:.0f} MB (before serving "
                  f"{baseline_kb / 1024:.0f} MB: {(peak_kb - baseline_kb) / args.tenants:.0f} kB per tenant)")
            sim_cpu = after["cpu"] - before["cpu"]
            requests = {k: after["requests"][k] - before["requests"][k] for k in after["requests"]}
            limited = {k: after["429"][k] - before["429"][k] for k in after["429"]}
            print(f"simulators process: CPU {sim_cpu:.1f} s = {sim_cpu / wall:.0%} of one core; peak RSS "
                  f"{after['peak_rss_kb'] / 1024:.0f} MB; requests served {requests} (429: {limited}); tenants "
                  f"{after['tenants']}")
    finally:
        sims.close()


if __name__ == "__main__":
    main()
