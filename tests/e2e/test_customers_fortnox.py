"""webCRM <-> Fortnox customers both ways, over real sockets against the simulators (issue 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.simkit import Fault
from engine.ruleset import Side
from engine.state import SqliteStateStore
from tests.e2e.conftest import E2E, customised, load

pytestmark = pytest.mark.e2e


def org(e2e: E2E, name: str, number: str = "", type_: str = "Customer", **extra: Any) -> str:
    record = e2e.crm.create("organisation", {"OrganisationName": name, "OrganisationType": type_,
                                             "OrganisationExtraCustom1": number, **extra})
    return str(record["OrganisationId"])


def customer(e2e: E2E, number: str, name: str, **extra: Any) -> str:
    record = e2e.erp.create("customer", {"CustomerNumber": number, "Name": name, **extra})
    return str(record["CustomerNumber"])


def orgs(e2e: E2E) -> list[dict[str, Any]]:
    return list(e2e.crm.read_changes("organisation", None, frozenset()).records)


def customers(e2e: E2E) -> list[dict[str, Any]]:
    ids = [r["CustomerNumber"] for r in e2e.erp.read_changes("customer", None, frozenset()).records]
    return [e2e.erp.get("customer", str(i)) or {} for i in ids]


def test_initial_import_both_ways_without_duplicates(e2e: E2E) -> None:
    org(e2e, "Acme AB", "1001", OrganisationTelephone="+46 1")
    org(e2e, "Only in webCRM", "1002")
    customer(e2e, "1001", "Acme AB", Type="COMPANY")
    customer(e2e, "2001", "Only in Fortnox", Type="PRIVATE", Phone1="+46 2")
    report = e2e.run()
    assert report.fatal is None and report.total("quarantined") == 0
    assert sorted(c["Name"] for c in customers(e2e)) == ["Acme AB", "Only in Fortnox", "Only in webCRM"]
    assert sorted(o["OrganisationName"] for o in orgs(e2e)) == ["Acme AB", "Only in Fortnox", "Only in webCRM"]
    created = next(o for o in orgs(e2e) if o["OrganisationName"] == "Only in Fortnox")
    assert created["OrganisationType"] == "Private Customer"
    assert created["OrganisationTelephone"] == "+46 2"
    assert e2e.store.count_links("customers") == 3


def test_second_pass_writes_nothing(e2e: E2E) -> None:
    org(e2e, "Acme AB", "1001", OrganisationTelephone="+46 1", OrganisationWww="acme.se")
    customer(e2e, "2001", "Beta", Type="COMPANY", WWW="beta.se", Currency="EUR")
    e2e.run()
    second = e2e.run()
    assert second.writes == 0, [a.as_dict() for m in second.mappings for a in m.actions]
    assert second.total("conflicts") == 0


def test_updates_both_ways_and_field_level_merge(e2e: E2E) -> None:
    crm_id = org(e2e, "Acme", "1001", OrganisationTelephone="1")
    e2e.run()
    e2e.crm.update("organisation", crm_id, {"OrganisationName": "Acme Group"})
    e2e.erp.update("customer", "1001", {"Phone1": "2"})
    report = e2e.run()
    assert report.total("conflicts") == 0
    assert (e2e.erp.get("customer", "1001") or {})["Name"] == "Acme Group"
    assert (e2e.crm.get("organisation", crm_id) or {})["OrganisationTelephone"] == "2"
    assert e2e.run().writes == 0


def test_true_conflict_is_resolved_by_policy_and_reported(e2e: E2E) -> None:
    crm_id = org(e2e, "Acme", "1001")
    e2e.run()
    e2e.erp.update("customer", "1001", {"Name": "Fortnox name"})
    e2e.crm.update("organisation", crm_id, {"OrganisationName": "webCRM name"})
    report = e2e.run()
    assert report.total("conflicts") == 1
    action = next(a for m in report.mappings for a in m.actions if a.action == "conflict")
    assert "conflict on name" in action.reason
    assert (e2e.erp.get("customer", "1001") or {})["Name"] == (e2e.crm.get("organisation", crm_id) or {})[
        "OrganisationName"]


def test_organisations_of_other_types_are_not_sent(e2e: E2E) -> None:
    org(e2e, "Supplier Ltd", "3001", type_="Supplier")
    report = e2e.run()
    assert customers(e2e) == []
    skipped = report.mappings[0].actions[0]
    assert skipped.action == "skip" and "condition" in skipped.reason


@pytest.mark.parametrize("owner", ["crm", "erp"])
def test_customer_number_owner(sandbox: Any, tmp_path: Path, owner: str) -> None:
    with SqliteStateStore(tmp_path / "s.sqlite") as store:
        e2e = E2E(sandbox, store, load(customised(tmp_path, "fortnox", customer_number_owner=owner), sandbox.env))
        crm_id = org(e2e, "Acme", "5005" if owner == "crm" else "", OrganisationVatNumber="SE556000000001")
        e2e.run()
        [created] = customers(e2e)
        if owner == "crm":
            assert created["CustomerNumber"] == "5005"
        else:
            assigned = created["CustomerNumber"]
            assert (e2e.crm.get("organisation", crm_id) or {})["OrganisationExtraCustom1"] == assigned
        assert e2e.run().writes == 0
        e2e.close()


def test_crash_between_erp_create_and_link_then_no_duplicate(e2e: E2E) -> None:
    org(e2e, "Acme", "1001")
    original = e2e.store.link

    def power_cut(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt("power cut after the create, before the link")

    e2e.store.link = power_cut  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        e2e.run()
    e2e.store.link = original  # type: ignore[method-assign]
    assert len(customers(e2e)) == 1
    report = e2e.run()
    assert len(customers(e2e)) == 1
    assert e2e.store.count_links("customers") == 1
    assert any("reconciled" in a.reason for m in report.mappings for a in m.actions)


def test_429_bursts_and_5xx_are_survived(e2e: E2E) -> None:
    for i in range(5):
        org(e2e, f"Org {i}", f"10{i}")
    e2e.simulator(Side.ERP).faults.add_fault(Fault(kind="429", count=3, retry_after=0.05))
    e2e.simulator(Side.ERP).faults.add_fault(Fault(kind="5xx", count=2, status=503))
    e2e.simulator(Side.CRM).faults.add_fault(Fault(kind="429", count=2, retry_after=0.05))
    report = e2e.run()
    assert report.fatal is None and report.total("quarantined") == 0
    assert len(customers(e2e)) == 5


def test_rejected_record_is_quarantined_then_synced_after_fix(e2e: E2E) -> None:
    org(e2e, "Acme", "1001")
    e2e.run()
    # A second organisation with a customer number Fortnox already uses: Fortnox refuses it (2000637).
    bad = org(e2e, "Acme copy", "1001")
    org(e2e, "Good", "1002")
    report = e2e.run()
    assert report.total("quarantined") == 1 and len(customers(e2e)) == 2
    [entry] = e2e.store.list_quarantine()
    assert entry.record_id == bad and entry.error_class == "rejected"
    assert "2000637" in entry.reason
    e2e.crm.update("organisation", bad, {"OrganisationExtraCustom1": "1003"})
    e2e.run()
    assert sorted(c["CustomerNumber"] for c in customers(e2e)) == ["1001", "1002", "1003"]
    assert e2e.store.list_quarantine() == []


def test_value_outside_the_value_map_is_a_rule_error_in_quarantine(e2e: E2E) -> None:
    bad = org(e2e, "Atlantis AB", "1001", OrganisationCountry="Atlantis")
    report = e2e.run()
    assert report.total("quarantined") == 1
    [entry] = e2e.store.list_quarantine()
    assert entry.record_id == bad and entry.error_class == "rule" and "Atlantis" in entry.reason
