"""``mapsync demo``: a sandbox with demo data, the standard Fortnox rule set, passes, a readable report.

Self-contained: simulators on loopback in a temporary folder (or ``--dir``), the standard rule set
run against them; the first pass imports and links the demo records both ways, edits are then made
on each side as a user would, the next pass carries them over field by field, and a last pass shows
that nothing is left to do.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from connectors.catalogue import load_catalogue
from connectors.registry import make_client
from engine.connections import resolve_connection
from engine.ruleset import RuleSet, Side, load_ruleset
from engine.sandbox import ENV_FILE, Sandbox, start_sandbox
from engine.state import SqliteStateStore
from engine.sync.passrun import SyncPass
from engine.sync.report import PassReport, render_text

STANDARD = Path(__file__).resolve().parents[2] / "rules" / "standard"


def register(commands: Any) -> None:
    parser = commands.add_parser("demo", help="run the standard rule sets against simulators with demo data")
    parser.add_argument("--dir", type=Path, default=None, help="keep the sandbox data here (default: temporary)")
    parser.add_argument("--state", default=None, help="state store (default: in the sandbox folder)")
    parser.set_defaults(handler=run)


def _pass(ruleset: RuleSet, sandbox: Sandbox, store: SqliteStateStore, title: str) -> PassReport:
    connectors = {}
    try:
        for side in Side:
            system = ruleset.system(side)
            connectors[side] = make_client(system.connector, resolve_connection(system, sandbox.env),
                                           token_store=store)
        catalogues = {side: load_catalogue(ruleset.system(side).connector) for side in Side}
        report = SyncPass(ruleset, connectors, catalogues, store, apply=True).run()
    finally:
        for connector in connectors.values():
            connector.close()
    print(f"\n== {title} ==")
    sys.stdout.write(render_text(report, max_actions=4))
    return report


def _edit_both_sides(ruleset: RuleSet, sandbox: Sandbox, store: SqliteStateStore) -> list[str]:
    """As users would: a customer renamed in webCRM, the same customer's phone changed in Fortnox."""
    link = store.links("customers")[0]
    crm = make_client("webcrm", resolve_connection(ruleset.crm, sandbox.env))
    erp = make_client(ruleset.erp.connector, resolve_connection(ruleset.erp, sandbox.env), token_store=store)
    try:
        org = crm.get("organisation", link.crm_id) or {}
        new_name = f"{org.get('OrganisationName', 'Customer')} (renamed)"
        crm.update("organisation", link.crm_id, {"OrganisationName": new_name})
        erp.update("customer", link.erp_id, {"Phone1": "+46 8 555 01 23"})
    finally:
        crm.close()
        erp.close()
    return [f"webCRM: organisation {link.crm_id} renamed to {new_name!r}",
            f"Fortnox: customer {link.erp_id} phone changed to '+46 8 555 01 23'"]


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="mapsync-demo-") as tmp:
        folder = args.dir or Path(tmp)
        sandbox = start_sandbox(folder, seed=True)
        try:
            sandbox.write_env(folder / ENV_FILE)
            print("mapsync demo: simulators on loopback:")
            for name, simulator in sandbox.simulators.items():
                print(f"  {name:<9} {simulator.url}")
            result = load_ruleset(STANDARD / "fortnox", sandbox.env, for_run=True)
            if result.ruleset is None:
                print("the standard Fortnox rule set does not load:", file=sys.stderr)
                for d in result.diagnostics:
                    print(f"  {d.location.file}:{d.location.line}: {d.code} {d.message}", file=sys.stderr)
                return 1
            ruleset = result.ruleset
            print(f"rule set: {ruleset.name} ({len(ruleset.mappings)} mappings: "
                  f"{', '.join(m.name for m in ruleset.mappings)})")
            with SqliteStateStore(args.state or folder / "state.sqlite") as store:
                first = _pass(ruleset, sandbox, store, "Pass 1: initial import, both ways")
                for line in _edit_both_sides(ruleset, sandbox, store):
                    print(f"\n(user) {line}")
                _pass(ruleset, sandbox, store, "Pass 2: the edits travel, field by field")
                last = _pass(ruleset, sandbox, store, "Pass 3: nothing left to do")
        finally:
            sandbox.stop()
    print(f"\nDone: pass 1 created {first.total('created')} and linked/updated {first.total('updated')} records; "
          f"the last pass wrote {last.writes}.")
    return 0 if last.writes == 0 and not first.fatal else 1
