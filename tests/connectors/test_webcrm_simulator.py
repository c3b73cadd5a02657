"""webCRM simulator: DTO fidelity to the Swagger spec, auth variants, paging, PUT, Queries, 429."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from mapsync.connectors.webcrm.simulator import WebcrmAuthConfig, WebcrmSimulator, parse_query, start_simulator
from mapsync.connectors.webcrm.simulator.queries import QueryError

TOKEN = "sandbox-webcrm-api-token"
SPEC = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "webcrm" / "swagger_definitions.json").read_text("utf-8")
)["definitions"]
DTO = {
    "organisation": ("/Organisations", "OrganisationDto"),
    "person": ("/Persons", "PersonDto"),
    "delivery": ("/Deliveries", "DeliveryDto"),
    "quotation_line": ("/QuotationLines", "QuotationLineDto"),
    "catalogue_item": ("/QuotationLines/LinkedData", "QuotationLineLinkedDataItemDto"),
    "opportunity": ("/Opportunities", "OpportunityDto"),
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 11, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock: Clock) -> Iterator[WebcrmSimulator]:
    with WebcrmSimulator(rate_limit=None, now=clock) as server:
        yield server


def login(client: httpx.Client) -> dict[str, str]:
    body = client.post("/Auth/ApiLogin", data={"authCode": TOKEN}).json()
    return {"Authorization": f"Bearer {body['AccessToken']}"}


@pytest.fixture
def client(sim: WebcrmSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url) as c:
        c.headers.update(login(c))
        yield c


def seed_records(client: httpx.Client) -> dict[str, int]:
    ids = {"organisation": client.post("/Organisations", json={"OrganisationName": "Org"}).json()}
    person = {"PersonOrganisationId": ids["organisation"], "PersonLastName": "L"}
    ids["person"] = client.post("/Persons", json=person).json()
    ids["delivery"] = client.post("/Deliveries", json={"DeliveryOrganisationId": ids["organisation"]}).json()
    ids["opportunity"] = client.post("/Opportunities", json={"OpportunityOrganisationId": ids["organisation"]}).json()
    ids["catalogue_item"] = client.post(
        "/QuotationLines/LinkedData", json={"QuotationLineLinkedDataItemData1": "A"}
    ).json()
    ids["quotation_line"] = client.post("/QuotationLines", json={"QuotationLineOpportunityId": ids["delivery"]}).json()
    return ids


def swagger_type(prop: dict) -> set[str]:
    kind = prop.get("type")
    if kind == "integer":
        return {"int"}
    if kind == "number":
        return {"int", "float"}
    if kind == "boolean":
        return {"bool"}
    return {"str", "NoneType"}  # strings, date-times and enums may be null


@pytest.mark.parametrize("entity", list(DTO))
def test_records_have_every_spec_field_with_spec_types(client: httpx.Client, entity: str) -> None:
    ids = seed_records(client)
    path, dto = DTO[entity]
    record = client.get(f"{path}/{ids[entity]}").json()
    props = SPEC[dto]["properties"]
    assert list(record) == list(props)  # same fields, spec order
    for name, prop in props.items():
        assert type(record[name]).__name__ in swagger_type(prop), (name, record[name])
        if "enum" in prop and record[name] is not None:
            assert record[name] in prop["enum"]
    assert record[f"{dto[:-3]}Id" if entity != "catalogue_item" else "QuotationLineLinkedDataItemId"] == ids[entity]


def test_token_response_matches_spec(sim: WebcrmSimulator) -> None:
    with httpx.Client(base_url=sim.url) as c:
        body = c.post("/Auth/ApiLogin", data={"authCode": TOKEN}).json()
    assert list(body) == list(SPEC["TokenResponseDto"]["properties"])
    assert body["IsError"] is False and body["TokenType"] == "Bearer" and body["ExpiresIn"] == 3600


def test_login_variants_and_refresh(sim: WebcrmSimulator) -> None:
    with httpx.Client(base_url=sim.url) as c:
        assert c.post("/Auth/ApiLogin", data={"authCode": TOKEN}).status_code == 200
        assert c.post("/Auth/ApiLogin", files={"authCode": (None, TOKEN)}).status_code == 200
        header = c.post("/Auth/ApiLogin", headers={"authCode": TOKEN})
        assert header.status_code == 200
        bad = c.post("/Auth/ApiLogin", data={"authCode": "wrong"})
        assert bad.status_code == 401 and bad.json()["IsError"] is True
        refresh = header.json()["RefreshToken"]
        by_header = c.post("/Auth/ApiRefresh", headers={"refreshToken": refresh})
        by_form = c.post("/Auth/ApiRefresh", files={"refreshToken": (None, refresh)})
        assert by_header.status_code == 200 and by_form.status_code == 200
        assert c.post("/Auth/ApiRefresh", headers={"refreshToken": "nope"}).status_code == 401
        token = by_form.json()["AccessToken"]
        assert c.get("/Auth", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        denied = c.get("/Organisations")
        assert denied.status_code == 401 and "denied" in denied.json()["Message"]
        sim.auth.expire_access_tokens()
        assert c.get("/Organisations", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_paging_until_empty_page(client: httpx.Client) -> None:
    for i in range(5):
        client.post("/Organisations", json={"OrganisationName": f"O{i}"})
    pages = [client.get("/Organisations", params={"Page": p, "Size": 2}).json() for p in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert len(client.get("/Organisations").json()) == 5  # default size 50
    assert client.get("/Organisations", params={"Size": 1001}).status_code == 400
    assert client.get("/Organisations", params={"page": 0}).status_code == 400


def test_put_replaces_whole_dto(client: httpx.Client, clock: Clock) -> None:
    org = client.post(
        "/Organisations", json={"OrganisationName": "A", "OrganisationCity": "Umeå", "OrganisationId": 999}
    ).json()
    before = client.get(f"/Organisations/{org}").json()
    assert before["OrganisationId"] == org != 999 and before["OrganisationCreatedBy"] == "API"
    clock.now += timedelta(minutes=1)
    assert client.put(f"/Organisations/{org}", json={"OrganisationName": "B"}).status_code == 200
    after = client.get(f"/Organisations/{org}").json()
    assert after["OrganisationName"] == "B" and after["OrganisationCity"] is None  # full replace
    assert after["OrganisationCreatedAt"] == before["OrganisationCreatedAt"]
    assert after["OrganisationUpdatedAt"] == "2024-03-01T11:01:00.000Z"
    assert client.put("/Organisations/12345", json={}).status_code == 404


def test_write_validation(client: httpx.Client) -> None:
    r = client.post("/Organisations", json={"OrganisationCity": "x" * 51})
    assert r.status_code == 400 and "OrganisationCity" in r.json()["ModelState"]
    r = client.post("/Organisations", json={"OrganisationOwner": "abc"})
    assert r.status_code == 400
    r = client.post("/Organisations", content=b"{", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert client.post("/Organisations", json={"Unknown": 1}).status_code == 200  # ignored like JSON.NET
    assert client.post("/Persons", json={"PersonOrganisationId": 4242, "PersonLastName": "L"}).status_code == 400
    assert client.post("/QuotationLines", json={"QuotationLineOpportunityId": 4242}).status_code == 400


def test_deletes_only_where_the_spec_has_them(client: httpx.Client) -> None:
    ids = seed_records(client)
    assert client.delete(f"/Organisations/{ids['organisation']}").status_code == 405
    assert client.delete(f"/Deliveries/{ids['delivery']}").status_code == 405
    assert client.delete(f"/QuotationLines/{ids['quotation_line']}").status_code == 200
    assert client.get(f"/QuotationLines/{ids['quotation_line']}").status_code == 404
    assert client.delete(f"/QuotationLines/LinkedData/{ids['catalogue_item']}").status_code == 200
    client.post("/QuotationLines/LinkedData", json={})
    assert client.delete("/QuotationLines/LinkedData").status_code == 200
    assert client.get("/QuotationLines/LinkedData").json() == []


def test_lines_by_deal_catalogue_copy_and_convert(client: httpx.Client) -> None:
    org = client.post("/Organisations", json={"OrganisationName": "O"}).json()
    item = client.post(
        "/QuotationLines/LinkedData",
        json={"QuotationLineLinkedDataItemData1": "ART-1", "QuotationLineLinkedDataItemPrice": 12.5},
    ).json()
    opp = client.post(
        "/Opportunities", json={"OpportunityOrganisationId": org, "OpportunityDescription": "Deal"}
    ).json()
    line = client.post(
        "/QuotationLines", json={"QuotationLineOpportunityId": opp, "QuotationLineLinkedDataId": item}
    ).json()
    got = client.get(f"/QuotationLines/{line}").json()
    assert got["QuotationLineData1"] == "ART-1" and got["QuotationLinePrice"] == 12.5
    assert "QuotationLineLinkedDataId" not in got
    assert [x["QuotationLineId"] for x in client.get(f"/Opportunities/{opp}/QuotationLines").json()] == [line]
    delivery = client.post(f"/Opportunities/{opp}/ConvertToDelivery").json()
    assert client.get(f"/Deliveries/{delivery}").json()["DeliveryDescription"] == "Deal"
    assert len(client.get(f"/Deliveries/{delivery}/QuotationLines").json()) == 1
    assert delivery != opp  # deliveries and opportunities share one id sequence


def test_find_by_update_dates(client: httpx.Client, clock: Clock) -> None:
    client.post("/Organisations", json={"OrganisationName": "Early"})
    clock.now += timedelta(hours=1)
    client.post("/Organisations", json={"OrganisationName": "Late"})
    rows = client.get("/Organisations/FindByUpdateDates/2024-03-01T11:30:00Z/2024-03-01T12:00:01Z").json()
    assert [r["OrganisationName"] for r in rows] == ["Late"]
    rows = client.get("/Organisations/FindByUpdateDates/2024-03-01T11:00:00Z/2024-03-01T12:00:00Z").json()
    assert [r["OrganisationName"] for r in rows] == ["Early"]  # end is exclusive


def test_queries(client: httpx.Client, clock: Clock) -> None:
    client.post("/Organisations", json={"OrganisationName": "Alfa AB", "OrganisationVatNumber": "SE1"})
    clock.now += timedelta(minutes=10)
    client.post("/Organisations", json={"OrganisationName": "Beta O'Neil", "OrganisationVatNumber": "se2"})

    def run(script: str, **params) -> list[str]:
        r = client.get("/Queries", params={"script": script, **params})
        assert r.status_code == 200, r.text
        return [row["OrganisationName"] for row in r.json()]

    assert run("SELECT * FROM Organisation WHERE OrganisationUpdatedAt >= '2024-03-01T11:05:00.0000000Z'") == [
        "Beta O'Neil"
    ]
    assert run("select * from organisation where OrganisationUpdatedAt >= '2024-03-01T11:00:00'") == [
        "Alfa AB",
        "Beta O'Neil",
    ]
    assert run("SELECT * FROM Organisation WHERE OrganisationName = 'beta o''neil'") == ["Beta O'Neil"]
    assert run("SELECT * FROM Organisation WHERE OrganisationVatNumber = 'SE2' AND OrganisationId > 0") == [
        "Beta O'Neil"
    ]
    assert run("SELECT * FROM Organisation ORDER BY OrganisationName DESC") == ["Beta O'Neil", "Alfa AB"]
    assert run("SELECT * FROM Organisation WHERE OrganisationName LIKE '%AB'") == ["Alfa AB"]
    assert run("SELECT * FROM Organisation WHERE OrganisationCity IS NULL", Page=2, Size=1) == ["Beta O'Neil"]
    for bad in (
        "SELECT * FROM Nope",
        "SELECT * FROM Organisation WHERE Nope = 1",
        "SELECT OrganisationName FROM Organisation",
        "SELECT * FROM Organisation WHERE OrganisationId IN (SELECT PersonId FROM Person)",
        "SELECT * FROM Organisation; SELECT * FROM Person",
        "SELECT TOP 1 * FROM Organisation",
        "SELECT * FROM Organisation WHERE (OrganisationName = 'a'",
        "DROP TABLE Organisation",
        "SELECT * FROM Organisation WHERE OrganisationUpdatedAt >= 'yesterday'",
    ):
        r = client.get("/Queries", params={"script": bad})
        assert r.status_code == 400 and "Message" in r.json(), bad
    assert client.get("/Queries").status_code == 400


def test_linked_data_table(client: httpx.Client) -> None:
    client.post(
        "/QuotationLines/LinkedData",
        json={"QuotationLineLinkedDataItemData1": "X", "QuotationLineLinkedDataItemEntityType": "Delivery"},
    )
    rows = client.get("/Queries", params={"script": "SELECT * FROM LinkedData WHERE LinkedDataItemData1 = 'X'"}).json()
    assert rows[0]["LinkedDataItemEntityType"] == 6 and rows[0]["LinkedDataItemUpdatedAt"].endswith("Z")
    script = "SELECT * FROM LinkedData WHERE QuotationLineLinkedDataItemData1 = 'X' OR LinkedDataItemData1 = 'Y'"
    assert client.get("/Queries", params={"script": script}).json() == rows  # both spellings of the columns


def test_queries_or_parentheses_and_join(client: httpx.Client) -> None:
    """The scripts webCRM's own integration sends (apis/REFERENCE.md, "Changed-since queries")."""
    alfa = client.post("/Organisations", json={"OrganisationName": "Alfa", "OrganisationStatus": "Active"}).json()
    beta = client.post("/Organisations", json={"OrganisationName": "Beta", "OrganisationStatus": "Prospect"}).json()
    client.post("/Organisations", json={"OrganisationName": "Gamma", "OrganisationStatus": "Lost"})
    client.post("/Persons", json={"PersonOrganisationId": beta, "PersonLastName": "Berg"})
    client.post("/Persons", json={"PersonOrganisationId": alfa, "PersonLastName": "Ahl"})

    def run(script: str) -> list[dict]:
        r = client.get("/Queries", params={"script": script})
        assert r.status_code == 200, r.text
        return r.json()

    rows = run(
        "SELECT * FROM Organisation WHERE OrganisationUpdatedAt >= '2024-01-01T00:00:00.0000000Z' AND "
        "(OrganisationStatus = 'active' OR OrganisationStatus = 'Prospect')"
    )
    assert [r["OrganisationName"] for r in rows] == ["Alfa", "Beta"]
    rows = run("SELECT * FROM Organisation WHERE NOT (OrganisationStatus IN ('Active', 'Lost'))")
    assert [r["OrganisationName"] for r in rows] == ["Beta"]
    rows = run(
        "SELECT * FROM Person JOIN Organisation ON (Person.PersonOrganisationId = Organisation.OrganisationId) "
        "WHERE PersonUpdatedAt >= '2024-01-01T00:00:00.0000000Z' ORDER BY Organisation.OrganisationName"
    )
    assert [(r["PersonLastName"], r["OrganisationName"]) for r in rows] == [("Ahl", "Alfa"), ("Berg", "Beta")]
    rows = run("SELECT * FROM Organisation LEFT JOIN Person ON PersonOrganisationId = OrganisationId")
    assert [(r["OrganisationName"], r["PersonLastName"]) for r in rows] == [
        ("Alfa", "Ahl"), ("Beta", "Berg"), ("Gamma", None)
    ]


def test_query_parser_units() -> None:
    q = parse_query(
        "SELECT * FROM Delivery WHERE DeliveryUpdatedAt >= '2018-10-05T12:00:00.0000000Z' ORDER BY DeliveryId ASC;"
    )
    assert q.entity == "delivery" and q.where is not None and q.where.key == "gte"
    assert q.order == (("DeliveryId", False),)
    with pytest.raises(QueryError):
        parse_query("SELECT * FROM Person JOIN Organisation ON (x = y)")  # no such columns
    with pytest.raises(QueryError):
        parse_query("SELECT * FROM Person CROSS JOIN Organisation")
    with pytest.raises(QueryError):
        parse_query("SELECT Name FROM Organisation")


def test_rate_limit_429_exactly_as_documented() -> None:
    with WebcrmSimulator(rate_limit=(3, 60.0)) as sim, httpx.Client(base_url=sim.url) as c:
        headers = login(c)
        codes = [c.get("/Organisations", headers=headers).status_code for _ in range(3)]
        r = c.get("/Organisations", headers=headers)
    assert codes == [200, 200, 429] and r.status_code == 429
    body = r.json()
    assert list(body) == ["RetryAfterSeconds", "Message", "Type"]
    assert body["Type"] == "TooManyRequestsException"
    assert body["Message"] == "The request was throttled. The limit of 3 requests per minute is reached"
    assert int(r.headers["Retry-After"]) == body["RetryAfterSeconds"] >= 50


def test_persistence_and_seed(tmp_path) -> None:
    sim = start_simulator(tmp_path, rate_limit=None, seed=True)
    with httpx.Client(base_url=sim.url) as c:
        headers = login(c)
        count = len(c.get("/Organisations", headers=headers).json())
        c.post("/Organisations", json={"OrganisationName": "Extra"}, headers=headers)
    sim.stop()
    again = start_simulator(tmp_path, rate_limit=None, seed=True)
    with httpx.Client(base_url=again.url) as c:
        orgs = c.get("/Organisations", headers=headers).json()  # the access token survived the restart
        assert len(orgs) == count + 1
        new = c.post("/Organisations", json={"OrganisationName": "Next"}, headers=headers).json()
        assert new == max(o["OrganisationId"] for o in orgs) + 1
    again.stop()


def test_short_token_lifetime() -> None:
    now = [1000.0]
    config = WebcrmAuthConfig(access_token_lifetime=10)
    with (
        WebcrmSimulator(rate_limit=None, auth=config, clock=lambda: now[0]) as sim,
        httpx.Client(base_url=sim.url) as c,
    ):
        headers = login(c)
        assert c.get("/Organisations", headers=headers).status_code == 200
        now[0] += 11
        assert c.get("/Organisations", headers=headers).status_code == 401
