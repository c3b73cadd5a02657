"""Why a record syncs the way it does (``mapsync explain``): the engine's own decision, step by step.

Nothing here decides anything of its own. The record's outcome is the ``RecordPlan`` the pass computes
(``SyncPass.decide_record``: the same gathering and the same ``decide_update``/``decide_create`` as
``plan`` and ``run``, against dry-run connectors and a scratch copy of the state store). Each field's
verdict comes from ``fieldmerge.merge`` run on a group of that one rule (the merge decides every rule on
its own, so the verdict is the one the full merge reaches); ``explain_field`` only adds what led to it:
the values read, converted and agreed on before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mapsync.connectors.base import Connector
from mapsync.engine.expressions import Expression, ExpressionError, as_record
from mapsync.engine.extractors import MISSING
from mapsync.engine.ruleset import ConflictPolicy, FirstContactPolicy, Side
from mapsync.engine.state import AuditEntry, Base, Link, StateStore
from mapsync.engine.sync.bound import SIDES, BoundMapping, BoundRule
from mapsync.engine.sync.decide import RecordPlan
from mapsync.engine.sync.fieldmerge import (
    FieldChange,
    FieldConflict,
    HeldField,
    RecordContext,
    RuleError,
    agree,
    changed_since,
    convert,
    merge,
    read,
)
from mapsync.engine.sync.matching import link_of
from mapsync.engine.sync.values import is_empty

Record = dict[str, Any]


@dataclass(frozen=True)
class _OneRule:
    """A rule group of one rule, with the mapping's default policies (what ``merge`` needs)."""

    rules: tuple[BoundRule, ...]
    conflict: ConflictPolicy
    first_contact: FirstContactPolicy


def plain(value: Any) -> Any:
    """A value as JSON shows it: an absent field is ``None`` here (the trace says "absent" in text)."""
    return None if value is MISSING else value


def shown(value: Any) -> str:
    return "(absent)" if value is MISSING else repr(value)


@dataclass
class FieldTrace:
    """One field rule of a record pair: what was read, converted and agreed, and the merge's verdict."""

    rule: str
    direction: str
    fields: dict[str, str]  # side -> the field it reads
    values: dict[str, Any]  # side -> value read (MISSING: absent from the record)
    converted: dict[str, Any] = field(default_factory=dict)  # target side -> the other side's value converted
    base: dict[str, Any] | None = None  # the agreed values; None: no base entry (first contact)
    changed: dict[str, bool] = field(default_factory=dict)  # side -> changed since the base
    agree: bool | None = None  # the two values say the same under the rule
    decision: str = "unchanged"
    writes: list[FieldChange] = field(default_factory=list)
    held: list[HeldField] = field(default_factory=list)
    conflict: FieldConflict | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "direction": self.direction, "fields": self.fields,
            "values": {k: plain(v) for k, v in self.values.items()},
            "absent": sorted(k for k, v in self.values.items() if v is MISSING),
            "converted": {f"to_{k}": plain(v) for k, v in self.converted.items()},
            "base": self.base, "changed": self.changed, "agree": self.agree, "decision": self.decision,
            "writes": [{"side": c.target.value, "field": c.field, "old": c.old, "new": c.new} for c in self.writes],
            "held": [{"side": h.target.value, "reason": h.reason, "review": h.review} for h in self.held],
            "conflict": None if self.conflict is None else {
                "crm": self.conflict.crm_value, "erp": self.conflict.erp_value, "resolution": self.conflict.resolution},
            "notes": self.notes,
        }


def _label(br: BoundRule, side: Side) -> str:
    fs = br.rule.side(side)
    return "-" if fs is None else str(fs.label)


def _flows(changes: list[FieldChange]) -> str:
    targets = sorted({c.target for c in changes}, key=lambda s: s.value)
    return ", ".join(f"flows {t.other.value}->{t.value}" for t in targets)


def explain_field(bound: BoundMapping, br: BoundRule, crm: Record, erp: Record, base_entry: dict[str, Any] | None,
                  settings: dict[str, Any], newer: Side | None, held_reason: str | None = None) -> FieldTrace:
    """The trace of one field rule of a linked (or just matched) pair; the verdict is ``merge``'s own, run on
    this one rule with its base entry (``None``: first contact). A rule error (a value too long, a value the
    map lacks with ``on_unmapped: quarantine``) is the decision "error": the record would be quarantined."""
    rule = br.rule
    ctx = RecordContext({Side.CRM: crm, Side.ERP: erp}, settings)
    values = {s: read(br, s, ctx.records[s]) for s in SIDES}
    trace = FieldTrace(rule.key, rule.direction.value, {s.value: _label(br, s) for s in SIDES},
                       {s.value: values[s] for s in SIDES}, base=base_entry)
    for target in SIDES:
        if rule.direction.writes(target) and values[target.other] is not MISSING and rule.constant is MISSING:
            try:
                trace.converted[target.value] = convert(br, target, values[target.other], ctx)
            except RuleError as exc:
                trace.converted[target.value] = f"error: {exc}"
    if rule.constant is MISSING and values[Side.CRM] is not MISSING and values[Side.ERP] is not MISSING:
        trace.agree = agree(br, values[Side.CRM], values[Side.ERP], ctx)
    if base_entry is not None:
        trace.changed = {s.value: changed_since(values[s], base_entry.get(s.value, MISSING)) for s in SIDES}
    group = _OneRule((br,), bound.conflict, bound.first_contact)
    try:
        result = merge(group, crm, erp, None if base_entry is None else {rule.key: base_entry}, settings, newer,
                       {rule.key: held_reason} if held_reason else None)
    except (RuleError, ExpressionError) as exc:
        trace.decision = f"error: {exc} (the record would be quarantined)"
        return trace
    trace.writes = list(result.changes)
    trace.held = list(result.held)
    trace.conflict = result.conflicts[0] if result.conflicts else None
    trace.notes = [*result.notes, *(f"first contact: filled {f}" for f in result.filled)]
    trace.decision = _decision(br, trace, base_entry is None, result.filled)
    return trace


def _decision(br: BoundRule, trace: FieldTrace, first: bool, filled: list[str]) -> str:
    rule = br.rule
    if rule.constant is not MISSING:
        return f"constant {rule.constant!r}, " + (_flows(trace.writes).replace("flows ", "written ", 1)
                                                   if trace.writes else "already held")
    unmapped = [h for h in trace.held if not h.review]
    if unmapped:
        return f"held back: value not in map (not written to {unmapped[0].target.value})"
    if trace.conflict is not None:
        c = trace.conflict
        if c.resolution == "skip":
            return "conflict: changed on both sides, skipped (nothing written)"
        return f"conflict: changed on both sides, {c.resolution.replace('-', ' ')}" + (
            f", {_flows(trace.writes)}" if trace.writes else "")
    if first:
        if any(h.review for h in trace.held):
            return "first contact: values differ, held for review"
        if filled:
            return "first contact: empty side filled, " + (_flows(trace.writes) or "nothing to write")
        if trace.writes:
            return "first contact: values differ, winner " + trace.writes[0].target.other.value + ", " + \
                _flows(trace.writes)
        if trace.agree:
            return "first contact: values agree"
        if all(v is MISSING or is_empty(v) for v in trace.values.values()):
            return "first contact: nothing on either side"
        return "first contact: nothing to write"
    if any(h.review for h in trace.held):
        return "held for review (first contact disagreement, neither side changed since)"
    if trace.writes:
        return _flows(trace.writes)
    changed = [s for s, c in trace.changed.items() if c]
    if not changed:
        return "unchanged"
    if len(changed) == 2:
        return "changed on both sides to the same value"
    side = Side(changed[0])
    if not br.writes[side.other]:
        return f"changed in {side.value}; the rule does not write to {side.other.value}"
    return f"changed in {side.value}; nothing to write ({side.other.value} already holds it or write: " \
           f"{rule.write.value})"


def create_traces(bound: BoundMapping, plan: RecordPlan, settings: dict[str, Any]) -> list[FieldTrace]:
    """Per field rule of a create: the source's value and what the new record gets (from the plan itself)."""
    source, target = plan.source, plan.target
    record = plan.records[source]
    ctx = RecordContext({source: record, target: None}, settings)
    traces = []
    for br in bound.rules:
        rule = br.rule
        value = read(br, source, record)
        trace = FieldTrace(rule.key, rule.direction.value, {s.value: _label(br, s) for s in SIDES},
                           {source.value: value})
        if br.writes[target] and value is not MISSING and rule.constant is MISSING:
            try:
                trace.converted[target.value] = convert(br, target, value, ctx)
            except RuleError as exc:
                trace.converted[target.value] = f"error: {exc}"
        trace.writes = [c for c in plan.changes if c.rule == rule.key]
        trace.held = [h for h in plan.held if h.rule == rule.key]
        if trace.held:
            trace.decision = f"held back: value not in map (not written to {target.value})"
        elif trace.writes:
            what = "constant" if rule.constant is not MISSING else (
                "default" if value is MISSING or value is None or is_empty(value) else "value")
            trace.decision = f"create: {what} written to {target.value}"
        elif not br.writes[target]:
            trace.decision = f"not written: the rule does not write to {target.value}"
        else:
            trace.decision = "not written: no value"
        traces.append(trace)
    return traces


def condition(expression: Expression | None, record: Record, settings: dict[str, Any]) -> dict[str, Any]:
    """A condition's text and its result for a record (no condition: true)."""
    if expression is None:
        return {"text": None, "result": True}
    try:
        return {"text": expression.text,
                "result": bool(expression.evaluate({"record": as_record(record), "settings": settings}))}
    except ExpressionError as exc:
        return {"text": expression.text, "result": None, "error": str(exc)}


def match_trace(bound: BoundMapping, connectors: Mapping[Side, Connector], store: StateStore, source: Side,
                record: Record) -> list[dict[str, Any]]:
    """Each match key as the matcher tries it: the value, the candidates found, which are free (not linked)."""
    mapping = bound.mapping
    target = source.other
    entity = mapping.entity(target)
    tried: list[dict[str, Any]] = []
    for key in mapping.match:
        value = key.side(source).get(record)
        entry: dict[str, Any] = {"key": f"{key.side(source).name} = {key.side(target).name}", "value": plain(value)}
        tried.append(entry)
        if value is MISSING or is_empty(value):
            entry["result"] = "no value, key skipped"
            continue
        found = connectors[target].find(entity, key.side(target).name, value)
        candidates = []
        for c in found:
            rid = connectors[target].record_id(entity, c)
            link = link_of(store, mapping.name, target, rid)
            candidates.append({"id": rid, "linked_to": None if link is None else (
                link.crm_id if target is Side.ERP else link.erp_id)})
        entry["candidates"] = candidates
        free = [c for c in candidates if c["linked_to"] is None]
        if len(free) > 1:
            entry["result"] = f"{len(free)} free candidates: ambiguous, the record would be quarantined"
            break
        if free:
            entry["result"] = f"matches {target.value} {free[0]['id']}"
            break
        entry["result"] = "no free candidate" if candidates else "no candidate"
    return tried


def audit_of(store: StateStore, mapping: str, ids: dict[Side, str]) -> list[AuditEntry]:
    """The audit trail of a record pair: every write the engine made to either record, oldest first."""
    wanted = {(s.value, i) for s, i in ids.items()}
    return [e for e in store.audit_entries(mapping=mapping) if (e.target, e.record_id) in wanted]


def link_dict(link: Link | None) -> dict[str, Any] | None:
    if link is None:
        return None
    return {"crm_id": link.crm_id, "erp_id": link.erp_id, "created_at": link.created_at.isoformat(),
            "updated_at": link.updated_at.isoformat(), "held": link.base.held}


def base_fields(base: Base | None) -> dict[str, Any] | None:
    return None if base is None else base.fields
