"""Parity with webCRM's own Fortnox integration, over the simulators: Address2 joined into the
invoice-address field and split back without loss (docs/decisions/0013-address-lines.md)."""

from __future__ import annotations

from typing import Any

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


def test_text_lines_lines_without_price_delivery_number_and_native_erp_fields(e2e: E2E) -> None:
    """A text-only line and a line without a price reach the order; the delivery number goes to
    YourOrderNumber; the delivery gets its order number in DeliveryErpId; a text row added in Fortnox
    comes back as a text line."""
    e2e.erp.create("article", {"ArticleNumber": "A1", "Description": "Article A1", "Unit": "st"})
    org = e2e.crm.create("organisation", {"OrganisationName": "Customer 1001", "OrganisationType": "Customer",
                                          "OrganisationExtraCustom1": "1001"})
    delivery_id = str(e2e.crm.create("delivery", {
        "DeliveryOrganisationId": org["OrganisationId"], "DeliveryNumber": "WC-2026-17", "DeliveryStatus": "New",
        "DeliveryOrderDate": "2026-11-02T00:00:00"})["DeliveryId"])
    for line in ({"QuotationLineData1": "A1", "QuotationLineQuantity": 2, "QuotationLinePrice": 10.0},
                 {"QuotationLineMemo": "Leverans vecka 12"},
                 {"QuotationLineData1": "A1", "QuotationLineMemo": "Utan pris", "QuotationLineQuantity": 1}):
        e2e.crm.create("quotation_line", {"QuotationLineOpportunityId": int(delivery_id), **line})
    report = e2e.run()
    assert report.total("quarantined") == 0
    [order] = list(e2e.erp.read_changes("order", None, frozenset()).records)
    order = e2e.erp.get("order", str(order["DocumentNumber"])) or {}
    assert order["YourOrderNumber"] == "WC-2026-17"
    texts = sorted((r["ArticleNumber"] or "", r["Description"], float(r["Price"] or 0))
                   for r in order["OrderRows"])
    assert texts == [("", "Leverans vecka 12", 0.0), ("A1", "Article A1", 10.0), ("A1", "Utan pris", 0.0)]
    crm_delivery = e2e.crm.get("delivery", delivery_id) or {}
    assert crm_delivery["DeliveryErpId"] == order["DocumentNumber"]
    assert e2e.run().writes == 0
    rows = [{"RowId": r["RowId"]} for r in order["OrderRows"]] + [{"Description": "Fraktfritt"}]
    e2e.erp.update("order", order["DocumentNumber"], {"OrderRows": rows})
    e2e.run()
    lines = e2e.crm.find("quotation_line", "QuotationLineOpportunityId", int(delivery_id))
    assert len(lines) == 4 and "Fraktfritt" in [ql["QuotationLineMemo"] for ql in lines]
    assert e2e.run().writes == 0


def _delivery_of_order(e2e: E2E) -> tuple[str, dict[str, Any]]:
    """A synced customer's delivery with one line, brought to Fortnox: its id and its order."""
    e2e.erp.create("article", {"ArticleNumber": "A1", "Description": "Article A1", "Unit": "st"})
    org = e2e.crm.create("organisation", {"OrganisationName": "Customer 1001", "OrganisationType": "Customer",
                                          "OrganisationExtraCustom1": "1001"})
    delivery_id = str(e2e.crm.create("delivery", {
        "DeliveryOrganisationId": org["OrganisationId"], "DeliveryNumber": "WC-2026-20", "DeliveryStatus": "New",
        "DeliveryDescription": "Etapp 1", "DeliveryOrderDate": "2026-11-02T00:00:00",
        # how the real webCRM shows a time never set (the simulator leaves it null)
        "DeliveryErpSyncDateTime": "0001-01-01T01:00:00+01:00"})["DeliveryId"])
    e2e.crm.create("quotation_line", {"QuotationLineOpportunityId": int(delivery_id), "QuotationLineData1": "A1",
                                      "QuotationLineQuantity": 1, "QuotationLinePrice": 10.0})
    assert e2e.run().total("quarantined") == 0
    [order] = list(e2e.erp.read_changes("order", None, frozenset()).records)
    return delivery_id, e2e.erp.get("order", str(order["DocumentNumber"])) or {}


def test_native_erp_status_and_sync_time_written_when_the_order_changes(e2e: E2E) -> None:
    """DeliveryErpStatus is Synchronized from the create on; DeliveryErpSyncDateTime is stamped when the
    order is made and again only when the order changes in Fortnox: a change made in webCRM and a pass with
    no change leave it (and webCRM) alone."""
    delivery_id, order = _delivery_of_order(e2e)
    delivery = e2e.crm.get("delivery", delivery_id) or {}
    assert delivery["DeliveryErpStatus"] == "Synchronized"
    assert delivery["DeliveryErpSyncDateTime"] > "2026"
    assert e2e.run().writes == 0
    e2e.crm.update("delivery", delivery_id, {"DeliveryDescription": "Etapp 2"})
    e2e.run()
    assert (e2e.erp.get("order", order["DocumentNumber"]) or {})["Remarks"] == "Etapp 2"
    stamp = (e2e.crm.get("delivery", delivery_id) or {})["DeliveryErpSyncDateTime"]
    assert stamp == delivery["DeliveryErpSyncDateTime"]  # a change made in webCRM does not restamp
    assert e2e.run().writes == 0
    # a stamp from long ago (set by hand), then a change in Fortnox: stamped anew with the change
    e2e.crm.update("delivery", delivery_id, {"DeliveryErpSyncDateTime": "2020-01-01T00:00:00Z",
                                             "DeliveryErpStatus": "ReadyForSynchronization"})
    assert e2e.run().writes == 1  # the status is put back; the stamp waits for a change of the order
    assert (e2e.crm.get("delivery", delivery_id) or {})["DeliveryErpSyncDateTime"] == "2020-01-01T00:00:00Z"
    e2e.erp.update("order", order["DocumentNumber"], {"Remarks": "Etapp 3"})
    e2e.run()
    delivery = e2e.crm.get("delivery", delivery_id) or {}
    assert delivery["DeliveryDescription"] == "Etapp 3" and delivery["DeliveryErpStatus"] == "Synchronized"
    assert delivery["DeliveryErpSyncDateTime"] > "2026"
    assert e2e.run().writes == 0


def test_order_made_in_fortnox_arrives_synchronized_with_its_sync_time(e2e: E2E) -> None:
    e2e.erp.create("article", {"ArticleNumber": "A1", "Description": "Article A1", "Unit": "st"})
    e2e.crm.create("organisation", {"OrganisationName": "Customer 1001", "OrganisationType": "Customer",
                                    "OrganisationExtraCustom1": "1001"})
    e2e.run()
    order = e2e.erp.create("order", {"CustomerNumber": "1001", "Remarks": "Från Fortnox",
                                     "OrderRows": [{"ArticleNumber": "A1", "OrderedQuantity": 2, "Price": 5.0}]})
    e2e.run()
    [delivery] = [d for d in e2e.crm.read_changes("delivery", None, frozenset()).records
                  if d["DeliveryErpId"] == order["DocumentNumber"]]
    assert delivery["DeliveryErpStatus"] == "Synchronized" and delivery["DeliveryErpSyncDateTime"]
    assert e2e.run().writes == 0
