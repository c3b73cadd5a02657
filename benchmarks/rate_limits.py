"""Benchmark: does a pass of many writes go as fast as the binding rate limit allows?

    .venv/bin/python benchmarks/rate_limits.py [--writes 2000] [--concurrency 4 [1 ...]] [--latency 100-300ms]

``--writes`` webCRM organisations (customers, no customer number) are seeded straight into the webCRM
simulator; the standard Fortnox rule set then imports them: a Fortnox create per organisation and the write-back
of the customer number Fortnox assigned to webCRM. The simulators enforce the real limits (webCRM 250
requests a minute, Fortnox 25 per 5 s, sliding windows) and answer each request after 100-300 ms. For each
``--concurrency`` (records applied at once; `mapsync run --concurrency`) the import runs on fresh simulators and
the benchmark prints the wall time, the requests each system served, the 429s, and the time the binding limit
allows for those requests: ``(ceil(requests / limit) - 1) * window`` for the system that needs longest (a
sliding window lets the first ``limit`` requests go at once), and the ratio. Target (issue 12): at most 1.1x
with zero 429s where the limit is known.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from mapsync.connectors.registry import rate_limit_of
from mapsync.connectors.simkit.latency import parse_latency
from mapsync.engine.composition import run_pass
from mapsync.engine.ruleset import load_ruleset
from mapsync.engine.sandbox import start_sandbox
from mapsync.engine.state import SqliteStateStore

ROOT = Path(__file__).resolve().parents[1]


def binding_seconds(served: dict[str, int]) -> tuple[float, str]:
    """The least time the systems' limits allow for ``served`` requests, and which system binds."""
    best, which = 0.0, "none"
    for name, count in served.items():
        limit = rate_limit_of(name)
        if limit is None or count == 0:
            continue
        seconds = (math.ceil(count / limit[0]) - 1) * limit[1]
        if seconds > best:
            best, which = seconds, name
    return best, which


def one_import(writes: int, concurrency: int, latency: tuple[float, float]) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        # no data folder: a simulator that persists writes its whole store to disk on every write, which
        # costs more per request the more records it holds (its own cost, not the engine's)
        sandbox = start_sandbox(None, realistic_limits=True, products=("webcrm", "fortnox"), latency=latency)
        try:
            ruleset = load_ruleset(ROOT / "mapsync/rules/standard/fortnox", sandbox.env, for_run=True).ruleset
            assert ruleset is not None
            sims = sandbox.simulators
            for i in range(writes):
                sims["webcrm"].backend.create("organisation", {
                    "OrganisationName": f"Customer {i}", "OrganisationType": "Customer",
                    "OrganisationTelephone": f"+46 8 {i:06d}"})
            before = {name: sim.log.count() for name, sim in sims.items()}
            with SqliteStateStore(Path(tmp) / "state.sqlite") as store:
                started = time.perf_counter()
                report = run_pass(ruleset, sandbox.env, store, apply=True, concurrency=concurrency)
                seconds = time.perf_counter() - started
            served = {name: sim.log.count() - before[name] for name, sim in sims.items()}
            floor, binding = binding_seconds(served)
            return {"concurrency": concurrency, "seconds": seconds, "served": served,
                    "created": report.total("created"), "quarantined": report.total("quarantined"),
                    "429": sum(report.rate_limited.values()), "floor": floor, "binding": binding}
        finally:
            sandbox.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4])
    parser.add_argument("--latency", type=parse_latency, default=(0.1, 0.3))
    args = parser.parse_args()
    print(f"import of {args.writes} organisations, real limits, {args.latency[0] * 1000:.0f}-"
          f"{args.latency[1] * 1000:.0f} ms per request")
    for concurrency in args.concurrency:
        r = one_import(args.writes, concurrency, args.latency)
        floor = float(r["floor"])  # type: ignore[arg-type]
        seconds = float(r["seconds"])  # type: ignore[arg-type]
        ratio = seconds / floor if floor else float("nan")
        print(f"concurrency {concurrency}: {seconds:.1f} s wall; requests {r['served']}; created {r['created']}, "
              f"quarantined {r['quarantined']}; 429s {r['429']}; the {r['binding']} limit allows {floor:.0f} s: "
              f"{ratio:.2f}x (target <= 1.10x, zero 429s)")


if __name__ == "__main__":
    main()
