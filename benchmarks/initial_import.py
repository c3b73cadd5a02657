"""Benchmark: requests and wall time of an initial import of N customers, then of a pass with 10 changed.

    .venv/bin/python benchmarks/initial_import.py [--customers 1000] [--no-rate-limits]

N organisations are created in webCRM (half of them also exist in Fortnox with the same customer
number, so the import both matches and creates), then the standard Fortnox rule set runs against the
simulators with the real rate limits (webCRM 250/min, Fortnox 25 per 5 s) unless told otherwise. It
waits ``--settle`` seconds (the cursors' safety overlap), runs the pass that reads back the import's
own writes, a quiet pass, and a pass after 10 organisations changed in webCRM, and prints, per pass:
wall time, the requests each simulator served, created/updated counts, and the
peak memory of the process (tracemalloc). Figures, not assertions: run it, read it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from mapsync.connectors.registry import make_client
from mapsync.engine.composition import run_pass
from mapsync.engine.connections import resolve_connection
from mapsync.engine.ruleset import load_ruleset
from mapsync.engine.sandbox import start_sandbox
from mapsync.engine.state import SqliteStateStore

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument("--settle", type=float, default=130.0,
                        help="seconds to wait after the import, so that the cursors' safety overlap (Fortnox 1 "
                             "min, webCRM 2 min) no longer covers it, as between two 6-minute passes")
    args = parser.parse_args()
    limits = not args.no_rate_limits
    with tempfile.TemporaryDirectory() as tmp:
        # in memory: a simulator with a data folder rewrites its whole store on every write (its own cost)
        sandbox = start_sandbox(None, realistic_limits=limits)
        try:
            ruleset = load_ruleset(ROOT / "mapsync/rules/standard/fortnox", sandbox.env, for_run=True).ruleset
            assert ruleset is not None
            options: dict[str, Any] = {} if limits else {"rate_limit": None}
            sims = sandbox.simulators
            # Seeded straight into the simulators' backends: the seeding is not what is measured.
            for i in range(args.customers):
                number = str(10000 + i)
                sims["webcrm"].backend.create("organisation", {
                    "OrganisationName": f"Customer {i}", "OrganisationType": "Customer",
                    "OrganisationExtraCustom1": number, "OrganisationTelephone": f"+46 8 {i:06d}"})
                if i % 2 == 0:
                    sims["fortnox"].backend.create("customer", {"CustomerNumber": number, "Name": f"Customer {i}"})
            seed_crm = make_client("webcrm", resolve_connection(ruleset.crm, sandbox.env), rate_limit=None)

            def requests() -> dict[str, int]:
                return {name: sim.log.count() for name, sim in sims.items()}

            with SqliteStateStore(Path(tmp) / "state.sqlite") as store:
                def one_pass(label: str) -> None:
                    before = requests()
                    tracemalloc.start()
                    started = time.perf_counter()
                    report = run_pass(ruleset, sandbox.env, store, apply=True, **options)
                    seconds = time.perf_counter() - started
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                    after = requests()
                    served = {name: after[name] - before[name] for name in after}
                    print(f"{label}: {seconds:.1f} s wall, requests {served} (total {sum(served.values())}), "
                          f"created {report.total('created')}, updated {report.total('updated')}, "
                          f"unchanged {report.total('unchanged')}, quarantined {report.total('quarantined')}, "
                          f"peak memory {peak / 1e6:.1f} MB")

                one_pass(f"initial import of {args.customers} organisations")
                time.sleep(args.settle)
                one_pass("next pass (reads back the import's own writes once: no-ops)")
                one_pass("pass with nothing changed")
                links = store.links("customers")[: args.changed]
                for n, link in enumerate(links):
                    seed_crm.update("organisation", link.crm_id, {"OrganisationTelephone": f"+46 31 {n:06d}"})
                one_pass(f"pass with {len(links)} changed in webCRM")
            seed_crm.close()
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
