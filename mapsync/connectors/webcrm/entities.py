"""What the webCRM client knows about each entity: REST path, ``/Queries`` table (the id field: ``catalogue.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass

from mapsync.connectors.entityspec import EntitySpec, EntityTable


@dataclass(frozen=True)
class WebcrmEntity(EntitySpec):
    connector = "webcrm"

    name: str
    path: str
    table: str  # /Queries table
    updated_field: str  # its last-update column
    paged: bool = True  # the list endpoint takes Page/Size
    deletable: bool = False
    query_prefix: str | None = None  # column prefix in /Queries when it differs from the DTO's
    dto_prefix: str | None = None

    def from_query_row(self, row: dict) -> dict:
        """A /Queries row with the DTO's field names (LinkedData columns are generic)."""
        if not self.query_prefix or not self.dto_prefix:
            return row
        qp, dp = self.query_prefix, self.dto_prefix
        return {(dp + k[len(qp) :] if k.startswith(qp) else k): v for k, v in row.items()}

    def query_column(self, field: str) -> str:
        """The /Queries column of a DTO field."""
        if self.query_prefix and self.dto_prefix and field.startswith(self.dto_prefix):
            return self.query_prefix + field[len(self.dto_prefix) :]
        return field


ENTITIES: dict[str, WebcrmEntity] = {
    "organisation": WebcrmEntity(
        "organisation", "/Organisations", "Organisation", "OrganisationUpdatedAt"
    ),
    "person": WebcrmEntity("person", "/Persons", "Person", "PersonUpdatedAt"),
    "delivery": WebcrmEntity("delivery", "/Deliveries", "Delivery", "DeliveryUpdatedAt"),
    "quotation_line": WebcrmEntity(
        "quotation_line",
        "/QuotationLines",
        "QuotationLine",
        "QuotationLineUpdatedAt",
        deletable=True,
    ),
    "catalogue_item": WebcrmEntity(
        "catalogue_item",
        "/QuotationLines/LinkedData",
        "LinkedData",
        "LinkedDataItemUpdatedAt",
        paged=False,
        deletable=True,
        query_prefix="LinkedDataItem",
        dto_prefix="QuotationLineLinkedDataItem",
    ),
    "opportunity": WebcrmEntity(
        "opportunity", "/Opportunities", "Opportunity", "OpportunityUpdatedAt"
    ),
}


entity = EntityTable("webcrm", ENTITIES)
