"""Demo records for the webCRM simulator (``mapsync demo`` / ``mapsync sandbox --seed``)."""

from __future__ import annotations

from mapsync.connectors.webcrm.simulator.backend import WebcrmBackend

DEMO_ORGANISATIONS = [
    {
        "OrganisationName": "Nordisk Trä AB",
        "OrganisationAddress": "Sågvägen 4",
        "OrganisationPostCode": "731 30",
        "OrganisationCity": "Köping",
        "OrganisationCountry": "Sverige",
        "OrganisationTelephone": "0221-123 45",
        "OrganisationVatNumber": "SE556677889901",
        "OrganisationExtraCustom2": "556677-8899",
        "OrganisationType": "Customer",
        "OrganisationStatus": "Aktiv",
    },
    {
        "OrganisationName": "Bergsgården Bygg AB",
        "OrganisationAddress": "Industrivägen 12",
        "OrganisationPostCode": "931 36",
        "OrganisationCity": "Skellefteå",
        "OrganisationCountry": "Sverige",
        "OrganisationTelephone": "0910-77 88 00",
        "OrganisationExtraCustom1": "1001",
        "OrganisationExtraCustom2": "556012-3456",
        "OrganisationType": "Customer",
        "OrganisationStatus": "Aktiv",
    },
    {
        "OrganisationName": "Helsinki Hardware Oy",
        "OrganisationAddress": "Mannerheimintie 5",
        "OrganisationPostCode": "00100",
        "OrganisationCity": "Helsinki",
        "OrganisationCountry": "Finland",
        "OrganisationType": "Prospect",
        "OrganisationStatus": "Aktiv",
    },
]
DEMO_ITEMS = [
    {
        "QuotationLineLinkedDataItemData1": "SKRUV-100",
        "QuotationLineLinkedDataItemData2": "Träskruv 4x40, 100 st",
        "QuotationLineLinkedDataItemData5": "st",
        "QuotationLineLinkedDataItemPrice": 79,
        "QuotationLineLinkedDataItemCostPrice": 39,
        "QuotationLineLinkedDataItemVatCode": "25",
    },
    {
        "QuotationLineLinkedDataItemData1": "HAMMARE",
        "QuotationLineLinkedDataItemData2": "Snickarhammare 600 g",
        "QuotationLineLinkedDataItemData5": "st",
        "QuotationLineLinkedDataItemPrice": 299,
        "QuotationLineLinkedDataItemCostPrice": 149,
        "QuotationLineLinkedDataItemVatCode": "25",
    },
    {
        "QuotationLineLinkedDataItemData1": "MONTAGE",
        "QuotationLineLinkedDataItemData2": "Montage per timme",
        "QuotationLineLinkedDataItemData5": "h",
        "QuotationLineLinkedDataItemPrice": 650,
        "QuotationLineLinkedDataItemVatCode": "25",
    },
]


def seed_demo(backend: WebcrmBackend) -> None:
    """Organisations with contact persons, catalogue items, a won delivery with lines, an opportunity."""
    orgs = [backend.create("organisation", dict(o)) for o in DEMO_ORGANISATIONS]
    backend.create(
        "person",
        {
            "PersonOrganisationId": orgs[0],
            "PersonFirstName": "Per",
            "PersonLastName": "Persson",
            "PersonEmail": "per.persson@nordisktra.se",
            "PersonTitle": "Inköpschef",
        },
    )
    backend.create(
        "person",
        {
            "PersonOrganisationId": orgs[1],
            "PersonFirstName": "Lena",
            "PersonLastName": "Berg",
            "PersonEmail": "lena@bergsgarden.se",
        },
    )
    items = [backend.create("catalogue_item", dict(i)) for i in DEMO_ITEMS]
    delivery = backend.create(
        "delivery",
        {
            "DeliveryOrganisationId": orgs[1],
            "DeliveryDescription": "Virke och verktyg, etapp 1",
            "DeliveryNumber": "D-1001",
            "DeliveryStatus": "Completed",
            "DeliveryCurrencyName": "SEK",
            "DeliveryOrderDate": "2024-03-01T00:00:00",
            "DeliveryErpStatus": "ReadyForSynchronization",
            "DeliveryOrderValue": 1388,
        },
    )
    backend.create(
        "quotation_line",
        {
            "QuotationLineOpportunityId": delivery,
            "QuotationLineLinkedDataId": items[0],
            "QuotationLineData1": "SKRUV-100",
            "QuotationLineData5": "st",
            "QuotationLinePrice": 79,
            "QuotationLineQuantity": 10,
            "QuotationLineMemo": "Träskruv 4x40, 100 st",
            "QuotationLineVatPercentage": 25,
            "QuotationLineSortOrder": 1,
        },
    )
    backend.create(
        "quotation_line",
        {
            "QuotationLineOpportunityId": delivery,
            "QuotationLineLinkedDataId": items[1],
            "QuotationLineData1": "HAMMARE",
            "QuotationLineData5": "st",
            "QuotationLinePrice": 299,
            "QuotationLineQuantity": 2,
            "QuotationLineMemo": "Snickarhammare 600 g",
            "QuotationLineVatPercentage": 25,
            "QuotationLineSortOrder": 2,
        },
    )
    opportunity = backend.create(
        "opportunity",
        {
            "OpportunityOrganisationId": orgs[2],
            "OpportunityDescription": "Montage Helsingfors",
            "OpportunityLevel": 2,
            "OpportunityPercent": 50,
            "OpportunityCurrencyName": "EUR",
            "OpportunityOrderValue": 6500,
        },
    )
    backend.create(
        "quotation_line",
        {
            "QuotationLineOpportunityId": opportunity,
            "QuotationLineLinkedDataId": items[2],
            "QuotationLineQuantity": 10,
            "QuotationLineMemo": "Montage per timme",
        },
    )
