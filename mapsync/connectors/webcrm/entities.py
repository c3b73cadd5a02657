"""What the webCRM client knows about each entity: REST path, id field, ``/Queries`` table."""

from __future__ import annotations

from dataclasses import dataclass

from mapsync.connectors.base import RejectedError


@dataclass(frozen=True)
class WebcrmEntity:
    name: str
    path: str
    id_field: str
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
        "organisation", "/Organisations", "OrganisationId", "Organisation", "OrganisationUpdatedAt"
    ),
    "person": WebcrmEntity("person", "/Persons", "PersonId", "Person", "PersonUpdatedAt"),
    "delivery": WebcrmEntity("delivery", "/Deliveries", "DeliveryId", "Delivery", "DeliveryUpdatedAt"),
    "quotation_line": WebcrmEntity(
        "quotation_line",
        "/QuotationLines",
        "QuotationLineId",
        "QuotationLine",
        "QuotationLineUpdatedAt",
        deletable=True,
    ),
    "catalogue_item": WebcrmEntity(
        "catalogue_item",
        "/QuotationLines/LinkedData",
        "QuotationLineLinkedDataItemId",
        "LinkedData",
        "LinkedDataItemUpdatedAt",
        paged=False,
        deletable=True,
        query_prefix="LinkedDataItem",
        dto_prefix="QuotationLineLinkedDataItem",
    ),
    "opportunity": WebcrmEntity(
        "opportunity", "/Opportunities", "OpportunityId", "Opportunity", "OpportunityUpdatedAt"
    ),
}


def entity(name: str) -> WebcrmEntity:
    try:
        return ENTITIES[name]
    except KeyError:
        raise RejectedError(f"webcrm has no entity {name!r} (known: {', '.join(ENTITIES)})") from None
