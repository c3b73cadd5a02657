"""Merge speed (issue 12, target 2): the three-way merge per linked pair next to the mapping of one record.

In one process, no I/O, on the same 100,000 webCRM-like organisations as benchmarks/mapping_speed.py, with the
standard Fortnox customers mapping bound once:

- mapping: the values a create sends for each organisation (the compiled create plan, what ``mapsync
  transform`` runs per record, the condition included);
- merge: ``fieldmerge.merge`` of each organisation with its linked Fortnox customer and their base (the values
  agreed at the last sync): a quarter changed in webCRM, a quarter in Fortnox, half unchanged.

The two loops run interleaved ``--rounds`` times (default 3); target: merge per pair at most 2x mapping per
record.

    .venv/bin/python benchmarks/merge_speed.py [--records 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mapping_speed import ENV, RULESET, organisation

from mapsync.connectors.catalogue import load_catalogue
from mapsync.engine.expressions import as_record
from mapsync.engine.ruleset import Side, load_ruleset
from mapsync.engine.ruleset.compiler import thaw
from mapsync.engine.sync.bound import bind
from mapsync.engine.sync.createplan import compile_create
from mapsync.engine.sync.fieldmerge import HeldField, base_of, merge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    ruleset = load_ruleset(RULESET, ENV).ruleset
    assert ruleset is not None
    mapping = next(m for m in ruleset.mappings if m.name == "customers")
    bound = bind(mapping, {side: load_catalogue(ruleset.system(side).connector) for side in Side}, ruleset.settings)
    settings = thaw(ruleset.settings)
    plan = compile_create(bound, Side.ERP, settings)
    condition = mapping.conditions.get(Side.CRM)
    rnd = random.Random(12)
    orgs = [organisation(i, rnd) for i in range(args.records)]
    pairs = []
    for i, org in enumerate(orgs):
        customer = plan.values(org, None, [])
        base = base_of(bound, org, customer)
        crm, erp = org, customer
        if i % 4 == 1:
            crm = {**org, "OrganisationName": f"{org['OrganisationName']} (renamed)"}
        elif i % 4 == 2:
            erp = {**customer, "Phone1": "+46 8 000 00 00"}
        pairs.append((crm, erp, base))

    def mapping_loop() -> float:
        started = time.perf_counter()
        names = {"record": None, "settings": settings}
        wraps = (condition is not None and not condition.reads_record_flat) or plan.uses_record  # as transform
        for org in orgs:
            wrapped = as_record(org) if wraps else None
            names["record"] = org if wrapped is None else wrapped
            if condition is None or condition.evaluate(names):
                plan.values(org, wrapped, [])
        return time.perf_counter() - started

    def merge_loop() -> float:
        started = time.perf_counter()
        for crm, erp, base in pairs:
            merge(bound, crm, erp, base, settings)
        return time.perf_counter() - started

    held: list[HeldField] = []
    assert held == []
    times: dict[str, list[float]] = {"mapping": [], "merge": []}
    load = os.getloadavg()[0]
    for _ in range(args.rounds):
        times["mapping"].append(mapping_loop())
        times["merge"].append(merge_loop())
    median = {k: statistics.median(v) for k, v in times.items()}
    per = {k: v / args.records * 1e6 for k, v in median.items()}
    print(f"merge speed: {args.records:,} records, in process, median of {args.rounds} interleaved rounds; load "
          f"average {load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  mapping (condition + create values) {median['mapping']:6.2f} s  {per['mapping']:6.1f} us/record")
    print(f"  three-way merge per linked pair     {median['merge']:6.2f} s  {per['merge']:6.1f} us/pair")
    ratio = median["merge"] / median["mapping"]
    print(f"  merge / mapping: {ratio:.2f}x (target at most 2x: {'met' if ratio <= 2 else 'NOT met'})")


if __name__ == "__main__":
    main()
