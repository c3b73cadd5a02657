"""``plan`` is ``run``: the plan made just before a pass lists exactly what the pass then does (fake connectors).

Both run the same code (the plan against dry-run connectors and a scratch copy of the state store), so
creates, updates per field and side, links, write-backs after creates and children synced because their
parent was linked in the same pass all appear in both, and nothing is capped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mapsync.engine.state import StateStore
from mapsync.engine.sync.report import PassReport, render_text
from tests.engine.conftest import World, fortnox_ruleset


def _placeholder(value: Any) -> bool:
    return (isinstance(value, str) and value.startswith("new-")) or (isinstance(value, int) and value < 0)


def _new(name: str, value: Any, ids: set[str]) -> Any:
    """A change's new value as both a plan and its run show it: ids of records created in the pass, and the
    sync time the engine stamps a delivery with (the plan's and the run's differ), masked."""
    if _placeholder(value) or str(value) in ids:
        return "<new id>"
    return "<now>" if name == "DeliveryErpSyncDateTime" and value is not None else value


def outline(report: PassReport) -> list[tuple[Any, ...]]:
    """Actions without the ids of records created in the pass (a plan shows placeholders for them)."""
    out: list[tuple[Any, ...]] = []
    ids = {str(i) for m in report.mappings for a in m.actions if a.action == "create" for i in (a.crm_id, a.erp_id)}
    for mapping in report.mappings:
        for action in mapping.actions:
            changes = {name: (c["old"], _new(name, c["new"], ids)) for name, c in action.changes.items()}
            out.append((mapping.name, action.action, action.target, sorted(changes.items(), key=str),
                        sorted(action.held)))
        out.append((mapping.name, dict(mapping.counts)))
    return out


def test_plan_shows_write_backs_and_children_of_parents_linked_in_the_same_pass(store: StateStore,
                                                                                tmp_path: Path) -> None:
    world = World(store, fortnox_ruleset(tmp_path, customer_number_owner="erp"))
    org = world.crm.seed("organisation", {"OrganisationName": "Acme", "OrganisationType": "Customer"})
    world.crm.seed("delivery", {"DeliveryOrganisationId": org["OrganisationId"], "DeliveryDescription": "Order 1",
                                "DeliveryStatus": "Order"})
    before = (len(world.crm.writes()), len(world.erp.writes()))
    plan = world.run(apply=False)
    assert (len(world.crm.writes()), len(world.erp.writes())) == before  # the plan wrote nothing
    assert store.count_links("customers") == 0 and store.last_run() is None
    run = world.run()
    assert outline(plan) == outline(run)
    created = next(a for a in plan.mappings[0].actions if a.action == "create")
    assert "OrganisationExtraCustom1" in created.changes  # the number Fortnox assigns, written back
    orders = next(m for m in plan.mappings if m.name == "deliveries-orders")
    assert orders.counts["created"] == 1  # the delivery follows its organisation, in the plan as in the run


def state_of(store: StateStore) -> tuple[Any, ...]:
    """Everything the store shows through its protocol."""
    summary = store.summary()
    names = [m.name for m in summary.mappings]
    return (summary, [store.links(n) for n in names], [store.pending_creates(n) for n in names],
            store.list_quarantine(), store.held_links(), store.audit_entries())


def test_a_plan_writes_nothing_to_the_state_store(world: World) -> None:
    for number in range(3):
        world.crm.seed("organisation", {"OrganisationName": f"Org {number}", "OrganisationType": "Customer",
                                        "OrganisationExtraCustom1": str(100 + number)})
    world.run()
    first = world.crm.all("organisation")[0]
    world.crm.edit("organisation", str(first["OrganisationId"]), OrganisationName="Renamed AB")
    world.crm.seed("organisation", {"OrganisationName": "New", "OrganisationType": "Customer",
                                    "OrganisationExtraCustom1": "200"})
    before = state_of(world.store)
    plan = world.run(apply=False)
    assert (plan.total("created"), plan.total("updated")) == (1, 1)
    assert state_of(world.store) == before  # the plan's links, bases, cursors and run went to its scratch copy
    world.run()
    assert state_of(world.store) != before


def test_plan_equals_run_on_updates_and_the_text_report_is_never_cut_silently(world: World) -> None:
    for number in range(30):
        world.crm.seed("organisation", {"OrganisationName": f"Org {number}", "OrganisationType": "Customer",
                                        "OrganisationExtraCustom1": str(100 + number)})
    world.run()
    for org in world.crm.all("organisation"):
        world.crm.edit("organisation", str(org["OrganisationId"]), OrganisationName=org["OrganisationName"] + " AB",
                       OrganisationTelephone="1", OrganisationWww="w", OrganisationCity="c", OrganisationAddress="a",
                       OrganisationPostCode="p", OrganisationVatNumber="v", OrganisationExtraCustom2="o",
                       OrganisationExtraCustom5="i", OrganisationExtraCustom6="z")
    plan = world.run(apply=False)
    run = world.run(force=True)  # 30 of 30 linked records updated: beyond the default guardrail
    assert plan.mappings[0].warnings and "(a run stops here without --force)" in plan.mappings[0].warnings[0]
    assert run.mappings[0].warnings[0].endswith("(forced)")
    plan.mappings[0].warnings = run.mappings[0].warnings = []
    assert outline(plan) == outline(run)
    text = render_text(plan)
    assert "ZipCode" in text and "VATNumber" in text  # every field of an action shown, not the first 8
    assert "... and 10 more" in text


def test_a_mass_change_stops_the_run_before_writing_the_mapping(world: World) -> None:
    for number in range(40):
        world.crm.seed("organisation", {"OrganisationName": f"Org {number}", "OrganisationType": "Customer",
                                        "OrganisationExtraCustom1": str(100 + number), "OrganisationTelephone": "1"})
    world.run()
    for org in world.crm.all("organisation"):
        world.crm.edit("organisation", str(org["OrganisationId"]), OrganisationTelephone="")
    writes = len(world.erp.writes())
    report = world.run()
    assert report.fatal is not None and report.fatal.startswith("guardrail: mapping customers")
    assert "would update 40 of 40 linked records" in report.fatal
    assert "would blank erp Phone1 in 40 records" in report.fatal and "and 35 more" in report.fatal
    assert len(world.erp.writes()) == writes  # nothing written
    again = world.run()  # the cursor did not move: the same changes are seen again
    assert again.fatal == report.fatal
    forced = world.run(force=True)
    assert forced.fatal is None and forced.total("updated") == 40
    assert all(not c.get("Phone1") for c in world.erp.all("customer"))
