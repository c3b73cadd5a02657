"""Reconciling creates that a crashed pass journalled but never linked (docs/sync.md, step 1).

Before a create is sent, its match-key values, the target's "now" cursor and the values sent are
journalled. An entry still open at the next pass means the pass stopped between "created in the target"
and "link stored": the record is looked up by those keys, or else recognised among the target's records
changed since that cursor by the values sent (a new order has no key value yet), and linked. It is never
created again. The link is then settled as an uninterrupted create would have been: what the target
assigned or altered itself (a customer number) is written back to the source, and the base records what
both sides hold (the record read in full; an order's rows paired with the delivery lines they were made from, as
a create pairs them), so the end state is the same as without the crash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mapsync import crashpoints
from mapsync.connectors.base import Connector
from mapsync.engine.extractors import FieldPath
from mapsync.engine.ruleset import Side
from mapsync.engine.state import Base, StateStore
from mapsync.engine.sync.bound import BoundMapping
from mapsync.engine.sync.fieldmerge import FieldChange, after_create, nested, settled_base
from mapsync.engine.sync.lineio import LineIO
from mapsync.engine.sync.matching import link_of
from mapsync.engine.sync.report import Action, MappingReport
from mapsync.engine.sync.values import normalise, same


def reconcile_journal(bound: BoundMapping, connectors: Mapping[Side, Connector], store: StateStore,
                      report: MappingReport, settings: dict[str, Any], run_id: int,
                      linked: Callable[[str, dict[Side, str]], None] | None = None) -> None:
    """Link (and settle) every create of the mapping a pass journalled and never linked; ``linked`` is told of
    each link made, so that the children of a parent linked here are fetched in this pass as after a create."""
    mapping = bound.mapping
    for pending in store.pending_creates(mapping.name):
        target = Side(pending.target)
        entity = mapping.entity(target)
        found: dict[str, Any] | None = None
        for field_name, value in dict(pending.match_keys.get("keys", {})).items():
            candidates = connectors[target].find(entity, field_name, value)
            if len(candidates) == 1:
                found = candidates[0]
                break
        if found is None and pending.match_keys.get("since"):
            found = _by_values(bound, connectors[target], store, target, pending.match_keys)
        with store.transaction():
            if found is not None:
                target_id = connectors[target].record_id(entity, found)
                crm_id, erp_id = ((pending.source_id, target_id) if target is Side.ERP
                                  else (target_id, pending.source_id))
                if store.link_by_crm(mapping.name, crm_id) is None and store.link_by_erp(mapping.name, erp_id) is None:
                    # Found by a search or among the changes, the record may be read without all of its fields
                    # (a list endpoint leaves out an order's rows): settled from the record as a read gives it.
                    found = connectors[target].get(entity, target_id) or found
                    store.link(mapping.name, crm_id, erp_id)
                    back = _settle(bound, connectors, store, target, pending.source_id, found,
                                   dict(pending.match_keys.get("values", {})), settings, run_id)
                    report.add(Action("link", target.value, crm_id, erp_id,
                                      {c.field: {"old": c.old, "new": c.new} for c in back},
                                      reason="reconciled a create interrupted before its link was stored"))
                    crashpoints.reached("reconcile:linked")
                    if linked is not None:
                        linked(mapping.name, {Side.CRM: crm_id, Side.ERP: erp_id})
            store.resolve_create(pending.id)


def _by_values(bound: BoundMapping, connector: Connector, store: StateStore, target: Side,
               journal: dict[str, Any]) -> dict[str, Any] | None:
    """The one unlinked record changed since the journal's cursor that holds every value that was sent."""
    mapping = bound.mapping
    entity = bound.entity(target)
    wanted = []
    for name, value in dict(journal.get("values", {})).items():
        info = entity.field(name)
        field_type = info.type if info is not None else None
        wanted.append((FieldPath(name), field_type, normalise(value, field_type)))
    if not wanted:
        return None
    fields = frozenset(path.parts[0] for path, _, _ in wanted)
    matches = []
    for record in connector.read_changes(mapping.entity(target), str(journal["since"]), fields).records:
        holds_all = all(same(normalise(path.get(record), field_type), value) for path, field_type, value in wanted)
        record_id = connector.record_id(mapping.entity(target), record)
        if holds_all and link_of(store, mapping.name, target, record_id) is None:
            matches.append(record)
    return matches[0] if len(matches) == 1 else None


def _settle(bound: BoundMapping, connectors: Mapping[Side, Connector], store: StateStore, target: Side,
            source_id: str, created: dict[str, Any], sent_by_field: dict[str, Any], settings: dict[str, Any],
            run_id: int) -> list[FieldChange]:
    """Finish a reconciled create as the pass would have: write back what the target assigned, store the base."""
    mapping = bound.mapping
    source = target.other
    record = connectors[source].get(mapping.entity(source), source_id)
    if record is None:
        return []  # the source is gone; the link's missing base makes the next pass a first contact
    sent = []
    for br in bound.rules:
        side = br.rule.side(target)
        if br.writes[target] and side is not None and side.writer is not None and side.writer.name in sent_by_field:
            sent.append(FieldChange(br.rule.key, target, side.writer, None, sent_by_field[side.writer.name]))
    back = after_create(bound, source, record, sent, created, settings).changes
    if back:
        record = connectors[source].update(mapping.entity(source), source_id, nested(back))
    crm, erp = (record, created) if source is Side.CRM else (created, record)
    fields, held = settled_base(bound, crm, erp, None, [], created=target)
    crm_id = source_id if source is Side.CRM else connectors[target].record_id(mapping.entity(target), created)
    line_base: list[dict[str, Any]] = []
    if target is Side.ERP and bound.lines:  # the rows were made from the crm lines: paired as a create pairs them
        lines = LineIO(connectors, settings)
        line_base = lines.base_for_new_erp(lines.rows_for_new_erp(bound, source_id)[1], created)
    store.set_base(mapping.name, crm_id, Base(fields=fields, lines=line_base or None, held=held))
    for change in back:
        store.record_audit(run_id=run_id, mapping=mapping.name, target=source.value, record_id=source_id,
                           action="update", field=change.field, old=change.old, new=change.new, rule=change.rule)
    return back
