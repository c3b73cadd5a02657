"""Applying a ``RecordPlan``: the writes through the connectors, then one state-store transaction.

A create is journalled before it is sent (docs/sync.md, reconciliation); what the target assigned or
altered itself flows back to the source (``after_create``); then link, base (what both sides hold,
held-back fields kept pending), audit entries and the quarantine release commit together. An update
writes each side's changes and the lines, then commits the new base the same way. In ``mapsync plan``
the connectors are dry-run ones and the store a scratch copy, so this code runs unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mapsync import crashpoints
from mapsync.connectors.base import Connector
from mapsync.engine.extractors import MISSING
from mapsync.engine.ruleset import Side
from mapsync.engine.state import Base, StateStore
from mapsync.engine.sync.decide import RecordPlan
from mapsync.engine.sync.fieldmerge import FieldChange, after_create, nested, settled_base
from mapsync.engine.sync.lineio import LineIO
from mapsync.engine.sync.values import is_empty

Record = dict[str, Any]


class Applier:
    """Executes record plans for one pass; ``run_id`` names the run in the audit trail."""

    def __init__(self, connectors: Mapping[Side, Connector], store: StateStore, lines: LineIO,
                 settings: dict[str, Any], run_id: Callable[[], int],
                 linked: Callable[[str, dict[Side, str]], None]) -> None:
        self.connectors = connectors
        self.store = store
        self.lines = lines
        self.settings = settings
        self.run_id = run_id
        self.linked = linked

    def create(self, plan: RecordPlan) -> tuple[dict[Side, str], list[FieldChange]]:
        """Create the record; returns the ids of the pair and what was written back to the source."""
        bound, source, target = plan.bound, plan.source, plan.target
        mapping = bound.mapping
        record = plan.records[source]
        ids = dict(plan.ids)
        source_id = ids[source]
        keys = {k.side(target).name: k.side(source).get(record) for k in mapping.match}
        keys = {k: v for k, v in keys.items() if v is not MISSING and not is_empty(v)}
        # Journalled before sending: the keys to look the record up by, and (for records with no key value
        # yet, such as a new order) the time and the values sent, to recognise it among the target's changes.
        sent = {c.field: c.new for c in plan.changes if c.target is target and not isinstance(c.new, list | dict)}
        journal_id = self.store.journal_create(
            mapping.name, target.value, source_id,
            {"keys": keys, "since": self.connectors[target].cursor_now(), "values": sent}, self.run_id())
        created = self.connectors[target].create(mapping.entity(target), plan.payload)
        target_id = self.connectors[target].record_id(mapping.entity(target), created)
        ids[target] = target_id
        crashpoints.reached("create:before-link")
        back = after_create(bound, source, record, list(plan.changes), created, self.settings, plan.held).changes
        final_source = record
        if back:
            final_source = self.connectors[source].update(mapping.entity(source), source_id, nested(back))
            crashpoints.reached("create:after-write-back")
        crm, erp = (final_source, created) if source is Side.CRM else (created, final_source)
        if target is Side.ERP:
            line_base = self.lines.base_for_new_erp(list(plan.line_sources), created)
        else:
            line_base = self.lines.lines_for_new_crm(bound, target_id, record)
        with self.store.transaction():
            self.store.link(mapping.name, ids[Side.CRM], ids[Side.ERP])
            fields, held = settled_base(bound, crm, erp, None, list(plan.held), created=target)
            self.store.set_base(mapping.name, ids[Side.CRM], Base(fields=fields, lines=line_base or None, held=held))
            self.store.resolve_create(journal_id)
            self._audit(mapping.name, target, target_id, "create", [c for c in plan.changes if c.target is target])
            self._audit(mapping.name, source, source_id, "update", back)
            self.store.release(mapping.name, source.value, source_id)
            crashpoints.reached("record:in-transaction")
        crashpoints.reached("record:committed")
        self.linked(mapping.name, ids)
        return ids, back

    def update(self, plan: RecordPlan) -> None:
        """Write both sides' changes and the lines; store the link (first contact) and the new base."""
        bound, ids = plan.bound, plan.ids
        mapping = bound.mapping
        final = dict(plan.records)
        line_plans = list(plan.line_plans)
        erp_payload = {**nested(plan.writes(Side.ERP)), **self.lines.erp_payload(line_plans)}
        if erp_payload:
            final[Side.ERP] = self.connectors[Side.ERP].update(mapping.erp_entity, ids[Side.ERP], erp_payload)
        crm_changes = plan.writes(Side.CRM)
        if crm_changes:
            final[Side.CRM] = self.connectors[Side.CRM].update(mapping.crm_entity, ids[Side.CRM], nested(crm_changes))
        line_base: list[dict[str, Any]] = []
        for line_plan in line_plans:
            finals = self.lines.apply_crm(line_plan, ids[Side.CRM])
            line_base.extend(self.lines.base_after(line_plan, finals, final[Side.ERP]))
        base = plan.base
        with self.store.transaction():
            fields, held = settled_base(bound, final[Side.CRM], final[Side.ERP], base.fields if base else None,
                                        list(plan.held))
            if base is not None and plan.keep_unwritten_base:
                # What was not brought in step keeps its old base, so it is reported again next pass.
                written = {c.rule for c in plan.changes}
                fields = {**fields, **{k: v for k, v in base.fields.items() if k not in written}}
            lines_base = line_base if line_plans or not bound.lines else (base.lines if base else None)
            for side in Side:
                if plan.writes(side):
                    self._audit(mapping.name, side, ids[side], "update", plan.writes(side))
            if plan.kind == "link":
                self.linked(mapping.name, ids)
                self.store.link(mapping.name, ids[Side.CRM], ids[Side.ERP])
                self.store.record_audit(run_id=self.run_id(), mapping=mapping.name, target=plan.target.value,
                                        record_id=ids[plan.target], action="link")
            self.store.set_base(mapping.name, ids[Side.CRM], Base(fields=fields, lines=lines_base or None, held=held))
            self.store.release(mapping.name, plan.source.value, ids[plan.source])
            crashpoints.reached("record:in-transaction")
        crashpoints.reached("record:committed")

    def _audit(self, mapping: str, target: Side, record_id: str, action: str, changes: list[FieldChange]) -> None:
        for change in changes:
            self.store.record_audit(run_id=self.run_id(), mapping=mapping, target=target.value,
                                    record_id=record_id, action=action, field=change.field,  # type: ignore[arg-type]
                                    old=change.old, new=change.new, rule=change.rule)
