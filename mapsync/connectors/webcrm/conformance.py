"""webCRM's cases of the connector conformance suite (``mapsync.connectors.conformance``)."""

from mapsync.connectors.conformance import ConformanceCase

CASES = (
    ConformanceCase("webcrm", "organisation", {"OrganisationName": "Conformance AB", "OrganisationCity": "Lund"},
                    {"OrganisationCity": "Malmö"}, kept="OrganisationName", find_by="OrganisationName",
                    fields=frozenset({"OrganisationName", "OrganisationCity"})),
)
