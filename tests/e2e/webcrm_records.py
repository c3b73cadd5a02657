"""Helpers the end-to-end tests share: webCRM records as a user makes them, and reading results back."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import E2E


def synced_customer(e2e: E2E, number: str = "1001") -> str:
    """An organisation of a synced type with its customer number; returns its id."""
    org = e2e.crm.create("organisation", {"OrganisationName": f"Customer {number}", "OrganisationType": "Customer",
                                          "OrganisationExtraCustom1": number})
    return str(org["OrganisationId"])


def delivery(e2e: E2E, org_id: str, *lines: tuple[str, float, float]) -> str:
    """A delivery of ``org_id`` with quotation lines (item number, quantity, price); returns its id."""
    record = e2e.crm.create("delivery", {"DeliveryOrganisationId": int(org_id), "DeliveryDescription": "Etapp 1",
                                         "DeliveryOrderDate": "2026-11-02T00:00:00", "DeliveryStatus": "New"})
    delivery_id = str(record["DeliveryId"])
    for item, qty, price in lines:
        e2e.crm.create("quotation_line", {"QuotationLineOpportunityId": int(delivery_id), "QuotationLineData1": item,
                                          "QuotationLineQuantity": qty, "QuotationLinePrice": price,
                                          "QuotationLineMemo": item.lower()})
    return delivery_id


def crm_lines(e2e: E2E, delivery_id: str) -> list[tuple[Any, ...]]:
    """The delivery's lines as sorted (item number, quantity, price)."""
    found = e2e.crm.find("quotation_line", "QuotationLineOpportunityId", int(delivery_id))
    return sorted((ql["QuotationLineData1"], float(ql["QuotationLineQuantity"]), float(ql["QuotationLinePrice"]))
                  for ql in found)


def only(e2e: E2E, entity: str, key: str = "DocumentNumber") -> dict[str, Any]:
    """The one ERP record of ``entity`` (asserts there is exactly one), read in full."""
    records = list(e2e.erp.read_changes(entity, None, frozenset()).records)
    assert len(records) == 1, records
    return e2e.erp.get(entity, str(records[0][key])) or {}
