"""What the Fortnox client knows about each entity: paths, wrappers, search parameters (the id field:
``catalogue.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mapsync.connectors.entityspec import EntitySpec, EntityTable


@dataclass(frozen=True)
class FortnoxEntity(EntitySpec):
    connector = "fortnox"

    name: str
    path: str  # under /3/
    wrapper: str  # {"Customer": {...}}
    list_wrapper: str  # {"Customers": [...]}
    rows_field: str | None = None
    deletable: bool = False
    actions: tuple[str, ...] = ()
    # record field -> list search parameter (ILIKE %value%; the client filters exact matches itself)
    search: dict[str, str] = field(default_factory=dict)


_DOCUMENT_SEARCH = {
    "CustomerNumber": "customernumber",
    "CustomerName": "customername",
    "DocumentNumber": "documentnumber",
    "YourOrderNumber": "yourordernumber",
    "OurReference": "ourreference",
    "YourReference": "yourreference",
    "ExternalInvoiceReference1": "externalinvoicereference1",
    "ExternalInvoiceReference2": "externalinvoicereference2",
}

ENTITIES: dict[str, FortnoxEntity] = {
    "customer": FortnoxEntity(
        "customer",
        "customers",
        "Customer",
        "Customers",
        deletable=True,
        search={
            "CustomerNumber": "customernumber",
            "Name": "name",
            "Email": "email",
            "OrganisationNumber": "organisationnumber",
            "ZipCode": "zipcode",
            "City": "city",
            "Phone1": "phone",
            "GLN": "gln",
            "GLNDelivery": "glndelivery",
        },
    ),
    "article": FortnoxEntity(
        "article",
        "articles",
        "Article",
        "Articles",
        deletable=True,
        search={
            "ArticleNumber": "articlenumber",
            "Description": "description",
            "EAN": "ean",
            "Manufacturer": "manufacturer",
            "ManufacturerArticleNumber": "manufacturerarticlenumber",
            "SupplierNumber": "suppliernumber",
        },
    ),
    "order": FortnoxEntity(
        "order",
        "orders",
        "Order",
        "Orders",
        rows_field="OrderRows",
        actions=("createinvoice", "cancel", "externalprint", "warehouseready"),
        search=dict(_DOCUMENT_SEARCH),
    ),
    "invoice": FortnoxEntity(
        "invoice",
        "invoices",
        "Invoice",
        "Invoices",
        rows_field="InvoiceRows",
        actions=("bookkeep", "cancel", "credit", "externalprint", "warehouseready"),
        search=_DOCUMENT_SEARCH | {"OCR": "ocr"},
    ),
}


entity = EntityTable("fortnox", ENTITIES)
