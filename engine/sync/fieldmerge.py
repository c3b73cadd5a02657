"""Field-level three-way merge of one linked record pair, and the values of a record to create.

Pure functions: records, the base and the bound rules in; planned field changes, conflicts and rule
errors out. DESIGN.md section 4 lives here: a field changed on one side since the base flows to the
other (if the rule's direction allows); the same field changed on both sides is a conflict resolved
by the rule's or mapping's policy; a field absent from a record is no change at all (missing is not
null); a value that already matches is not written (no echo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.expressions import ExpressionError, as_record
from engine.extractors import MISSING, FieldPath
from engine.ruleset import ConflictPolicy, Side, WritePolicy
from engine.sync.bound import SIDES, BoundRule, RuleGroup
from engine.sync.values import is_empty, normalise, same


class RuleError(Exception):
    """A rule cannot produce a value for this record (expression failed, value too long, unmapped)."""


@dataclass(frozen=True)
class FieldChange:
    rule: str
    target: Side
    path: FieldPath  # where the value goes, compiled with the rule set
    old: Any
    new: Any

    @property
    def field(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class FieldConflict:
    rule: str
    crm_value: Any
    erp_value: Any
    resolution: str  # "crm-wins", "erp-wins" or "skip"


@dataclass
class MergeResult:
    changes: list[FieldChange] = field(default_factory=list)
    conflicts: list[FieldConflict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def for_side(self, side: Side) -> list[FieldChange]:
        return [c for c in self.changes if c.target is side]


class _Context:
    """Per record pair: the records wrapped for expressions once, not per rule."""

    def __init__(self, records: dict[Side, dict[str, Any] | None], settings: dict[str, Any]) -> None:
        self.records = records
        self.settings = settings
        self._wrapped: dict[Side, dict[str, Any]] = {}

    def wrapped(self, side: Side) -> dict[str, Any]:
        if side not in self._wrapped:
            self._wrapped[side] = as_record(self.records[side])
        return self._wrapped[side]


def read(br: BoundRule, side: Side, record: dict[str, Any] | None) -> Any:
    """The normalised value of a rule's side in a record (MISSING when absent)."""
    fs = br.rule.side(side)
    if fs is None or record is None:
        return MISSING
    return normalise(fs.reader.get(record), br.type(side))


def convert(br: BoundRule, target: Side, value: Any, ctx: _Context) -> Any:
    """The value to write to ``target`` for a value read on the other side (map, transform, type)."""
    if value is MISSING:
        return MISSING
    rule = br.rule
    vmap = rule.value_map_to(target)
    if vmap is not None and value is not None:
        if value in vmap:
            value = vmap[value]
        elif str(value) in vmap:
            value = vmap[str(value)]
        else:
            raise RuleError(f"rule {rule.key}: value {value!r} is not in the value map "
                            f"({', '.join(map(repr, vmap))})")
    expr = rule.transform(target)
    if expr is not None:
        try:
            value = expr.evaluate({"value": value, "record": ctx.wrapped(target.other), "settings": ctx.settings})
        except ExpressionError as exc:
            raise RuleError(f"rule {rule.key}: {exc}") from exc
    return normalise(value, br.type(target))


def _check_length(br: BoundRule, target: Side, value: Any) -> None:
    limit = br.max_length[target]
    if limit and isinstance(value, str) and len(value) > limit:
        raise RuleError(f"rule {br.rule.key}: {len(value)} characters for a field of at most {limit}: "
                        f"{value[:40]!r}...")


def _winner(policy: ConflictPolicy, newer: Side | None) -> Side | None:
    if policy is ConflictPolicy.CRM_WINS:
        return Side.CRM
    if policy is ConflictPolicy.ERP_WINS:
        return Side.ERP
    if policy is ConflictPolicy.NEWEST_WINS:
        return newer or Side.ERP
    return None


def merge(bound: RuleGroup, crm: dict[str, Any], erp: dict[str, Any], base: dict[str, Any] | None,
          settings: dict[str, Any], newer: Side | None = None) -> MergeResult:
    """Plan the field writes that bring a linked pair in step, given the base of the last sync."""
    ctx = _Context({Side.CRM: crm, Side.ERP: erp}, settings)
    result = MergeResult()
    for br in bound.rules:
        rule = br.rule
        current = {s: read(br, s, ctx.records[s]) for s in SIDES}
        if rule.constant is not MISSING:
            for target in SIDES:
                if br.writes[target] and rule.write is not WritePolicy.ON_CREATE:
                    _plan(br, target, normalise(rule.constant, br.type(target)), current[target], result)
            continue
        agreed = (base or {}).get(rule.key)
        changed = {
            s: current[s] is not MISSING and (agreed is None or not same(current[s], agreed.get(s.value, MISSING)))
            for s in SIDES
        }
        wants = {target: br.writes[target] and changed[target.other] for target in SIDES}
        if wants[Side.ERP] and wants[Side.CRM]:
            if same(convert(br, Side.ERP, current[Side.CRM], ctx), current[Side.ERP]):
                continue  # both changed to the same value
            policy = rule.conflict or bound.conflict
            winner = _winner(policy, newer)
            if agreed is not None:
                result.conflicts.append(FieldConflict(
                    rule.key, current[Side.CRM], current[Side.ERP], winner.value + "-wins" if winner else "skip"))
            if winner is None:
                continue
            wants[winner] = False  # the winner's value flows to the other side
        for target in SIDES:
            if wants[target]:
                new = convert(br, target, current[target.other], ctx)
                if agreed is None and new is None:
                    continue  # first contact: an empty value never wipes what the other side has
                _plan(br, target, new, current[target], result)
    return result


def _plan(br: BoundRule, target: Side, new: Any, old: Any, result: MergeResult) -> None:
    rule = br.rule
    if new is MISSING or rule.write is WritePolicy.ON_CREATE:
        return
    if rule.write is WritePolicy.IF_EMPTY and not is_empty(old):
        return
    if same(new, old) or (new is None and is_empty(old)):
        return
    _check_length(br, target, new)
    writer = rule.side(target).writer  # type: ignore[union-attr]
    assert writer is not None
    result.changes.append(FieldChange(rule.key, target, writer, None if old is MISSING else old, new))


def values_for_create(bound: RuleGroup, target: Side, source: dict[str, Any],
                      settings: dict[str, Any]) -> list[FieldChange]:
    """The fields of a new ``target`` record made from a ``source`` record (constants and defaults included)."""
    records: dict[Side, dict[str, Any] | None] = {target.other: source, target: None}
    ctx = _Context(records, settings)
    out: list[FieldChange] = []
    for br in bound.rules:
        rule = br.rule
        if not br.writes[target]:
            continue
        if rule.constant is not MISSING:
            value = normalise(rule.constant, br.type(target))
        else:
            value = convert(br, target, read(br, target.other, source), ctx)
        if (value is MISSING or value is None) and rule.default is not MISSING:
            value = normalise(rule.default, br.type(target))
        if value is MISSING or value is None:
            continue
        _check_length(br, target, value)
        writer = rule.side(target).writer  # type: ignore[union-attr]
        assert writer is not None
        out.append(FieldChange(rule.key, target, writer, None, value))
    return out


def base_of(bound: RuleGroup, crm: dict[str, Any], erp: dict[str, Any]) -> dict[str, Any]:
    """The agreed values of a pair now in step, per rule (the merge base stored with the link)."""
    base: dict[str, Any] = {}
    for br in bound.rules:
        if br.rule.constant is not MISSING:
            continue
        entry = {}
        for side, record in ((Side.CRM, crm), (Side.ERP, erp)):
            value = read(br, side, record)
            if value is not MISSING:
                entry[side.value] = value
        base[br.rule.key] = entry
    return base


def one_sided_base(bound: RuleGroup, side: Side, record: dict[str, Any]) -> dict[str, Any]:
    """A base in which only ``side``'s current values are agreed: merging a record just created on the
    other side against it sends back only what the target itself assigned (a customer number)."""
    base: dict[str, Any] = {}
    for br in bound.rules:
        value = read(br, side, record)
        base[br.rule.key] = {} if value is MISSING else {side.value: value}
    return base


def nested(changes: list[FieldChange]) -> dict[str, Any]:
    """Field changes as the nested object a connector writes (``mainContact.email`` -> nested dicts)."""
    out: dict[str, Any] = {}
    for change in changes:
        change.path.set(out, change.new)
    return out
