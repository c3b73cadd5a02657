"""Items, and deliveries <-> Fortnox orders and invoices with their lines, over real sockets (issue 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mapsync.engine.state import SqliteStateStore
from tests.e2e.conftest import E2E, customised, load
from tests.e2e.webcrm_records import crm_lines, delivery, only, synced_customer

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _articles(sandbox: Any) -> None:
    """Fortnox refuses rows of unknown articles (2000428): the article register has these."""
    backend = sandbox.simulators["fortnox"].backend
    for number in ("A1", "B2", "C3"):
        backend.create("article", {"ArticleNumber": number, "Description": f"Article {number}", "Unit": "st"})








def rows(record: dict[str, Any], collection: str = "OrderRows") -> list[tuple[Any, ...]]:
    quantity = "OrderedQuantity" if collection == "OrderRows" else "DeliveredQuantity"
    return sorted((r["ArticleNumber"], float(r[quantity]), float(r["Price"])) for r in record[collection])




def test_articles_flow_to_webcrm_only(e2e: E2E) -> None:
    e2e.erp.update("article", "A1", {"Description": "Skruv", "Unit": "st", "PurchasePrice": 4})
    e2e.run()
    [item] = [i for i in e2e.crm.read_changes("catalogue_item", None, frozenset()).records
              if i["QuotationLineLinkedDataItemData1"] == "A1"]
    assert (item["QuotationLineLinkedDataItemData1"], item["QuotationLineLinkedDataItemData2"],
            item["QuotationLineLinkedDataItemData5"], item["QuotationLineLinkedDataItemCostPrice"]) == (
        "A1", "Skruv", "st", 4)
    e2e.erp.update("article", "A1", {"Description": "Träskruv"})
    e2e.crm.update("catalogue_item", str(item["QuotationLineLinkedDataItemId"]),
                   {"QuotationLineLinkedDataItemCostPrice": 999})
    e2e.run()
    item = e2e.crm.get("catalogue_item", str(item["QuotationLineLinkedDataItemId"])) or {}
    assert item["QuotationLineLinkedDataItemData2"] == "Träskruv"
    assert (e2e.erp.get("article", "A1") or {})["PurchasePrice"] == 4  # nothing flows back


def test_delivery_becomes_order_with_lines_edited_on_both_sides(e2e: E2E) -> None:
    org_id = synced_customer(e2e)
    delivery_id = delivery(e2e, org_id, ("A1", 2, 10.0), ("B2", 1, 99.5))
    e2e.run()
    order = only(e2e, "order")
    assert order["CustomerNumber"] == "1001" and order["OrderDate"] == "2026-11-02"
    assert rows(order) == [("A1", 2, 10.0), ("B2", 1, 99.5)]
    assert (e2e.crm.get("delivery", delivery_id) or {})["DeliveryCustom1"] == order["DocumentNumber"]
    assert e2e.run().writes == 0
    # webCRM: A1's quantity; Fortnox: B2's price and a new row C3 (Fortnox renews every RowId)
    [a1] = [ql for ql in e2e.crm.find("quotation_line", "QuotationLineOpportunityId", int(delivery_id))
            if ql["QuotationLineData1"] == "A1"]
    e2e.crm.update("quotation_line", str(a1["QuotationLineId"]), {"QuotationLineQuantity": 5})
    e2e.crm.update("delivery", delivery_id, {"DeliveryDescription": "Etapp 1 (ändrad)"})
    new_rows = [{"RowId": r["RowId"], **({"Price": 120.0} if r["ArticleNumber"] == "B2" else {})}
                for r in order["OrderRows"]] + [{"ArticleNumber": "C3", "OrderedQuantity": "4", "Price": 5.0}]
    e2e.erp.update("order", order["DocumentNumber"], {"OrderRows": new_rows})
    e2e.run()
    order = only(e2e, "order")
    assert rows(order) == [("A1", 5, 10.0), ("B2", 1, 120.0), ("C3", 4, 5.0)]
    assert crm_lines(e2e, delivery_id) == [("A1", 5, 10.0), ("B2", 1, 120.0), ("C3", 4, 5.0)]
    assert order["Remarks"] == "Etapp 1 (ändrad)"
    # a line removed in webCRM is removed from the order
    [c3] = [ql for ql in e2e.crm.find("quotation_line", "QuotationLineOpportunityId", int(delivery_id))
            if ql["QuotationLineData1"] == "C3"]
    e2e.crm.delete("quotation_line", str(c3["QuotationLineId"]))
    e2e.crm.update("delivery", delivery_id, {"DeliveryDescription": "Etapp 1"})
    e2e.run()
    assert rows(only(e2e, "order")) == [("A1", 5, 10.0), ("B2", 1, 120.0)]
    assert e2e.run().writes == 0


def test_order_turned_into_invoice_reports_to_the_delivery(e2e: E2E) -> None:
    org_id = synced_customer(e2e)
    delivery_id = delivery(e2e, org_id, ("A1", 1, 10.0))
    e2e.run()
    order = only(e2e, "order")
    invoice = e2e.erp.action("order", order["DocumentNumber"], "createinvoice")  # type: ignore[attr-defined]
    e2e.run()
    crm = e2e.crm.get("delivery", delivery_id) or {}
    invoice_number = (only(e2e, "invoice"))["DocumentNumber"]
    assert invoice is not None
    assert crm["DeliveryCustom2"] == invoice_number and crm["DeliveryCustom5"] == "unpaid"
    assert crm["DeliveryCustom3"]  # invoice date, only from Fortnox
    e2e.erp.action("invoice", invoice_number, "bookkeep")  # type: ignore[attr-defined]
    e2e.run()
    crm = e2e.crm.get("delivery", delivery_id) or {}
    assert (crm["DeliveryCustom4"], crm["DeliveryCustom5"]) == ("Yes", "booked")
    assert len(list(e2e.crm.read_changes("delivery", None, frozenset()).records)) == 1  # no extra delivery


def test_invoice_made_in_fortnox_is_a_completed_delivery_and_its_status_follows(e2e: E2E) -> None:
    synced_customer(e2e)
    e2e.run()
    invoice = e2e.erp.create("invoice", {"CustomerNumber": "1001",
                                         "InvoiceRows": [{"ArticleNumber": "A1", "DeliveredQuantity": 3, "Price": 10}]})
    number = str(invoice["DocumentNumber"])
    e2e.run()
    [crm] = list(e2e.crm.read_changes("delivery", None, frozenset()).records)
    delivery_id = str(crm["DeliveryId"])
    assert (crm["DeliveryStatus"], crm["DeliveryCustom2"], crm["DeliveryCustom5"]) == ("Completed", number, "unpaid")
    assert crm_lines(e2e, delivery_id) == [("A1", 3, 10.0)]
    e2e.erp.action("invoice", number, "cancel")  # type: ignore[attr-defined]
    e2e.run()
    assert (e2e.crm.get("delivery", delivery_id) or {})["DeliveryCustom5"] == "cancelled"
    assert e2e.run().writes == 0


def test_booked_invoice_edited_in_webcrm_is_not_touched_and_the_plan_says_why(e2e: E2E) -> None:
    synced_customer(e2e)
    e2e.run()
    invoice = e2e.erp.create("invoice", {"CustomerNumber": "1001", "Remarks": "original",
                                         "InvoiceRows": [{"ArticleNumber": "A1", "DeliveredQuantity": 1, "Price": 10}]})
    number = str(invoice["DocumentNumber"])
    e2e.erp.action("invoice", number, "bookkeep")  # type: ignore[attr-defined]
    e2e.run()
    [crm] = list(e2e.crm.read_changes("delivery", None, frozenset()).records)
    e2e.crm.update("delivery", str(crm["DeliveryId"]), {"DeliveryDescription": "changed in webCRM"})
    before = e2e.sandbox.simulators["fortnox"].log.count(method="PUT")
    plan = e2e.run(apply=False)
    reasons = [a.reason for m in plan.mappings for a in m.actions]
    assert any("booked invoice" in r for r in reasons)
    e2e.run()
    sim = e2e.sandbox.simulators["fortnox"]
    assert sim.log.count(method="PUT") == before
    assert (e2e.erp.get("invoice", number) or {})["Remarks"] == "original"


def test_delivery_of_an_unsynced_organisation_is_not_sent_and_the_plan_says_why(e2e: E2E) -> None:
    org = e2e.crm.create("organisation", {"OrganisationName": "Prospect AB", "OrganisationType": "Prospect"})
    delivery(e2e, str(org["OrganisationId"]), ("A1", 1, 1.0))
    plan = e2e.run(apply=False)
    reasons = [a.reason for m in plan.mappings if m.name == "deliveries-orders" for a in m.actions]
    assert any("is not a synced customers record" in r for r in reasons)
    e2e.run()
    assert list(e2e.erp.read_changes("order", None, frozenset()).records) == []


def test_opportunity_converted_to_delivery_is_picked_up(e2e: E2E) -> None:
    org_id = synced_customer(e2e)
    e2e.run()
    opportunity = e2e.crm.create("opportunity", {"OpportunityOrganisationId": int(org_id),
                                                 "OpportunityDescription": "Stort projekt"})
    e2e.crm.convert_to_delivery(str(opportunity["OpportunityId"]))  # type: ignore[attr-defined]
    e2e.run()
    order = only(e2e, "order")
    assert order["CustomerNumber"] == "1001"


def test_deliveries_as_invoices_by_setting(sandbox: Any, tmp_path: Path) -> None:
    with SqliteStateStore(tmp_path / "s.sqlite") as store:
        e2e = E2E(sandbox, store, load(customised(tmp_path, "fortnox", delivery_target="invoice"), sandbox.env))
        org_id = synced_customer(e2e)
        delivery_id = delivery(e2e, org_id, ("A1", 2, 10.0))
        e2e.run()
        invoice = only(e2e, "invoice")
        assert rows(invoice, "InvoiceRows") == [("A1", 2, 10.0)]
        assert list(e2e.erp.read_changes("order", None, frozenset()).records) == []
        assert (e2e.crm.get("delivery", delivery_id) or {})["DeliveryCustom2"] == invoice["DocumentNumber"]
        assert e2e.run().writes == 0
        e2e.close()


def test_invoice_status_follows_booked_fully_paid_and_credited(e2e: E2E) -> None:
    synced_customer(e2e)
    e2e.run()
    invoice = e2e.erp.create("invoice", {"CustomerNumber": "1001",
                                         "InvoiceRows": [{"ArticleNumber": "A1", "DeliveredQuantity": 2, "Price": 50}]})
    number = str(invoice["DocumentNumber"])
    fortnox = e2e.sandbox.simulators["fortnox"]

    def status() -> str:
        e2e.run()
        [crm] = [d for d in e2e.crm.read_changes("delivery", None, frozenset()).records
                 if d["DeliveryCustom2"] == number]
        return str(crm["DeliveryCustom5"])

    assert status() == "unpaid"
    e2e.erp.action("invoice", number, "bookkeep")  # type: ignore[attr-defined]
    assert status() == "booked"
    fortnox.backend.invoice_payment({"InvoiceNumber": number, "Amount": invoice["Total"]})
    assert status() == "fully paid"
    e2e.erp.action("invoice", number, "credit")  # type: ignore[attr-defined]
    assert status() == "credited"
