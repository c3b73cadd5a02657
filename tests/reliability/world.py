"""The reliability suites' world: simulators seeded with a reproducible set of records for the standard Fortnox
rule set, ``mapsync run`` as a real subprocess against them, and the systems' end states, normalised so that
two runs that did the same work compare equal whatever ids the systems generated.

The world (``build_world``): the simulators' demo records, then ``size`` generated organisations in turn of five
kinds: a prospect (not synced) with a delivery; a customer with a number that Fortnox also holds (linked on first
contact); a customer without a number (Fortnox assigns one, written back), with a delivery of two lines; a
customer with a number only webCRM holds, with a delivery of one line; a Fortnox-only customer (created in
webCRM).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mapsync.engine.sandbox import Sandbox, start_sandbox

ROOT = Path(__file__).resolve().parents[2]
STANDARD_FORTNOX = ROOT / "mapsync/rules/standard/fortnox"
ARTICLES = ("SKRUV-100", "HAMMARE")


def build_world(size: int) -> Sandbox:
    """Fresh in-memory simulators (no rate limits), seeded with the demo records and ``size`` organisations."""
    sandbox = start_sandbox(None, seed=True, realistic_limits=False, products=("webcrm", "fortnox"))
    crm = sandbox.simulators["webcrm"].tenants.get(None)
    erp = sandbox.simulators["fortnox"].tenants.get(None)
    for i in range(size):
        kind = i % 5
        name = f"Org {i:03d} AB"
        org: dict[str, Any] = {"OrganisationName": name, "OrganisationType": "Customer",
                               "OrganisationCity": f"Stad {i}", "OrganisationTelephone": f"08-{i:03d} 00"}
        number = f"{3000 + i}"
        if kind == 0:
            org["OrganisationType"] = "Prospect"
        elif kind in (1, 3):
            org["OrganisationExtraCustom1"] = number
        if kind == 4:
            erp.create("customer", {"CustomerNumber": number, "Name": name, "City": f"Ort {i}",
                                    "Phone1": f"070-{i:03d}"})
            continue
        if kind == 1:
            erp.create("customer", {"CustomerNumber": number, "Name": name, "Phone1": f"070-{i:03d}",
                                    "ZipCode": f"1{i:02d} 00"})
        org_id = crm.create("organisation", org)
        if kind in (0, 2, 3):
            delivery = crm.create("delivery", {"DeliveryOrganisationId": org_id, "DeliveryDescription": f"Etapp {i}",
                                               "DeliveryOrderDate": "2026-11-02T00:00:00", "DeliveryStatus": "New"})
            for n in range(2 if kind == 2 else 1):
                crm.create("quotation_line", {"QuotationLineOpportunityId": delivery, "QuotationLineData1": ARTICLES[n],
                                              "QuotationLineQuantity": 1 + n + i % 3, "QuotationLinePrice": 100 + i,
                                              "QuotationLineMemo": f"rad {n}"})
    backdate(sandbox)
    return sandbox


def backdate(sandbox: Sandbox, age: timedelta = timedelta(days=1)) -> None:
    """Make every record look last changed ``age`` ago, as records are when a pass starts in real life: a record
    a pass skips is then not read again by the next one through the cursors' overlap of a minute or two."""
    then = datetime.now(UTC) - age
    stamp = then.strftime("%Y-%m-%dT%H:%M:%S.") + f"{then.microsecond // 1000:03d}Z"
    for simulator in sandbox.simulators.values():
        store = simulator.tenants.get(None).store
        with store.lock:
            for entity, records in store.records.items():
                for key, record in records.items():
                    store.modified[entity][key] = then.isoformat()
                    for field in record:
                        if field.endswith(("UpdatedAt", "CreatedAt")):
                            record[field] = stamp


@dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str


def mapsync_run(sandbox: Sandbox, state: Path, *, crash_at: str | None = None, first_import: bool = True,
                extra_env: dict[str, str] | None = None, timeout: float = 120.0) -> RunResult:
    """``mapsync run`` of the standard Fortnox rule set as a subprocess; ``crash_at`` sets ``MAPSYNC_CRASH_AT``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBCRM_", "FORTNOX_", "VISMANET_", "MAPSYNC_"))}
    env.update(sandbox.env)
    env.update(extra_env or {})
    if crash_at is not None:
        env["MAPSYNC_CRASH_AT"] = crash_at
    command = [sys.executable, "-m", "tests.reliability.fastrun", "--log-level", "error", "run", str(STANDARD_FORTNOX),
               "--state", str(state), "--format", "json"]
    if first_import:
        command.append("--first-import")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    return RunResult(done.returncode, done.stdout, done.stderr)


# -- end states ---------------------------------------------------------------------------------------

VOLATILE = ("UpdatedAt", "CreatedAt", "@url", "@LastModified", "LastModified", "Modified", "Created", "Updated")


def _records(sandbox: Sandbox, product: str) -> dict[str, dict[str, dict[str, Any]]]:
    backend = sandbox.simulators[product].tenants.get(None)
    store = backend.store
    with store.lock:
        return json.loads(json.dumps(store.records))


def raw_state(sandbox: Sandbox) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    return {product: _records(sandbox, product) for product in sandbox.simulators}


def _label(record: dict[str, Any], *fields: str) -> str:
    return "|".join(str(record.get(f)) for f in fields)


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    """The record without what a system stamps by itself (times) and the time the engine stamps a delivery
    with (``DeliveryErpSyncDateTime``: when it ran, which differs between two runs that did the same work)."""
    return {k: v for k, v in record.items() if not k.endswith(("At", "DateTime", "LastModified", "@url"))}


def end_state(sandbox: Sandbox) -> dict[str, list[str]]:
    """Both systems' records, per ``system/entity`` a sorted list of canonical JSON texts, every generated id
    (webCRM's ids, Fortnox's assigned customer and document numbers, row ids) replaced by a label made from
    the content of the record it names, so that two runs that did the same work give the same end state."""
    crm, erp = _records(sandbox, "webcrm"), _records(sandbox, "fortnox")
    org = {str(r["OrganisationId"]): "org:" + _label(r, "OrganisationName") for r in crm["organisation"].values()}
    customer = {str(r["CustomerNumber"]): "customer:" + _label(r, "Name") for r in erp["customer"].values()}
    order = {str(r["DocumentNumber"]): "order:" + _label(r, "CustomerName", "Remarks", "OrderDate")
             for r in erp["order"].values()}
    invoice = {str(r["DocumentNumber"]): "invoice:" + _label(r, "CustomerName", "Remarks", "InvoiceDate")
               for r in erp["invoice"].values()}
    delivery = {str(r["DeliveryId"]): "delivery:" + org.get(str(r["DeliveryOrganisationId"]), "?") + "|"
                + _label(r, "DeliveryDescription") for r in crm["delivery"].values()}
    delivery.update({str(r["OpportunityId"]): "opportunity:" + _label(r, "OpportunityDescription")
                     for r in crm["opportunity"].values()})

    def ref(table: dict[str, str], value: Any) -> Any:
        return table.get(str(value), value) if value not in (None, "", 0, "0") else value

    def erp_document(delivery: dict[str, Any]) -> Any:  # the Fortnox document number: an invoice's or an order's
        value = delivery.get("DeliveryErpId")
        if str(value) == str(delivery.get("DeliveryCustom2")):
            return ref(invoice, value)
        return ref(order, value)

    state: dict[str, list[str]] = {}

    def add(name: str, records: list[dict[str, Any]]) -> None:
        state[name] = sorted(json.dumps(_clean(r), sort_keys=True, ensure_ascii=False, default=str) for r in records)

    add("webcrm/organisation", [{**r, "OrganisationId": org[str(r["OrganisationId"])],
                                 "OrganisationExtraCustom1": ref(customer, r.get("OrganisationExtraCustom1"))}
                                for r in crm["organisation"].values()])
    add("webcrm/delivery", [{**r, "DeliveryId": delivery[str(r["DeliveryId"])],
                             "DeliveryOrganisationId": ref(org, r.get("DeliveryOrganisationId")),
                             "DeliveryCustom1": ref(order, r.get("DeliveryCustom1")),
                             "DeliveryCustom2": ref(invoice, r.get("DeliveryCustom2")),
                             "DeliveryErpId": erp_document(r)}
                            for r in crm["delivery"].values()])
    add("webcrm/quotation_line", [{**r, "QuotationLineId": None,
                                   "QuotationLineOpportunityId": ref(delivery, r.get("QuotationLineOpportunityId"))}
                                  for r in crm["quotation_line"].values()])
    add("webcrm/person", [{**r, "PersonId": None, "PersonOrganisationId": ref(org, r.get("PersonOrganisationId"))}
                          for r in crm["person"].values()])
    add("webcrm/opportunity", [{**r, "OpportunityId": None,
                                "OpportunityOrganisationId": ref(org, r.get("OpportunityOrganisationId"))}
                               for r in crm["opportunity"].values()])
    add("webcrm/catalogue_item", [{**r, "QuotationLineLinkedDataItemId": None}
                                  for r in crm["catalogue_item"].values()])
    add("fortnox/customer", [{**r, "CustomerNumber": customer[str(r["CustomerNumber"])]}
                             for r in erp["customer"].values()])
    add("fortnox/article", list(erp["article"].values()))
    for entity, table, rows in (("order", order, "OrderRows"), ("invoice", invoice, "InvoiceRows")):
        add(f"fortnox/{entity}", [{**r, "DocumentNumber": table[str(r["DocumentNumber"])],
                                   "CustomerNumber": ref(customer, r.get("CustomerNumber")),
                                   "OrderReference": ref(order, r.get("OrderReference")),
                                   "InvoiceReference": ref(invoice, r.get("InvoiceReference")),
                                   "OCR": None, rows: [{**row, "RowId": None} for row in r.get(rows) or []]}
                                  for r in erp[entity].values()])
    return state


def differences(expected: dict[str, list[str]], actual: dict[str, list[str]], limit: int = 6) -> list[str]:
    """What differs between two end states: per entity, counts (a duplicate, a record lost) and records."""
    found: list[str] = []
    for name in sorted(set(expected) | set(actual)):
        want, got = expected.get(name, []), actual.get(name, [])
        if len(want) != len(got):
            found.append(f"{name}: {len(got)} records, {len(want)} expected")
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        for text in missing[:limit]:
            found.append(f"{name}: expected {text[:6000]}")
        for text in extra[:limit]:
            found.append(f"{name}: found    {text[:6000]}")
    return found


# -- the Visma.net world ------------------------------------------------------------------------------

STANDARD_VISMANET = ROOT / "mapsync/rules/standard/vismanet"
# What a system generates (ids, numbers, times), and the webCRM fields the standard Visma.net set writes such
# numbers to: left out of a generic end state, which still counts every record and compares every other value.
GENERATED_SUFFIXES = ("id", "at", "datetime", "nbr", "number", "no", "date", "timestamp")
GENERATED_WEBCRM_FIELDS = frozenset({"OrganisationExtraCustom1", "DeliveryCustom1", "DeliveryCustom2"})


def build_vismanet_world(size: int) -> Sandbox:
    """webCRM and Visma.net with their demo records and ``size`` organisations: customers (Visma.net numbers them),
    every other one with a delivery of one line, and prospects."""
    sandbox = start_sandbox(None, seed=True, realistic_limits=False, products=("webcrm", "vismanet"))
    crm = sandbox.simulators["webcrm"].tenants.get(None)
    for i in range(size):
        org_id = crm.create("organisation", {"OrganisationName": f"Org {i:03d} AS", "OrganisationCity": f"By {i}",
                                             "OrganisationType": "Prospect" if i % 4 == 0 else "Customer"})
        if i % 2:
            delivery = crm.create("delivery", {"DeliveryOrganisationId": org_id, "DeliveryDescription": f"Fase {i}",
                                               "DeliveryOrderDate": "2026-11-02T00:00:00", "DeliveryStatus": "New"})
            crm.create("quotation_line", {"QuotationLineOpportunityId": delivery, "QuotationLineData1": "CONSULT",
                                          "QuotationLineQuantity": 1 + i % 3, "QuotationLinePrice": 1000 + i})
    backdate(sandbox)
    return sandbox


def _generic(value: Any, product: str) -> Any:
    if isinstance(value, dict):
        return {k: _generic(v, product) for k, v in value.items()
                if not k.lower().endswith(GENERATED_SUFFIXES) and k not in GENERATED_WEBCRM_FIELDS}
    if isinstance(value, list):
        return [_generic(v, product) for v in value]
    return value


def generic_end_state(sandbox: Sandbox) -> dict[str, list[str]]:
    """Every system's records, per ``system/entity`` a sorted list of canonical JSON texts without what the systems
    generate (``GENERATED_SUFFIXES``): duplicates and lost records show in the counts, changed values as texts."""
    state: dict[str, list[str]] = {}
    for product in sandbox.simulators:
        for entity, records in _records(sandbox, product).items():
            state[f"{product}/{entity}"] = sorted(
                json.dumps(_generic(r, product), sort_keys=True, ensure_ascii=False, default=str)
                for r in records.values())
    return state


@dataclass(frozen=True)
class World:
    """A world the suites run in: how to build it, the rule set, how to read its end state."""

    name: str
    build: Any  # (size) -> Sandbox
    ruleset: Path
    end_state: Any  # (Sandbox) -> dict[str, list[str]]
    products: tuple[str, ...]


FORTNOX_WORLD = World("fortnox", build_world, STANDARD_FORTNOX, end_state, ("webcrm", "fortnox"))
VISMANET_WORLD = World("vismanet", build_vismanet_world, STANDARD_VISMANET, generic_end_state, ("webcrm", "vismanet"))
