"""Line collections synced with their parent record: webCRM quotation lines <-> ERP order/invoice rows.

On the crm side lines are records of their own (``QuotationLineOpportunityId`` points to the
delivery); on the erp side they live inside the parent's collection (``OrderRows``), whose row ids
may all change after every update (Fortnox). So lines are paired with the line base of the last sync
by: the crm line id; the erp row id when it is still there; an erp row whose values are still the
agreed ones; the line match keys; and, when exactly as many rows as base entries are left unpaired,
their order. Paired lines get the field-level three-way merge of the parent records; a line only in
the base was deleted on one side and is deleted on the other; a line only on one side is new.

``plan_lines`` is pure; the pass applies the plan: crm line creates/updates/deletes as records, and
the erp collection as one desired list (kept rows by id with their changes, new rows without id,
removed rows left out) written with the parent record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mapsync.engine.extractors import MISSING
from mapsync.engine.ruleset import Direction, Side
from mapsync.engine.sync.bound import BoundLines
from mapsync.engine.sync.fieldmerge import (
    FieldChange,
    FieldConflict,
    HeldField,
    RuleError,
    base_of,
    merge,
    read,
    values_for_create,
)
from mapsync.engine.sync.values import same

Record = dict[str, Any]


@dataclass
class LinePair:
    """One line: its crm record, its erp row, its base entry; what happens to it."""

    crm: Record | None
    erp: Record | None
    base: dict[str, Any] | None = None
    crm_changes: list[FieldChange] = field(default_factory=list)
    erp_changes: list[FieldChange] = field(default_factory=list)
    create_crm: list[FieldChange] | None = None  # values of a new crm line
    create_erp: list[FieldChange] | None = None  # values of a new erp row
    delete_crm: bool = False
    delete_erp: bool = False


@dataclass
class LinePlan:
    lines: BoundLines
    pairs: list[LinePair]
    erp_rows: list[Record] | None  # the desired collection, None when the erp side does not change
    rows: list[Record] = field(default_factory=list)  # the erp rows as read, in their order
    conflicts: list[FieldConflict] = field(default_factory=list)
    held: list[HeldField] = field(default_factory=list)  # line fields held for review at first contact

    @property
    def crm_changed(self) -> bool:
        return any(p.crm_changes or p.create_crm is not None or p.delete_crm for p in self.pairs)

    @property
    def changed(self) -> bool:
        return self.erp_rows is not None or self.crm_changed

    def row_owners(self) -> list[int | None]:
        """For each erp row as read, the index of its pair (rows keep their order in the collection)."""
        owners = {id(p.erp): i for i, p in enumerate(self.pairs) if p.erp is not None}
        return [owners.get(id(row)) for row in self.rows]

    def report(self) -> dict[str, dict[str, Any]]:
        """Line changes for plans: ``rows[2].Price``, ``rows[+]``, ``rows[-3]``."""
        name = self.lines.line.name
        out: dict[str, dict[str, Any]] = {}
        for index, pair in enumerate(self.pairs, 1):
            label = f"{name}[{index}]"
            for change in (*pair.crm_changes, *pair.erp_changes):
                out[f"{label}.{change.target.value}.{change.field}"] = {"old": change.old, "new": change.new}
            for side, values in ((Side.CRM, pair.create_crm), (Side.ERP, pair.create_erp)):
                if values is not None:
                    out[f"{label}.{side.value}+"] = {"old": None, "new": {c.field: c.new for c in values}}
            for side, deleted, record in ((Side.CRM, pair.delete_crm, pair.crm), (Side.ERP, pair.delete_erp, pair.erp)):
                if deleted:
                    out[f"{label}.{side.value}-"] = {"old": record, "new": None}
        return out


def _key(value: Any) -> str:
    return "" if value is None or value is MISSING else str(value)


def _pair_rows(lines: BoundLines, rows: list[Record], base_lines: list[dict[str, Any]],
               crm_by_id: dict[str, Record]) -> tuple[list[LinePair], list[int]]:
    erp_id = lines.entity(Side.ERP).id_field
    unused = list(range(len(rows)))
    pairs: list[LinePair] = []
    for entry in base_lines:
        crm = crm_by_id.pop(_key(entry.get("crm")), None) if entry.get("crm") is not None else None
        pairs.append(LinePair(crm, None, entry))
    # erp rows: by id still present, then by unchanged agreed values
    for pair in pairs:
        entry = pair.base or {}
        for index in unused:
            if entry.get("erp") is not None and _key(rows[index].get(erp_id)) == _key(entry.get("erp")):
                pair.erp = rows[index]
                unused.remove(index)
                break
    for pair in pairs:
        if pair.erp is not None:
            continue
        agreed = (pair.base or {}).get("fields", {})
        for index in unused:
            if agreed and all(same(read(br, Side.ERP, rows[index]), agreed.get(br.rule.key, {}).get("erp", MISSING))
                              for br in lines.rules if "erp" in agreed.get(br.rule.key, {})):
                pair.erp = rows[index]
                unused.remove(index)
                break
    # then by the line match keys, then by order when the counts agree (rows edited in the ERP)
    for key in lines.line.match:
        for pair in pairs:
            if pair.erp is not None:
                continue
            wanted = (pair.base or {}).get("keys", {}).get(key.erp.name)
            for index in unused:
                if wanted is not None and _key(key.erp.get(rows[index])) == _key(wanted):
                    pair.erp = rows[index]
                    unused.remove(index)
                    break
    orphans = [p for p in pairs if p.erp is None]
    if orphans and len(orphans) == len(unused) and all(p.crm is not None for p in orphans):
        for pair, index in zip(orphans, list(unused), strict=True):
            pair.erp = rows[index]
        unused.clear()
    return pairs, unused


def plan_lines(lines: BoundLines, crm_lines: list[Record], erp_rows: list[Record],
               base_lines: list[dict[str, Any]], settings: dict[str, Any], *,
               newer: Side | None = None) -> LinePlan:
    """Decide what happens to every line of one linked parent pair."""
    direction = lines.line.direction
    writes = {Side.ERP: direction.writes(Side.ERP), Side.CRM: direction.writes(Side.CRM)}
    crm_id = lines.entity(Side.CRM).id_field
    erp_id = lines.entity(Side.ERP).id_field
    crm_by_id = {_key(line.get(crm_id)): line for line in crm_lines}
    pairs, unused = _pair_rows(lines, erp_rows, base_lines, crm_by_id)
    new_crm = list(crm_by_id.values())
    new_rows = [erp_rows[i] for i in unused]
    # new lines on both sides: pair them by the match keys (an initial match, no base)
    for key in lines.line.match:
        for crm in list(new_crm):
            value = key.crm.get(crm)
            for row in new_rows:
                if value is not MISSING and _key(value) and _key(key.erp.get(row)) == _key(value):
                    pairs.append(LinePair(crm, row))
                    new_crm.remove(crm)
                    new_rows.remove(row)
                    break
    pairs.extend(LinePair(crm, None) for crm in new_crm)
    pairs.extend(LinePair(None, row) for row in new_rows)
    plan = LinePlan(lines, pairs, None, list(erp_rows))
    for pair in pairs:
        _decide(lines, pair, settings, writes, newer, plan)
    erp_changed = any(p.erp_changes or p.create_erp is not None or p.delete_erp for p in pairs)
    if erp_changed:
        desired: list[Record] = []
        for row in erp_rows:
            owner = next((p for p in pairs if p.erp is row), None)
            if owner is not None and owner.delete_erp:
                continue
            kept: Record = {erp_id: row.get(erp_id)}
            for change in owner.erp_changes if owner is not None else ():
                kept[change.field] = change.new
            desired.append(kept)
        desired.extend({c.field: c.new for c in p.create_erp} for p in pairs if p.create_erp is not None)
        plan.erp_rows = desired
    return plan


def _decide(lines: BoundLines, pair: LinePair, settings: dict[str, Any], writes: dict[Side, bool],
            newer: Side | None, plan: LinePlan) -> None:
    fields = (pair.base or {}).get("fields")
    if pair.crm is not None and pair.erp is not None:
        result = merge(lines, pair.crm, pair.erp, fields, settings, newer)
        unmapped = [h for h in result.held if not h.review]
        if unmapped:  # a line base has no place for a pending value: the record waits (docs/sync.md)
            raise RuleError(f"line {lines.line.name}: {unmapped[0].reason}")
        plan.conflicts.extend(result.conflicts)
        plan.held.extend(HeldField(f"{lines.line.name}.{h.rule}", h.target, h.reason, h.review) for h in result.held)
        pair.crm_changes = result.for_side(Side.CRM)
        pair.erp_changes = result.for_side(Side.ERP) if writes[Side.ERP] else []
        return
    if pair.crm is not None:  # no erp row
        if pair.base is not None and writes[Side.CRM] and lines.line.direction is not Direction.CRM_TO_ERP:
            pair.delete_crm = True  # deleted in the ERP
        elif writes[Side.ERP]:
            pair.create_erp = values_for_create(lines, Side.ERP, pair.crm, settings)
        return
    if pair.erp is not None:  # no crm line
        if pair.base is not None and writes[Side.ERP] and lines.line.direction is not Direction.ERP_TO_CRM:
            pair.delete_erp = True  # deleted in webCRM
        elif writes[Side.CRM]:
            pair.create_crm = values_for_create(lines, Side.CRM, pair.erp, settings)


def line_base(lines: BoundLines, pairs: list[tuple[Record, Record]]) -> list[dict[str, Any]]:
    """The line base after a sync: per surviving line, its ids, match-key values and agreed fields."""
    crm_id = lines.entity(Side.CRM).id_field
    erp_id = lines.entity(Side.ERP).id_field
    out = []
    for crm, erp in pairs:
        out.append({
            "rule": lines.line.name,
            "crm": _key(crm.get(crm_id)) or None,
            "erp": erp.get(erp_id),
            "keys": {k.erp.name: k.erp.get(erp) for k in lines.line.match if k.erp.get(erp) is not MISSING},
            "fields": base_of(lines, crm, erp),
        })
    return out
