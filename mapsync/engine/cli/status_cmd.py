"""``mapsync status``: links, cursors, quarantine, fields held back and the last run, from the state store;
with a tenants registry, one line per tenant (``mapsync.engine.tenants.status``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from contextlib import closing
from typing import Any

from mapsync.engine.cli.common import add_state_option, open_store, state_exists
from mapsync.engine.diagnostics import render
from mapsync.engine.tenants.registry import load_registry
from mapsync.engine.tenants.status import registry_status
from mapsync.engine.tenants.status import render_text as render_tenants


def register(commands: Any) -> None:
    parser = commands.add_parser("status", help="show links, cursors and quarantined records")
    parser.add_argument("tenants", metavar="TENANTS", nargs="?",
                        help="a tenants registry: per tenant the last and next pass, counts, quarantine and the "
                             "last error (instead of one state store)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_state_option(parser)
    parser.set_defaults(handler=run)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _tenants(args: argparse.Namespace) -> int:
    registry = load_registry(args.tenants, check_rulesets=False)
    if not registry.ok:
        sys.stderr.write(render("text", registry.diagnostics, registry.files))
    statuses = registry_status(registry)
    if args.format == "json":
        sys.stdout.write(json.dumps([s.as_dict() for s in statuses], ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_tenants(statuses))
    return 0 if registry.ok else 1


def run(args: argparse.Namespace) -> int:
    if args.tenants is not None:
        return _tenants(args)
    if not state_exists(args.state):
        print(f"mapsync status: no state store at {args.state} (no pass has run yet)", file=sys.stderr)
        return 1
    with closing(open_store(args.state, tenant=args.tenant)) as store:
        summary = store.summary()
        quarantine = store.list_quarantine()
        held = [{"mapping": link.mapping, "crm_id": link.crm_id, "erp_id": link.erp_id, "fields": link.base.held}
                for link in store.held_links()]
    if args.format == "json":
        doc = {"summary": _plain(summary), "quarantine": _plain(quarantine), "held": held}
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
        return 0
    sys.stdout.write(_text(summary, quarantine, held))
    return 0


def _text(summary: Any, quarantine: list[Any], held: list[dict[str, Any]]) -> str:
    lines = []
    run = summary.last_run
    if run is not None:
        lines.append(f"Last run: #{run.id} {run.status}, started {run.started_at:%Y-%m-%d %H:%M:%S} UTC")
    lines.append(f"{'mapping':<24} {'links':>6} {'quarantined':>11} {'held':>5} {'pending':>7}  cursors")
    for m in summary.mappings:
        cursors = ", ".join(f"{side}={value}" for side, value in sorted(m.cursors.items())) or "-"
        lines.append(f"{m.name:<24} {m.links:>6} {m.quarantined:>11} {m.held:>5} {m.pending_creates:>7}  {cursors}")
    lines.append(f"Quarantined records: {len(quarantine)}")
    for entry in quarantine:
        lines.append(f"  {entry.mapping} {entry.side} {entry.record_id}: {entry.error_class}, "
                     f"{entry.attempts} attempt(s), next retry {entry.next_retry_at:%Y-%m-%d %H:%M} UTC: "
                     f"{entry.reason}")
    lines.append(f"Records with fields held back: {len(held)}")
    for entry in held:
        for rule, why in entry["fields"].items():
            lines.append(f"  {entry['mapping']} crm {entry['crm_id']} / erp {entry['erp_id']} {rule}: {why}")
    return "\n".join(lines) + "\n"
