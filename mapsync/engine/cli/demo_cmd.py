"""``mapsync demo``: both standard integrations against simulators with demo data, with a readable report.

Self-contained: for Fortnox and then Visma.net, a webCRM and an ERP simulator on loopback (in a
temporary folder, or ``--dir``) with demo records, and the standard rule set run against them. The
first pass imports and links the demo records both ways; users then edit one customer on each side;
the next pass carries both edits over, field by field; a last pass shows that nothing is left to do.
The demo's state store is new by construction and the seeded systems share records: it is a first
import, so it runs ``SyncPass`` itself, without the ``run`` command's new-store check (decision 0006).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from mapsync.connectors.registry import connectors_of_side, title_of
from mapsync.engine.composition import connect, run_pass
from mapsync.engine.ruleset import RuleSet, Side, load_ruleset
from mapsync.engine.sandbox import ENV_FILE, Sandbox, start_sandbox
from mapsync.engine.state import SqliteStateStore
from mapsync.engine.sync.report import PassReport, render_text

STANDARD = Path(__file__).resolve().parents[2] / "rules" / "standard"
PHONE = "+46 8 555 01 23"
CRM = connectors_of_side("crm")[0]
# Every ERP connector with a standard rule set (mapsync/rules/standard/<erp>), in the registry's order.
ERPS = tuple(name for name in connectors_of_side("erp") if (STANDARD / name).is_dir())


def title(erp: str) -> str:
    return f"{title_of(CRM)} <-> {title_of(erp)}"


def register(commands: Any) -> None:
    parser = commands.add_parser("demo", help="run the standard rule sets against simulators with demo data")
    parser.add_argument("--dir", type=Path, default=None, help="keep the sandbox data here (default: temporary)")
    parser.add_argument("--erp", choices=sorted(ERPS), action="append",
                        help="only this integration (default: each in turn)")
    parser.add_argument("--state", default=None, help="ignored: each integration keeps its state in its folder")
    parser.set_defaults(handler=run)


def _pass(ruleset: RuleSet, sandbox: Sandbox, store: SqliteStateStore, title: str) -> PassReport:
    report = run_pass(ruleset, sandbox.env, store, apply=True, tenant=f"demo-{ruleset.erp.connector}")
    print(f"\n== {title} ==")
    sys.stdout.write(render_text(report, max_actions=3))
    return report


def _edit_both_sides(ruleset: RuleSet, sandbox: Sandbox, store: SqliteStateStore) -> list[str]:
    """As users would, through the APIs: a customer renamed in webCRM, its phone changed in the ERP."""
    link = store.links("customers")[0]
    with connect(ruleset, sandbox.env, store) as systems:
        crm, erp = systems.connectors[Side.CRM], systems.connectors[Side.ERP]
        org = crm.get("organisation", link.crm_id) or {}
        new_name = f"{org.get('OrganisationName', 'Customer')} (renamed)"
        crm.update("organisation", link.crm_id, {"OrganisationName": new_name})
        entity, phone = sandbox.simulators[ruleset.erp.connector].user_edit  # the record shapes differ
        erp.update(entity, link.erp_id, {phone: PHONE})
    return [f"webCRM: organisation {link.crm_id} renamed to {new_name!r}",
            f"{ruleset.erp.connector}: customer {link.erp_id} phone changed to {PHONE!r}"]


def _integration(erp: str, folder: Path) -> bool:
    sandbox = start_sandbox(folder, seed=True, products=(CRM, erp))
    try:
        sandbox.write_env(folder / ENV_FILE)
        print(f"\n#### {title(erp)}: simulators on loopback, real rate limits ####")
        for name, simulator in sandbox.simulators.items():
            print(f"  {name:<9} {simulator.url}")
        result = load_ruleset(STANDARD / erp, sandbox.env, for_run=True)
        if result.ruleset is None:
            print(f"the standard {erp} rule set does not load:", file=sys.stderr)
            for d in result.diagnostics:
                print(f"  {d.location.file}:{d.location.line}: {d.code} {d.message}", file=sys.stderr)
            return False
        ruleset = result.ruleset
        print(f"rule set: {ruleset.name} ({', '.join(m.name for m in ruleset.mappings)})")
        with SqliteStateStore(folder / "state.sqlite") as store:
            first = _pass(ruleset, sandbox, store, "Pass 1: initial import, both ways")
            for line in _edit_both_sides(ruleset, sandbox, store):
                print(f"(user) {line}")
            _pass(ruleset, sandbox, store, "Pass 2: the edits travel, field by field")
            last = _pass(ruleset, sandbox, store, "Pass 3: nothing left to do")
        print(f"\n{title(erp)}: pass 1 created {first.total('created')} and linked or updated "
              f"{first.total('updated')} records; the last pass wrote {last.writes}.")
        return last.writes == 0 and not first.fatal
    finally:
        sandbox.stop()


def run(args: argparse.Namespace) -> int:
    erps = args.erp or list(ERPS)
    with tempfile.TemporaryDirectory(prefix="mapsync-demo-") as tmp:
        base = args.dir or Path(tmp)
        results = [_integration(erp, base / erp) for erp in erps]
    return 0 if all(results) else 1
