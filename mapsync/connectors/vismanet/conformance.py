"""Visma.net's cases of the connector conformance suite (``mapsync.connectors.conformance``)."""

from mapsync.connectors.conformance import ConformanceCase

CASES = (
    ConformanceCase("vismanet", "customer", {"name": "Conformance AB", "mainAddress": {"city": "Lund"}},
                    {"mainAddress.city": "Malmö"}, kept="name", find_by="name",
                    fields=frozenset({"name", "mainAddress.city"})),
)
