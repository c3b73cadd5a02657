"""Parity with webCRM's own Visma.net integration, over the simulators: line VAT as a VAT code (tax
category), the delivery number as the external reference, the order number in DeliveryErpId."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mapsync.engine.sandbox import Sandbox
from tests.e2e.conftest import E2E
from tests.e2e.test_deliveries_vismanet import _world
from tests.e2e.webcrm_records import delivery, only, synced_customer

pytestmark = pytest.mark.e2e


@pytest.fixture
def visma(sandbox: Sandbox, tmp_path: Path) -> Iterator[E2E]:
    e2e = _world(sandbox, tmp_path)
    try:
        yield e2e
    finally:
        e2e.close()
        e2e.store.close()


def test_line_vat_delivery_number_and_erp_id_on_sales_orders(visma: E2E) -> None:
    org_id = synced_customer(visma)
    delivery_id = str(visma.crm.create("delivery", {
        "DeliveryOrganisationId": int(org_id), "DeliveryNumber": "WC-2026-18", "DeliveryStatus": "New",
        "DeliveryOrderDate": "2026-11-02T00:00:00"})["DeliveryId"])
    for item, vat in (("A1", 25), ("B2", 15)):
        visma.crm.create("quotation_line", {"QuotationLineOpportunityId": int(delivery_id), "QuotationLineData1": item,
                                            "QuotationLineQuantity": 1, "QuotationLinePrice": 100.0,
                                            "QuotationLineVatPercentage": vat})
    report = visma.run()
    assert report.total("quarantined") == 0
    order = only(visma, "sales_order", "orderNo")
    assert sorted((line["inventory"]["number"], line["taxCategory"]) for line in order["lines"]) == [
        ("A1", "1"), ("B2", "3")]
    assert order["customerRefNo"] == "WC-2026-18"
    assert (visma.crm.get("delivery", delivery_id) or {})["DeliveryErpId"] == order["orderNo"]
    assert visma.run().writes == 0
    # a VAT code changed in Visma.net comes back as its rate
    [a1] = [line for line in order["lines"] if line["inventory"]["number"] == "A1"]
    visma.erp.update("sales_order", order["orderNo"], {"lines": [
        {"lineNbr": line["lineNbr"], **({"taxCategory": "6"} if line is a1 else {})} for line in order["lines"]]})
    visma.run()
    lines = visma.crm.find("quotation_line", "QuotationLineOpportunityId", int(delivery_id))
    assert sorted((ql["QuotationLineData1"], ql["QuotationLineVatPercentage"]) for ql in lines) == [
        ("A1", 0), ("B2", 15)]
    assert visma.run().writes == 0


def test_contact_moved_to_another_customer_keeps_the_person_in_its_organisation(sandbox: Sandbox,
                                                                               tmp_path: Path) -> None:
    """webCRM cannot move a person to another organisation through its API (the simulator refuses such a
    PUT, the client refuses it before sending: tests/connectors/test_webcrm_rules.py). The standard persons
    mapping links persons by parent_key, which the engine only uses to place new records, so a contact
    moved in Visma.net keeps syncing its fields to the person, who stays where webCRM has it."""
    from tests.e2e.test_persons_vismanet import customer_with_org, person

    e2e = _world(sandbox, tmp_path)
    try:
        first = customer_with_org(e2e, "1001")
        customer_with_org(e2e, "1002")
        person_id = person(e2e, first, "ann@acme.example", ticked=True)
        e2e.run()
        [contact] = list(e2e.erp.read_changes("contact", None, frozenset()).records)
        e2e.erp.update("contact", str(contact["contactId"]), {"businessAccount": "1002", "position": "CFO"})
        report = e2e.run()
        assert report.total("quarantined") == 0
        moved = e2e.crm.get("person", person_id) or {}
        assert (moved["PersonOrganisationId"], moved["PersonTitle"]) == (int(first), "CFO")
    finally:
        e2e.close()
        e2e.store.close()


def test_text_lines_and_lines_without_price_on_sales_orders_both_ways(visma: E2E) -> None:
    """A text-only line (no item) and a line without a price reach the sales order; a text line added in
    Visma.net comes back as a text line; nothing is written again when nothing changed."""
    org_id = synced_customer(visma)
    delivery_id = str(visma.crm.create("delivery", {
        "DeliveryOrganisationId": int(org_id), "DeliveryNumber": "WC-2026-19", "DeliveryStatus": "New",
        "DeliveryOrderDate": "2026-11-02T00:00:00"})["DeliveryId"])
    for line in ({"QuotationLineData1": "A1", "QuotationLineQuantity": 2, "QuotationLinePrice": 10.0},
                 {"QuotationLineMemo": "Leverans vecka 12"},
                 {"QuotationLineData1": "B2", "QuotationLineMemo": "Utan pris", "QuotationLineQuantity": 1}):
        visma.crm.create("quotation_line", {"QuotationLineOpportunityId": int(delivery_id), **line})
    report = visma.run()
    assert report.total("quarantined") == 0
    order = only(visma, "sales_order", "orderNo")
    texts = sorted(((line.get("inventory") or {}).get("number") or "", line["lineDescription"],
                    float(line["unitPrice"] or 0)) for line in order["lines"])
    assert texts == [("", "Leverans vecka 12", 0.0), ("A1", "Item A1", 10.0), ("B2", "Utan pris", 0.0)]
    assert visma.run().writes == 0
    visma.erp.update("sales_order", order["orderNo"], {"lines": [
        *({"lineNbr": line["lineNbr"]} for line in order["lines"]), {"lineDescription": "Fraktfritt"}]})
    visma.run()
    lines = visma.crm.find("quotation_line", "QuotationLineOpportunityId", int(delivery_id))
    assert sorted((ql["QuotationLineData1"] or "", ql["QuotationLineMemo"] or "") for ql in lines) == [
        ("", "Fraktfritt"), ("", "Leverans vecka 12"), ("A1", ""), ("B2", "Utan pris")]
    assert visma.run().writes == 0
    order = only(visma, "sales_order", "orderNo")
    assert len(order["lines"]) == 4
    # the order invoiced in Visma.net: the invoice carries the text lines, the delivery takes it quietly
    invoice = visma.sandbox.simulators["vismanet"].backend.invoice_sales_order(order["orderNo"])
    assert sorted(line["description"] for line in invoice["invoiceLines"] if not line.get("inventoryNumber")) == [
        "Fraktfritt", "Leverans vecka 12"]
    assert visma.run().total("quarantined") == 0
    assert visma.run().writes == 0


def test_native_erp_status_and_sync_time_on_sales_orders_and_invoices(visma: E2E) -> None:
    """DeliveryErpStatus is Synchronized from the create on; DeliveryErpSyncDateTime is stamped when the
    sales order is made and again only when it changes in Visma.net; an invoice made in Visma.net arrives
    as a delivery with both; passes with no change write nothing."""
    org_id = synced_customer(visma)
    delivery_id = delivery(visma, org_id, ("A1", 1, 10.0))
    assert visma.run().total("quarantined") == 0
    order = only(visma, "sales_order", "orderNo")
    made = visma.crm.get("delivery", delivery_id) or {}
    assert made["DeliveryErpStatus"] == "Synchronized" and made["DeliveryErpSyncDateTime"]
    assert visma.run().writes == 0
    visma.crm.update("delivery", delivery_id, {"DeliveryDescription": "Etapp 2",
                                               "DeliveryErpSyncDateTime": "2020-01-01T00:00:00Z"})
    visma.run()
    assert (visma.erp.get("sales_order", order["orderNo"]) or {})["description"] == "Etapp 2"
    assert (visma.crm.get("delivery", delivery_id) or {})["DeliveryErpSyncDateTime"] == "2020-01-01T00:00:00Z"
    assert visma.run().writes == 0
    visma.erp.update("sales_order", order["orderNo"], {"description": "Etapp 3"})
    visma.run()
    changed = visma.crm.get("delivery", delivery_id) or {}
    assert changed["DeliveryDescription"] == "Etapp 3" and changed["DeliveryErpSyncDateTime"] > "2026"
    assert visma.run().writes == 0
    invoice = visma.erp.create("customer_invoice", {
        "customer": {"number": "1001"}, "invoiceText": "Direkt i Visma.net",
        "invoiceLines": [{"inventoryNumber": "B2", "quantity": 1, "unitPrice": 20.0}]})
    visma.run()
    [from_invoice] = [d for d in visma.crm.read_changes("delivery", None, frozenset()).records
                      if d["DeliveryCustom2"] == invoice["referenceNumber"]]  # the invoice number field
    assert from_invoice["DeliveryErpId"] == invoice["referenceNumber"]
    assert from_invoice["DeliveryErpStatus"] == "Synchronized" and from_invoice["DeliveryErpSyncDateTime"]
    assert visma.run().writes == 0
