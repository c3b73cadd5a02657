"""Deliveries <-> Fortnox orders and invoices with their lines (fake connectors with Fortnox row rules)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.conftest import World


def _customer(world: World) -> str:
    org = world.crm.seed("organisation", {"OrganisationName": "Acme", "OrganisationType": "Customer",
                                          "OrganisationExtraCustom1": "100"})
    return str(org["OrganisationId"])


def _delivery(world: World, org_id: str, *lines: dict[str, Any]) -> str:
    delivery = world.crm.seed("delivery", {"DeliveryOrganisationId": int(org_id), "DeliveryDescription": "Order 1",
                                           "DeliveryOrderDate": "2026-11-01T00:00:00"})
    for line in lines:
        world.crm.seed("quotation_line", {"QuotationLineOpportunityId": delivery["DeliveryId"], **line})
    return str(delivery["DeliveryId"])


def line(item: str, qty: float, price: float) -> dict[str, Any]:
    return {"QuotationLineData1": item, "QuotationLineQuantity": qty, "QuotationLinePrice": price,
            "QuotationLineMemo": f"Item {item}"}


def test_delivery_becomes_order_with_rows_and_second_pass_is_quiet(world: World) -> None:
    org_id = _customer(world)
    _delivery(world, org_id, line("A1", 2, 10.0), line("B2", 1, 99.5))
    world.run()
    order = world.erp.all("order")[0]
    assert order["CustomerNumber"] == "100"
    assert [(r["ArticleNumber"], r["OrderedQuantity"]) for r in order["OrderRows"]] == [("A1", 2), ("B2", 1)]
    crm_delivery = world.crm.all("delivery")[0]
    assert crm_delivery["DeliveryCustom1"] == order["DocumentNumber"]  # order number only from Fortnox
    writes = len(world.crm.writes()) + len(world.erp.writes())
    assert world.run().writes == 0
    assert len(world.crm.writes()) + len(world.erp.writes()) == writes


def test_lines_edited_on_both_sides_between_passes(world: World) -> None:
    org_id = _customer(world)
    delivery_id = _delivery(world, org_id, line("A1", 2, 10.0), line("B2", 1, 99.5))
    world.run()
    order = world.erp.all("order")[0]
    # webCRM: quantity of A1 changes; Fortnox: price of B2 changes (its update renews every RowId)
    a1 = next(ql for ql in world.crm.all("quotation_line") if ql["QuotationLineData1"] == "A1")
    world.crm.edit("quotation_line", str(a1["QuotationLineId"]), QuotationLineQuantity=5)
    world.crm.edit("delivery", delivery_id, DeliveryDescription="Order 1")  # the parent is seen as changed
    rows = [dict(r) for r in order["OrderRows"]]
    rows[1]["Price"] = 120.0
    world.erp.update("order", order["DocumentNumber"], {"OrderRows": rows})
    world.run()
    order = world.erp.all("order")[0]
    assert [(r["ArticleNumber"], r["OrderedQuantity"], r["Price"]) for r in order["OrderRows"]] == [
        ("A1", 5, 10.0), ("B2", 1, 120.0)]
    b2 = next(ql for ql in world.crm.all("quotation_line") if ql["QuotationLineData1"] == "B2")
    assert b2["QuotationLinePrice"] == 120.0
    assert world.run().writes == 0


def test_line_added_in_erp_and_removed_in_crm(world: World) -> None:
    org_id = _customer(world)
    delivery_id = _delivery(world, org_id, line("A1", 2, 10.0), line("B2", 1, 99.5))
    world.run()
    order = world.erp.all("order")[0]
    rows = [{"RowId": r["RowId"]} for r in order["OrderRows"]] + [
        {"ArticleNumber": "C3", "OrderedQuantity": "4", "Price": 5.0, "Description": "new"}]
    world.erp.update("order", order["DocumentNumber"], {"OrderRows": rows})
    world.run()
    assert sorted(ql["QuotationLineData1"] for ql in world.crm.all("quotation_line")) == ["A1", "B2", "C3"]
    b2 = next(ql for ql in world.crm.all("quotation_line") if ql["QuotationLineData1"] == "B2")
    world.crm.delete("quotation_line", str(b2["QuotationLineId"]))
    world.crm.edit("delivery", delivery_id, DeliveryDescription="Order 1 (edited)")
    world.run()
    order = world.erp.all("order")[0]
    assert [r["ArticleNumber"] for r in order["OrderRows"]] == ["A1", "C3"]
    assert world.run().writes == 0


def test_delivery_of_an_organisation_that_is_not_synced_is_not_sent(world: World) -> None:
    supplier = world.crm.seed("organisation", {"OrganisationName": "Supplier", "OrganisationType": "Supplier"})
    _delivery(world, str(supplier["OrganisationId"]), line("A1", 1, 1.0))
    report = world.run()
    assert world.erp.all("order") == []
    deliveries = next(m for m in report.mappings if m.name == "deliveries-orders")
    assert deliveries.counts["skipped"] == 1
    assert "not a synced customers record" in deliveries.actions[0].reason


def test_invoice_created_in_fortnox_becomes_completed_delivery_with_lines(world: World) -> None:
    _customer(world)
    world.run()
    world.erp.create("invoice", {"CustomerNumber": "100", "InvoiceDate": "2026-11-20", "Booked": False,
                                 "OrderReference": "0", "Balance": 100,
                                 "InvoiceRows": [{"ArticleNumber": "A1", "DeliveredQuantity": "3", "Price": 10.0}]})
    world.run()
    delivery = world.crm.all("delivery")[0]
    assert delivery["DeliveryStatus"] == "Completed"
    assert delivery["DeliveryCustom5"] == "unpaid"
    lines = world.crm.all("quotation_line")
    assert [(ql["QuotationLineData1"], ql["QuotationLineQuantity"]) for ql in lines] == [("A1", 3)]
    assert world.run().writes == 0


def test_booked_invoice_is_never_modified(world: World) -> None:
    _customer(world)
    world.run()
    invoice = world.erp.create("invoice", {"CustomerNumber": "100", "InvoiceDate": "2026-11-20", "Booked": True,
                                           "OrderReference": "0", "Balance": 0, "Remarks": "x",
                                           "InvoiceRows": [{"ArticleNumber": "A1", "DeliveredQuantity": "3"}]})
    world.run()
    delivery = world.crm.all("delivery")[0]
    assert delivery["DeliveryCustom5"] == "fully paid"
    world.crm.edit("delivery", str(delivery["DeliveryId"]), DeliveryDescription="changed in webCRM")
    before = len(world.erp.writes())
    report = world.run()
    assert len(world.erp.writes()) == before
    invoices = next(m for m in report.mappings if m.name == "deliveries-invoices")
    assert any("booked invoice" in a.reason for a in invoices.actions)
    assert world.erp.records["invoice"][invoice["DocumentNumber"]]["Remarks"] == "x"


def test_crash_after_creating_an_order_without_any_key_value_does_not_duplicate(world: World) -> None:
    """A new order has no key value yet (its number comes from Fortnox): it is recognised by what was sent."""
    org_id = _customer(world)
    world.run()
    _delivery(world, org_id, line("A1", 2, 10.0))
    original = world.store.link

    def power_cut(*args: Any, **kwargs: Any) -> Any:
        if args and args[0] == "deliveries-orders":
            raise KeyboardInterrupt("power cut")
        return original(*args, **kwargs)

    world.store.link = power_cut  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        world.run()
    world.store.link = original  # type: ignore[method-assign]
    assert len(world.erp.all("order")) == 1
    report = world.run()
    assert len(world.erp.all("order")) == 1
    assert world.store.count_links("deliveries-orders") == 1
    assert any("reconciled" in a.reason for m in report.mappings for a in m.actions)


def test_delivery_skipped_for_an_unsynced_organisation_follows_once_the_organisation_syncs(world: World) -> None:
    org = world.crm.seed("organisation", {"OrganisationName": "Prospect AB", "OrganisationType": "Prospect",
                                          "OrganisationExtraCustom1": "300"})
    _delivery(world, str(org["OrganisationId"]), line("A1", 1, 5.0))
    world.run()
    assert world.erp.all("order") == []
    world.crm.edit("organisation", str(org["OrganisationId"]), OrganisationType="Customer")  # the delivery is unchanged
    report = world.run()
    [order] = world.erp.all("order")
    assert order["CustomerNumber"] == "300"
    assert next(m for m in report.mappings if m.name == "deliveries-orders").counts["created"] == 1
    assert world.run().writes == 0
