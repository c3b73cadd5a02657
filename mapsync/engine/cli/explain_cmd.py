"""``mapsync explain``: why one record syncs the way it does, step by step, read-only.

The decision shown is the engine's: the record is gathered and decided by the pass itself
(``SyncPass.decide_record``, as ``plan``: dry-run connectors, a scratch copy of the state store), and
each field's verdict is ``merge``'s on that one rule (``mapsync.engine.sync.explain``). The state store is read
into a throwaway copy (a SQLite store through a read-only connection, a PostgreSQL tenant through its
``scratch_copy``); nothing is written to it or to the systems, except a rotated OAuth refresh token, kept in
the real store as ``plan`` keeps it (decision 0005).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

from mapsync.connectors.base import Connector, ConnectorError, FatalError
from mapsync.engine.cli.common import CommandError, add_state_option, load_for_pass, open_store, state_exists
from mapsync.engine.composition import connect, rotates_refresh_token
from mapsync.engine.connections import MissingEnvironment
from mapsync.engine.expressions import ExpressionError
from mapsync.engine.ruleset import RuleSet, Side
from mapsync.engine.state import StateError, StateStore, describe_state, is_postgres_url
from mapsync.engine.state.sqlite_file import copy_into
from mapsync.engine.sync.bound import BoundMapping, bind_ruleset
from mapsync.engine.sync.decide import RecordPlan, action_of
from mapsync.engine.sync.explain import (
    FieldTrace,
    audit_of,
    condition,
    create_traces,
    explain_field,
    link_dict,
    match_trace,
    shown,
)
from mapsync.engine.sync.fieldmerge import RuleError
from mapsync.engine.sync.matching import SkipRecord, link_of
from mapsync.engine.sync.passrun import SyncPass

EXIT_OK, EXIT_ERROR = 0, 1


def register(commands: Any) -> None:
    help_text = "show step by step how one record would sync, and what was written to it; writes nothing"
    parser = commands.add_parser("explain", help=help_text, description=help_text)
    parser.add_argument("ruleset", metavar="RULESET", help="rule set folder")
    parser.add_argument("--mapping", required=True, metavar="M", help="the mapping (customers, ...)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--crm-id", metavar="ID", help="the record's id in the CRM")
    which.add_argument("--erp-id", metavar="ID", help="the record's id in the ERP")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_state_option(parser)
    parser.set_defaults(handler=run)


def _copy_store(args: argparse.Namespace, folder: str) -> StateStore:
    """A private copy of the state store: a SQLite file read through a read-only connection (a missing file:
    empty), a PostgreSQL tenant through its scratch copy."""
    path: str = args.state
    if is_postgres_url(path):
        real = open_store(path, tenant=args.tenant)
        try:
            return real.scratch_copy(history=True)  # the audit trail is part of what explain shows
        finally:
            real.close()
    target = str(Path(folder) / "explain.sqlite")
    if Path(path).exists():
        copy = sqlite3.connect(target)
        try:
            copy_into(path, copy)
        finally:
            copy.close()
    return open_store(target, tenant=args.tenant)  # refuses a tenant for a SQLite store


def run(args: argparse.Namespace) -> int:
    try:
        doc = _explain(args)
    except (CommandError, FatalError, ConnectorError, MissingEnvironment, StateError) as exc:
        message = " ".join(str(exc).split())
        print(f"mapsync explain: {message}", file=sys.stderr)
        return EXIT_ERROR
    traces = doc.pop("_traces")
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
    else:
        sys.stdout.write(render_text(doc, traces))
    return EXIT_OK


def _explain(args: argparse.Namespace) -> dict[str, Any]:
    ruleset = load_for_pass(args.ruleset)
    if ruleset.mapping(args.mapping) is None:
        names = ", ".join(m.name for m in ruleset.mappings)
        raise CommandError(f"rule set {ruleset.name} has no mapping {args.mapping!r} (mappings: {names})")
    side = Side.CRM if args.crm_id is not None else Side.ERP
    record_id = str(args.crm_id if args.crm_id is not None else args.erp_id)
    with tempfile.TemporaryDirectory(prefix="mapsync-explain-") as folder:
        store = _copy_store(args, folder)
        token_store = store
        try:
            if rotates_refresh_token(ruleset, os.environ) and state_exists(args.state):
                # a rotated refresh token must be kept (decision 0005)
                token_store = open_store(args.state, tenant=args.tenant)
            with connect(ruleset, os.environ, token_store) as systems:
                doc = _explain_record(ruleset, systems.connectors, systems.catalogues, store, args.mapping, side,
                                      record_id)
        finally:
            if token_store is not store:
                token_store.close()
            store.close()
    doc["state"] = describe_state(args.state) if state_exists(args.state) else None
    return doc


def _explain_record(ruleset: RuleSet, connectors: dict[Side, Connector], catalogues: Any, store: StateStore,
                    name: str, side: Side, record_id: str) -> dict[str, Any]:
    sync = SyncPass(ruleset, connectors, catalogues, store, apply=False)  # dry-run connectors, a scratch store
    try:
        bound = next(b for b in bind_ruleset(ruleset, dict(catalogues)) if b.name == name)
        return _gather(sync, bound, side, record_id)
    finally:
        sync.store.close()


def _get(sync: SyncPass, bound: BoundMapping, side: Side, record_id: str) -> dict[str, Any] | None:
    return sync.connectors[side].get(bound.mapping.entity(side), record_id)


def _gather(sync: SyncPass, bound: BoundMapping, side: Side, record_id: str) -> dict[str, Any]:
    mapping = bound.mapping
    target = side.other
    settings = sync.settings
    record = _get(sync, bound, side, record_id)
    if record is None:
        raise CommandError(f"{side.value} {mapping.entity(side)} {record_id} not found")
    doc: dict[str, Any] = {"ruleset": sync.ruleset.name, "mapping": mapping.name,
                           "record": {"side": side.value, "entity": mapping.entity(side), "id": record_id},
                           "direction": mapping.direction.value}
    link = link_of(sync.store, mapping.name, side, record_id)
    records: dict[Side, dict[str, Any]] = {side: record}
    ids = {side: record_id}
    partner: tuple[str, dict[str, Any]] | None = None
    doc["link"] = link_dict(link)
    if link is not None:
        partner_id = link.erp_id if target is Side.ERP else link.crm_id
        ids[target] = partner_id
        found = _get(sync, bound, target, partner_id)
        doc["partner"] = {"side": target.value, "entity": mapping.entity(target), "id": partner_id,
                          "found": found is not None}
        if found is not None:
            records[target] = found
            partner = (partner_id, found)
    doc["conditions"] = {s.value: condition(mapping.conditions.get(s), records[s], settings)
                         for s in Side if s in records}
    doc["match"] = None
    doc["create_condition"] = None
    if link is None and mapping.direction.writes(target):
        doc["match"] = match_trace(bound, sync.connectors, sync.store, side, record)
        doc["create_condition"] = {side.value: condition(mapping.create_conditions.get(side), record, settings)}
    plan: RecordPlan | None = None
    try:
        plan = sync.decide_record(bound, side, record, record_id, partner)
    except SkipRecord as skip:
        doc["outcome"] = {"action": "skip", "reason": str(skip)}
    except FatalError:
        raise
    except (ConnectorError, RuleError, ExpressionError) as exc:
        doc["outcome"] = {"action": "quarantine", "reason": str(exc)}
    traces: list[FieldTrace] = []
    if plan is not None:
        ids.update(plan.ids)
        action = action_of(plan, dict(plan.ids))
        doc["outcome"] = {"action": action.action, "target": action.target, "reason": action.reason,
                          "kind": plan.kind}
        if plan.kind == "create":
            traces = create_traces(bound, plan, settings)
            doc["writes"] = [{"side": plan.target.value, "record": None, "field": k, "old": None, "new": v}
                             for k, v in plan.payload.items()]
        else:
            newer = None if plan.kind == "update" else plan.source  # as the pass decided it
            base = plan.base
            for br in bound.rules:
                trace = explain_field(bound, br, plan.records[Side.CRM], plan.records[Side.ERP],
                                      None if base is None else base.fields.get(br.rule.key), settings, newer,
                                      None if base is None else base.held.get(br.rule.key))
                trace.writes = [c for c in plan.changes if c.rule == br.rule.key]  # the plan's own writes
                traces.append(trace)
            doc["writes"] = [{"side": c.target.value, "record": plan.ids.get(c.target), "field": c.field,
                              "old": c.old, "new": c.new} for c in plan.changes]
            for line_plan in plan.line_plans:
                doc["writes"] += [{"side": "lines", "record": None, "field": k, "old": v["old"], "new": v["new"]}
                                  for k, v in line_plan.report().items()]
    else:
        doc["writes"] = []
    doc["fields"] = [t.as_dict() for t in traces]
    doc["audit"] = [{"at": e.at.isoformat(), "run": e.run_id, "side": e.target, "record": e.record_id,
                     "action": e.action, "field": e.field, "old": e.old, "new": e.new, "rule": e.rule}
                    for e in audit_of(sync.store, mapping.name, ids)]
    doc["_traces"] = traces  # for the text rendering (removed before JSON)
    return doc


def _trace_lines(doc: dict[str, Any], trace: FieldTrace) -> list[str]:
    fields = f"{trace.fields['crm']} <-> {trace.fields['erp']}"
    head = f"  {trace.rule} ({'' if trace.rule == fields else fields + ', '}{trace.direction}): {trace.decision}"
    read = ", ".join(f"{s} {shown(v)}" for s, v in trace.values.items())
    if (trace.decision == "unchanged" or trace.decision.startswith("not written")) and not trace.held \
            and not trace.writes:
        return [f"{head} ({read})"]
    lines = [head]
    lines.append(f"      read: {read}")
    converted = {s: v for s, v in trace.converted.items()
                 if not (trace.held and isinstance(v, str) and v.startswith("error:"))}  # the held reason says it
    if converted:
        lines.append("      converted: " + ", ".join(f"to {s} {v!r}" for s, v in converted.items()))
    if doc["outcome"].get("kind") in ("update", "link"):
        if trace.base is None:
            lines.append("      base: none (first contact)")
        else:
            base = ", ".join(f"{s} {trace.base[s]!r}" for s in ("crm", "erp") if s in trace.base) or "empty"
            changed = ", ".join(s for s, c in trace.changed.items() if c) or "neither"
            lines.append(f"      base: {base}; changed since: {changed}")
    if trace.conflict is not None:
        con = trace.conflict
        lines.append(f"      conflict: crm {con.crm_value!r} vs erp {con.erp_value!r}, resolved {con.resolution}")
    for h in trace.held:
        lines.append(f"      held: {h.reason}")
    for c in trace.writes:
        lines.append(f"      writes {c.target.value} {c.field}: {c.old!r} -> {c.new!r}")
    return lines


def render_text(doc: dict[str, Any], traces: list[FieldTrace]) -> str:
    rec = doc["record"]
    out = [f"explain {doc['mapping']} ({doc['direction']}): {rec['side']} {rec['entity']} {rec['id']}"]
    out.append("1. condition")
    for side, cond in doc["conditions"].items():
        if cond["text"] is None:
            out.append(f"  {side}: none (true)")
        else:
            result = "error: " + cond["error"] if cond.get("error") else str(cond["result"]).lower()
            out.append(f"  {side}: {cond['text']} -> {result}")
    out.append("2. link")
    link = doc["link"]
    if link is not None:
        partner = doc["partner"]
        out.append(f"  linked to {partner['side']} {partner['entity']} {partner['id']} (state store, linked "
                   f"{link['created_at'][:19]}, base updated {link['updated_at'][:19]})"
                   + ("" if partner["found"] else "; the partner no longer exists"))
    else:
        out.append("  not linked" + ("" if doc["state"] else " (no state store)"))
        for entry in doc["match"] or []:
            cands = ", ".join(c["id"] + (f" (linked to {c['linked_to']})" if c["linked_to"] else " (free)")
                              for c in entry.get("candidates", [])) or "none"
            value = entry["value"]
            out.append(f"  match {entry['key']}: value {value!r}, candidates: {cands} -> {entry['result']}"
                       if "candidates" in entry else f"  match {entry['key']}: {entry['result']}")
        for side, cond in (doc["create_condition"] or {}).items():
            text = cond["text"] or "none"
            out.append(f"  create condition {side}: {text} -> {str(cond['result']).lower()}")
    outcome = doc["outcome"]
    out.append(f"3. outcome: {outcome['action']}" + (f" ({outcome['target']})" if outcome.get("target") else "")
               + (f": {outcome['reason']}" if outcome.get("reason") else ""))
    out.append(f"4. fields ({len(traces)})")
    for trace in traces:
        out.extend(_trace_lines(doc, trace))
    out.append(f"5. a pass would write ({len(doc['writes'])})")
    for w in doc["writes"]:
        where = f"{w['side']} {w['record']}" if w["record"] else w["side"]
        out.append(f"  {where} {w['field']}: {w['old']!r} -> {w['new']!r}")
    out.append(f"6. written to this record (audit trail, {len(doc['audit'])})")
    for a in doc["audit"]:
        what = f"{a['field']}: {a['old']!r} -> {a['new']!r}" if a["field"] else "(record)"
        out.append(f"  {a['at'][:19]} run {a['run']} {a['action']} {a['side']} {a['record']} {what}"
                   + (f" (rule {a['rule']})" if a["rule"] else ""))
    return "\n".join(out) + "\n"
