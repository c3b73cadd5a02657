"""Demo data of the Visma.net simulator: customers, contacts with e-mails, items, sales orders and
customer invoices in several statuses. Written through the backend (as API bodies), so the records
look exactly like records created over HTTP.
"""

from __future__ import annotations

from typing import Any

from mapsync.connectors.vismanet.simulator.backend import VismanetBackend


def w(value: Any) -> dict[str, Any]:
    """A value wrapper."""
    return {"value": value}


def wrap(values: dict[str, Any]) -> dict[str, Any]:
    """Every value wrapped, nested dicts too (a write body from plain values)."""
    return {k: w(wrap(v) if isinstance(v, dict) else v) for k, v in values.items()}


def line(**values: Any) -> dict[str, Any]:
    return {"operation": "Insert", **wrap(values)}


CUSTOMERS: list[dict[str, Any]] = [
    {
        "name": "Nordlys Energi AS",
        "corporateId": "987654321",
        "vatRegistrationId": "NO987654321MVA",
        "mainAddress": {"addressLine1": "Storgata 1", "postalCode": "0155", "city": "Oslo", "countryId": "NO"},
        "mainContact": {"email": "post@nordlys.example", "phone1": "+47 22 00 00 01", "web": "https://nordlys.example"},
        "creditTermsId": "30",
    },
    {
        "name": "Fjordhandel AS",
        "corporateId": "912345678",
        "vatRegistrationId": "NO912345678MVA",
        "mainAddress": {"addressLine1": "Bryggen 7", "postalCode": "5003", "city": "Bergen", "countryId": "NO"},
        "mainContact": {"email": "ordre@fjordhandel.example", "phone1": "+47 55 00 00 02"},
        "creditTermsId": "14",
    },
    {
        # the same company as the webCRM demo's "Nordisk Trä AB": the initial import links the two
        "name": "Nordisk Trä AB",
        "corporateId": "556677-8899",
        "vatRegistrationId": "SE556677889901",
        "mainAddress": {"addressLine1": "Sågvägen 4", "postalCode": "731 30", "city": "Köping",
                        "countryId": "SE"},
        "mainContact": {"email": "info@nordisktra.se", "phone1": "0221-123 45"},
        "customerClassId": "3",
        "currencyId": "SEK",
        "overrideWithClassValues": False,
    },
]

CONTACTS: list[dict[str, Any]] = [
    {"firstName": "Kari", "lastName": "Nordmann", "email": "kari.nordmann@nordlys.example", "position": "CFO",
     "phone1": "+47 900 00 001", "businessAccount": "10000"},
    {"firstName": "Ola", "lastName": "Hansen", "email": "ola.hansen@nordlys.example", "position": "Buyer",
     "phone1": "+47 900 00 002", "businessAccount": "10000"},
    {"firstName": "Ingrid", "lastName": "Berg", "email": "ingrid@fjordhandel.example", "position": "Owner",
     "businessAccount": "10001"},
    # also a person of the webCRM demo (per.persson@nordisktra.se): linked by e-mail, not duplicated
    {"firstName": "Per", "lastName": "Persson", "email": "per.persson@nordisktra.se", "position": "Purchasing",
     "businessAccount": "10002"},
]

ITEMS: list[dict[str, Any]] = [
    {"inventoryNumber": "CONSULT", "description": "Consulting hour", "type": "ServiceItem", "defaultPrice": 1250.0,
     "baseUnit": "TIME", "salesUnit": "TIME", "purchaseUnit": "TIME", "vatCode": "1"},
    {"inventoryNumber": "LIC-STD", "description": "Licence, standard (per month)", "type": "NonStockItem",
     "defaultPrice": 490.0, "vatCode": "1", "itemClass": "3"},
    {"inventoryNumber": "CABLE-5M", "description": "Network cable 5 m", "type": "FinishedGoodItem",
     "defaultPrice": 99.0, "vatCode": "1", "defaultWarehouse": "MAIN"},
    {"inventoryNumber": "BOOK-EN", "description": "Handbook (printed)", "type": "FinishedGoodItem",
     "defaultPrice": 350.0, "vatCode": "6"},
    # the articles of the webCRM demo's delivery lines
    {"inventoryNumber": "SKRUV-100", "description": "Träskruv 4x40, 100 st", "type": "FinishedGoodItem",
     "defaultPrice": 79.0, "vatCode": "1", "baseUnit": "STK", "salesUnit": "STK"},
    {"inventoryNumber": "HAMMARE", "description": "Snickarhammare 600 g", "type": "FinishedGoodItem",
     "defaultPrice": 299.0, "vatCode": "1", "baseUnit": "STK", "salesUnit": "STK"},
]


def seed_demo(backend: VismanetBackend) -> None:
    """Add the demo records (customers 10000-10002 first, so contacts can refer to them)."""
    for customer in CUSTOMERS:
        plain = {k: v for k, v in customer.items() if k != "overrideWithClassValues"}
        body = wrap(plain)
        if "overrideWithClassValues" in customer:
            body["overrideWithClassValues"] = customer["overrideWithClassValues"]
        backend.create("customer", body)
    for contact in CONTACTS:
        backend.create("contact", wrap(contact))
    for item in ITEMS:
        backend.create("inventory", wrap(item))

    # An open sales order with two lines ...
    backend.create(
        "salesorder",
        {
            **wrap({"orderType": "SO", "customer": "10000", "customerOrder": "PO-4711", "description": "Q3 delivery"}),
            "lines": [line(inventoryNumber="CONSULT", quantity=10.0),
                      line(inventoryNumber="CABLE-5M", quantity=4.0, discountPercent=10.0)],
        },
    )
    # ... and one that has been invoiced (its invoice lines refer back to it).
    invoiced = backend.create(
        "salesorder",
        {
            **wrap({"orderType": "SO", "customer": "10001", "description": "Licences"}),
            "lines": [line(inventoryNumber="LIC-STD", quantity=3.0)],
        },
    )
    backend.invoice_sales_order(invoiced["orderNo"], release=True)

    # Invoices in several statuses: on hold, balanced, open (released) and closed (paid).
    statuses = [("10000", "Hold"), ("10001", "Balanced"), ("10000", "Open"), ("10002", "Closed")]
    for number, status in statuses:
        invoice = backend.create(
            "customerinvoice",
            {
                **wrap({"customerNumber": number, "invoiceText": f"Demo invoice ({status})",
                        "hold": status == "Hold"}),
                "invoiceLines": [line(inventoryNumber="CONSULT", quantity=2.0),
                                 line(inventoryNumber="BOOK-EN", quantity=1.0, discountPercent=5.0)],
            },
        )
        if status in ("Open", "Closed"):
            backend.release_invoice(invoice["referenceNumber"])
        if status == "Closed":
            backend.set_invoice_status(invoice["referenceNumber"], "Closed")
