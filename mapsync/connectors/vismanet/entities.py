"""What the Visma.net client knows about each entity: paths, ids, list filters, write-shape renames.

Renames map a dotted **read** path (or a prefix of one) to the **write** path of the *UpdateDto
[V11] (``mainAddress.country.id`` -> ``mainAddress.countryId``, ``creditTerms.id`` -> ``creditTermsId``,
``customer.number`` -> ``customerNumber``); the longest matching prefix wins. Read-only fields of the
catalogue are never sent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from mapsync.connectors.catalogue import load_catalogue
from mapsync.connectors.entityspec import EntitySpec, EntityTable

# Never sent, whatever the catalogue says: paging data, row versions, server timestamps.
ALWAYS_READ_ONLY = frozenset({"metadata", "timeStamp", "timestamp", "lastModifiedDateTime", "createdDateTime",
                              "errorInfo"})


def address_renames(read: str, write: str | None = None) -> dict[str, str]:
    """Renames of an address object: the object itself (if renamed) and its country/county ids."""
    target = write or read
    renames = {f"{read}.country.id": f"{target}.countryId", f"{read}.county.id": f"{target}.county"}
    if write:
        renames[read] = write
    return renames


@dataclass(frozen=True)
class LinesShape:
    """A document's line collection: read field, catalogue entity (whose id is the line id) and renames."""

    field: str
    entity: str
    renames: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def id_field(self) -> str:
        found = load_catalogue("vismanet").entity(self.entity)
        assert found is not None, self.entity
        return found.id_field


@dataclass(frozen=True)
class VismanetEntity(EntitySpec):
    connector = "vismanet"

    name: str  # catalogue entity name
    resource: str  # path segment: /v1/<resource>
    create_path: str
    renames: Mapping[str, str] = dataclasses.field(default_factory=dict)
    plain: frozenset[str] = frozenset()  # write names sent without value wrapper
    lines: LinesShape | None = None
    contact_paging: bool = False  # greaterThanValue/numberToRead instead of pageNumber/pageSize
    deletable: bool = False
    actions: tuple[str, ...] = ()
    filters: Mapping[str, str] = dataclasses.field(default_factory=dict)  # read path -> list query parameter
    version_field: str | None = "timeStamp"
    numeric_id: bool = False

    @property
    def path(self) -> str:
        return f"/v1/{self.resource}"


ENTITIES: dict[str, VismanetEntity] = {
    "customer": VismanetEntity(
        "customer",
        "customer",
        "/v1/customer",
        renames={
            "creditTerms.id": "creditTermsId",
            "customerClass.id": "customerClassId",
            "vatZone.id": "vatZoneId",
            "priceClass.id": "priceClassId",
            "parentRecord.number": "parentRecordNumber",
            "sendDunningLettersViaEMail": "sendDunningLettersViaEmail",
            "attributes": "attributeLines",
            **address_renames("mainAddress"),
            **address_renames("invoiceAddress"),
            **address_renames("deliveryAddress"),
        },
        plain=frozenset({"overrideWithClassValues"}),
        filters={
            "name": "name",
            "status": "status",
            "corporateId": "corporateId",
            "vatRegistrationId": "vatRegistrationId",
            "mainContact.email": "email",
            "mainContact.phone1": "phone",
        },
    ),
    "contact": VismanetEntity(
        "contact",
        "contact",
        "/v1/contact",
        renames=address_renames("address"),
        contact_paging=True,
        filters={
            "email": "email",
            "businessAccount": "businessAccount",
            "firstName": "firstName",
            "lastName": "lastName",
            "displayName": "displayName",
            "active": "active",
        },
        numeric_id=True,
    ),
    "inventory_item": VismanetEntity(
        "inventory_item",
        "inventory",
        "/v1/inventory",
        renames={
            "vatCode.id": "vatCode",
            "itemClass.id": "itemClass",
            "postingClass.id": "postingClass",
            "defaultWarehouse.id": "defaultWarehouse",
            "defaultIssueFrom.id": "defaultIssueFrom",
            "defaultReceiptTo.id": "defaultReceiptTo",
            "attributes": "attributeLines",
        },
        filters={"inventoryNumber": "inventoryNumber", "description": "description"},
        version_field="timestamp",
    ),
    "sales_order": VismanetEntity(
        "sales_order",
        "salesorder",
        "/v1/salesorder",
        renames={
            "orderNo": "orderNumber",
            "customer.number": "customer",
            "terms.id": "terms",
            "customerVATZone.id": "customerVatzone",
            "location.id": "location",
            "salesPerson.id": "salesPerson",
            "owner.id": "owner",
            "preferredWarehouse.id": "preferredWarehouse",
            "shipVia.id": "shipVia",
            "fobPoint.id": "fobPoint",
            "shippingTerms.id": "shippingTerms",
            "shippingZone.id": "shippingZone",
            "transactionType.id": "transactionType",
            "paymentMethod.id": "paymentMethod",
            "branchNumber.number": "branchNumber",
            **address_renames("soBillingAddress"),
            **address_renames("soShippingAddress"),
        },
        lines=LinesShape(
            "lines",
            "sales_order_line",
            {
                "inventory.number": "inventoryNumber",
                "warehouse.id": "warehouse",
                "operation": "salesOrderOperation",
                "salesPerson.id": "salesPerson",
                "branchNumber.number": "branchNumber",
                "alternateID": "alternateId",
                "markForPO": "markForPo",
            },
        ),
        actions=("cancelSalesOrder", "reopenSalesOrder"),
        filters={"orderType": "orderType", "status": "status"},
        version_field=None,
    ),
    "customer_invoice": VismanetEntity(
        "customer_invoice",
        "customerinvoice",
        "/v2/customerinvoice",
        renames={
            "customer.number": "customerNumber",
            "creditTerms.id": "creditTermsId",
            "paymentMethod.id": "paymentMethodId",
            "customerVatZone.id": "customerVatZoneId",
            "location.id": "locationId",
            "salesPersonID": "salesPersonId",
            "contact.id": "contact",
            "project.id": "project",
            "branchNumber.number": "branchNumber",
            **address_renames("invoiceAddress", "billingAddress"),
        },
        lines=LinesShape(
            "invoiceLines",
            "customer_invoice_line",
            {
                "unitPrice": "unitPriceInCurrency",
                "manualAmount": "manualAmountInCurrency",
                "discountAmount": "discountAmountInCurrency",
                "vatCode.id": "vatCodeId",
                "account.number": "accountNumber",
                "projectTask.id": "taskId",
                "typeOfWork.id": "typeOfWork",
                "branchNumber.number": "branchNumber",
            },
        ),
        deletable=True,
        actions=("release",),
        filters={
            "documentType": "documentType",
            "status": "status",
            "financialPeriod": "financialPeriod",
            "externalReference": "externalReference",
            "paymentReference": "paymentReference",
            "customerRefNumber": "customerRefNumber",
        },
    ),
}


entity = EntityTable("vismanet", ENTITIES)


@cache
def read_only_fields(entity_name: str) -> frozenset[str]:
    """Dotted read paths the catalogue marks read-only (never sent), plus ``ALWAYS_READ_ONLY``."""
    catalogue = load_catalogue("vismanet").entity(entity_name)
    flagged = {f.name for f in catalogue.fields.values() if f.read_only} if catalogue is not None else set()
    return frozenset(flagged) | ALWAYS_READ_ONLY
