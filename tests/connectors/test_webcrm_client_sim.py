"""WebcrmClient against the webCRM simulator over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from mapsync.connectors.base import FatalError, RejectedError
from mapsync.connectors.webcrm import WebcrmClient
from mapsync.connectors.webcrm.simulator import WebcrmAuthConfig, WebcrmSimulator

pytestmark = pytest.mark.e2e
TOKEN = "sandbox-webcrm-api-token"


class SimClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 11, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sim() -> Iterator[WebcrmSimulator]:
    with WebcrmSimulator(rate_limit=None) as server:
        yield server


def make_client(sim: WebcrmSimulator, **kwargs) -> WebcrmClient:
    kwargs.setdefault("rate_limit", None)
    kwargs.setdefault("sleep", lambda s: None)
    return WebcrmClient(sim.url, kwargs.pop("api_token", TOKEN), **kwargs)


@pytest.fixture
def client(sim: WebcrmSimulator) -> Iterator[WebcrmClient]:
    with make_client(sim) as c:
        yield c


def test_paging_until_empty_page(sim: WebcrmSimulator) -> None:
    with make_client(sim, page_size=4) as client:
        for i in range(10):
            client.create("organisation", {"OrganisationName": f"O{i}"})
        sim.log.clear()
        names = [r["OrganisationName"] for r in client.read_changes("organisation", None, frozenset()).records]
    assert names == [f"O{i}" for i in range(10)]
    assert sim.log.count("GET", "/Organisations") == 4  # 4 + 4 + 2 + the empty page


def test_changed_since_via_queries_with_overlap() -> None:
    sim_clock = SimClock()
    client_now = [sim_clock.now.timestamp()]
    with (
        WebcrmSimulator(rate_limit=None, now=sim_clock) as sim,
        make_client(sim, clock=lambda: client_now[0], page_size=2) as c,
    ):
        old = c.create("organisation", {"OrganisationName": "Old"})
        sim_clock.now += timedelta(minutes=10)
        client_now[0] = sim_clock.now.timestamp()
        first = c.read_changes("organisation", None, frozenset({"OrganisationName"}))
        assert [r["OrganisationName"] for r in first.records] == ["Old"]
        assert first.cursor == "2024-03-01T11:08:00.0000000Z"  # 11:10 minus the 2-minute overlap
        sim_clock.now += timedelta(seconds=5)
        for name in ("New 1", "New 2", "New 3"):
            c.create("organisation", {"OrganisationName": name})
        c.update("organisation", str(old["OrganisationId"]), {"OrganisationCity": "Kalmar"})
        sim.log.clear()
        second = list(c.read_changes("organisation", first.cursor, frozenset({"OrganisationName"})).records)
        assert [r["OrganisationName"] for r in second] == ["Old", "New 1", "New 2", "New 3"]  # id order
        scripts = [e.query for e in sim.log.entries() if e.path == "/Queries"]
        assert len(scripts) == 3 and "OrganisationUpdatedAt >= '2024-03-01T11:08:00.0000000Z'" in scripts[0]
        assert sim.log.count("GET", "/Organisations/") == 0  # query rows were complete


def test_changed_since_for_every_entity(client: WebcrmClient, sim: WebcrmSimulator) -> None:
    sim.seed_demo()
    cursor = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    counts = {
        name: len(list(client.read_changes(name, cursor, frozenset()).records))
        for name in ("organisation", "person", "delivery", "quotation_line", "catalogue_item", "opportunity")
    }
    assert counts == {
        "organisation": 3,
        "person": 2,
        "delivery": 1,
        "quotation_line": 3,
        "catalogue_item": 3,
        "opportunity": 1,
    }
    item = next(client.read_changes("catalogue_item", cursor, frozenset()).records)
    assert "QuotationLineLinkedDataItemData1" in item  # DTO names, fetched from the REST endpoint
    with pytest.raises(RejectedError):
        client.read_changes("organisation", "last tuesday", frozenset())


def test_missing_fields_are_fetched(client: WebcrmClient, sim: WebcrmSimulator) -> None:
    client.create("organisation", {"OrganisationName": "A"})
    sim.log.clear()
    records = list(client.read_changes("organisation", None, frozenset({"SomethingElse"})).records)
    assert len(records) == 1 and sim.log.count("GET", "/Organisations/1") == 1


def test_create_update_full_replace_roundtrip(client: WebcrmClient) -> None:
    org = client.create(
        "organisation", {"OrganisationName": "Alfa", "OrganisationCity": "Umeå", "OrganisationExtraCustom8": "K-1"}
    )
    org_id = client.record_id("organisation", org)
    person = client.create(
        "person",
        {
            "PersonOrganisationId": int(org_id),
            "PersonFirstName": "Eva",
            "PersonLastName": "Ek",
            "PersonEmail": "eva@alfa.se",
        },
    )
    assert person["PersonName"] == "Eva Ek"
    updated = client.update("organisation", org_id, {"OrganisationCity": "Luleå"})
    assert updated["OrganisationCity"] == "Luleå"
    assert updated["OrganisationName"] == "Alfa" and updated["OrganisationExtraCustom8"] == "K-1"  # survived PUT
    blanked = client.update("organisation", org_id, {"OrganisationExtraCustom8": None})
    assert blanked["OrganisationExtraCustom8"] is None
    with pytest.raises(RejectedError):
        client.create("person", {"PersonOrganisationId": 4242})
    assert client.get("organisation", "4242") is None


def test_find_exact_via_queries_and_scan(client: WebcrmClient) -> None:
    client.create("organisation", {"OrganisationName": "Acme", "OrganisationVatNumber": "SE1"})
    client.create("organisation", {"OrganisationName": "ACME", "OrganisationVatNumber": "se1"})
    client.create("organisation", {"OrganisationName": "Acme Two"})
    assert [r["OrganisationName"] for r in client.find("organisation", "OrganisationName", "Acme")] == ["Acme"]
    assert [r["OrganisationName"] for r in client.find("organisation", "OrganisationVatNumber", "se1")] == ["ACME"]
    assert client.find("organisation", "OrganisationId", 3)[0]["OrganisationName"] == "Acme Two"
    item = client.create("catalogue_item", {"QuotationLineLinkedDataItemData1": "ART-9"})
    found = client.find("catalogue_item", "QuotationLineLinkedDataItemData1", "ART-9")
    assert [i["QuotationLineLinkedDataItemId"] for i in found] == [item["QuotationLineLinkedDataItemId"]]
    assert client.find("organisation", "NoSuchColumn", "x") == []  # query refused -> scan


def test_organisation_post_without_id() -> None:
    with WebcrmSimulator(rate_limit=None, organisation_post_returns_id=False) as sim, make_client(sim) as client:
        client.create("organisation", {"OrganisationName": "First"})
        second = client.create("organisation", {"OrganisationName": "Second", "OrganisationCity": "Ystad"})
        assert second["OrganisationId"] == 2 and second["OrganisationCity"] == "Ystad"


def test_lines_delete_and_convert(client: WebcrmClient, sim: WebcrmSimulator) -> None:
    sim.seed_demo()
    lines = client.quotation_lines("delivery", "1")
    assert [line["QuotationLineData1"] for line in lines] == ["SKRUV-100", "HAMMARE"]
    client.delete("quotation_line", str(lines[0]["QuotationLineId"]))
    assert len(client.quotation_lines("delivery", "1")) == 1
    delivery_id = client.convert_to_delivery("2")
    delivery = client.get("delivery", delivery_id)
    assert delivery is not None and delivery["DeliveryDescription"] == "Montage Helsingfors"


def test_token_expiry_and_server_side_revocation() -> None:
    now = [1_000_000.0]
    config = WebcrmAuthConfig(access_token_lifetime=100)
    with (
        WebcrmSimulator(rate_limit=None, auth=config, clock=lambda: now[0]) as sim,
        make_client(sim, clock=lambda: now[0]) as client,
    ):
        client.find("organisation", "OrganisationId", 1)
        now[0] += 95
        client.find("organisation", "OrganisationId", 1)
        assert client.session.refreshes == 1 and sim.log.count(status=401) == 0
        sim.auth.expire_access_tokens()
        client.find("organisation", "OrganisationId", 1)
        assert sim.log.count(status=401) == 1 and client.session.refreshes == 2


def test_bad_api_token_is_fatal(sim: WebcrmSimulator) -> None:
    with make_client(sim, api_token="wrong-token") as client, pytest.raises(FatalError) as info:
        client.get("organisation", "1")
    assert "wrong-token" not in str(info.value)


def test_survives_429_burst_5xx_and_dropped_connection(sim: WebcrmSimulator) -> None:
    sleeps: list[float] = []
    with make_client(sim, sleep=sleeps.append, random=lambda: 0.5) as client:
        client.create("organisation", {"OrganisationName": "A"})
        sim.faults.add("429", 2, retry_after=3)
        assert client.get("organisation", "1") is not None
        sim.faults.add("5xx", 2, status=502)
        assert client.get("organisation", "1") is not None
        sim.faults.add("drop", 1)
        assert client.get("organisation", "1") is not None
    statuses = [e.status for e in sim.log.entries() if e.path == "/Organisations/1"]
    assert statuses == [200, 429, 429, 200, 502, 502, 200, 0, 200]
    assert sleeps[:2] == [3.0, 3.0]  # Retry-After honoured


def test_rate_limiter_keeps_burst_free_of_429() -> None:
    with WebcrmSimulator(rate_limit=(15, 0.3)) as sim:
        with WebcrmClient(sim.url, TOKEN, rate_limit=(15, 0.3)) as client:
            client.create("organisation", {"OrganisationName": "A"})
            for _ in range(55):
                client.get("organisation", "1")
        assert sim.log.count() >= 58
        assert sim.log.count(status=429) == 0


def test_from_env_with_simulator_settings(sim: WebcrmSimulator) -> None:
    with WebcrmClient.from_env(sim.env(), rate_limit=None) as client:
        assert client.create("organisation", {"OrganisationName": "A"})["OrganisationId"] == 1
    with pytest.raises(FatalError):
        WebcrmClient.from_env({"WEBCRM_BASE_URL": sim.url})
