"""Loading a snapshot into the simulators (``load_records``): records read back through the real clients are
the records that were read from the source, ids included, and new records get ids past the loaded ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mapsync.connectors.base import Connector
from mapsync.connectors.catalogue import load_catalogue
from mapsync.connectors.registry import make_client
from mapsync.engine.sandbox import Sandbox, start_sandbox

SETTINGS = {
    "webcrm": {"base_url": "WEBCRM_BASE_URL", "api_token": "WEBCRM_API_TOKEN"},
    "fortnox": {"base_url": "FORTNOX_BASE_URL", "access_token": "FORTNOX_ACCESS_TOKEN"},
    "vismanet": {"base_url": "VISMANET_BASE_URL", "token_url": "VISMANET_TOKEN_URL",
                 "client_id": "VISMANET_CLIENT_ID", "client_secret": "VISMANET_CLIENT_SECRET",
                 "tenant_id": "VISMANET_TENANT_ID"},
}
# Served by the simulator itself, not part of the data: links to the server, row versions.
VOLATILE = {"@url", "@urlTaxReductionList", "timeStamp", "timestamp"}


def client(sandbox: Sandbox, product: str) -> Connector:
    settings = {name: sandbox.env[var] for name, var in SETTINGS[product].items()}
    return make_client(product, settings, rate_limit=None)


def read_all(sandbox: Sandbox, product: str) -> dict[str, list[dict[str, Any]]]:
    """Every record of every top-level entity, full, as the client reads it."""
    connector = client(sandbox, product)
    try:
        out = {}
        for name, entity in load_catalogue(product).entities.items():
            if entity.line_of is None:
                out[name] = list(connector.read_changes(name, None, entity.readable_fields).records)
        return out
    finally:
        connector.close()


def stable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in records]


@pytest.fixture
def pair() -> Iterator[tuple[Sandbox, Sandbox]]:
    source = start_sandbox(None, seed=True, realistic_limits=False)
    target = start_sandbox(None, realistic_limits=False)
    try:
        yield source, target
    finally:
        source.stop()
        target.stop()


@pytest.mark.parametrize("product", ["webcrm", "fortnox", "vismanet"])
def test_loaded_records_read_back_as_they_were_read(pair: tuple[Sandbox, Sandbox], product: str) -> None:
    source, target = pair
    original = read_all(source, product)
    assert all(original.values()), "the demo data has records of every entity"
    for entity, records in original.items():
        assert target.simulators[product].load_records(entity, records) == len(records)
    loaded = read_all(target, product)
    for entity, records in original.items():
        assert stable(loaded[entity]) == stable(records), entity


def test_webcrm_ids_continue_after_the_loaded_ones(pair: tuple[Sandbox, Sandbox]) -> None:
    _, target = pair
    sim = target.simulators["webcrm"]
    sim.load_records("organisation", [{"OrganisationId": 700, "OrganisationName": "A"}])
    sim.load_records("delivery", [{"DeliveryId": 90, "DeliveryOrganisationId": 700}])
    assert sim.backend.create("organisation", {"OrganisationName": "B"}) == 701
    assert sim.backend.create("opportunity", {"OpportunityOrganisationId": 700}) == 91  # one series with deliveries
    assert sim.store.get("organisation", 700)["OrganisationName"] == "A"
    assert sim.store.get("organisation", 700)["OrganisationType"] is None  # a DTO default filled in


def test_fortnox_numbers_continue_after_the_loaded_ones(pair: tuple[Sandbox, Sandbox]) -> None:
    _, target = pair
    sim = target.simulators["fortnox"]
    sim.load_records("customer", [{"CustomerNumber": "512", "Name": "A"}, {"CustomerNumber": "K-9", "Name": "B"}])
    sim.load_records("article", [{"ArticleNumber": "X", "Description": "x"}])
    sim.load_records("order", [{"DocumentNumber": "77", "CustomerNumber": "512",
                                "OrderRows": [{"RowId": 300, "ArticleNumber": "X", "OrderedQuantity": "1"}]}])
    assert sim.backend.create("customer", {"Name": "C"})["CustomerNumber"] == "513"
    order = sim.backend.create("order", {"CustomerNumber": "K-9", "OrderRows": [{"ArticleNumber": "X"}]})
    assert order["DocumentNumber"] == "78" and order["OrderRows"][0]["RowId"] > 300
    assert sim.backend.get("order", "77")["OrderRows"][0]["RowId"] == 300


def test_vismanet_numbers_continue_after_the_loaded_ones(pair: tuple[Sandbox, Sandbox]) -> None:
    source, target = pair
    records = read_all(source, "vismanet")
    sim = target.simulators["vismanet"]
    for entity, rows in records.items():
        sim.load_records(entity, rows)
    highest_customer = max(int(r["number"]) for r in records["customer"])
    customer = sim.backend.create("customer", {"name": {"value": "New AS"}})
    assert int(customer["number"]) == highest_customer + 1
    assert customer["internalId"] > max(r["internalId"] for r in records["customer"])
    addresses = [r["mainAddress"]["addressId"] for r in records["customer"]]
    assert customer["mainAddress"]["addressId"] > max(addresses)
    contact = sim.backend.create("contact", {"lastName": {"value": "Ny"}})
    assert contact["contactId"] == max(r["contactId"] for r in records["contact"]) + 1
    order = records["sales_order"][0]
    updated = sim.backend.update("salesorder", order["orderNo"], {
        "lines": [{"operation": "Insert", "inventoryNumber": {"value": "CONSULT"}}]})
    assert updated["lines"][-1]["lineNbr"] == max(line["lineNbr"] for line in order["lines"]) + 1
    new_order = sim.backend.create("salesorder", {"customer": {"value": customer["number"]}})
    assert int(new_order["orderNo"]) == max(int(r["orderNo"]) for r in records["sales_order"]) + 1


@pytest.mark.parametrize("product", ["webcrm", "fortnox", "vismanet"])
def test_unknown_entities_and_records_without_ids_are_refused(pair: tuple[Sandbox, Sandbox], product: str) -> None:
    sim = pair[1].simulators[product]
    with pytest.raises(ValueError, match="no entity"):
        sim.load_records("nothing", [{}])
    entity = {"webcrm": "organisation", "fortnox": "customer", "vismanet": "customer"}[product]
    with pytest.raises(ValueError, match="without"):
        sim.load_records(entity, [{"Name": "no id"}])
