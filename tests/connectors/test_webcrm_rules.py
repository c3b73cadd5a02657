"""webCRM's unwritten write rules (mapsync.connectors.webcrm.simulator.rules): each in the simulator,
switchable, and survived by WebcrmClient, over real sockets."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from mapsync.connectors.base import RejectedError
from mapsync.connectors.http import RetryPolicy
from mapsync.connectors.webcrm import WebcrmClient
from mapsync.connectors.webcrm.simulator import WebcrmRules, WebcrmSimulator

pytestmark = pytest.mark.e2e
TOKEN = "sandbox-webcrm-api-token"


def make_client(sim: WebcrmSimulator, retry: RetryPolicy | None = None) -> WebcrmClient:
    retry = retry or RetryPolicy(max_attempts=5, base_delay=0.05, max_delay=0.2)
    return WebcrmClient(sim.url, TOKEN, rate_limit=None, retry=retry)


@pytest.fixture
def sim() -> Iterator[WebcrmSimulator]:
    with WebcrmSimulator(rate_limit=None) as server:
        yield server


@pytest.fixture
def raw(sim: WebcrmSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url) as c:
        token = c.post("/Auth/ApiLogin", data={"authCode": TOKEN}).json()["AccessToken"]
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def test_person_needs_a_last_name(sim: WebcrmSimulator, raw: httpx.Client) -> None:
    org = raw.post("/Organisations", json={"OrganisationName": "Org"}).json()
    r = raw.post("/Persons", json={"PersonOrganisationId": org, "PersonFirstName": "Ann", "PersonLastName": " "})
    assert r.status_code == 400 and "PersonLastName" in r.json()["Message"]
    with make_client(sim) as client, pytest.raises(RejectedError, match="PersonLastName"):
        client.create("person", {"PersonOrganisationId": org, "PersonFirstName": "Ann"})
    with make_client(sim) as client:
        assert client.create("person", {"PersonOrganisationId": org, "PersonLastName": "Berg"})["PersonName"] == "Berg"
    with WebcrmSimulator(rate_limit=None, rules=WebcrmRules(require_last_name=False)) as lax, make_client(lax) as c:
        org = c.create("organisation", {"OrganisationName": "Org"})["OrganisationId"]
        assert c.create("person", {"PersonOrganisationId": org})["PersonLastName"] is None


def test_catalogue_values_cannot_be_empty(sim: WebcrmSimulator, raw: httpx.Client) -> None:
    item = {"QuotationLineLinkedDataItemData1": "A", "QuotationLineLinkedDataItemData5": ""}
    r = raw.post("/QuotationLines/LinkedData", json=item)
    assert r.status_code == 400 and "QuotationLineLinkedDataItemData5" in r.json()["Message"]
    with make_client(sim) as client:
        item = client.create(
            "catalogue_item", {"QuotationLineLinkedDataItemData1": "A", "QuotationLineLinkedDataItemData5": ""}
        )
        assert item["QuotationLineLinkedDataItemData5"] is None
        item_id = str(item["QuotationLineLinkedDataItemId"])
        updated = client.update("catalogue_item", item_id, {"QuotationLineLinkedDataItemData2": "  "})
        assert updated["QuotationLineLinkedDataItemData2"] is None
        assert updated["QuotationLineLinkedDataItemData1"] == "A"


def test_person_cannot_change_organisation_by_put(sim: WebcrmSimulator, raw: httpx.Client) -> None:
    first = raw.post("/Organisations", json={"OrganisationName": "First"}).json()
    second = raw.post("/Organisations", json={"OrganisationName": "Second"}).json()
    person_id = raw.post("/Persons", json={"PersonOrganisationId": first, "PersonLastName": "Berg"}).json()
    person = raw.get(f"/Persons/{person_id}").json()
    r = raw.put(f"/Persons/{person_id}", json={**person, "PersonOrganisationId": second})
    assert r.status_code == 400 and "PersonOrganisationId cannot be changed" in r.json()["Message"]
    assert raw.put(f"/Persons/{person_id}", json={**person, "PersonTitle": "CEO"}).status_code == 200
    with make_client(sim) as client:
        sim.log.clear()
        with pytest.raises(RejectedError, match="cannot be moved from organisation"):
            client.update("person", str(person_id), {"PersonOrganisationId": second, "PersonTitle": "CFO"})
        assert sim.log.count("PUT", f"/Persons/{person_id}") == 0  # refused before anything was written
        assert client.get("person", str(person_id))["PersonTitle"] == "CEO"
        same = client.update("person", str(person_id), {"PersonOrganisationId": str(first), "PersonTitle": "CFO"})
        assert same["PersonTitle"] == "CFO"


def test_duplicate_delivery_numbers_lock_both(sim: WebcrmSimulator) -> None:
    with make_client(sim) as client:
        org = client.create("organisation", {"OrganisationName": "Org"})["OrganisationId"]
        one = client.create("delivery", {"DeliveryOrganisationId": org, "DeliveryNumber": "D-7"})["DeliveryId"]
        alone = client.create("delivery", {"DeliveryOrganisationId": org, "DeliveryNumber": "D-8"})["DeliveryId"]
        assert client.update("delivery", str(one), {"DeliveryDescription": "ok"})["DeliveryDescription"] == "ok"
        two = client.create("delivery", {"DeliveryOrganisationId": org, "DeliveryNumber": "d-7 "})["DeliveryId"]
        assert two != one  # creating the twin is allowed; from then on both are locked
        for locked, other in ((one, two), (two, one)):
            with pytest.raises(RejectedError, match=f"also used by delivery {other}"):
                client.update("delivery", str(locked), {"DeliveryDescription": "changed"})
        assert client.update("delivery", str(alone), {"DeliveryDescription": "free"})["DeliveryDescription"] == "free"
    lax_rules = WebcrmRules(duplicate_delivery_numbers_lock=False)
    with WebcrmSimulator(rate_limit=None, rules=lax_rules) as lax, make_client(lax) as c:
        org = c.create("organisation", {"OrganisationName": "Org"})["OrganisationId"]
        a = c.create("delivery", {"DeliveryOrganisationId": org, "DeliveryNumber": "D-7"})["DeliveryId"]
        c.create("delivery", {"DeliveryOrganisationId": org, "DeliveryNumber": "D-7"})
        assert c.update("delivery", str(a), {"DeliveryDescription": "x"})["DeliveryDescription"] == "x"


def _concurrently(count: int, work) -> list:
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            results[i] = work(i)
        except Exception as exc:  # collected for the assertion
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_creates_fail_transiently_and_the_client_retries() -> None:
    rules = WebcrmRules(create_hold=0.3)
    with WebcrmSimulator(rate_limit=None, rules=rules) as sim:
        with httpx.Client(base_url=sim.url) as c:
            token = c.post("/Auth/ApiLogin", data={"authCode": TOKEN}).json()["AccessToken"]
            headers = {"Authorization": f"Bearer {token}"}
            answers = _concurrently(
                3, lambda i: c.post("/Organisations", json={"OrganisationName": f"Raw{i}"}, headers=headers)
            )
            codes = sorted(a.status_code for a in answers)
            assert codes == [200, 500, 500]
            failed = next(a for a in answers if a.status_code == 500)
            assert "Rerun the transaction" in failed.json()["Message"]
            names = [o["OrganisationName"] for o in c.get("/Organisations", headers=headers).json()]
            assert len(names) == 1  # the losers created nothing

        sim.backend.gate.rules = WebcrmRules(create_hold=0.2)
        clients = [make_client(sim, RetryPolicy(max_attempts=12, base_delay=0.5, max_delay=1.0)) for _ in range(3)]
        for client in clients:
            client.session.headers()  # logged in before the race
        sim.log.clear()
        made = _concurrently(3, lambda i: clients[i].create("organisation", {"OrganisationName": f"Client{i}"}))
        assert sim.log.count("POST", "/Organisations") > 3  # some lost a deadlock and were sent again
        for client in clients:
            client.close()
        assert all(isinstance(m, dict) for m in made), made
        with make_client(sim) as client:
            names = [r["OrganisationName"] for r in client.read_changes("organisation", None, frozenset()).records]
        assert sorted(n for n in names if n.startswith("Client")) == ["Client0", "Client1", "Client2"]
