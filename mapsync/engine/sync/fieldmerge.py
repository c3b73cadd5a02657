"""Field-level three-way merge of one record pair, the values of a record to create, and the base after.

Pure functions: records, the base and the bound rules in; planned field changes, conflicts, held-back
fields and rule errors out. The guarantees of docs/sync.md live here:

- a rule writes only in its direction (``BoundRule.writes``), never as a blank unless the side it
  flows from was blanked since the base;
- with a base, a field flows only from a side that changed it since the base; the same field changed
  on both sides is a conflict resolved by the rule's or mapping's policy;
- without a base (first contact: two existing records just linked), an empty side is filled from the
  other by the rule's direction and different values are decided by the first-contact policy
  (``crm-wins``, ``erp-wins`` or ``hold`` for review);
- after a create, only what the target assigned or altered itself flows back (``after_create``);
- a value missing from a value map holds back that one field (or passes through, or quarantines the
  record, by the rule's ``on_unmapped``); ``settled_base`` keeps such a field pending in the base;
- the base records what both sides really hold (``settled_base``), so a lossy map's round trip
  (A -> X -> B) is never written back as B;
- a field absent from a record is no change at all (missing is not null); a value that already
  matches is not written (no echo).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mapsync.engine.expressions import ExpressionError, as_record
from mapsync.engine.extractors import MISSING, FieldPath
from mapsync.engine.ruleset import ConflictPolicy, FirstContactPolicy, Side, UnmappedPolicy, WritePolicy
from mapsync.engine.sync.bound import SIDES, BoundRule, RuleGroup
from mapsync.engine.sync.values import is_empty, normalise, same


class RuleError(Exception):
    """A rule cannot produce a value for this record (expression failed, value too long, unmapped)."""


class UnmappedValue(RuleError):
    """A value the rule's value map has no entry for (``on_unmapped`` decides what happens)."""


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


@dataclass(frozen=True)
class HeldField:
    """A field not brought over this time, and why (a value the map lacks, a first-contact disagreement)."""

    rule: str
    target: Side  # the side the value would have gone to
    reason: str
    review: bool = False  # a first-contact disagreement held for review (not a missing map entry)


@dataclass
class MergeResult:
    changes: list[FieldChange] = field(default_factory=list)
    conflicts: list[FieldConflict] = field(default_factory=list)
    held: list[HeldField] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # first-contact decisions, shown with the action
    filled: list[str] = field(default_factory=list)  # first contact: "rule -> side" filled from the other side

    def for_side(self, side: Side) -> list[FieldChange]:
        return [c for c in self.changes if c.target is side]


class RecordContext:
    """Per record pair: the records wrapped for expressions once, not per rule (and only if a rule asks)."""

    __slots__ = ("_wrapped", "records", "settings")

    def __init__(self, records: dict[Side, dict[str, Any] | None], settings: dict[str, Any]) -> None:
        self.records = records
        self.settings = settings
        self._wrapped: dict[Side, dict[str, Any]] | None = None

    def wrapped(self, side: Side) -> dict[str, Any]:
        if self._wrapped is None:
            self._wrapped = {}
        if side not in self._wrapped:
            self._wrapped[side] = as_record(self.records[side])
        return self._wrapped[side]


def read(br: BoundRule, side: Side, record: dict[str, Any] | None) -> Any:
    """The normalised value of a rule's side in a record (MISSING when absent)."""
    return br.readers[side](record)  # compiled when the mapping was bound (readers.compiled_reader)


def _mapped(vmap: Any, value: Any) -> Any:
    if value in vmap:
        return vmap[value]
    if str(value) in vmap:
        return vmap[str(value)]
    return MISSING


def convert(br: BoundRule, target: Side, value: Any, ctx: RecordContext) -> Any:
    """The value to write to ``target`` for a value read on the other side (map, transform, type).

    Raises ``UnmappedValue`` for a value the map lacks, unless the rule passes such values through."""
    if value is MISSING:
        return MISSING
    rule = br.rule
    vmap = rule.value_map_to(target)
    if vmap is not None and value is not None:
        mapped = _mapped(vmap, value)
        if mapped is not MISSING:
            value = mapped
        elif rule.on_unmapped is not UnmappedPolicy.PASS:
            raise UnmappedValue(f"rule {rule.key}: value {value!r} is not in the value map "
                                f"({', '.join(map(repr, vmap))})")
    expr = rule.transform(target)
    if expr is not None:
        try:
            value = expr.evaluate({"value": value, "record": ctx.wrapped(target.other), "settings": ctx.settings})
        except ExpressionError as exc:
            raise RuleError(f"rule {rule.key}: {exc}") from exc
    return normalise(value, br.type(target))


def _converted(br: BoundRule, target: Side, value: Any, ctx: RecordContext, result: MergeResult) -> Any:
    """``convert``, with a value the map lacks held back (MISSING returned) or quarantining the record."""
    try:
        return convert(br, target, value, ctx)
    except UnmappedValue as exc:
        if br.rule.on_unmapped is UnmappedPolicy.QUARANTINE:
            raise
        result.held.append(HeldField(br.rule.key, target, f"{exc}; not written to {target.value} until the map "
                                                         "covers it"))
        return MISSING


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


def agree(br: BoundRule, crm: Any, erp: Any, ctx: RecordContext) -> bool:
    """Whether two values say the same thing under the rule: equal once converted in a direction the rule
    flows (a lossy map: ``Reseller`` agrees with ``COMPANY`` when Reseller maps to COMPANY)."""
    values = {Side.CRM: crm, Side.ERP: erp}
    if same(crm, erp) and not br.rule.value_map and not br.rule.to_erp and not br.rule.to_crm:
        return True
    for target in SIDES:
        if not br.rule.direction.writes(target) and br.rule.direction.writes(target.other):
            continue
        try:
            if same(convert(br, target, values[target.other], ctx), values[target]):
                return True
        except RuleError:
            continue
    return False


def merge(bound: RuleGroup, crm: dict[str, Any], erp: dict[str, Any], base: dict[str, Any] | None,
          settings: dict[str, Any], newer: Side | None = None, held: dict[str, str] | None = None) -> MergeResult:
    """Plan the field writes that bring a pair in step, given the base of the last sync (``None``: the two
    records were just linked, first contact for every field). ``held``: the reasons of fields held for
    review at an earlier first contact, reported again while neither side changes them.

    Runs the group's generated merge function (``mergeplan``): per rule, the two values read and compared with
    the base inline, and ``merge_rule`` called only for a rule with something to decide."""
    global _merger_of
    if _merger_of is None:
        from mapsync.engine.sync.mergeplan import merger_of  # mergeplan builds on this module

        _merger_of = merger_of
    ctx = RecordContext({Side.CRM: crm, Side.ERP: erp}, settings)
    result = MergeResult()
    _merger_of(bound)(bound, crm, erp, base, held, newer, ctx, result)
    return result


_merger_of: Callable[[RuleGroup], Callable[..., None]] | None = None
"""``mergeplan.merger_of``, imported on the first merge (mergeplan imports this module)."""


def merge_loop(bound: RuleGroup, crm: dict[str, Any], erp: dict[str, Any], base: dict[str, Any] | None,
               settings: dict[str, Any], newer: Side | None = None, held: dict[str, str] | None = None) -> MergeResult:
    """``merge`` as a plain loop over the rules: what the generated function does, for reading and tests."""
    ctx = RecordContext({Side.CRM: crm, Side.ERP: erp}, settings)
    result = MergeResult()
    for br in bound.rules:
        merge_rule(bound, br, br.read_crm(crm), br.read_erp(erp), base, ctx, result, held, newer)
    return result


def merge_rule(bound: RuleGroup, br: BoundRule, crm_value: Any, erp_value: Any, base: dict[str, Any] | None,
               ctx: RecordContext, result: MergeResult, held: dict[str, str] | None, newer: Side | None) -> None:
    """One rule of ``merge``, given its two values as read (``read``)."""
    rule = br.rule
    crm_side, erp_side = Side.CRM, Side.ERP
    if rule.constant is not MISSING:
        current = {crm_side: crm_value, erp_side: erp_value}
        for target in SIDES:
            if br.writes[target] and rule.write is not WritePolicy.ON_CREATE:
                _plan(br, target, normalise(rule.constant, br.type(target)), current[target], result)
        return
    agreed = None if base is None else base.get(rule.key)
    if agreed is None:
        _first_contact(bound, br, {crm_side: crm_value, erp_side: erp_value}, ctx, result)
        return
    crm_changed = changed_since(crm_value, agreed.get("crm", MISSING))
    erp_changed = changed_since(erp_value, agreed.get("erp", MISSING))
    if not crm_changed and not erp_changed:
        if held and rule.key in held and not agree(br, crm_value, erp_value, ctx):
            result.held.append(HeldField(rule.key, Side.ERP, held[rule.key], review=True))
        return
    current = {crm_side: crm_value, erp_side: erp_value}
    changed = {crm_side: crm_changed, erp_side: erp_changed}
    wants = {target: br.writes[target] and changed[target.other] for target in SIDES}
    if wants[Side.ERP] and wants[Side.CRM]:
        if agree(br, current[Side.CRM], current[Side.ERP], ctx):
            return  # both changed to the same value
        policy = rule.conflict or bound.conflict
        winner = _winner(policy, newer)
        result.conflicts.append(FieldConflict(
            rule.key, current[Side.CRM], current[Side.ERP], winner.value + "-wins" if winner else "skip"))
        if winner is None:
            return
        wants[winner] = False  # the winner's value flows to the other side
    for target in SIDES:
        if wants[target]:
            new = _converted(br, target, current[target.other], ctx, result)
            _plan(br, target, new, current[target], result)


def changed_since(current: Any, agreed: Any) -> bool:
    """Whether a side changed a field since the base. Absent from the base (not sent on create) and empty
    now is no change: the field was empty all along."""
    if current is MISSING:
        return False
    if agreed is MISSING:
        return not is_empty(current)
    return not same(current, agreed)


def _first_contact(bound: RuleGroup, br: BoundRule, current: dict[Side, Any], ctx: RecordContext,
                   result: MergeResult) -> None:
    """Two existing records just linked (or a rule new to the link): fill an empty side by the rule's direction;
    different values are decided by the first-contact policy."""
    rule = br.rule
    if current[Side.CRM] is MISSING or current[Side.ERP] is MISSING:
        return  # a side not read: nothing to compare
    empty = {s: is_empty(current[s]) for s in SIDES}
    if empty[Side.CRM] and empty[Side.ERP]:
        return
    if empty[Side.CRM] or empty[Side.ERP]:
        target = Side.CRM if empty[Side.CRM] else Side.ERP
        if br.writes[target]:
            new = _converted(br, target, current[target.other], ctx, result)
            _plan(br, target, new, current[target], result)
            if new is not MISSING and rule.write is not WritePolicy.ON_CREATE:
                result.filled.append(f"{rule.key} -> {target.value}")
        return
    if agree(br, current[Side.CRM], current[Side.ERP], ctx):
        return
    policy = rule.first_contact or bound.first_contact
    winner = {FirstContactPolicy.CRM_WINS: Side.CRM, FirstContactPolicy.ERP_WINS: Side.ERP}.get(policy)
    if winner is not None and br.writes[winner.other] and rule.write is not WritePolicy.ON_CREATE:
        new = _converted(br, winner.other, current[winner], ctx, result)
        if new is not MISSING:
            before = len(result.changes)
            _plan(br, winner.other, new, current[winner.other], result)
            if len(result.changes) > before:
                result.notes.append(f"first contact: {rule.key} differs, {policy.value}")
            return
        return
    why = (f"first_contact is {policy.value}" if winner is None
           else f"first_contact {policy.value}, but the rule does not write to {winner.other.value}")
    result.held.append(HeldField(
        rule.key, Side.ERP, f"first contact: crm {current[Side.CRM]!r} and erp {current[Side.ERP]!r} differ; "
        f"held for review ({why}); change either side to settle it", review=True))


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


def _default(br: BoundRule, target: Side) -> Any:
    """A rule's default for ``target``, through the value map when it names a source value."""
    default = br.rule.default
    vmap = br.rule.value_map_to(target)
    if vmap is not None:
        mapped = _mapped(vmap, default)
        if mapped is not MISSING:
            default = mapped
    return normalise(default, br.type(target))


def values_for_create(bound: RuleGroup, target: Side, source: dict[str, Any], settings: dict[str, Any],
                      held: list[HeldField] | None = None) -> list[FieldChange]:
    """The fields of a new ``target`` record made from a ``source`` record (constants and defaults included).

    A value the map lacks is left out and added to ``held`` (given ``on_unmapped: hold``); without a
    ``held`` list to report it in, it is a rule error."""
    records: dict[Side, dict[str, Any] | None] = {target.other: source, target: None}
    ctx = RecordContext(records, settings)
    out: list[FieldChange] = []
    collected = MergeResult()
    for br in bound.rules:
        rule = br.rule
        if not br.writes[target]:
            continue
        if rule.constant is not MISSING:
            value = normalise(rule.constant, br.type(target))
        elif held is None:
            value = convert(br, target, read(br, target.other, source), ctx)
        else:
            value = _converted(br, target, read(br, target.other, source), ctx, collected)
            if collected.held and collected.held[-1].rule == rule.key:
                continue  # held back: no default in its place
        if (value is MISSING or value is None) and rule.default is not MISSING:
            value = _default(br, target)
        if value is MISSING or value is None:
            continue
        _check_length(br, target, value)
        writer = rule.side(target).writer  # type: ignore[union-attr]
        assert writer is not None
        out.append(FieldChange(rule.key, target, writer, None, value))
    if held is not None:
        held.extend(collected.held)
    return out


def after_create(bound: RuleGroup, source: Side, record: dict[str, Any], sent: list[FieldChange],
                 created: dict[str, Any], settings: dict[str, Any],
                 held: tuple[HeldField, ...] | list[HeldField] = ()) -> MergeResult:
    """What flows back to ``source`` once its record was created on the other side as ``created``: only the
    values the target assigned where the source has none (a customer number) or altered itself (a value it
    normalised). A value the engine sent that comes back as sent is never written back, not even through a
    lossy map; a field held back (its value missing from the map) is never overwritten by the target's
    default. A constant the source does not hold yet goes along (the next merge would write it alone)."""
    target = source.other
    sent_values = {c.rule: c.new for c in sent if c.target is target}
    held_rules = {h.rule for h in held}
    ctx = RecordContext({source: record, target: created}, settings)
    result = MergeResult()
    for br in bound.rules:
        rule = br.rule
        if not br.writes[source]:
            continue
        if rule.constant is not MISSING:
            _plan(br, source, normalise(rule.constant, br.type(source)), read(br, source, record), result)
            continue
        got = read(br, target, created)
        if got is MISSING or got is None:
            continue
        if rule.key in held_rules:
            continue
        if rule.key in sent_values:
            if same(normalise(sent_values[rule.key], br.type(target)), got):
                continue
        elif not is_empty(read(br, source, record)):
            continue  # not sent, and the source has a value of its own: the target's default does not replace it
        new = _converted(br, source, got, ctx, result)
        _plan(br, source, new, read(br, source, record), result)
    return result


def base_of(bound: RuleGroup, crm: dict[str, Any], erp: dict[str, Any]) -> dict[str, Any]:
    """The values both sides hold now, per rule (the merge base stored with the link)."""
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


def settled_base(bound: RuleGroup, crm: dict[str, Any], erp: dict[str, Any], previous: dict[str, Any] | None,
                 held: list[HeldField], *, created: Side | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The base to store after a record was brought in step, and the reasons of the fields held back.

    The base holds what both sides really hold, except for a field held back because the map lacks its
    value: it stays pending, so it flows once the map covers it. After an update its previous entry is
    kept; after a create (into ``created``) only the created side's value is recorded, so the source's
    value reads as a change; on first contact the field has no entry, so it is first contact again."""
    fields = base_of(bound, crm, erp)
    reasons: dict[str, str] = {}
    for h in held:
        reasons[h.rule] = h.reason
        if h.review:
            continue  # both values are recorded as they are; a change on either side settles it
        if previous is not None and h.rule in previous:
            fields[h.rule] = previous[h.rule]
        elif created is not None:
            fields[h.rule] = {k: v for k, v in fields.get(h.rule, {}).items() if k == created.value}
        else:
            fields.pop(h.rule, None)
    return fields, reasons


def nested(changes: list[FieldChange]) -> dict[str, Any]:
    """Field changes as the nested object a connector writes (``mainContact.email`` -> nested dicts)."""
    out: dict[str, Any] = {}
    for change in changes:
        change.path.set(out, change.new)
    return out
