"""One sync pass over a rule set: read changes, decide per record, apply, commit (DESIGN.md section 3).

For each mapping, parents first: reconcile creates journalled by a pass that crashed, read the records
changed since the cursors (and quarantined records due for a retry), then per record: condition,
link or match, three-way field merge, writes through the connectors, and one state-store transaction
for the outcome (link, base, audit, quarantine release). A record that fails is quarantined with its
error class and the pass goes on; only a fatal connector error stops it. Cursors advance only when
every record read has a durable outcome. With ``apply=False`` (``mapsync plan``) the same code runs
but nothing is written anywhere: not to the systems, not to the state store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import Connector, ConnectorError, FatalError, RejectedError, TransientError
from connectors.catalogue import Catalogue
from engine.expressions import ExpressionError, as_record
from engine.extractors import MISSING
from engine.ruleset import RuleSet, Side
from engine.ruleset.compiler import thaw
from engine.state import Base, StateStore
from engine.state.store import ErrorClass, RunStatus
from engine.sync.bound import BoundMapping, bind_ruleset
from engine.sync.fieldmerge import (
    FieldChange,
    HeldField,
    RuleError,
    after_create,
    merge,
    nested,
    settled_base,
    values_for_create,
)
from engine.sync.lineio import LineIO
from engine.sync.matching import KeyIndex, Matcher, SkipRecord, link_of
from engine.sync.reconcile import reconcile_journal
from engine.sync.report import Action, MappingReport, PassReport
from engine.sync.values import is_empty

Record = dict[str, Any]
Progress = Callable[[str, int, int], None]


def _changes_dict(changes: list[FieldChange]) -> dict[str, dict[str, Any]]:
    return {c.field: {"old": c.old, "new": c.new} for c in changes}


@dataclass
class _Work:
    side: Side
    record: Record
    record_id: str
    in_batch: bool = True


class SyncPass:
    """Runs (or plans) one pass. Connectors and the store are given; the pass owns neither."""

    def __init__(self, ruleset: RuleSet, connectors: Mapping[Side, Connector], catalogues: Mapping[Side, Catalogue],
                 store: StateStore, *, apply: bool, progress: Progress | None = None) -> None:
        self.ruleset = ruleset
        self.connectors = connectors
        self.catalogues = catalogues
        self.store = store
        self.apply = apply
        self.progress = progress
        self.settings = thaw(ruleset.settings)
        self.run_id: int | None = None
        self.lines = LineIO(connectors, self.settings)
        self.matcher = Matcher(connectors, store)
        self.newly_linked: dict[tuple[str, Side], set[str]] = {}  # (mapping, side) -> ids linked this pass

    def _run(self) -> int:
        assert self.run_id is not None, "writes happen only in a run"
        return self.run_id

    # -- the pass ------------------------------------------------------------------------------------
    def run(self) -> PassReport:
        started = time.monotonic()
        report = PassReport(self.ruleset.name, self.apply)
        if self.apply:
            self.run_id = self.store.start_run()
            report.run_id = self.run_id
        try:
            for bound in bind_ruleset(self.ruleset, dict(self.catalogues)):
                mreport = MappingReport(bound.name)
                report.mappings.append(mreport)
                self._mapping(bound, mreport)
        except ConnectorError as exc:
            # Fatal (auth refused), or a system that cannot even be read (down, rate limit outlasting the
            # retries): nothing more can be done in this pass. Cursors of the failed mapping stay put.
            kind = "" if isinstance(exc, FatalError) else f"{type(exc).__name__}: "
            report.fatal = f"{kind}{exc}"
        report.seconds = time.monotonic() - started
        if self.apply and self.run_id is not None:
            status: RunStatus = "fatal" if report.fatal else (
                "quarantined" if report.total("quarantined") else "ok")
            summary = {"totals": report.as_dict()["totals"], "fatal": report.fatal}
            self.store.finish_run(self.run_id, status, summary)
        return report

    def _mapping(self, bound: BoundMapping, report: MappingReport) -> None:
        mapping = bound.mapping
        if self.apply:
            reconcile_journal(bound, self.connectors, self.store, report)
        read_sides = [s for s in Side if mapping.direction.writes(s.other)]
        batches: dict[Side, list[Record]] = {}
        cursors: dict[Side, str] = {}
        self.matcher.complete = {}
        for side in read_sides:
            entity = mapping.entity(side)
            cursor = self.store.get_cursor(mapping.name, side.value)
            batch = self.connectors[side].read_changes(entity, cursor, mapping.fields_read(side))
            batches[side] = list(batch.records)
            cursors[side] = batch.cursor
            if cursor is None:  # a first read returns every record: match against it without asking the API
                self.matcher.complete[side] = KeyIndex(batches[side])
            else:  # children of parents linked earlier in this pass, unchanged since they were skipped
                batches[side].extend(self._children_of_new_parents(bound, side))
        work = self._work_items(bound, batches)
        total = len(work)
        handled: set[tuple[Side, str]] = set()  # records this pass already brought in step
        for index, (item, other) in enumerate(work, 1):
            if self.progress:
                self.progress(mapping.name, index, total)
            if (item.side, item.record_id) in handled:
                continue  # linked earlier in this pass: the copy read before that is stale
            ids = self._record(bound, item, other, report)
            handled.update((side, rid) for side, rid in ids.items())
        if self.apply:
            for side, cursor in cursors.items():
                self.store.set_cursor(mapping.name, side.value, cursor)

    def _children_of_new_parents(self, bound: BoundMapping, side: Side) -> list[Record]:
        """A delivery skipped because its organisation was not a synced customer is not read again when only
        the organisation changes; once the organisation is linked, its children are fetched and synced."""
        mapping = bound.mapping
        if mapping.parent is None or mapping.parent_key is None:
            return []
        field = mapping.parent_key.side(side)
        info = bound.entity(side).field(field.name)
        children: list[Record] = []
        for parent_id in sorted(self.newly_linked.get((mapping.parent, side), ())):
            value: Any = int(parent_id) if info is not None and info.type == "integer" else parent_id
            children.extend(self.connectors[side].find(mapping.entity(side), field.name, value))
        return children

    def _work_items(self, bound: BoundMapping, batches: dict[Side, list[Record]]) -> list[tuple[_Work, _Work | None]]:
        """Records to process, a linked pair changed on both sides processed once, quarantine retries added."""
        mapping = bound.mapping
        by_id: dict[Side, dict[str, _Work]] = {}
        for side, records in batches.items():
            entity = mapping.entity(side)
            by_id[side] = {}
            for record in records:
                rid = self.connectors[side].record_id(entity, record)
                by_id[side][rid] = _Work(side, record, rid)
        if self.apply:
            for entry in self.store.due(mapping.name):  # quarantined records due for a retry
                side = Side(entry.side)
                if side in by_id and entry.record_id in by_id[side]:
                    continue
                if not mapping.direction.writes(side.other):
                    continue
                fetched = self.connectors[side].get(mapping.entity(side), entry.record_id)
                if fetched is not None:
                    by_id.setdefault(side, {})[entry.record_id] = _Work(side, fetched, entry.record_id, False)
            # linked records with fields held back: merged again each pass, so they flow once the rules allow
            side = Side.CRM if mapping.direction.writes(Side.ERP) else Side.ERP
            for held_link in self.store.held_links(mapping.name):
                record_id = held_link.crm_id if side is Side.CRM else held_link.erp_id
                partner_id = held_link.erp_id if side is Side.CRM else held_link.crm_id
                if record_id in by_id.get(side, {}) or partner_id in \
                        by_id.get(side.other, {}):
                    continue
                fetched = self.connectors[side].get(mapping.entity(side), record_id)
                if fetched is not None:
                    by_id.setdefault(side, {})[record_id] = _Work(side, fetched, record_id, False)
        items: list[tuple[_Work, _Work | None]] = []
        paired: set[str] = set()
        for item in by_id.get(Side.CRM, {}).values():
            link = self.store.link_by_crm(mapping.name, item.record_id)
            other = by_id.get(Side.ERP, {}).get(link.erp_id) if link else None
            if other is not None:
                paired.add(other.record_id)
            items.append((item, other))
        for item in by_id.get(Side.ERP, {}).values():
            if item.record_id not in paired:
                items.append((item, None))
        return items

    # -- one record ----------------------------------------------------------------------------------
    def _record(self, bound: BoundMapping, item: _Work, other: _Work | None,
                report: MappingReport) -> dict[Side, str]:
        """Decide and apply one record's outcome; returns the ids of the pair it concerned."""
        mapping = bound.mapping
        ids = {item.side: item.record_id}
        try:
            action = self._decide_and_apply(bound, item, other, ids)
        except SkipRecord as skip:
            action = Action("skip", None, ids.get(Side.CRM), ids.get(Side.ERP), reason=str(skip))
        except FatalError:
            raise
        except (ConnectorError, RuleError, ExpressionError) as exc:
            error_class: ErrorClass = "rule" if isinstance(exc, RuleError | ExpressionError) else (
                "transient" if isinstance(exc, TransientError) else "rejected")
            if isinstance(exc, RejectedError | TransientError | RuleError | ExpressionError) and self.apply:
                self.store.quarantine(mapping.name, item.side.value, item.record_id, error_class, str(exc),
                                      self._run())
            action = Action("quarantine", None, ids.get(Side.CRM), ids.get(Side.ERP),
                            reason=f"{error_class}: {exc}")
        report.add(action)
        return ids

    def _condition_holds(self, bound: BoundMapping, side: Side, record: Record, *, create: bool = False) -> bool:
        conditions = bound.mapping.create_conditions if create else bound.mapping.conditions
        condition = conditions.get(side)
        if condition is None:
            return True
        return bool(condition.evaluate({"record": as_record(record), "settings": self.settings}))

    def _decide_and_apply(self, bound: BoundMapping, item: _Work, other: _Work | None,
                          ids: dict[Side, str]) -> Action:
        mapping = bound.mapping
        source, target = item.side, item.side.other
        if not self._condition_holds(bound, source, item.record):
            raise SkipRecord(f"{mapping.entity(source)} does not meet the {source.value} condition "
                             f"({mapping.conditions[source].text})")
        link = link_of(self.store, mapping.name, source, item.record_id)
        if link is not None:
            target_id = link.erp_id if target is Side.ERP else link.crm_id
            ids[target] = target_id
            target_record = other.record if other is not None else self.connectors[target].get(
                mapping.entity(target), target_id)
            if target_record is None:
                raise SkipRecord(f"the linked {target.value} {mapping.entity(target)} {target_id} no longer exists")
            newer = self._newer(item, other)
            base = self.store.get_base(mapping.name, link.crm_id)
            return self._update(bound, item, target_record, ids, base, newer, "update")
        if not mapping.direction.writes(target):
            raise SkipRecord(f"not linked, and the mapping does not write to {target.value}")
        matched = self.matcher.match(bound, source, item.record)
        if matched is not None:
            ids[target] = self.connectors[target].record_id(mapping.entity(target), matched)
            return self._update(bound, item, matched, ids, None, source, "link")
        if not self._condition_holds(bound, source, item.record, create=True):
            raise SkipRecord(f"no matching {mapping.entity(target)}, and the {mapping.entity(source)} does not meet "
                             f"the {source.value} create condition ({mapping.create_conditions[source].text})")
        return self._create(bound, item, ids)

    def _newer(self, item: _Work, other: _Work | None) -> Side | None:
        if other is None:
            return item.side if item.in_batch else None
        return None

    def _create(self, bound: BoundMapping, item: _Work, ids: dict[Side, str]) -> Action:
        mapping = bound.mapping
        source, target = item.side, item.side.other
        held: list[HeldField] = []
        values = values_for_create(bound, target, item.record, self.settings, held)
        parent = self.matcher.parent_value(bound, source, item.record)
        if parent is not None:
            values.append(FieldChange("parent", target, parent[0], None, parent[1]))  # parent[0]: a FieldPath
        payload = nested(values)
        sources: list[Any] = []
        if target is Side.ERP and bound.lines:
            rows, sources = self.lines.rows_for_new_erp(bound, item.record_id)
            payload.update(rows)
        changes = _changes_dict(values)
        for name, rows_value in payload.items():
            if isinstance(rows_value, list):
                changes[name] = {"old": None, "new": rows_value}
        if not self.apply:
            return Action("create", target.value, ids.get(Side.CRM), ids.get(Side.ERP), changes,
                          f"new {mapping.entity(source)} {item.record_id}, no match by "
                          + (", ".join(k.side(target).name for k in mapping.match) or "key"),
                          {h.rule: h.reason for h in held})
        keys = {k.side(target).name: k.side(source).get(item.record) for k in mapping.match}
        keys = {k: v for k, v in keys.items() if v is not MISSING and not is_empty(v)}
        # Journalled before sending: the keys to look the record up by, and (for records with no key value
        # yet, such as a new order) the time and the values sent, to recognise it among the target's changes.
        sent = {c.field: c.new for c in values if c.target is target and not isinstance(c.new, list | dict)}
        journal_id = self.store.journal_create(
            mapping.name, target.value, item.record_id,
            {"keys": keys, "since": self.connectors[target].cursor_now(), "values": sent}, self._run())
        created = self.connectors[target].create(mapping.entity(target), payload)
        target_id = self.connectors[target].record_id(mapping.entity(target), created)
        ids[target] = target_id
        crm, erp = (item.record, created) if source is Side.CRM else (created, item.record)
        # What the target assigned itself (a customer number) flows back to the source at once.
        back = after_create(bound, source, item.record, values, created, self.settings, held).changes
        if back:
            updated = self.connectors[source].update(mapping.entity(source), item.record_id, nested(back))
            crm, erp = (updated, created) if source is Side.CRM else (created, updated)
            values = values + back
            changes.update(_changes_dict(back))
        if target is Side.ERP:
            line_base = self.lines.base_for_new_erp(sources, created)
        else:
            line_base = self.lines.lines_for_new_crm(bound, target_id, item.record)
        with self.store.transaction():
            self.store.link(mapping.name, ids[Side.CRM], ids[Side.ERP])
            fields, held_reasons = settled_base(bound, crm, erp, None, held, created=target)
            self.store.set_base(mapping.name, ids[Side.CRM],
                                Base(fields=fields, lines=line_base or None, held=held_reasons))
            self.store.resolve_create(journal_id)
            self._audit(mapping.name, target, target_id, "create", [v for v in values if v.target is target])
            self._audit(mapping.name, source, item.record_id, "update", [v for v in values if v.target is source])
            self.store.release(mapping.name, source.value, item.record_id)
        self._linked(mapping.name, ids)
        return Action("create", target.value, ids[Side.CRM], ids[Side.ERP], changes,
                      f"new {mapping.entity(source)} {item.record_id}", held_reasons)

    def _update(self, bound: BoundMapping, item: _Work, target_record: Record, ids: dict[Side, str],
                base: Base | None, newer: Side | None, kind: str) -> Action:
        mapping = bound.mapping
        records = {item.side: item.record, item.side.other: target_record}
        result = merge(bound, records[Side.CRM], records[Side.ERP], base.fields if base else None, self.settings, newer,
                       base.held if base else None)
        changes = result.changes
        skipped: list[str] = []
        locked = bound.entity(Side.ERP).locked_reason(records[Side.ERP])
        line_plans = self.lines.plan(bound, ids[Side.CRM], records[Side.ERP], base.lines if base else None, newer)
        blocked_lines = any(p.erp_rows is not None for p in line_plans)
        if locked and (result.for_side(Side.ERP) or blocked_lines):
            blocked = [c.field for c in result.for_side(Side.ERP)] + (["lines"] if blocked_lines else [])
            skipped.append(f"erp {mapping.erp_entity} {ids[Side.ERP]} not modified ({', '.join(blocked)}): {locked}")
            changes = result.for_side(Side.CRM)
            if blocked_lines:
                line_plans = []  # a locked document keeps its lines; the line base stays as it was
        conflicts = [*result.conflicts, *(c for p in line_plans for c in p.conflicts)]
        reasons = [*(f"conflict on {c.rule}: crm {c.crm_value!r} vs erp {c.erp_value!r}, {c.resolution}"
                     for c in conflicts), *skipped]
        reasons.extend(result.notes)
        if kind == "link":
            reasons.insert(0, "matched an existing record")
        held = {h.rule: h.reason for h in result.held}
        report_changes = _changes_dict(changes)
        for plan in line_plans:
            report_changes.update(plan.report())
        targets = {c.target for c in changes}
        targets |= {Side.ERP for p in line_plans if p.erp_rows is not None}
        targets |= {Side.CRM for p in line_plans if p.crm_changed}
        if not self.apply:
            return self._outcome(kind, report_changes, ids, conflicts, reasons, targets, held)
        final = dict(records)
        erp_payload = {**nested([c for c in changes if c.target is Side.ERP]), **self.lines.erp_payload(line_plans)}
        if erp_payload:
            final[Side.ERP] = self.connectors[Side.ERP].update(mapping.erp_entity, ids[Side.ERP], erp_payload)
        crm_changes = [c for c in changes if c.target is Side.CRM]
        if crm_changes:
            final[Side.CRM] = self.connectors[Side.CRM].update(mapping.crm_entity, ids[Side.CRM], nested(crm_changes))
        line_base: list[dict[str, Any]] = []
        for plan in line_plans:
            finals = self.lines.apply_crm(plan, ids[Side.CRM])
            line_base.extend(self.lines.base_after(plan, finals, final[Side.ERP]))
        with self.store.transaction():
            fields, held_reasons = settled_base(bound, final[Side.CRM], final[Side.ERP], base.fields if base else None,
                                           result.held)
            held_back = bool(skipped) or any(c.resolution == "skip" for c in result.conflicts)
            if base is not None and held_back:
                # What was not brought in step keeps its old base, so it is reported again next pass.
                written = {c.rule for c in changes}
                fields = {**fields, **{k: v for k, v in base.fields.items() if k not in written}}
            lines_base = line_base if line_plans or not bound.lines else (base.lines if base else None)
            for side in Side:
                side_changes = [c for c in changes if c.target is side]
                if side_changes:
                    self._audit(mapping.name, side, ids[side], "update", side_changes)
            if kind == "link":
                self._linked(mapping.name, ids)
                self.store.link(mapping.name, ids[Side.CRM], ids[Side.ERP])
                self.store.record_audit(run_id=self._run(), mapping=mapping.name, target=item.side.other.value,
                                        record_id=ids[item.side.other], action="link")
            self.store.set_base(mapping.name, ids[Side.CRM],
                                Base(fields=fields, lines=lines_base or None, held=held_reasons))
            self.store.release(mapping.name, item.side.value, item.record_id)
        return self._outcome(kind, report_changes, ids, conflicts, reasons, targets, held)

    @staticmethod
    def _outcome(kind: str, changes: dict[str, dict[str, Any]], ids: dict[Side, str], conflicts: list[Any],
                 reasons: list[str], targets: set[Side], held: dict[str, str]) -> Action:
        if conflicts:
            action = "conflict"
        elif kind == "link":
            action = "link"
        elif changes or targets:
            action = "update"
        elif reasons:
            action = "skip"
        else:
            action = "unchanged"
        target = "both" if len(targets) == 2 else (next(iter(targets)).value if targets else None)
        return Action(action, target, ids.get(Side.CRM), ids.get(Side.ERP), changes, "; ".join(reasons), held)

    def _linked(self, mapping: str, ids: dict[Side, str]) -> None:
        for side, record_id in ids.items():
            self.newly_linked.setdefault((mapping, side), set()).add(record_id)

    def _audit(self, mapping: str, target: Side, record_id: str, action: str, changes: list[FieldChange]) -> None:
        for change in changes:
            self.store.record_audit(run_id=self._run(), mapping=mapping, target=target.value,
                                    record_id=record_id, action=action, field=change.field,  # type: ignore[arg-type]
                                    old=change.old, new=change.new, rule=change.rule)
