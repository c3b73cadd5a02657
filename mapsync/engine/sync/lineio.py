"""Reading and writing line collections through the connectors, around the pure ``lines`` planner.

crm lines are fetched per parent (``find`` on the parent field) and written one by one (create,
update, delete); erp rows travel inside the parent record (``OrderRows``), so their desired list is
merged into the parent's update. After writing, the line base is rebuilt from what the systems
returned: the erp rows in the order they were sent, the crm lines as stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mapsync import crashpoints
from mapsync.connectors.base import Connector
from mapsync.engine.ruleset import Side
from mapsync.engine.sync.bound import BoundLines, BoundMapping
from mapsync.engine.sync.fieldmerge import nested, values_for_create
from mapsync.engine.sync.lines import LinePair, LinePlan, line_base, plan_lines

Record = dict[str, Any]
LineSource = tuple[BoundLines, list[Record]]  # a line rule and the crm lines a new erp record got


class LineIO:
    def __init__(self, connectors: Mapping[Side, Connector], settings: dict[str, Any]) -> None:
        self.connectors = connectors
        self.settings = settings

    def crm_lines(self, lines: BoundLines, crm_parent_id: str) -> list[Record]:
        parent = self._parent_value(lines, crm_parent_id)
        return self.connectors[Side.CRM].find(lines.line.crm_entity, lines.line.crm_parent_field.name, parent)

    @staticmethod
    def _parent_value(lines: BoundLines, crm_parent_id: str) -> Any:
        info = lines.entity(Side.CRM).field(lines.line.crm_parent_field.name)
        return int(crm_parent_id) if info is not None and info.type == "integer" else crm_parent_id

    @staticmethod
    def erp_rows(lines: BoundLines, erp_record: Record) -> list[Record]:
        rows = lines.line.erp_collection.get(erp_record)
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    def plan(self, bound: BoundMapping, crm_id: str, erp_record: Record, base_lines: list[dict[str, Any]] | None,
             newer: Side | None) -> list[LinePlan]:
        plans = []
        for lines in bound.lines:
            mine = [e for e in base_lines or [] if e.get("rule") == lines.line.name]
            plans.append(plan_lines(lines, self.crm_lines(lines, crm_id), self.erp_rows(lines, erp_record), mine,
                                    self.settings, newer=newer))
        return plans

    @staticmethod
    def erp_payload(plans: list[LinePlan]) -> Record:
        return {p.lines.line.erp_collection.name: p.erp_rows for p in plans if p.erp_rows is not None}

    def apply_crm(self, plan: LinePlan, crm_parent_id: str) -> dict[int, Record | None]:
        """Write the crm side of a line plan; the final crm record of each pair (None if deleted)."""
        crm = self.connectors[Side.CRM]
        entity = plan.lines.line.crm_entity
        id_field = plan.lines.entity(Side.CRM).id_field
        finals: dict[int, Record | None] = {}
        for index, pair in enumerate(plan.pairs):
            if pair.create_crm is not None:
                values = nested(pair.create_crm)
                values[plan.lines.line.crm_parent_field.name] = self._parent_value(plan.lines, crm_parent_id)
                finals[index] = crm.create(entity, values)
            elif pair.delete_crm and pair.crm is not None:
                crm.delete(entity, str(pair.crm[id_field]))
                finals[index] = None
            elif pair.crm_changes and pair.crm is not None:
                finals[index] = crm.update(entity, str(pair.crm[id_field]), nested(pair.crm_changes))
            else:
                finals[index] = pair.crm
                continue
            crashpoints.reached("lines:applied")
        return finals

    def base_after(self, plan: LinePlan, crm_finals: dict[int, Record | None], final_erp: Record) -> list[dict]:
        """The line base once the plan is applied (erp rows matched to pairs by the order they were sent)."""
        rows = self.erp_rows(plan.lines, final_erp)
        order = plan.row_owners()
        if plan.erp_rows is not None:  # sent: kept rows in their order, then the new ones
            order = [i for i in order if i is None or not plan.pairs[i].delete_erp]
            order += [i for i, p in enumerate(plan.pairs) if p.create_erp is not None]
        pairs: list[tuple[Record, Record]] = []
        for row, index in zip(rows, order, strict=False):
            crm = crm_finals.get(index) if index is not None else None
            if crm is not None:
                pairs.append((crm, row))
        return line_base(plan.lines, pairs)

    # -- parents being created -----------------------------------------------------------------------
    def rows_for_new_erp(self, bound: BoundMapping, crm_id: str) -> tuple[Record, list[LineSource]]:
        """Collections for a new erp record made from crm ``crm_id``, and the crm lines they came from."""
        payload: Record = {}
        sources = []
        for lines in bound.lines:
            if not lines.line.direction.writes(Side.ERP):
                continue
            crm_lines = self.crm_lines(lines, crm_id)
            payload[lines.line.erp_collection.name] = [
                nested(values_for_create(lines, Side.ERP, line, self.settings)) for line in crm_lines]
            sources.append((lines, crm_lines))
        return payload, sources

    def lines_for_new_crm(self, bound: BoundMapping, crm_id: str, erp_record: Record) -> list[dict]:
        """Create the crm lines of a crm record just made from ``erp_record``; returns their base."""
        base: list[dict] = []
        for lines in bound.lines:
            if not lines.line.direction.writes(Side.CRM):
                continue
            rows = self.erp_rows(lines, erp_record)
            new = [LinePair(None, row, create_crm=values_for_create(lines, Side.CRM, row, self.settings))
                   for row in rows]
            plan = LinePlan(lines, new, None, rows)
            finals = self.apply_crm(plan, crm_id)
            base.extend(line_base(lines, [(c, p.erp) for i, p in enumerate(plan.pairs)
                                          if (c := finals.get(i)) is not None and p.erp is not None]))
        return base

    def base_for_new_erp(self, sources: list[LineSource], created: Record) -> list[dict]:
        base: list[dict] = []
        for lines, crm_lines in sources:
            rows = self.erp_rows(lines, created)
            base.extend(line_base(lines, list(zip(crm_lines, rows, strict=False))))
        return base

