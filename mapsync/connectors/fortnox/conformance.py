"""Fortnox's cases of the connector conformance suite (``mapsync.connectors.conformance``)."""

from mapsync.connectors.conformance import ConformanceCase

CASES = (
    ConformanceCase("fortnox", "customer", {"Name": "Conformance AB", "City": "Lund"}, {"City": "Malmö"},
                    kept="Name", find_by="Name", fields=frozenset({"Name", "City", "Phone1"})),
    ConformanceCase("fortnox", "article", {"Description": "Conformance widget", "Unit": "st"},
                    {"Description": "Conformance gadget"}, kept="Unit", find_by="Description", unknown_id="NOPE-1",
                    fields=frozenset({"Description", "Unit"})),
)
