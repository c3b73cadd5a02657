"""Reconciling creates that a crashed pass journalled but never linked (DESIGN.md section 4, rule 1).

Before a create is sent, its match-key values are journalled. An entry still open at the next pass
means the pass stopped between "created in the target" and "link stored": the record is looked up by
those keys and linked. It is never created again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import Connector
from engine.ruleset import Side
from engine.state import StateStore
from engine.sync.bound import BoundMapping
from engine.sync.report import Action, MappingReport


def reconcile_journal(bound: BoundMapping, connectors: Mapping[Side, Connector], store: StateStore,
                      report: MappingReport) -> None:
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
        with store.transaction():
            if found is not None:
                target_id = connectors[target].record_id(entity, found)
                crm_id, erp_id = ((pending.source_id, target_id) if target is Side.ERP
                                  else (target_id, pending.source_id))
                if store.link_by_crm(mapping.name, crm_id) is None and store.link_by_erp(mapping.name, erp_id) is None:
                    store.link(mapping.name, crm_id, erp_id)
                    report.add(Action("link", target.value, crm_id, erp_id,
                                      reason="reconciled a create interrupted before its link was stored"))
            store.resolve_create(pending.id)
