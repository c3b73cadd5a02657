"""The sync semantics of docs/sync.md, each with tests that fail if it breaks (fake connectors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapsync.engine.state import StateStore
from tests.engine.conftest import World, fortnox_ruleset


def org(name: str, number: str = "", type_: str = "Customer", **extra: object) -> dict[str, object]:
    return {"OrganisationName": name, "OrganisationType": type_, "OrganisationExtraCustom1": number, **extra}


def test_initial_import_matches_instead_of_duplicating(world: World) -> None:
    world.crm.seed("organisation", org("Acme AB", "100"))
    world.crm.seed("organisation", org("Only CRM", "101"))
    world.erp.seed("customer", {"CustomerNumber": "100", "Name": "Acme AB", "Type": "COMPANY"})
    world.erp.seed("customer", {"CustomerNumber": "200", "Name": "Only ERP", "Type": "PRIVATE"})
    report = world.run()
    customers = report.mappings[0]
    assert customers.name == "customers"
    assert len(world.erp.all("customer")) == 3
    assert len(world.crm.all("organisation")) == 3
    assert customers.counts["created"] == 2
    assert world.store.count_links("customers") == 3
    new_crm = next(o for o in world.crm.all("organisation") if o["OrganisationName"] == "Only ERP")
    assert new_crm["OrganisationType"] == "Private Customer"
    assert new_crm["OrganisationExtraCustom1"] == "200"


def test_second_pass_writes_nothing(world: World) -> None:
    world.crm.seed("organisation", org("Acme AB", "100", OrganisationTelephone="123"))
    world.erp.seed("customer", {"CustomerNumber": "200", "Name": "Beta", "Type": "COMPANY", "Phone1": "9"})
    world.run()
    before = len(world.crm.writes()) + len(world.erp.writes())
    report = world.run()
    assert len(world.crm.writes()) + len(world.erp.writes()) == before
    assert report.writes == 0


def test_field_level_merge_keeps_both_changes(world: World) -> None:
    crm = world.crm.seed("organisation", org("Acme", "100", OrganisationTelephone="1"))
    world.run()
    world.crm.edit("organisation", str(crm["OrganisationId"]), OrganisationName="Acme Group")
    world.erp.edit("customer", "100", Phone1="2")
    report = world.run()
    assert report.total("conflicts") == 0
    assert world.erp.records["customer"]["100"]["Name"] == "Acme Group"
    assert world.crm.records["organisation"][str(crm["OrganisationId"])]["OrganisationTelephone"] == "2"


def test_true_conflict_resolved_by_policy_and_reported(store: StateStore) -> None:
    world = World(store, fortnox_ruleset())
    crm = world.crm.seed("organisation", org("Acme", "100"))
    world.run()
    world.erp.edit("customer", "100", Name="ERP name")
    world.crm.edit("organisation", str(crm["OrganisationId"]), OrganisationName="CRM name")  # newer
    report = world.run()
    assert report.total("conflicts") == 1
    action = report.mappings[0].actions[0]
    assert "conflict on name" in action.reason
    assert world.erp.records["customer"]["100"]["Name"] == world.crm.all("organisation")[0]["OrganisationName"]


def test_organisations_of_other_types_are_not_sent(world: World) -> None:
    world.crm.seed("organisation", org("Supplier Ltd", "300", type_="Supplier"))
    report = world.run()
    assert world.erp.all("customer") == []
    assert report.mappings[0].counts["skipped"] == 1
    assert "condition" in report.mappings[0].actions[0].reason


def test_missing_is_not_null(world: World) -> None:
    crm = world.crm.seed("organisation", org("Acme", "100", OrganisationTelephone="555"))
    world.run()
    del world.crm.records["organisation"][str(crm["OrganisationId"])]["OrganisationTelephone"]
    world.crm.edit("organisation", str(crm["OrganisationId"]), OrganisationName="Acme 2")
    world.run()
    assert world.erp.records["customer"]["100"]["Phone1"] == "555"


def test_crash_between_create_and_link_does_not_duplicate(world: World) -> None:
    world.crm.seed("organisation", org("Acme", "100"))
    original = world.store.link
    def crash(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt("power cut")

    world.store.link = crash  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        world.run()
    world.store.link = original  # type: ignore[method-assign]
    assert len(world.erp.all("customer")) == 1
    world.run()
    assert len(world.erp.all("customer")) == 1
    assert world.store.count_links("customers") == 1


def test_rejected_record_is_quarantined_and_synced_after_fix(world: World) -> None:
    world.erp.reject["Bad\x00Name"] = "Ogiltiga tecken"
    bad = world.crm.seed("organisation", org("Bad\x00Name", "100"))
    world.crm.seed("organisation", org("Good", "101"))
    report = world.run()
    assert report.total("quarantined") == 1 and report.total("created") == 1
    assert world.store.list_quarantine()[0].error_class == "rejected"
    world.crm.edit("organisation", str(bad["OrganisationId"]), OrganisationName="Fixed")
    report = world.run()
    assert report.total("created") == 1
    assert world.store.list_quarantine() == []


def test_plan_writes_nothing_anywhere(world: World) -> None:
    world.crm.seed("organisation", org("Acme", "100"))
    report = world.run(apply=False)
    assert report.total("created") == 1
    assert world.erp.all("customer") == [] and world.store.count_links("customers") == 0
    assert world.store.get_cursor("customers", "crm") is None
    assert world.store.last_run() is None


def test_customer_number_owned_by_erp_is_written_back(store: StateStore, tmp_path: Path) -> None:
    world = World(store, fortnox_ruleset(tmp_path, customer_number_owner="erp"))
    world.crm.seed("organisation", org("Acme", "", OrganisationVatNumber="SE1"))
    world.run()
    customer = world.erp.all("customer")[0]
    assert world.crm.all("organisation")[0]["OrganisationExtraCustom1"] == customer["CustomerNumber"]
    assert world.run().writes == 0


def test_overrides_add_replace_and_remove_field_rules(store: StateStore, tmp_path: Path) -> None:
    from mapsync.engine.ruleset import load_ruleset
    from tests.engine.conftest import ENV, ROOT

    (tmp_path / "ruleset.yaml").write_text(
        f"name: acme\nextends: {ROOT / 'mapsync/rules/standard/fortnox'}\n"
        "overrides:\n  customers:\n"
        "    remove_fields: ['OrganisationTelephone <-> Phone1']\n"
        "    fields:\n"
        "      - {name: email, crm: OrganisationXText2, erp: Email}\n"
        "      - {name: name, crm: OrganisationName, erp: Name, direction: crm-to-erp}\n", encoding="utf-8")
    result = load_ruleset(tmp_path, ENV, for_run=True)
    assert result.ruleset is not None, [d.message for d in result.diagnostics]
    world = World(store, result.ruleset)
    crm = world.crm.seed("organisation", org("Acme", "100", OrganisationTelephone="1",
                                             OrganisationXText2="info@acme.se"))
    world.run()
    customer = world.erp.records["customer"]["100"]
    assert customer["Email"] == "info@acme.se" and "Phone1" not in customer
    world.erp.edit("customer", "100", Name="Changed in Fortnox")
    world.run()
    assert world.crm.records["organisation"][str(crm["OrganisationId"])]["OrganisationName"] == "Acme"


def test_a_refused_record_read_again_unchanged_waits_for_its_retry(world: World) -> None:
    """The cursor's overlap re-reads recent changes; a quarantined record that did not change is not sent
    again before its retry is due (the same refused request would only be refused again)."""
    world.erp.reject["Bad\x00Name"] = "Ogiltiga tecken"
    bad = world.crm.seed("organisation", org("Bad\x00Name", "100"))
    world.run()
    creates = world.erp.calls.count(("create", "customer"))
    world.crm.edit("organisation", str(bad["OrganisationId"]))  # read again, unchanged
    report = world.run()
    assert world.erp.calls.count(("create", "customer")) == creates
    [skip] = report.mappings[0].actions
    assert skip.action == "skip" and skip.reason.startswith("quarantined (rejected), unchanged since; next retry")
    world.crm.edit("organisation", str(bad["OrganisationId"]), OrganisationName="Fixed")  # a user fixes it
    assert world.run().total("created") == 1
    assert world.store.list_quarantine() == []
