"""WebcrmClient.update against the webCRM simulator: the PUT built on a record served moments ago (no GET),
a stale one proven current or replaced by one /Queries check (a user's edit since survives), and the GET
after the PUT only when webCRM may store a value otherwise than sent (``mapsync.connectors.webcrm.putbase``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mapsync.connectors.webcrm import WebcrmClient
from mapsync.connectors.webcrm.simulator import WebcrmSimulator

pytestmark = pytest.mark.e2e
TOKEN = "sandbox-webcrm-api-token"


@pytest.fixture
def sim() -> Iterator[WebcrmSimulator]:
    with WebcrmSimulator(rate_limit=None) as server:
        for i in range(1, 6):
            server.backend.create("organisation", {"OrganisationName": f"O{i}", "OrganisationCity": f"City {i}"})
        yield server


def client_for(sim: WebcrmSimulator, fresh_for: float) -> WebcrmClient:
    return WebcrmClient(sim.url, TOKEN, rate_limit=None, sleep=lambda s: None, fresh_for=fresh_for)


def served(client: WebcrmClient) -> list[dict]:
    return list(client.read_changes("organisation", None, frozenset()).records)


def requests(sim: WebcrmSimulator) -> list[str]:
    return [f"{e.method} {e.path}" for e in sim.log.entries() if not e.path.startswith("/Auth")]


def test_a_served_record_is_put_on_without_a_get(sim: WebcrmSimulator) -> None:
    with client_for(sim, fresh_for=3600) as client:
        served(client)
        client.update("organisation", "1", {"OrganisationExtraCustom1": "K-1"})  # learns the DTO's fields
        sim.log.clear()
        result = client.update("organisation", "2", {"OrganisationExtraCustom1": "K-2"})
        assert requests(sim) == ["PUT /Organisations/2"]  # was GET, PUT, GET
        stored = client.get("organisation", "2")
    assert stored is not None and stored["OrganisationExtraCustom1"] == "K-2" and stored["OrganisationName"] == "O2"
    ignored = {"OrganisationUpdatedAt", "OrganisationUpdatedBy"}  # the server's own stamp of the write
    assert {k: v for k, v in result.items() if k not in ignored} == {
        k: v for k, v in stored.items() if k not in ignored}


def test_a_stale_served_record_is_checked_once_and_a_user_edit_survives(sim: WebcrmSimulator) -> None:
    with client_for(sim, fresh_for=0.0) as client:
        served(client)
        client.update("organisation", "1", {"OrganisationExtraCustom1": "K-1"})
        user = sim.backend.get("organisation", 3)
        sim.backend.replace("organisation", 3, {**user, "OrganisationCity": "Edited by a user"})
        sim.log.clear()
        client.update("organisation", "3", {"OrganisationExtraCustom1": "K-3"})
        assert [r.split("?")[0] for r in requests(sim)] == ["GET /Queries", "PUT /Organisations/3"]
    stored = sim.backend.get("organisation", 3)
    assert stored["OrganisationCity"] == "Edited by a user" and stored["OrganisationExtraCustom1"] == "K-3"


def test_one_check_covers_the_served_records_from_its_id_on(sim: WebcrmSimulator) -> None:
    with client_for(sim, fresh_for=0.0) as client:
        rows = served(client)
        client.update("organisation", "1", {"OrganisationExtraCustom1": "K-1"})
        sim.log.clear()
        client.update("organisation", "2", {"OrganisationExtraCustom1": "K-2"})
        entries = [e for e in sim.log.entries() if e.path == "/Queries"]
        sim.log.clear()
        client.update("organisation", "4", {"OrganisationExtraCustom1": "K-4"})
        again = [e for e in sim.log.entries() if e.path == "/Queries"]
    assert len(entries) == 1 and len(again) == 1  # one check per stale write, never a GET
    script = httpx.QueryParams(entries[0].query)["script"]
    # By webCRM's own time: the newest stamp of the page served, not the client's clock minus an overlap.
    newest = max(rows, key=lambda r: r["OrganisationUpdatedAt"])["OrganisationUpdatedAt"]
    assert f"OrganisationId >= '2' AND OrganisationId <= '5' AND OrganisationUpdatedAt >= '{newest}'" in script


def test_a_value_webcrm_converts_is_read_back(sim: WebcrmSimulator) -> None:
    with client_for(sim, fresh_for=3600) as client:
        served(client)
        client.update("organisation", "1", {"OrganisationExtraCustom1": "K-1"})
        sim.log.clear()
        result = client.update("organisation", "2", {"OrganisationExtraCustom1": 12345})  # a number, a string field
        assert requests(sim) == ["PUT /Organisations/2", "GET /Organisations/2"]
    assert result["OrganisationExtraCustom1"] == "12345"


def test_a_served_record_lacking_a_field_is_not_put_on(sim: WebcrmSimulator) -> None:
    with client_for(sim, fresh_for=3600) as client:
        rows = served(client)
        client.update("organisation", "1", {"OrganisationExtraCustom1": "K-1"})
        partial = {k: v for k, v in rows[1].items() if k != "OrganisationCity"}
        client._remember("organisation", partial, client._clock(), None)  # as a list leaving a field out would serve it
        sim.log.clear()
        client.update("organisation", "2", {"OrganisationExtraCustom1": "K-2"})
        assert requests(sim) == ["GET /Organisations/2", "PUT /Organisations/2"]
    assert sim.backend.get("organisation", 2)["OrganisationCity"] == "City 2"  # not reset by the PUT
