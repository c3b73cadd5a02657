"""Running one rule test: the records into in-memory systems, the pass's own decision, the expectations checked.

A test's records are put into in-memory connectors (``mapsync.connectors.memory``) standing for webCRM and the
ERP, its links and base into an in-memory state store; then the record is gathered and decided by
``SyncPass.decide_record``, as ``mapsync plan`` decides it (dry-run connectors, a scratch copy of the store):
the condition, the link or a match by the mapping's keys or a create, the field merge against the base, the
lines. Nothing here re-implements a decision; the outcome is read off the ``RecordPlan`` with ``action_of``,
as the plan and run reports are. Offline: no system is contacted.

Each failed expectation is a ``Failure`` located at the line of the test file that states it, and at the
rule that made the difference (the field rule writing the field, the condition that skipped the record,
the match keys that linked it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mapsync.connectors.catalogue import Catalogue
from mapsync.connectors.memory import MemoryConnector
from mapsync.engine.diagnostics import Location
from mapsync.engine.expressions import ExpressionError
from mapsync.engine.extractors import MISSING
from mapsync.engine.ruleset import RuleSet, Side
from mapsync.engine.ruleset.compiler import thaw
from mapsync.engine.ruletest.cases import ExpectedValue, RuleTest
from mapsync.engine.state import Base, SqliteStateStore
from mapsync.engine.sync.bound import BoundMapping
from mapsync.engine.sync.decide import RecordPlan, action_of
from mapsync.engine.sync.fieldmerge import RuleError, base_of, values_for_create
from mapsync.engine.sync.lineio import LineIO
from mapsync.engine.sync.matching import SkipRecord
from mapsync.engine.sync.passrun import SyncPass

Record = dict[str, Any]


@dataclass(frozen=True)
class Failure:
    """One expectation not met: where the test states it, and the rule that made the difference."""

    message: str
    location: Location
    rule: str = ""  # "rule customer-type", "the crm condition", ...
    rule_location: Location | None = None


@dataclass(frozen=True)
class Outcome:
    """What the pass decided for the test's record, as the plan report shows it."""

    action: str
    target: str  # crm, erp, both, none
    writes: dict[Side, dict[str, Any]]
    mapped: dict[str, Any] | None  # None: the rules failed on the record (see mapped_error)
    mapped_error: str
    held: tuple[str, ...]
    conflicts: tuple[str, ...]
    reason: str
    rule_fault: Side | None = None  # the side whose conditions skipped it (for pointing at the condition)


@dataclass
class TestResult:
    test: RuleTest
    outcome: Outcome | None = None
    failures: list[Failure] = field(default_factory=list)
    records: dict[Side, Record] = field(default_factory=dict)  # as stored (ids assigned): for coverage
    lines: dict[Side, list[tuple[str, Record]]] = field(default_factory=dict)  # (line rule, line record)

    @property
    def passed(self) -> bool:
        return not self.failures


class _World:
    """The in-memory systems and state store of one test."""

    def __init__(self, test: RuleTest, ruleset: RuleSet, bound: BoundMapping) -> None:
        self.connectors = {Side.CRM: MemoryConnector(ruleset.crm.connector),
                           Side.ERP: MemoryConnector(ruleset.erp.connector)}
        self.store = SqliteStateStore(":memory:")
        for side, entities in test.others.items():
            for entity, records in entities.items():
                for record in records:
                    self.connectors[side].seed(entity, record)
        self.records: dict[Side, Record] = {}
        self.ids: dict[Side, str] = {}
        for side, record in test.records.items():
            entity = bound.mapping.entity(side)
            stored = self.connectors[side].seed(entity, record)
            self.records[side] = stored
            self.ids[side] = self.connectors[side].record_id(entity, stored)
        for mapping, crm_id, erp_id in test.links:
            self.store.link(mapping, crm_id, erp_id, Base())
        if test.base is not None:
            then = {side: {**self.records[side], **test.base[side]} for side in Side}
            self.store.link(test.mapping, self.ids[Side.CRM], self.ids[Side.ERP],
                            Base(fields=base_of(bound, then[Side.CRM], then[Side.ERP])))

    def close(self) -> None:
        self.store.close()


def _line_writes(plan: RecordPlan, writes: dict[Side, dict[str, Any]]) -> None:
    for line_plan in plan.line_plans:
        if line_plan.erp_rows is not None:
            writes[Side.ERP][line_plan.lines.line.erp_collection.name] = line_plan.erp_rows
        for key, change in line_plan.report().items():
            side = Side(key.split("].", 1)[1][:3])
            writes[side][key] = change["new"]


def _outcome_of(plan: RecordPlan, mapped: dict[str, Any] | None, mapped_error: str) -> Outcome:
    action = action_of(plan, plan.ids)
    writes: dict[Side, dict[str, Any]] = {Side.CRM: {}, Side.ERP: {}}
    if plan.kind == "create":
        target = writes[plan.target]
        target.update({c.field: c.new for c in plan.changes})
        target.update({k: v for k, v in plan.payload.items() if isinstance(v, list)})
    else:
        for change in plan.changes:
            writes[change.target][change.field] = change.new
        _line_writes(plan, writes)
    return Outcome(action.action, action.target or "none", writes, mapped, mapped_error,
                   tuple(h.rule for h in plan.held), tuple(c.rule for c in plan.conflicts), action.reason)


def _lines(world: _World, bound: BoundMapping, settings: dict[str, Any]) -> dict[Side, list[tuple[str, Record]]]:
    """The line records of the test's pair: the crm lines of its crm record, the rows of its erp record."""
    io = LineIO(world.connectors, settings)
    out: dict[Side, list[tuple[str, Record]]] = {Side.CRM: [], Side.ERP: []}
    for lines in bound.lines:
        if Side.CRM in world.ids:
            out[Side.CRM] += [(lines.line.name, r) for r in io.crm_lines(lines, world.ids[Side.CRM])]
        if Side.ERP in world.records:
            out[Side.ERP] += [(lines.line.name, r) for r in io.erp_rows(lines, world.records[Side.ERP])]
    return out


def decide(test: RuleTest, ruleset: RuleSet, catalogues: dict[Side, Catalogue],
           bound: BoundMapping) -> TestResult:
    """The pass's decision for the test's record (expectations not checked yet), with the records and lines
    as the in-memory systems hold them."""
    world = _World(test, ruleset, bound)
    settings = thaw(ruleset.settings)
    lines = _lines(world, bound, settings)
    source = test.source
    record = world.records[source]
    try:
        mapped: dict[str, Any] | None = {c.field: c.new for c in
                                         values_for_create(bound, source.other, record, settings, [])}
        mapped_error = ""
    except (RuleError, ExpressionError) as exc:
        mapped, mapped_error = None, str(exc)
    sync = SyncPass(ruleset, world.connectors, catalogues, world.store, apply=False)
    try:
        partner = None
        if test.base is not None:
            partner = (world.ids[source.other], world.records[source.other])
        plan = sync.decide_record(bound, source, record, world.ids[source], partner)
        outcome = _outcome_of(plan, mapped, mapped_error)
    except SkipRecord as exc:
        outcome = Outcome("skip", "none", {Side.CRM: {}, Side.ERP: {}}, mapped, mapped_error, (), (), str(exc),
                          rule_fault=source)
    except (RuleError, ExpressionError) as exc:
        outcome = Outcome("quarantine", "none", {Side.CRM: {}, Side.ERP: {}}, mapped, mapped_error, (), (),
                          f"rule error: {exc}")
    finally:
        sync.store.close()  # the plan's scratch copy
        world.close()
    return TestResult(test, outcome, [], world.records, lines)


# -- checking expectations ----------------------------------------------------------------------------------

def _rule_writing(bound: BoundMapping, side: Side, name: str) -> tuple[str, Location | None]:
    for br in bound.rules:
        fs = br.rule.side(side)
        if fs is not None and fs.writer is not None and fs.writer.name == name:
            return f"rule {br.rule.key}", br.rule.location
    for lines in bound.lines:
        if (side is Side.ERP and lines.line.erp_collection.name == name) or name.startswith(f"{lines.line.name}["):
            return f"line rule {lines.line.name}", lines.line.location
    return "", None


def _why_action(bound: BoundMapping, outcome: Outcome) -> tuple[str, Location | None]:
    mapping = bound.mapping
    if outcome.rule_fault is not None:
        side = outcome.rule_fault.value
        for key, words in ((f"create_conditions.{side}", "create condition"), (f"conditions.{side}", "condition")):
            if key in mapping.locations and words in outcome.reason:
                return f"the {side} {words}", mapping.where(key)
    if outcome.action == "link" and "match" in mapping.locations:
        return "the match keys", mapping.where("match")
    return f"mapping {mapping.name}", mapping.location


def _check_values(expected: Iterable[tuple[str, ExpectedValue]], actual: dict[str, Any], what: str,
                  bound: BoundMapping, side: Side) -> list[Failure]:
    out = []
    for name, exp in expected:
        got = actual.get(name, MISSING)
        why = exp.expected.mismatch(got)
        if why is None:
            continue
        rule, where = _rule_writing(bound, side, name)
        if not rule and not exp.expected.wants_absent:
            why += f" (no rule of mapping {bound.name} writes {side.value} field {name!r})"
        out.append(Failure(f"{what} {name}: {why}", exp.location, rule, where))
    return out


def check(test: RuleTest, outcome: Outcome, bound: BoundMapping) -> list[Failure]:
    """Every expectation of ``test`` the outcome does not meet."""
    exp = test.expect
    failures: list[Failure] = []
    if exp.action is not None and exp.action != outcome.action:
        rule, where = _why_action(bound, outcome)
        failures.append(Failure(f"expected action {exp.action}, got {outcome.action}: {outcome.reason or '-'}",
                                exp.where("action"), rule, where))
    if exp.target is not None and exp.target != outcome.target:
        failures.append(Failure(f"expected the plan to write to {exp.target}, it writes to {outcome.target}",
                                exp.where("target")))
    for side, values in exp.writes.items():
        failures += _check_values(values.items(), outcome.writes[side], f"{side.value} field", bound, side)
    if exp.only:
        for side in Side:
            listed: Mapping[str, ExpectedValue] = exp.writes.get(side, {})
            for name, value in outcome.writes[side].items():
                if name not in listed:
                    rule, where = _rule_writing(bound, side, name)
                    failures.append(Failure(f"only: the plan also writes {side.value} field {name} = {value!r}",
                                            exp.where("only"), rule, where))
    if exp.mapped is not None:
        if outcome.mapped is None:
            failures.append(Failure(f"mapped: the rules fail on this record: {outcome.mapped_error}",
                                    exp.where("mapped")))
        else:
            failures += _check_values(exp.mapped.items(), outcome.mapped, "mapped field", bound, test.source.other)
    for key, wanted, got in (("held", exp.held, outcome.held), ("conflicts", exp.conflicts, outcome.conflicts)):
        if wanted is not None and sorted(set(wanted)) != sorted(set(got)):
            failures.append(Failure(f"expected {key} {sorted(set(wanted))}, got {sorted(set(got))}",
                                    exp.where(key)))
    if exp.reason is not None:
        why = exp.reason.expected.mismatch(outcome.reason)
        if why:
            failures.append(Failure(f"reason: {why}", exp.reason.location))
    return failures


def run_test(test: RuleTest, ruleset: RuleSet, catalogues: dict[Side, Catalogue],
             bound: BoundMapping) -> TestResult:
    result = decide(test, ruleset, catalogues, bound)
    assert result.outcome is not None
    result.failures = check(test, result.outcome, bound)
    return result
