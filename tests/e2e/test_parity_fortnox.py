"""Parity with webCRM's own Fortnox integration, over the simulators: Address2 joined into the
invoice-address field and split back without loss (docs/decisions/0013-address-lines.md)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import E2E

pytestmark = pytest.mark.e2e
INVOICE_ADDRESS = "OrganisationExtraCustom5"


def test_address2_both_ways_without_loss(e2e: E2E) -> None:
    crm_id = e2e.crm.create("organisation", {
        "OrganisationName": "Lines AB", "OrganisationType": "Customer", "OrganisationExtraCustom1": "1001",
        INVOICE_ADDRESS: "Box 12\nStorgatan 1\nPlan 3"})["OrganisationId"]
    e2e.run()
    customer = e2e.erp.get("customer", "1001")
    assert customer is not None
    assert (customer["Address1"], customer["Address2"]) == ("Box 12", "Storgatan 1\nPlan 3")
    assert e2e.run().writes == 0  # the joined and the split values agree
    e2e.erp.update("customer", "1001", {"Address2": "Storgatan 9"})
    e2e.run()
    assert (e2e.crm.get("organisation", str(crm_id)) or {})[INVOICE_ADDRESS] == "Box 12\nStorgatan 9"
    made = e2e.erp.create("customer", {"CustomerNumber": "1002", "Name": "Two Lines AB", "Address1": "c/o Berg",
                                       "Address2": "Kungsgatan 5"})
    e2e.run()
    [org] = [o for o in e2e.crm.read_changes("organisation", None, frozenset()).records
             if o["OrganisationName"] == "Two Lines AB"]
    assert org[INVOICE_ADDRESS] == "c/o Berg\nKungsgatan 5"
    assert e2e.run().writes == 0
    assert (e2e.erp.get("customer", made["CustomerNumber"]) or {})["Address2"] == "Kungsgatan 5"
