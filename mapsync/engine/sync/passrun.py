"""One sync pass over a rule set: read changes, then per record gather, decide, apply (docs/sync.md).

For each mapping, parents first: reconcile creates journalled by a pass that crashed, read the records
changed since the cursors (plus quarantined records due for a retry and links with held-back fields),
then per record: gather what its outcome depends on (condition, link or match, partner, parent, lines)
and decide it as a ``RecordPlan`` (pure, ``mapsync.engine.sync.decide``). Once every record of the mapping is
decided, the plans are checked against the guardrails (``mapsync.engine.sync.guardrails``; a run beyond them
stops before writing the mapping unless forced), then applied in order (``mapsync.engine.sync.apply``: writes,
then one state-store transaction per record). The records read and the plans wait in the pass's spill on disk
(``mapsync.engine.sync.spill``), so memory does not grow with the records read; the links of the records read
(with their bases) are read from the store a page at a time, once. A record that fails is quarantined with its
error class and the pass goes on; only a fatal connector error stops it. Cursors advance only when every record read
has a durable outcome.

With ``apply=False`` (``mapsync plan``) exactly the same code runs, against dry-run connectors (reads are
real, writes are answered but never sent) and a scratch copy of the state store: links a plan makes are
there for the children that follow, and nothing reaches the systems or the real store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from mapsync import crashpoints
from mapsync.connectors.base import ChangeBatch, Connector, ConnectorError, FatalError, TransientError
from mapsync.connectors.catalogue import Catalogue
from mapsync.connectors.readcheck import INVALID_PREFIX
from mapsync.engine.expressions import ExpressionError, as_record
from mapsync.engine.logs import log_context
from mapsync.engine.ruleset import RuleSet, Side
from mapsync.engine.ruleset.compiler import thaw
from mapsync.engine.state import Base, Link, QuarantineEntry, StateStore
from mapsync.engine.state.serial import SerialStore
from mapsync.engine.state.store import ErrorClass, LinkConflictError, RunStatus, StateLockedError
from mapsync.engine.sync.apply import Applier
from mapsync.engine.sync.bound import BoundMapping, bind_ruleset
from mapsync.engine.sync.decide import Kind, RecordPlan, action_of, decide_create, decide_update
from mapsync.engine.sync.dryrun import DryRunConnector
from mapsync.engine.sync.fieldmerge import RuleError
from mapsync.engine.sync.guardrails import GuardrailCount
from mapsync.engine.sync.lineio import LineIO, LineSource
from mapsync.engine.sync.matching import Matcher, SkipRecord, link_of
from mapsync.engine.sync.pipeline import apply_in_order
from mapsync.engine.sync.reconcile import reconcile_journal
from mapsync.engine.sync.report import Action, MappingReport, PassReport
from mapsync.engine.sync.spill import Spill, SpilledKeyIndex, SpillError

Record = dict[str, Any]
Progress = Callable[[str, int, int], None]
log = logging.getLogger("mapsync.sync")
LINKS_PER_READ = 256  # records whose links are read from the store at once


@dataclass
class _Work:
    side: Side
    record: Record
    record_id: str
    in_batch: bool = True
    looked_up: bool = False  # its link was read already (``link``, None when not linked): not read again
    link: Link | None = None


def fingerprint(record: Record) -> str:
    """A digest of a record's content, to tell a record read again unchanged from one a user changed."""
    text = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class GuardrailStop(Exception):
    """A mapping's plans go beyond the rule set's guardrails: the run stops before writing it."""


class StopSignal(Protocol):
    """What stops a pass between records: a ``threading.Event`` (SIGTERM), or a tenant's lease once lost."""

    def is_set(self) -> bool: ...


class PassStopped(Exception):
    """The pass was asked to stop (``stop`` set: SIGTERM to ``mapsync serve``); the record being applied
    was finished, the mapping's cursors stay where they were, so the next pass reads the rest again."""


class SyncPass:
    """Runs (or plans) one pass. Connectors and the store are given and stay the caller's; a plan makes (and
    closes) its own scratch copy of the store."""

    spill: Spill  # made by ``run`` (``decide_record`` needs none)

    def __init__(self, ruleset: RuleSet, connectors: Mapping[Side, Connector], catalogues: Mapping[Side, Catalogue],
                 store: StateStore, *, apply: bool, progress: Progress | None = None, force: bool = False,
                 stop: StopSignal | None = None, concurrency: int = 1) -> None:
        self.ruleset = ruleset
        self.apply = apply
        # records applied at once (a run; a plan applies one at a time against its dry-run systems)
        self.concurrency = concurrency if apply else 1
        self.stop = stop  # set: finish the record at hand, then stop (cursors not advanced)
        self.force = force  # go beyond the guardrails
        if not apply:  # plan: the same pass against dry-run connectors and a scratch copy of the store
            connectors = {side: DryRunConnector(c, catalogues[side]) for side, c in connectors.items()}
            store = store.scratch_copy()
        elif self.concurrency > 1 and not isinstance(store, SerialStore):
            store = SerialStore(store)  # shared by the threads applying records
        self.connectors = connectors
        self.catalogues = catalogues
        self.store = store
        self.progress = progress
        self.settings = thaw(ruleset.settings)
        self.run_id: int | None = None
        self.lines = LineIO(connectors, self.settings)
        self.matcher = Matcher(connectors, store)
        self.applier = Applier(self.connectors, self.store, self.lines, self.settings, self._run, self._linked)

    def _run(self) -> int:
        assert self.run_id is not None, "writes happen only in a run"
        return self.run_id

    # -- the pass ------------------------------------------------------------------------------------
    def run(self) -> PassReport:
        # records, plans and ids of the pass, on disk (parents linked: "linked:<mapping>"); deleted at the end
        self.spill = Spill()
        try:
            return self._pass()
        finally:
            self.spill.close()
            if not self.apply:
                self.store.close()  # the scratch copy

    def _pass(self) -> PassReport:
        started = time.monotonic()
        report = PassReport(self.ruleset.name, self.apply)
        if self.apply:  # under the lease: a run still marked running was killed
            self.store.interrupt_runs()
        self.run_id = self.store.start_run()
        if self.apply:
            report.run_id = self.run_id
        mode = "run" if self.apply else "plan"
        with log_context(run=self.run_id if self.apply else None):
            log.info("%s of rule set %s started", mode, self.ruleset.name)
            try:
                failed: set[str] = set()
                for bound in bind_ruleset(self.ruleset, dict(self.catalogues)):
                    mreport = MappingReport(bound.name)
                    report.mappings.append(mreport)
                    with log_context(mapping=bound.name):
                        if bound.mapping.parent in failed:
                            mreport.failed = f"its parent mapping {bound.mapping.parent} could not be read"
                        else:
                            mreport.failed = self._mapping_or_failure(bound, mreport)
                        if mreport.failed:
                            failed.add(bound.name)
                            log.error("%s: mapping not synced this pass: %s", mode, mreport.failed)
                        else:
                            log.info("%s: %s", mode, ", ".join(f"{n} {k}" for k, n in mreport.counts.items()))
                if failed and len(failed) == len(report.mappings):  # nothing could run: a system is down
                    report.fatal = next(m.failed for m in report.mappings if m.failed)
            except ConnectorError as exc:
                # Fatal (auth refused): nothing more can be done in this pass. Cursors of the mapping stay put.
                kind = "" if isinstance(exc, FatalError) else f"{type(exc).__name__}: "
                report.fatal = f"{kind}{exc}"
            except GuardrailStop as stop:
                report.fatal = str(stop)
            except PassStopped as stopped:
                report.fatal = str(stopped)
            except StateLockedError as locked:  # another process holds the store's write lock: stop cleanly
                report.fatal = str(locked)
            except SpillError as spill_failed:  # its temporary folder is full: the pass stops, cursors stay
                report.fatal = str(spill_failed)
            report.seconds = time.monotonic() - started
            status: RunStatus = "fatal" if report.fatal else (
                "quarantined" if report.total("quarantined") or report.failed_mappings else "ok")
            summary = {"totals": report.totals(), "fatal": report.fatal}
            try:
                self.store.finish_run(self.run_id, status, summary)
            except StateLockedError as locked:
                log.error("could not record the end of the run: %s", locked)
            if report.fatal:
                log.error("%s of rule set %s stopped: %s", mode, self.ruleset.name, report.fatal)
            else:
                log.info("%s of rule set %s finished in %.1f s: %s", mode, self.ruleset.name, report.seconds,
                         status)
        return report

    def _mapping_or_failure(self, bound: BoundMapping, report: MappingReport) -> str | None:
        """Sync one mapping; what kept it from being read (a system down, a rate limit that outlasted the
        retries, an answer that could not be read), or None. Such a mapping's cursors stay where they were and
        the pass goes on with the mappings that do not depend on it; only a fatal error stops the pass."""
        try:
            self._mapping(bound, report)
        except FatalError:
            raise
        except ConnectorError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def _mapping(self, bound: BoundMapping, report: MappingReport) -> None:
        mapping = bound.mapping
        spill = self.spill
        spill.clear()
        reconcile_journal(bound, self.connectors, self.store, report, self.settings, self._run(), self._linked)
        read_sides = [s for s in Side if mapping.direction.writes(s.other)]
        cursors: dict[Side, str] = {}
        self.matcher.complete = {}
        due = self.store.due(mapping.name)
        due_now = {(e.side, e.record_id) for e in due}
        waiting = {(Side(e.side), e.record_id): e for e in self.store.list_quarantine(mapping.name)
                   if e.fingerprint is not None and (e.side, e.record_id) not in due_now}
        set_aside: set[tuple[Side, str]] = set()
        for side in read_sides:
            entity = mapping.entity(side)
            cursor = self.store.get_cursor(mapping.name, side.value)
            batch = self.connectors[side].read_changes(entity, cursor, mapping.fields_read(side))
            record_id = partial(self.connectors[side].record_id, entity)
            for record in batch.records:  # page by page, into the spill: memory does not grow with the read
                self._take(side, record_id(record), record, waiting, report)
            if batch.check is not None:  # found ambiguous later in the read (two records under one id)
                for bad in batch.check.invalid:
                    set_aside.add((side, bad.record_id))
                    if not batch.check.keep(bad.record_id):
                        spill.drop_record(side.value, bad.record_id)
            self._set_aside(bound, side, batch, report)
            cursors[side] = batch.cursor
            if cursor is None:  # a first read returns every record: match against it without asking the API
                self.matcher.complete[side] = SpilledKeyIndex(spill, side.value)
            else:  # children of parents linked earlier in this pass, unchanged since they were skipped
                for child in self._children_of_new_parents(bound, side):
                    self._take(side, record_id(child), child, waiting, report)
        self._retries_and_held(bound, due, set_aside)
        total = self._pair(bound)
        # Decide every record first (reads only), then check the guardrails, then apply: a mass change stops
        # before anything of this mapping is written. The plans go to the spill as they are decided, counted
        # for the guardrails on the way, and are applied by streaming them back.
        handled = spill.id_set("handled")  # records already decided this pass
        claimed = spill.id_set("claimed")  # paired by a plan of this pass: not free to match
        self.matcher.claimed = claimed
        guardrails = GuardrailCount()
        index = 0
        for item, other in self._work_items(bound):
            index += 1
            if self.progress:
                self.progress(mapping.name, index, 2 * total)
            if (item.side, item.record_id) in handled:
                continue  # its pair was decided already: the copy read before that is stale
            ids = {item.side: item.record_id}
            outcome = self._decide(bound, item, other, ids)
            spill.put_plan((item, ids, outcome))
            handled.update(ids.items())
            if isinstance(outcome, RecordPlan):
                claimed.update(ids.items())
                guardrails.add(outcome)
        decided = spill.plan_count()
        stop = guardrails.verdict(self.ruleset.guardrails, mapping.name, self.store.count_links(mapping.name))
        if stop is not None:
            if self.apply and not self.force:
                raise GuardrailStop(stop)
            report.warnings.append(stop + (" (forced)" if self.apply else " (a run stops here without --force)"))

        def before(offset: int) -> None:
            if self.stop is not None and self.stop.is_set():
                raise PassStopped(f"stopped on request in mapping {mapping.name} after {offset} of "
                                  f"{decided} record(s); the next pass goes on from there")
            if self.progress:
                self.progress(mapping.name, total + offset, 2 * total)

        def apply_one(entry: tuple[_Work, dict[Side, str], RecordPlan | Action]) -> Action:
            item, ids, outcome = entry
            return outcome if isinstance(outcome, Action) else self._apply(bound, item, ids, outcome)

        apply_in_order(spill.plans(), apply_one, concurrency=self.concurrency, before=before, done=report.add)
        for side, cursor in cursors.items():
            self.store.set_cursor(mapping.name, side.value, cursor)
            crashpoints.reached("cursor:committed")

    def _take(self, side: Side, rid: str, record: Record, waiting: Mapping[tuple[Side, str], QuarantineEntry],
              report: MappingReport) -> None:
        """A record read with the changes, into the spill. A quarantined record read again unchanged before its
        retry is due (the cursor's overlap re-reads recent changes) waits for its retry: sending the same
        refused request again would only be refused again, and counts against the systems' limits on repeated
        and failing requests."""
        entry = waiting.get((side, rid))
        if entry is not None and entry.fingerprint == fingerprint(record):
            ids = {side: rid}
            report.add(Action("skip", None, ids.get(Side.CRM), ids.get(Side.ERP),
                              reason=f"quarantined ({entry.error_class}), unchanged since; next retry "
                                     f"{entry.next_retry_at:%Y-%m-%d %H:%M} UTC"))
            self.spill.put_waiting(side.value, rid, record)  # still a candidate for matching on a first read
            return
        self.spill.put_record(side.value, rid, record, True)

    def _set_aside(self, bound: BoundMapping, side: Side, batch: ChangeBatch, report: MappingReport) -> None:
        """Records the read set aside (no usable id, two records under one id): quarantined and reported,
        never dropped silently (``mapsync.connectors.readcheck``); the pass goes on without them."""
        if batch.check is None:
            return
        report.warnings.extend(batch.check.warnings)
        for bad in batch.check.invalid:
            self.store.quarantine(bound.mapping.name, side.value, bad.record_id, "rejected", bad.reason,
                                  self._run())
            log.warning("%s %s set aside while reading: %s", side.value, bad.record_id, bad.reason)
            ids = {side: bad.record_id}
            report.add(Action("quarantine", None, ids.get(Side.CRM), ids.get(Side.ERP),
                              reason=f"rejected: {bad.reason}"))

    def _children_of_new_parents(self, bound: BoundMapping, side: Side) -> list[Record]:
        """A delivery skipped because its organisation was not a synced customer is not read again when only
        the organisation changes; once the organisation is linked, its children are fetched and synced."""
        mapping = bound.mapping
        if mapping.parent is None or mapping.parent_key is None:
            return []
        field = mapping.parent_key.side(side)
        info = bound.entity(side).field(field.name)
        children: list[Record] = []
        for parent_id in self.spill.ids_of(f"linked:{mapping.parent}", side.value):
            value: Any = int(parent_id) if info is not None and info.type == "integer" else parent_id
            children.extend(self.connectors[side].find(mapping.entity(side), field.name, value))
        return children

    def _retries_and_held(self, bound: BoundMapping, due: list[QuarantineEntry],
                          set_aside: set[tuple[Side, str]]) -> None:
        """Quarantined records due for a retry and linked records with fields held back, not read with the
        changes: fetched on their own, into the spill."""
        mapping = bound.mapping
        spill = self.spill
        for entry in due:  # quarantined records due for a retry
            side = Side(entry.side)
            if entry.record_id.startswith(INVALID_PREFIX):  # no id to read it by: reported, now forgotten
                self.store.release(mapping.name, entry.side, entry.record_id)
                continue
            if (side, entry.record_id) in set_aside:  # set aside again by this read: quarantined anew, waits
                continue
            if spill.has_record(side.value, entry.record_id):
                continue
            if not mapping.direction.writes(side.other):
                continue
            fetched = self.connectors[side].get(mapping.entity(side), entry.record_id)
            if fetched is not None:
                spill.put_record(side.value, entry.record_id, fetched, False)
        # linked records with fields held back: merged again each pass, so they flow once the rules allow
        side = Side.CRM if mapping.direction.writes(Side.ERP) else Side.ERP
        for held_link in self.store.held_links(mapping.name):
            record_id = held_link.crm_id if side is Side.CRM else held_link.erp_id
            partner_id = held_link.erp_id if side is Side.CRM else held_link.crm_id
            if spill.has_record(side.value, record_id) or spill.has_record(side.other.value, partner_id):
                continue
            fetched = self.connectors[side].get(mapping.entity(side), record_id)
            if fetched is not None:
                spill.put_record(side.value, record_id, fetched, False)

    def _pair(self, bound: BoundMapping) -> int:
        """Look up the links of the records read, a page at a time (one read of the store per page; each link,
        with its base, kept with its record in the spill, so deciding reads it no more), and pair a linked
        pair changed on both sides, so it is processed once; how many records are to be decided."""
        mapping = bound.mapping
        spill = self.spill

        def look_up(side: Side, ids: list[str]) -> None:
            links = self.store.links_of(mapping.name, side.value, ids)
            for rid in ids:
                link = links.get(rid)
                spill.set_link(side.value, rid, link)
                if side is Side.CRM and link is not None and spill.has_record(Side.ERP.value, link.erp_id):
                    spill.pair(Side.ERP.value, link.erp_id)

        for side in Side:  # the crm side first: its pairs are not looked up again on the erp side
            page: list[str] = []
            for rid, *_ in spill.rows(side.value, unpaired=side is Side.ERP):
                page.append(rid)
                if len(page) == LINKS_PER_READ:
                    look_up(side, page)
                    page = []
            if page:
                look_up(side, page)
        return spill.count(Side.CRM.value) + spill.count(Side.ERP.value, unpaired=True)

    def _work_items(self, bound: BoundMapping) -> Iterator[tuple[_Work, _Work | None]]:
        """Records to decide, from the spill one at a time, in the order read: the crm records (with the erp
        partner read with them), then the erp records not paired; quarantine retries and held links last of
        their side."""
        spill = self.spill
        for rid, record, in_batch, looked_up, link in spill.rows(Side.CRM.value):
            item = _Work(Side.CRM, record, rid, in_batch, looked_up, link)
            other: _Work | None = None
            if link is not None:
                partner = spill.record(Side.ERP.value, link.erp_id)
                if partner is not None:
                    other = _Work(Side.ERP, partner[0], link.erp_id, partner[1])
            yield item, other
        for rid, record, in_batch, looked_up, link in spill.rows(Side.ERP.value, unpaired=True):
            yield _Work(Side.ERP, record, rid, in_batch, looked_up, link), None

    # -- one record ----------------------------------------------------------------------------------
    def _decide(self, bound: BoundMapping, item: _Work, other: _Work | None,
                ids: dict[Side, str]) -> RecordPlan | Action:
        """Gather and decide one record's outcome: a plan to apply, or a skip or quarantine right away."""
        try:
            return self._gather_and_decide(bound, item, other, ids)
        except SkipRecord as skip:
            return Action("skip", None, ids.get(Side.CRM), ids.get(Side.ERP), reason=str(skip))
        except FatalError:
            raise
        except (ConnectorError, RuleError, ExpressionError) as exc:
            return self._quarantine(bound, item, ids, exc)

    def _apply(self, bound: BoundMapping, item: _Work, ids: dict[Side, str], plan: RecordPlan) -> Action:
        try:
            return self._apply_plan(bound, item, ids, plan)
        except LinkConflictError as exc:  # the target answered with a record already linked to another one
            return self._quarantine(bound, item, ids, RuleError(str(exc)))

    def _apply_plan(self, bound: BoundMapping, item: _Work, ids: dict[Side, str], plan: RecordPlan) -> Action:
        try:
            if plan.kind == "create":
                created, back = self.applier.create(plan)
                ids.update(created)
                return action_of(plan, ids, back)
            self.applier.update(plan)
            return action_of(plan, ids)
        except FatalError:
            raise
        except (ConnectorError, RuleError, ExpressionError) as exc:
            return self._quarantine(bound, item, ids, exc)

    def _quarantine(self, bound: BoundMapping, item: _Work, ids: dict[Side, str], exc: Exception) -> Action:
        error_class: ErrorClass = "rule" if isinstance(exc, RuleError | ExpressionError) else (
            "transient" if isinstance(exc, TransientError) else "rejected")
        self.store.quarantine(bound.mapping.name, item.side.value, item.record_id, error_class, str(exc), self._run(),
                              fingerprint=fingerprint(item.record))
        log.warning("%s %s quarantined (%s): %s", item.side.value, item.record_id, error_class, exc)
        return Action("quarantine", None, ids.get(Side.CRM), ids.get(Side.ERP), reason=f"{error_class}: {exc}")

    def _condition_holds(self, bound: BoundMapping, side: Side, record: Record, *, create: bool = False) -> bool:
        conditions = bound.mapping.create_conditions if create else bound.mapping.conditions
        condition = conditions.get(side)
        if condition is None:
            return True
        return bool(condition.evaluate({"record": as_record(record), "settings": self.settings}))

    def decide_record(self, bound: BoundMapping, side: Side, record: Record, record_id: str,
                      partner: tuple[str, Record] | None = None) -> RecordPlan:
        """Gather and decide one record exactly as this pass would (``mapsync explain``): the condition, the
        link or a match or a create, the partner, the lines. ``partner``: the linked record, read with it (as
        when both sides changed). ``SkipRecord`` and rule or connector errors propagate; nothing is written."""
        item = _Work(side, record, record_id)
        other = _Work(side.other, partner[1], partner[0]) if partner is not None else None
        return self._gather_and_decide(bound, item, other, {side: record_id})

    def _gather_and_decide(self, bound: BoundMapping, item: _Work, other: _Work | None,
                           ids: dict[Side, str]) -> RecordPlan:
        """Gather what the record's outcome depends on (reads), then decide it (pure)."""
        mapping = bound.mapping
        source, target = item.side, item.side.other
        if not self._condition_holds(bound, source, item.record):
            raise SkipRecord(f"{mapping.entity(source)} does not meet the {source.value} condition "
                             f"({mapping.conditions[source].text})")
        link = item.link if item.looked_up else link_of(self.store, mapping.name, source, item.record_id)
        if link is not None:
            target_id = link.erp_id if target is Side.ERP else link.crm_id
            ids[target] = target_id
            target_record = other.record if other is not None else self.connectors[target].get(
                mapping.entity(target), target_id)
            if target_record is None:
                raise SkipRecord(f"the linked {target.value} {mapping.entity(target)} {target_id} no longer exists")
            return self._update(bound, "update", item, target_record, ids, link.base, self._newer(item, other))
        if not mapping.direction.writes(target):
            raise SkipRecord(f"not linked, and the mapping does not write to {target.value}")
        matched = self.matcher.match(bound, source, item.record)
        if matched is not None:
            ids[target] = self.connectors[target].record_id(mapping.entity(target), matched)
            return self._update(bound, "link", item, matched, ids, None, source)
        if not self._condition_holds(bound, source, item.record, create=True):
            raise SkipRecord(f"no matching {mapping.entity(target)}, and the {mapping.entity(source)} does not meet "
                             f"the {source.value} create condition ({mapping.create_conditions[source].text})")
        parent = self.matcher.parent_value(bound, source, item.record)
        rows: dict[str, Any] = {}
        line_sources: list[LineSource] = []
        if target is Side.ERP and bound.lines:
            rows, line_sources = self.lines.rows_for_new_erp(bound, item.record_id)
        return decide_create(bound, source, ids, item.record, parent, rows, line_sources, self.settings)

    def _newer(self, item: _Work, other: _Work | None) -> Side | None:
        if other is None:
            return item.side if item.in_batch else None
        return None

    def _update(self, bound: BoundMapping, kind: Kind, item: _Work, target_record: Record, ids: dict[Side, str],
                base: Base | None, newer: Side | None) -> RecordPlan:
        records = {item.side: item.record, item.side.other: target_record}
        line_plans = self.lines.plan(bound, ids[Side.CRM], records[Side.ERP], base.lines if base else None, newer)
        return decide_update(bound, kind, item.side, ids, records, base, newer, line_plans, self.settings)

    def _linked(self, mapping: str, ids: dict[Side, str]) -> None:
        self.spill.add_ids(f"linked:{mapping}", [(side.value, record_id) for side, record_id in ids.items()])
