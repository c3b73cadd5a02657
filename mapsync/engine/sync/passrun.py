"""One sync pass over a rule set: read changes, then per record gather, decide, apply (docs/sync.md).

For each mapping, parents first: reconcile creates journalled by a pass that crashed, read the records
changed since the cursors (plus quarantined records due for a retry and links with held-back fields),
then per record: gather what its outcome depends on (condition, link or match, partner, parent, lines)
and decide it as a ``RecordPlan`` (pure, ``mapsync.engine.sync.decide``). Once every record of the mapping is
decided, the plans are checked against the guardrails (``mapsync.engine.sync.guardrails``; a run beyond them
stops before writing the mapping unless forced), then applied in order (``mapsync.engine.sync.apply``: writes,
then one state-store transaction per record). A record that fails is quarantined with its error class
and the pass goes on; only a fatal connector error stops it. Cursors advance only when every record read
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
from collections.abc import Callable, Mapping
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
from mapsync.engine.state import Base, StateStore
from mapsync.engine.state.serial import SerialStore
from mapsync.engine.state.store import ErrorClass, LinkConflictError, RunStatus, StateLockedError
from mapsync.engine.sync.apply import Applier
from mapsync.engine.sync.bound import BoundMapping, bind_ruleset
from mapsync.engine.sync.decide import Kind, RecordPlan, action_of, decide_create, decide_update
from mapsync.engine.sync.dryrun import DryRunConnector
from mapsync.engine.sync.fieldmerge import RuleError
from mapsync.engine.sync.guardrails import check_guardrails
from mapsync.engine.sync.lineio import LineIO, LineSource
from mapsync.engine.sync.matching import KeyIndex, Matcher, SkipRecord, link_of
from mapsync.engine.sync.pipeline import apply_in_order
from mapsync.engine.sync.reconcile import reconcile_journal
from mapsync.engine.sync.report import Action, MappingReport, PassReport

Record = dict[str, Any]
Progress = Callable[[str, int, int], None]
log = logging.getLogger("mapsync.sync")


@dataclass
class _Work:
    side: Side
    record: Record
    record_id: str
    in_batch: bool = True


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
        self.newly_linked: dict[tuple[str, Side], set[str]] = {}  # (mapping, side) -> ids linked this pass
        self.applier = Applier(self.connectors, self.store, self.lines, self.settings, self._run, self._linked)

    def _run(self) -> int:
        assert self.run_id is not None, "writes happen only in a run"
        return self.run_id

    # -- the pass ------------------------------------------------------------------------------------
    def run(self) -> PassReport:
        try:
            return self._pass()
        finally:
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
            report.seconds = time.monotonic() - started
            status: RunStatus = "fatal" if report.fatal else (
                "quarantined" if report.total("quarantined") or report.failed_mappings else "ok")
            summary = {"totals": report.as_dict()["totals"], "fatal": report.fatal}
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
        reconcile_journal(bound, self.connectors, self.store, report, self.settings, self._run(), self._linked)
        read_sides = [s for s in Side if mapping.direction.writes(s.other)]
        batches: dict[Side, list[Record]] = {}
        cursors: dict[Side, str] = {}
        self.matcher.complete = {}
        for side in read_sides:
            entity = mapping.entity(side)
            cursor = self.store.get_cursor(mapping.name, side.value)
            batch = self.connectors[side].read_changes(entity, cursor, mapping.fields_read(side))
            batches[side] = batch.kept(partial(self.connectors[side].record_id, entity))
            self._set_aside(bound, side, batch, report)
            cursors[side] = batch.cursor
            if cursor is None:  # a first read returns every record: match against it without asking the API
                self.matcher.complete[side] = KeyIndex(batches[side])
            else:  # children of parents linked earlier in this pass, unchanged since they were skipped
                batches[side].extend(self._children_of_new_parents(bound, side))
        work = self._work_items(bound, batches, report)
        # Decide every record first (reads only), then check the guardrails, then apply: a mass change stops
        # before anything of this mapping is written.
        decided: list[tuple[_Work, dict[Side, str], RecordPlan | Action]] = []
        handled: set[tuple[Side, str]] = set()  # records already decided this pass
        self.matcher.claimed = set()  # records a plan of this pass pairs (links or creates): not free to match
        for index, (item, other) in enumerate(work, 1):
            if self.progress:
                self.progress(mapping.name, index, 2 * len(work))
            if (item.side, item.record_id) in handled:
                continue  # its pair was decided already: the copy read before that is stale
            ids = {item.side: item.record_id}
            outcome = self._decide(bound, item, other, ids)
            decided.append((item, ids, outcome))
            handled.update((side, rid) for side, rid in ids.items())
            if isinstance(outcome, RecordPlan):
                self.matcher.claimed.update((side, rid) for side, rid in ids.items())
        plans = [outcome for _, _, outcome in decided if isinstance(outcome, RecordPlan)]
        stop = check_guardrails(self.ruleset.guardrails, mapping.name, self.store.count_links(mapping.name), plans)
        if stop is not None:
            if self.apply and not self.force:
                raise GuardrailStop(stop)
            report.warnings.append(stop + (" (forced)" if self.apply else " (a run stops here without --force)"))

        def before(offset: int) -> None:
            if self.stop is not None and self.stop.is_set():
                raise PassStopped(f"stopped on request in mapping {mapping.name} after {offset} of "
                                  f"{len(decided)} record(s); the next pass goes on from there")
            if self.progress:
                self.progress(mapping.name, len(work) + offset, 2 * len(work))

        def apply_one(entry: tuple[_Work, dict[Side, str], RecordPlan | Action]) -> Action:
            item, ids, outcome = entry
            return outcome if isinstance(outcome, Action) else self._apply(bound, item, ids, outcome)

        apply_in_order(decided, apply_one, concurrency=self.concurrency, before=before, done=report.add)
        for side, cursor in cursors.items():
            self.store.set_cursor(mapping.name, side.value, cursor)
            crashpoints.reached("cursor:committed")

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
        for parent_id in sorted(self.newly_linked.get((mapping.parent, side), ())):
            value: Any = int(parent_id) if info is not None and info.type == "integer" else parent_id
            children.extend(self.connectors[side].find(mapping.entity(side), field.name, value))
        return children

    def _work_items(self, bound: BoundMapping, batches: dict[Side, list[Record]],
                    report: MappingReport) -> list[tuple[_Work, _Work | None]]:
        """Records to process, a linked pair changed on both sides processed once, quarantine retries added.

        A quarantined record read again unchanged before its retry is due (the cursor's overlap re-reads
        recent changes) waits for its retry: sending the same refused request again would only be refused
        again, and counts against the systems' limits on repeated and failing requests."""
        mapping = bound.mapping
        due = self.store.due(mapping.name)
        due_now = {(e.side, e.record_id) for e in due}
        waiting = {(Side(e.side), e.record_id): e for e in self.store.list_quarantine(mapping.name)
                   if e.fingerprint is not None and (e.side, e.record_id) not in due_now}
        by_id: dict[Side, dict[str, _Work]] = {}
        for side, records in batches.items():
            entity = mapping.entity(side)
            by_id[side] = {}
            for record in records:
                rid = self.connectors[side].record_id(entity, record)
                entry = waiting.get((side, rid))
                if entry is not None and entry.fingerprint == fingerprint(record):
                    ids = {side: rid}
                    report.add(Action("skip", None, ids.get(Side.CRM), ids.get(Side.ERP),
                                      reason=f"quarantined ({entry.error_class}), unchanged since; next retry "
                                             f"{entry.next_retry_at:%Y-%m-%d %H:%M} UTC"))
                    continue
                by_id[side][rid] = _Work(side, record, rid)
        for entry in due:  # quarantined records due for a retry
            side = Side(entry.side)
            if entry.record_id.startswith(INVALID_PREFIX):  # no id to read it by: reported, now forgotten
                self.store.release(mapping.name, entry.side, entry.record_id)
                continue
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
        link = link_of(self.store, mapping.name, source, item.record_id)
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
        for side, record_id in ids.items():
            self.newly_linked.setdefault((mapping, side), set()).add(record_id)
