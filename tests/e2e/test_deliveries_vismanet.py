"""Deliveries <-> Visma.net sales orders and customer invoices with their lines, over real sockets (issue 5)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mapsync.engine.sandbox import Sandbox
from mapsync.engine.state import SqliteStateStore
from tests.e2e.conftest import E2E, customised, load
from tests.e2e.webcrm_records import crm_lines, delivery, only, synced_customer

pytestmark = pytest.mark.e2e


def _world(sandbox: Sandbox, tmp_path: Path, **settings: str) -> E2E:
    store = SqliteStateStore(tmp_path / f"state-{len(settings)}.sqlite")
    e2e = E2E(sandbox, store, load(customised(tmp_path, "vismanet", customer_number_owner="crm", **settings),
                                   sandbox.env))
    for number in ("A1", "B2", "C3"):
        e2e.erp.create("inventory_item", {"inventoryNumber": number, "description": f"Item {number}"})
    return e2e


@pytest.fixture
def visma(sandbox: Sandbox, tmp_path: Path) -> Iterator[E2E]:
    e2e = _world(sandbox, tmp_path)
    try:
        yield e2e
    finally:
        e2e.close()
        e2e.store.close()










def order_lines(order: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((line["inventory"]["number"], float(line["quantity"]), float(line["unitPrice"]))
                  for line in order["lines"])


def test_delivery_becomes_sales_order_with_lines_edited_on_both_sides(visma: E2E) -> None:
    org_id = synced_customer(visma)
    delivery_id = delivery(visma, org_id, ("A1", 2, 10.0), ("B2", 1, 99.5))
    visma.run()
    order = only(visma, "sales_order", "orderNo")
    assert order["customer"]["number"] == "1001" and order["orderType"] == "SO"
    assert order_lines(order) == [("A1", 2, 10.0), ("B2", 1, 99.5)]
    assert (visma.crm.get("delivery", delivery_id) or {})["DeliveryCustom1"] == order["orderNo"]
    assert visma.run().writes == 0
    [a1] = [ql for ql in visma.crm.find("quotation_line", "QuotationLineOpportunityId", int(delivery_id))
            if ql["QuotationLineData1"] == "A1"]
    visma.crm.update("quotation_line", str(a1["QuotationLineId"]), {"QuotationLineQuantity": 5})
    visma.crm.update("delivery", delivery_id, {"DeliveryDescription": "Etapp 1 (ändrad)"})
    b2 = next(line for line in order["lines"] if line["inventory"]["number"] == "B2")
    visma.erp.update("sales_order", order["orderNo"], {"lines": [
        *({"lineNbr": line["lineNbr"]} for line in order["lines"] if line is not b2),
        {"lineNbr": b2["lineNbr"], "unitPrice": 120.0},
        {"inventory": {"number": "C3"}, "quantity": 4, "unitPrice": 5.0}]})
    visma.run()
    order = only(visma, "sales_order", "orderNo")
    assert order_lines(order) == [("A1", 5, 10.0), ("B2", 1, 120.0), ("C3", 4, 5.0)]
    assert crm_lines(visma, delivery_id) == [("A1", 5, 10.0), ("B2", 1, 120.0), ("C3", 4, 5.0)]
    assert order["description"] == "Etapp 1 (ändrad)"
    assert visma.run().writes == 0


def test_sales_order_invoiced_reports_to_its_delivery(visma: E2E) -> None:
    org_id = synced_customer(visma)
    delivery_id = delivery(visma, org_id, ("A1", 1, 10.0))
    visma.run()
    order = only(visma, "sales_order", "orderNo")
    visma.sandbox.simulators["vismanet"].backend.invoice_sales_order(order["orderNo"])
    visma.run()
    invoice = only(visma, "customer_invoice", "referenceNumber")
    crm = visma.crm.get("delivery", delivery_id) or {}
    assert crm["DeliveryCustom2"] == invoice["referenceNumber"] and crm["DeliveryCustom3"]
    assert len(list(visma.crm.read_changes("delivery", None, frozenset()).records)) == 1  # no extra delivery


def test_invoice_made_in_visma_is_a_completed_delivery_with_status_and_released_is_locked(visma: E2E) -> None:
    synced_customer(visma)
    visma.run()
    invoice = visma.erp.create("customer_invoice", {"customer": {"number": "1001"}, "invoiceText": "original",
                                                    "invoiceLines": [{"inventoryNumber": "A1", "quantity": 3,
                                                                      "unitPrice": 10.0}]})
    number = str(invoice["referenceNumber"])
    visma.run()
    [crm] = list(visma.crm.read_changes("delivery", None, frozenset()).records)
    delivery_id = str(crm["DeliveryId"])
    assert (crm["DeliveryStatus"], crm["DeliveryCustom2"], crm["DeliveryCustom5"]) == ("Completed", number, "awaiting")
    assert crm_lines(visma, delivery_id) == [("A1", 3, 10.0)]
    visma.sandbox.simulators["vismanet"].backend.set_invoice_status(number, "Balanced")
    visma.erp.action("customer_invoice", number, "release")  # type: ignore[attr-defined]
    visma.run()
    assert (visma.crm.get("delivery", delivery_id) or {})["DeliveryCustom5"] == "approved"
    visma.crm.update("delivery", delivery_id, {"DeliveryDescription": "changed in webCRM"})
    plan = visma.run(apply=False)
    assert any("released invoice" in a.reason for m in plan.mappings for a in m.actions)
    puts = visma.sandbox.simulators["vismanet"].log.count(method="PUT")
    visma.run()
    assert visma.sandbox.simulators["vismanet"].log.count(method="PUT") == puts
    assert (visma.erp.get("customer_invoice", number) or {})["invoiceText"] == "original"


def test_delivery_of_an_unsynced_organisation_is_not_sent(visma: E2E) -> None:
    org = visma.crm.create("organisation", {"OrganisationName": "Prospect AB", "OrganisationType": "Prospect"})
    delivery(visma, str(org["OrganisationId"]), ("A1", 1, 1.0))
    plan = visma.run(apply=False)
    reasons = [a.reason for m in plan.mappings if m.name == "deliveries-orders" for a in m.actions]
    assert any("is not a synced customers record" in r for r in reasons)
    visma.run()
    assert list(visma.erp.read_changes("sales_order", None, frozenset()).records) == []


def test_deliveries_as_customer_invoices_by_setting(sandbox: Sandbox, tmp_path: Path) -> None:
    e2e = _world(sandbox, tmp_path, delivery_target="invoice")
    try:
        org_id = synced_customer(e2e)
        delivery_id = delivery(e2e, org_id, ("A1", 2, 10.0))
        e2e.run()
        invoice = only(e2e, "customer_invoice", "referenceNumber")
        assert sorted((line["inventoryNumber"], float(line["quantity"])) for line in invoice["invoiceLines"]) == [
            ("A1", 2.0)]
        assert list(e2e.erp.read_changes("sales_order", None, frozenset()).records) == []
        assert (e2e.crm.get("delivery", delivery_id) or {})["DeliveryCustom2"] == invoice["referenceNumber"]
        assert e2e.run().writes == 0
    finally:
        e2e.close()
        e2e.store.close()


def test_inventory_items_flow_to_webcrm_only(visma: E2E) -> None:
    visma.erp.update("inventory_item", "A1", {"description": "Skruv", "defaultPrice": 12.5})
    visma.run()
    [item] = [i for i in visma.crm.read_changes("catalogue_item", None, frozenset()).records
              if i["QuotationLineLinkedDataItemData1"] == "A1"]
    assert (item["QuotationLineLinkedDataItemData2"], item["QuotationLineLinkedDataItemPrice"]) == ("Skruv", 12.5)
    visma.crm.update("catalogue_item", str(item["QuotationLineLinkedDataItemId"]),
                     {"QuotationLineLinkedDataItemData2": "edited in webCRM"})
    visma.erp.update("inventory_item", "A1", {"defaultPrice": 13.0})
    visma.run()
    assert (visma.erp.get("inventory_item", "A1") or {})["description"] == "Skruv"  # nothing flows back
    item = visma.crm.get("catalogue_item", str(item["QuotationLineLinkedDataItemId"])) or {}
    assert item["QuotationLineLinkedDataItemPrice"] == 13.0


def test_opportunity_converted_to_delivery_becomes_a_sales_order(visma: E2E) -> None:
    org_id = synced_customer(visma)
    visma.run()
    opportunity = visma.crm.create("opportunity", {"OpportunityOrganisationId": int(org_id),
                                                   "OpportunityDescription": "Stort projekt"})
    visma.crm.convert_to_delivery(str(opportunity["OpportunityId"]))  # type: ignore[attr-defined]
    visma.run()
    assert only(visma, "sales_order", "orderNo")["customer"]["number"] == "1001"
