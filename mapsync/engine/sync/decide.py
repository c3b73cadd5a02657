"""Deciding one record: pure functions from what was read to a ``RecordPlan`` (docs/sync.md, "plan is run").

The pass first gathers what a record's outcome depends on (its link and base, the partner record, a
match, the parent's id, the crm lines), then calls ``decide_update`` or ``decide_create`` here: no I/O,
no state store, only the bound rules and values. Applying executes the plan (``mapsync.engine.sync.apply``);
``action_of`` turns a plan and what applying added (the write-back after a create) into the report's
``Action``. ``mapsync plan`` and ``mapsync run`` both go through here, the plan against dry-run
connectors and a scratch copy of the state store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mapsync.engine.ruleset import Side
from mapsync.engine.state import Base
from mapsync.engine.sync.bound import BoundMapping
from mapsync.engine.sync.fieldmerge import FieldChange, FieldConflict, HeldField, merge, nested, values_for_create
from mapsync.engine.sync.lineio import LineSource
from mapsync.engine.sync.lines import LinePlan
from mapsync.engine.sync.report import Action

Record = dict[str, Any]
Kind = Literal["create", "update", "link"]


@dataclass(frozen=True)
class RecordPlan:
    """What applying will do for one record, and why."""

    kind: Kind
    bound: BoundMapping
    source: Side
    ids: dict[Side, str]  # a create has no target id yet
    records: dict[Side, Record]  # update/link: both sides as read; create: the source record
    changes: tuple[FieldChange, ...] = ()  # update/link: writes per side; create: the new record's values
    held: tuple[HeldField, ...] = ()
    conflicts: tuple[FieldConflict, ...] = ()
    reasons: tuple[str, ...] = ()
    base: Base | None = None  # the base before (update), None on first contact and for creates
    line_plans: tuple[LinePlan, ...] = ()
    keep_unwritten_base: bool = False  # locked, or a conflict skipped: unwritten fields keep their old base
    payload: dict[str, Any] = field(default_factory=dict)  # create: what is sent, lines included
    line_sources: tuple[LineSource, ...] = ()  # create in the erp: the crm lines its rows came from

    @property
    def target(self) -> Side:
        return self.source.other

    def writes(self, side: Side) -> list[FieldChange]:
        return [c for c in self.changes if c.target is side]

    @property
    def targets(self) -> set[Side]:
        if self.kind == "create":
            return {self.target}
        sides = {c.target for c in self.changes}
        sides |= {Side.ERP for p in self.line_plans if p.erp_rows is not None}
        sides |= {Side.CRM for p in self.line_plans if p.crm_changed}
        return sides


def decide_update(bound: BoundMapping, kind: Kind, source: Side, ids: dict[Side, str], records: dict[Side, Record],
                  base: Base | None, newer: Side | None, line_plans: list[LinePlan],
                  settings: dict[str, Any]) -> RecordPlan:
    """A linked pair (``update``) or a pair just matched (``link``, first contact): the field merge, the
    line plans, and what a locked document holds back."""
    result = merge(bound, records[Side.CRM], records[Side.ERP], base.fields if base else None, settings, newer,
                   base.held if base else None)
    changes = list(result.changes)
    reasons: list[str] = []
    locked = bound.entity(Side.ERP).locked_reason(records[Side.ERP])
    blocked_lines = any(p.erp_rows is not None for p in line_plans)
    if locked and (result.for_side(Side.ERP) or blocked_lines):
        blocked = [c.field for c in result.for_side(Side.ERP)] + (["lines"] if blocked_lines else [])
        reasons.append(f"erp {bound.mapping.erp_entity} {ids[Side.ERP]} not modified ({', '.join(blocked)}): {locked}")
        changes = result.for_side(Side.CRM)
        if blocked_lines:
            line_plans = []  # a locked document keeps its lines; the line base stays as it was
    conflicts = [*result.conflicts, *(c for p in line_plans for c in p.conflicts)]
    reasons = [*(f"conflict on {c.rule}: crm {c.crm_value!r} vs erp {c.erp_value!r}, {c.resolution}"
                 for c in conflicts), *reasons, *result.notes]
    if result.filled:
        reasons.append("first contact: empty fields filled from the other side: " + ", ".join(result.filled))
    if kind == "link":
        reasons.insert(0, "matched an existing record")
    keep = bool(locked and (result.for_side(Side.ERP) or blocked_lines)) or any(
        c.resolution == "skip" for c in result.conflicts)
    held = [*result.held, *(h for p in line_plans for h in p.held)]
    return RecordPlan(kind, bound, source, dict(ids), dict(records), tuple(changes), tuple(held),
                      tuple(conflicts), tuple(reasons), base, tuple(line_plans), keep)


def decide_create(bound: BoundMapping, source: Side, ids: dict[Side, str], record: Record,
                  parent: tuple[Any, Any] | None, rows: dict[str, Any], line_sources: list[LineSource],
                  settings: dict[str, Any]) -> RecordPlan:
    """A record with no partner: the values of the record to create on the other side (constants, defaults,
    the parent's id, the lines), and the fields held back."""
    target = source.other
    held: list[HeldField] = []
    values = values_for_create(bound, target, record, settings, held)
    if parent is not None:
        values.append(FieldChange("parent", target, parent[0], None, parent[1]))
    payload = nested(values)
    payload.update(rows)
    mapping = bound.mapping
    why = f"new {mapping.entity(source)} {ids[source]}, no match by " + (
        ", ".join(k.side(target).name for k in mapping.match) or "key")
    return RecordPlan("create", bound, source, dict(ids), {source: record}, tuple(values), tuple(held),
                      reasons=(why,), payload=payload, line_sources=tuple(line_sources))


def _changes_dict(changes: list[FieldChange] | tuple[FieldChange, ...]) -> dict[str, dict[str, Any]]:
    return {c.field: {"old": c.old, "new": c.new} for c in changes}


def action_of(plan: RecordPlan, ids: dict[Side, str], write_back: list[FieldChange] | None = None) -> Action:
    """The report's line for a plan once applied: the same in ``plan`` and ``run`` (``ids`` has the created
    record's id, a placeholder in a plan; ``write_back`` what flowed back to the source after a create)."""
    held = {h.rule: h.reason for h in plan.held}
    if plan.kind == "create":
        changes = _changes_dict(plan.changes)
        for name, value in plan.payload.items():
            if isinstance(value, list):
                changes[name] = {"old": None, "new": value}
        if write_back:
            changes.update(_changes_dict(write_back))
        reasons = list(plan.reasons)
        if write_back:
            reasons.append("written back to " + plan.source.value + ": "
                           + ", ".join(c.field for c in write_back) + " (assigned or altered by "
                           + plan.target.value + ")")
        return Action("create", plan.target.value, ids.get(Side.CRM), ids.get(Side.ERP), changes,
                      "; ".join(reasons), held)
    changes = _changes_dict(plan.changes)
    for line_plan in plan.line_plans:
        changes.update(line_plan.report())
    targets = plan.targets
    if plan.conflicts:
        action = "conflict"
    elif plan.kind == "link":
        action = "link"
    elif changes or targets:
        action = "update"
    elif plan.reasons:
        action = "skip"
    else:
        action = "unchanged"
    target = "both" if len(targets) == 2 else (next(iter(targets)).value if targets else None)
    return Action(action, target, ids.get(Side.CRM), ids.get(Side.ERP), changes, "; ".join(plan.reasons), held)
