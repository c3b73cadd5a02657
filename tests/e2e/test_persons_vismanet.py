"""Persons <-> Visma.net contacts over real sockets (issue 5): the checkbox, the customer, the e-mail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mapsync.engine.sandbox import Sandbox
from mapsync.engine.state import SqliteStateStore
from tests.e2e.conftest import E2E, customised, load

pytestmark = pytest.mark.e2e


@pytest.fixture
def visma(sandbox: Sandbox, tmp_path: Path) -> Iterator[E2E]:
    with SqliteStateStore(tmp_path / "state.sqlite") as store:
        e2e = E2E(sandbox, store, load(customised(tmp_path, "vismanet", customer_number_owner="crm"), sandbox.env))
        try:
            yield e2e
        finally:
            e2e.close()


def customer_with_org(e2e: E2E, number: str = "1001") -> str:
    org = e2e.crm.create("organisation", {"OrganisationName": f"Customer {number}", "OrganisationType": "Customer",
                                          "OrganisationExtraCustom1": number})
    e2e.run()
    return str(org["OrganisationId"])


def person(e2e: E2E, org_id: str, email: str, *, ticked: bool, **extra: Any) -> str:
    record = e2e.crm.create("person", {"PersonOrganisationId": int(org_id), "PersonFirstName": "Per",
                                       "PersonLastName": "Persson", "PersonEmail": email,
                                       "PersonCheckMark1": ticked, **extra})
    return str(record["PersonId"])


def contacts(e2e: E2E) -> list[dict[str, Any]]:
    return list(e2e.erp.read_changes("contact", None, frozenset()).records)


def test_person_with_the_checkbox_off_is_not_sent(visma: E2E) -> None:
    org_id = customer_with_org(visma)
    person(visma, org_id, "per@acme.example", ticked=False)
    report = visma.run()
    assert contacts(visma) == []
    persons = next(m for m in report.mappings if m.name == "persons")
    assert persons.counts["skipped"] == 1 and "condition" in persons.actions[0].reason


def test_person_with_the_checkbox_on_is_sent_to_its_customer(visma: E2E) -> None:
    org_id = customer_with_org(visma, "1001")
    customer_with_org(visma, "1002")
    person(visma, org_id, "per@acme.example", ticked=True, PersonTitle="Buyer")
    visma.run()
    [contact] = contacts(visma)
    assert (contact["email"], contact["lastName"], contact["businessAccount"], contact["position"]) == (
        "per@acme.example", "Persson", "1001", "Buyer")
    assert visma.run().writes == 0


def test_contact_with_the_email_of_an_existing_person_is_linked_not_duplicated(visma: E2E) -> None:
    org_id = customer_with_org(visma)
    person_id = person(visma, org_id, "lena@acme.example", ticked=False, PersonMobilePhone="070-1")
    visma.erp.create("contact", {"firstName": "Lena", "lastName": "Berg", "email": "lena@acme.example",
                                 "businessAccount": "1001", "phone2": "070-1"})
    visma.run()
    persons = list(visma.crm.read_changes("person", None, frozenset()).records)
    assert len(persons) == 1 and len(contacts(visma)) == 1
    assert visma.store.link_by_crm("persons", person_id) is not None


def test_email_changed_on_either_side_follows(visma: E2E) -> None:
    org_id = customer_with_org(visma)
    person_id = person(visma, org_id, "old@acme.example", ticked=True)
    visma.run()
    [contact] = contacts(visma)
    visma.crm.update("person", person_id, {"PersonEmail": "new@acme.example"})
    visma.run()
    assert (visma.erp.get("contact", str(contact["contactId"])) or {})["email"] == "new@acme.example"
    visma.erp.update("contact", str(contact["contactId"]), {"email": "newer@acme.example"})
    visma.run()
    assert (visma.crm.get("person", person_id) or {})["PersonEmail"] == "newer@acme.example"
    assert visma.run().writes == 0


def test_every_contact_of_a_synced_customer_comes_to_webcrm(visma: E2E) -> None:
    customer_with_org(visma)
    visma.erp.create("contact", {"firstName": "Ola", "lastName": "Hansen", "email": "ola@acme.example",
                                 "businessAccount": "1001"})
    visma.run()
    [created] = [p for p in visma.crm.read_changes("person", None, frozenset()).records]
    assert (created["PersonEmail"], created["PersonCheckMark1"]) == ("ola@acme.example", True)


def test_customers_one_way_by_configuration(sandbox: Sandbox, tmp_path: Path) -> None:
    with SqliteStateStore(tmp_path / "s.sqlite") as store:
        e2e = E2E(sandbox, store, load(customised(tmp_path, "vismanet", customer_direction="crm-to-erp"),
                                       sandbox.env))
        e2e.crm.create("organisation", {"OrganisationName": "From webCRM", "OrganisationType": "Customer"})
        e2e.erp.create("customer", {"name": "Only in Visma.net"})
        e2e.run()
        names = sorted(c["name"] for c in e2e.erp.read_changes("customer", None, frozenset()).records)
        assert names == ["From webCRM", "Only in Visma.net"]
        orgs = [o["OrganisationName"] for o in e2e.crm.read_changes("organisation", None, frozenset()).records]
        assert orgs == ["From webCRM"]  # nothing comes back but the customer number
        [org] = list(e2e.crm.read_changes("organisation", None, frozenset()).records)
        assert org["OrganisationExtraCustom1"]  # Visma.net assigned the number, written back
        assert e2e.run().writes == 0
        e2e.close()
