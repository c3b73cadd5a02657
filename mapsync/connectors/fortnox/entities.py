"""What the Fortnox client knows about each entity: paths, wrappers, id field, search parameters."""

from __future__ import annotations

from dataclasses import dataclass, field

from mapsync.connectors.base import RejectedError


@dataclass(frozen=True)
class FortnoxEntity:
    name: str
    path: str  # under /3/
    wrapper: str  # {"Customer": {...}}
    list_wrapper: str  # {"Customers": [...]}
    id_field: str
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
        "CustomerNumber",
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
        "ArticleNumber",
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
        "DocumentNumber",
        rows_field="OrderRows",
        actions=("createinvoice", "cancel", "externalprint", "warehouseready"),
        search=dict(_DOCUMENT_SEARCH),
    ),
    "invoice": FortnoxEntity(
        "invoice",
        "invoices",
        "Invoice",
        "Invoices",
        "DocumentNumber",
        rows_field="InvoiceRows",
        actions=("bookkeep", "cancel", "credit", "externalprint", "warehouseready"),
        search=_DOCUMENT_SEARCH | {"OCR": "ocr"},
    ),
}


def entity(name: str) -> FortnoxEntity:
    """The entity called ``name``; ``RejectedError`` for names Fortnox does not have here."""
    try:
        return ENTITIES[name]
    except KeyError:
        raise RejectedError(f"fortnox has no entity {name!r} (known: {', '.join(ENTITIES)})") from None
