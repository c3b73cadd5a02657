"""Benchmark: the engine's own cost per record, without any I/O (rule set compile, merge, plan).

    .venv/bin/python benchmarks/engine_throughput.py [--records 20000]

Loads and compiles the standard Fortnox rule set (timed), then merges N customer pairs field by field
against their bases (half unchanged, a quarter changed on each side) and computes the values of N new
records. Prints records per second and peak memory: the engine's cost next to an API's (Fortnox allows
5 requests a second).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

from mapsync.connectors.catalogue import load_catalogue
from mapsync.engine.ruleset import Side, load_ruleset
from mapsync.engine.ruleset.compiler import thaw
from mapsync.engine.sync.bound import bind
from mapsync.engine.sync.fieldmerge import base_of, merge, values_for_create

ROOT = Path(__file__).resolve().parents[1]
ENV = {n: "x" for n in ("WEBCRM_BASE_URL", "WEBCRM_API_TOKEN", "FORTNOX_BASE_URL", "FORTNOX_ACCESS_TOKEN")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20000)
    n = parser.parse_args().records
    started = time.perf_counter()
    ruleset = load_ruleset(ROOT / "mapsync/rules/standard/fortnox", ENV, for_run=True).ruleset
    assert ruleset is not None
    print(f"load + validate + compile the standard Fortnox rule set: {(time.perf_counter() - started) * 1000:.0f} ms")
    catalogues = {Side.CRM: load_catalogue("webcrm"), Side.ERP: load_catalogue("fortnox")}
    customers = bind(ruleset.mapping("customers"), catalogues, ruleset.settings)  # type: ignore[arg-type]
    settings = thaw(ruleset.settings)
    pairs = []
    for i in range(n):
        crm = {"OrganisationId": i, "OrganisationName": f"Org {i}", "OrganisationType": "Customer",
               "OrganisationExtraCustom1": str(i), "OrganisationTelephone": f"+46 {i}", "OrganisationCountry": "Sweden",
               "OrganisationWww": "example.se", "OrganisationExtraCustom3": "30", "OrganisationExtraCustom4": "SEK"}
        erp = {"CustomerNumber": str(i), "Name": f"Org {i}", "Type": "COMPANY", "Phone1": f"+46 {i}",
               "VisitingCountryCode": "SE", "WWW": "example.se", "TermsOfPayment": "30", "Currency": "SEK"}
        base = base_of(customers, crm, erp)
        if i % 4 == 1:
            crm = {**crm, "OrganisationName": f"Org {i} AB"}
        elif i % 4 == 2:
            erp = {**erp, "Phone1": "+46 0"}
        pairs.append((crm, erp, base))
    tracemalloc.start()
    started = time.perf_counter()
    changes = sum(len(merge(customers, crm, erp, base, settings).changes) for crm, erp, base in pairs)
    merge_s = time.perf_counter() - started
    started = time.perf_counter()
    for crm, _, _ in pairs:
        values_for_create(customers, Side.ERP, crm, settings)
    create_s = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"merge of {n} linked pairs ({len(customers.rules)} field rules each): {n / merge_s:,.0f} pairs/s, "
          f"{changes} field changes planned")
    print(f"values of {n} new customers: {n / create_s:,.0f} records/s; peak memory during both {peak / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
