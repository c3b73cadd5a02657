"""Demo records for the Fortnox simulator (``mapsync demo`` / ``mapsync sandbox --seed``).

Created through the backend, so numbers, rows, totals and last-modified times are consistent.
"""

from __future__ import annotations

from mapsync.connectors.fortnox.simulator.backend import FortnoxBackend

DEMO_CUSTOMERS = [
    {
        "Name": "Nordisk Trä AB",
        "OrganisationNumber": "556677-8899",
        "Email": "info@nordisktra.se",
        "Address1": "Sågvägen 4",
        "ZipCode": "731 30",
        "City": "Köping",
        "CountryCode": "SE",
        "Phone1": "0221-123 45",
        "VATNumber": "SE556677889901",
        "Type": "COMPANY",
    },
    {
        "Name": "Fjällbacka Fisk HB",
        "OrganisationNumber": "969712-3456",
        "Email": "order@fjallfisk.se",
        "Address1": "Hamngatan 1",
        "ZipCode": "457 40",
        "City": "Fjällbacka",
        "CountryCode": "SE",
        "Type": "COMPANY",
    },
    {
        "Name": "Oslo Design AS",
        "Email": "post@oslodesign.no",
        "Address1": "Karl Johans gate 12",
        "ZipCode": "0154",
        "City": "Oslo",
        "CountryCode": "NO",
        "Currency": "NOK",
        "VATType": "EXPORT",
        "Type": "COMPANY",
    },
    {
        "Name": "Anna Lindqvist",
        "Email": "anna.lindqvist@example.se",
        "Address1": "Storgatan 8",
        "ZipCode": "111 22",
        "City": "Stockholm",
        "CountryCode": "SE",
        "Type": "PRIVATE",
    },
]
DEMO_ARTICLES = [
    {
        "ArticleNumber": "SKRUV-100",
        "Description": "Träskruv 4x40, 100 st",
        "Unit": "st",
        "PurchasePrice": 39,
        "SalesPrice": 79,
        "VAT": 25,
        "Type": "STOCK",
    },
    {
        "ArticleNumber": "HAMMARE",
        "Description": "Snickarhammare 600 g",
        "Unit": "st",
        "PurchasePrice": 149,
        "SalesPrice": 299,
        "VAT": 25,
        "Type": "STOCK",
    },
    {"ArticleNumber": "KONSULT", "Description": "Konsulttimme", "Unit": "h", "VAT": 25, "Type": "SERVICE",
     "SalesPrice": 950},
]


def seed_demo(backend: FortnoxBackend) -> None:
    """Create demo customers, articles, an order and two invoices (one booked)."""
    customers = [backend.create("customer", dict(c)) for c in DEMO_CUSTOMERS]
    for article in DEMO_ARTICLES:
        given = dict(article)
        price = given.pop("SalesPrice", None)
        created = backend.create("article", given)
        if price is not None:  # SalesPrice is read-only in the API: it is the default price list's price
            stored = backend.store.get("article", created["ArticleNumber"]) or {}
            backend.store.put("article", created["ArticleNumber"], {**stored, "SalesPrice": price})
    first = customers[0]["CustomerNumber"]
    backend.create(
        "order",
        {
            "CustomerNumber": first,
            "YourReference": "Per Persson",
            "OrderRows": [
                {"ArticleNumber": "SKRUV-100", "OrderedQuantity": 10, "DeliveredQuantity": 10, "Price": 79},
                {"ArticleNumber": "HAMMARE", "OrderedQuantity": 2, "DeliveredQuantity": 2, "Price": 299},
            ],
        },
    )
    backend.create(
        "invoice",
        {
            "CustomerNumber": customers[1]["CustomerNumber"],
            "InvoiceRows": [{"ArticleNumber": "KONSULT", "DeliveredQuantity": 3, "Price": 950}],
        },
    )
    booked = backend.create(
        "invoice",
        {
            "CustomerNumber": first,
            "InvoiceRows": [{"ArticleNumber": "HAMMARE", "DeliveredQuantity": 1, "Price": 299}],
        },
    )
    backend.invoice_bookkeep(booked["DocumentNumber"])
