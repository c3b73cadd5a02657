"""The Visma.net simulator over real sockets with raw HTTP: the API's shapes and rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mapsync.connectors.vismanet.simulator import SCOPES, VismanetAuthConfig, VismanetSimulator, start_simulator
from mapsync.connectors.vismanet.timefmt import parse_dto

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).parent.parent / "fixtures" / "vismanet"
CONFIG = VismanetAuthConfig()


def w(value: Any) -> dict[str, Any]:
    return {"value": value}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 11, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def token(http: httpx.Client, **form: str) -> httpx.Response:
    data = {
        "grant_type": "client_credentials",
        "client_id": CONFIG.client_id,
        "client_secret": CONFIG.client_secret,
        "tenant_id": CONFIG.tenant_id,
        "scope": " ".join(SCOPES),
    }
    data.update(form)
    return http.post("/connect/token", data=data)


@contextmanager
def api_client(sim: VismanetSimulator, **form: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url) as http:
        answer = token(http, **form)
        assert answer.status_code == 200, answer.text
        http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield http


@pytest.fixture
def sim() -> Iterator[VismanetSimulator]:
    with VismanetSimulator(rate_limit=None) as server:
        yield server


@pytest.fixture
def http(sim: VismanetSimulator) -> Iterator[httpx.Client]:
    with api_client(sim) as client:
        yield client


def new_customer(http: httpx.Client, name: str = "A", **fields: Any) -> str:
    answer = http.post("/v1/customer", json={"name": w(name), **{k: w(v) for k, v in fields.items()}})
    assert answer.status_code == 201, answer.text
    return answer.headers["Location"].rsplit("/", 1)[1]


# ----------------------------------------------------------------------------- auth
def test_token_endpoint(sim: VismanetSimulator) -> None:
    with httpx.Client(base_url=sim.url) as raw:
        ok = token(raw)
        assert ok.status_code == 200
        body = ok.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == " ".join(SCOPES)
        assert "X-RateLimit-Limit" not in ok.headers  # connect.visma.com is another host
        bad_secret = token(raw, client_secret="wrong")
        assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
        bad_tenant = token(raw, tenant_id="someone-else")
        assert bad_tenant.status_code == 400 and bad_tenant.json()["error"] == "invalid_client"
        assert token(raw, grant_type="password").json()["error"] == "unsupported_grant_type"
        assert token(raw, scope="vismanet_erp_service_api:everything").json()["error"] == "invalid_scope"
        basic = raw.post(
            "/connect/token",
            data={"grant_type": "client_credentials", "tenant_id": CONFIG.tenant_id},
            auth=(CONFIG.client_id, CONFIG.client_secret),
        )
        assert basic.status_code == 200 and basic.json()["scope"] == " ".join(SCOPES)
        denied = raw.get("/v1/customer")
        assert denied.status_code == 401 and "denied" in denied.json()["message"]
        assert raw.get("/v1/customer", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_unlicensed_tenant_and_missing_scope(sim: VismanetSimulator) -> None:
    with api_client(sim, tenant_id="sandbox-unlicensed-tenant-id") as other:
        answer = other.get("/v1/customer")
        assert answer.status_code == 403
        assert answer.json()["ExceptionFaultCode"] == "12027"
        assert answer.json()["ExceptionMessage"] == "No license for this company."
    with api_client(sim, scope="vismanet_erp_service_api:read") as reader:
        assert reader.get("/v1/customer", headers={"ipp-company-id": "123"}).status_code == 200
        refused = reader.post("/v1/customer", json={"name": w("x")})
        assert refused.status_code == 403 and "vismanet_erp_service_api:create" in refused.json()["message"]


def test_token_expiry() -> None:
    now = [1000.0]
    config = VismanetAuthConfig(token_lifetime=60)
    with VismanetSimulator(rate_limit=None, auth=config, clock=lambda: now[0]) as s, api_client(s) as client:
        assert client.get("/v1/customer").status_code == 200
        now[0] += 61
        assert client.get("/v1/customer").status_code == 401


# ----------------------------------------------------------------------------- shapes
def test_documented_post_body_is_accepted(http: httpx.Client) -> None:
    body = json.loads((FIXTURES / "doc_customer_post.json").read_text())
    created = http.post("/v1/customer", json=body)
    assert created.status_code == 201
    assert created.content == b""
    assert created.headers["Location"].endswith("/v1/customer/10000")
    customer = http.get("/v1/customer/10000").json()
    assert customer["name"] == "NewCustomer"
    assert customer["mainAddress"]["country"] == {"id": "NO", "name": "Norway", "errorInfo": None}
    assert customer["customerClass"] == {"id": "1", "description": "Business customers"}
    assert customer["creditTerms"]["id"] == "30" and customer["currencyId"] == "NOK"


def test_paths_are_case_insensitive_and_ids_too(http: httpx.Client) -> None:
    http.post("/v1/inventory", json={"inventoryNumber": w("Item-1"), "description": w("x")})
    assert http.get("/v1/Inventory/item-1").json()["inventoryNumber"] == "Item-1"
    assert http.get("/V1/INVENTORY").status_code == 200
    assert http.get("/v1/nothing").status_code == 404
    assert http.delete("/v1/customer/1").status_code == 405


def test_write_bodies_must_be_wrapped_and_known(http: httpx.Client) -> None:
    unwrapped = http.post("/v1/customer", json={"name": "plain"})
    assert unwrapped.status_code == 400 and unwrapped.json()["ExceptionType"] == "IPPException"
    assert "value wrapper" in unwrapped.json()["ExceptionMessage"]
    unknown = http.post("/v1/customer", json={"name": w("x"), "creditTerms": w({"id": "30"})})
    assert unknown.status_code == 400 and "Unknown field 'creditTerms'" in unknown.json()["ExceptionMessage"]
    bad_ref = http.post("/v1/customer", json={"name": w("x"), "creditTermsId": w("99")})
    assert "CreditTermsID '99' cannot be found" in bad_ref.json()["ExceptionMessage"]
    bad_json = http.post("/v1/customer", content=b"{nope", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    order = http.post("/v1/salesorder", json={"customer": w("404")})
    assert order.status_code == 400 and order.json()["message"].startswith("VismaId: ")


def test_customer_number_series_and_partial_put(http: httpx.Client) -> None:
    assert new_customer(http, "First") == "10000"
    assert new_customer(http, "Second", number="20000") == "20000"
    assert new_customer(http, "Third") == "20001"
    assert http.post("/v1/customer", json={"name": w("dup"), "number": w("20000")}).status_code == 400
    before = http.get("/v1/customer/10000")
    assert before.headers["ETag"] == before.json()["timeStamp"]
    put = http.put(
        "/v1/customer/10000",
        json={"mainContact": w({"email": w("a@b.no")}), "corporateId": w("123"), "mainAddress": w({"city": w("Oslo")})},
    )
    assert put.status_code == 204 and put.content == b""
    after = http.get("/v1/customer/10000").json()
    assert after["name"] == "First" and after["corporateId"] == "123" and after["mainContact"]["email"] == "a@b.no"
    assert after["mainAddress"]["city"] == "Oslo" and after["mainAddress"]["country"]["id"] == "NO"
    assert after["timeStamp"] != before.json()["timeStamp"]
    assert after["lastModifiedDateTime"] >= before.json()["lastModifiedDateTime"]
    http.put("/v1/customer/10000", json={"corporateId": w(None)})
    assert http.get("/v1/customer/10000").json()["corporateId"] is None
    renumber = http.put("/v1/customer/10000", json={"number": w("999")})
    assert renumber.status_code == 400 and "changeCustomerCd" in renumber.json()["ExceptionMessage"]
    assert http.get("/v1/customer/internal/101").json()["number"] == "10000"


def test_if_match(http: httpx.Client) -> None:
    new_customer(http)
    etag = http.get("/v1/customer/10000").headers["ETag"]
    assert http.put("/v1/customer/10000", json={"name": w("B")}, headers={"If-Match": etag}).status_code == 204
    stale = http.put("/v1/customer/10000", json={"name": w("C")}, headers={"If-Match": etag})
    assert stale.status_code == 412 and stale.json()["message"].startswith("VismaId: ")
    fresh = http.get("/v1/customer/10000").headers["ETag"]
    assert (
        http.put("/v1/customer/10000", json={"name": w("C")}, headers={"If-Match": f'W/"{fresh}"'}).status_code == 204
    )
    assert http.put("/v1/customer/10000", json={"name": w("D")}, headers={"If-Match": "*"}).status_code == 204
    http.post("/v1/inventory", json={"inventoryNumber": w("I"), "description": w("i")})
    http.post("/v1/salesorder", json={"customer": w("10000"), "lines": []})
    order = http.get("/v1/salesorder/000001")
    order_etag = order.headers["ETag"]
    assert "timeStamp" not in order.json()  # SalesOrderDto has no timeStamp; the header has the version
    assert (
        http.put("/v1/salesorder/000001", json={"description": w("x")}, headers={"If-Match": order_etag}).status_code
        == 204
    )
    assert (
        http.put("/v1/salesorder/000001", json={"description": w("y")}, headers={"If-Match": order_etag}).status_code
        == 412
    )


def test_contacts_and_inventory(http: httpx.Client) -> None:
    new_customer(http)
    assert http.post("/v1/contact", json={"firstName": w("No")}).status_code == 400  # lastName required
    assert http.post("/v1/contact", json={"lastName": w("X"), "businessAccount": w("404")}).status_code == 400
    created = http.post("/v1/contact", json={"firstName": w("Kari"), "lastName": w("N"), "businessAccount": w("10000")})
    contact = http.get(httpx.URL(created.headers["Location"]).path).json()
    assert (
        contact["contactId"] == 1
        and contact["displayName"] == "Kari N"
        and contact["businessAccountType"] == "Customer"
    )
    item = http.post(
        "/v1/inventory", json={"inventoryNumber": w("S1"), "type": w("finishedgooditem"), "vatCode": w("1")}
    )
    assert item.status_code == 201
    stored = http.get("/v1/inventory/S1").json()
    assert stored["type"] == "FinishedGoodItem" and stored["stockItem"] is True and "timestamp" in stored
    assert http.put("/v1/inventory/S1", json={"inventoryNumber": w("S2")}).status_code == 400


# ----------------------------------------------------------------------------- lists
def test_list_paging_and_metadata() -> None:
    with VismanetSimulator(rate_limit=None, max_page_size=4) as sim, api_client(sim) as http:
        for i in range(10):
            new_customer(http, f"C{i}")
        first = http.get("/v1/customer", params={"pageNumber": 1, "pageSize": 100}).json()
        assert len(first) == 4 and first[0]["metadata"] == {"totalCount": 10, "maxPageSize": 4}
        third = http.get("/v1/customer", params={"pageNumber": 3, "pageSize": 4}).json()
        assert [c["name"] for c in third] == ["C8", "C9"]
        assert http.get("/v1/customer", params={"pageNumber": 9}).json() == []
        assert http.get("/v1/customer", params={"pageSize": "x"}).status_code == 400
        assert [c["name"] for c in http.get("/v1/customer", params={"name": "c3"}).json()] == ["C3"]
        for i in range(6):
            http.post("/v1/contact", json={"lastName": w(f"L{i}"), "email": w(f"p{i}@x.no")})
        page = http.get("/v1/contact", params={"greaterThanValue": 2, "numberToRead": 3, "orderBy": "contactId"}).json()
        assert [c["contactId"] for c in page] == [3, 4, 5]
        assert [c["contactId"] for c in http.get("/v1/contact", params={"numberToRead": 100}).json()] == [1, 2, 3, 4]
        assert [c["contactId"] for c in http.get("/v1/contact", params={"skipRecords": 4}).json()] == [5, 6]
        assert [c["email"] for c in http.get("/v1/contact", params={"email": "P2@x.no"}).json()] == ["p2@x.no"]
        assert http.get("/v1/contact", params={"orderBy": "shoeSize"}).status_code == 400


def test_last_modified_conditions_and_formats() -> None:
    clock = Clock()
    with VismanetSimulator(rate_limit=None, now=clock) as sim, api_client(sim) as http:
        new_customer(http, "Early")  # 11:00:00.000
        clock.now += timedelta(seconds=30, milliseconds=500)
        new_customer(http, "Late")  # 11:00:30.500
        late = http.get("/v1/customer/10001").json()
        assert late["lastModifiedDateTime"] == "2024-03-01T11:00:30.500"
        assert parse_dto(late["createdDateTime"]) == clock.now

        def names(value: str, condition: str) -> list[str]:
            answer = http.get(
                "/v1/customer", params={"lastModifiedDateTime": value, "lastModifiedDateTimeCondition": condition}
            )
            assert answer.status_code == 200, answer.text
            return [c["name"] for c in answer.json()]

        assert names("2024-03-01 11:00:30", ">") == ["Late"]
        assert names("2024-03-01 11:00:30.500", ">") == []
        assert names("2024-03-01 11:00:30.500", ">=") == ["Late"]
        assert names("2024-03-01 11:00:00", ">=") == ["Early", "Late"]
        assert names("2024-03-01 11:00:00", ">") == ["Late"]
        assert names("2024-03-01 11:00:30", "<") == ["Early"]
        assert names("2024-03-01 11:00:00", "<=") == ["Early"]
        assert names("2024-03-01", ">=") == ["Early", "Late"]
        assert names("2024-03-02", "<") == ["Early", "Late"]
        for bad in ("2024-03-01T11:00:00", "2024-03-01 11:00:00Z"):
            refused = http.get(
                "/v1/customer", params={"lastModifiedDateTime": bad, "lastModifiedDateTimeCondition": ">"}
            )
            assert refused.status_code == 400 and refused.json()["ExceptionFaultCode"] == "12002"
        assert http.get("/v1/customer", params={"lastModifiedDateTime": "2024-03-01"}).status_code == 400
        assert (
            http.get(
                "/v1/customer", params={"lastModifiedDateTime": "2024-03-01", "lastModifiedDateTimeCondition": "="}
            ).status_code
            == 400
        )


# ----------------------------------------------------------------------------- documents
def _document_setup(http: httpx.Client) -> None:
    new_customer(http)
    for number, price in (("A", 100.0), ("B", 50.0)):
        http.post(
            "/v1/inventory",
            json={"inventoryNumber": w(number), "description": w(f"Item {number}"), "defaultPrice": w(price)},
        )


def test_sales_order_lines_and_actions(http: httpx.Client) -> None:
    _document_setup(http)
    line = json.loads((FIXTURES / "doc_line_insert.json").read_text()) | {"inventoryNumber": w("A")}
    created = http.post(
        "/v2/salesorder",
        json={
            "orderType": w("SO"),
            "customer": w("10000"),
            "lines": [
                line,
                {"operation": "Insert", "inventoryNumber": w("B"), "quantity": w(2), "discountPercent": w(10)},
            ],
        },
    )
    assert created.status_code == 201
    order = http.get("/v1/salesorder/SO/000001").json()
    assert [(ln["lineNbr"], ln["inventory"]["number"], ln["quantity"], ln["uom"]) for ln in order["lines"]] == [
        (1, "A", 500.0, "STK"),
        (2, "B", 2.0, "STK"),
    ]
    assert order["lines"][1]["extPrice"] == 90.0 and order["orderTotal"] == round((50000 + 90) * 1.25, 2)
    assert order["customer"] == {"internalId": 101, "number": "10000", "name": "A"}
    put = http.put(
        "/v1/salesorder/000001",
        json={
            "lines": [
                {"operation": "Update", "lineNbr": w(2), "quantity": w(3)},
                {"operation": "Delete", "lineNbr": w(1)},
                {"operation": "Insert", "inventoryNumber": w("A"), "quantity": w(1)},
            ]
        },
    )
    assert put.status_code == 204
    order = http.get("/v1/salesorder/000001").json()
    assert [(ln["lineNbr"], ln["quantity"]) for ln in order["lines"]] == [(2, 3.0), (3, 1.0)]
    missing = http.put("/v1/salesorder/000001", json={"lines": [{"operation": "Update", "lineNbr": w(1)}]})
    assert missing.status_code == 400 and "Line 1 cannot be found" in missing.json()["message"]
    wrapped_op = http.put("/v1/salesorder/000001", json={"lines": [{"operation": w("Delete"), "lineNbr": w(2)}]})
    assert wrapped_op.status_code == 400
    cancel = http.post("/v1/salesorder/000001/action/cancelSalesOrder", json={"orderType": w("SO")})
    assert cancel.status_code == 200 and cancel.json()["actionResult"] == "Done"
    cancelled = http.get("/v1/salesorder/000001").json()
    assert cancelled["status"] == "Cancelled" and cancelled["canceled"] is True
    assert http.put("/v1/salesorder/000001", json={"description": w("x")}).status_code == 400
    assert http.post("/v2/salesorder/000001/action/reopenSalesOrder").status_code == 200
    assert http.get("/v1/salesorder/000001").json()["status"] == "Open"


def test_invoice_states(http: httpx.Client) -> None:
    _document_setup(http)
    created = http.post(
        "/v2/customerinvoice",
        json={
            "customerNumber": w("10000"),
            "invoiceLines": [
                {"operation": "Insert", "inventoryNumber": w("A"), "quantity": w(2), "unitPriceInCurrency": w(80)}
            ],
        },
    )
    number = created.headers["Location"].rsplit("/", 1)[1]
    invoice = http.get(f"/v1/customerinvoice/{number}").json()
    assert invoice["status"] == "Hold" and invoice["hold"] is True and invoice["documentType"] == "Invoice"
    line = invoice["invoiceLines"][0]
    assert (line["lineNumber"], line["unitPrice"], line["amount"], line["vatCode"]["id"]) == (1, 80.0, 160.0, "1")
    assert invoice["amount"] == 200.0 and invoice["vatTotal"] == 40.0 and invoice["balance"] == 200.0
    assert invoice["customer"] == {"number": "10000", "name": "A"} and invoice["creditTerms"]["id"] == "30"
    on_hold = http.post(f"/v1/customerinvoice/{number}/action/release")
    assert on_hold.status_code == 400 and "on hold" in on_hold.json()["message"]
    assert http.put(f"/v1/customerinvoice/{number}", json={"hold": w(False)}).status_code == 204
    assert http.get(f"/v1/customerinvoice/{number}").json()["status"] == "Balanced"
    assert http.post(f"/v1/customerinvoice/{number}/action/release").status_code == 200
    assert http.get(f"/v1/customerinvoice/{number}").json()["status"] == "Open"
    for refused in (
        http.put(f"/v1/customerinvoice/{number}", json={"invoiceText": w("x")}),
        http.delete(f"/v1/customerinvoice/{number}"),
    ):
        assert refused.status_code == 400
        assert refused.json()["message"].startswith("VismaId: ") and "status Open" in refused.json()["message"]
    draft = http.post("/v1/customerinvoice", json={"customerNumber": w("10000")})  # deprecated v1 POST works
    draft_number = draft.headers["Location"].rsplit("/", 1)[1]
    assert http.delete(f"/v1/customerinvoice/{draft_number}").status_code == 204
    assert http.get(f"/v1/customerinvoice/{draft_number}").status_code == 404
    released = http.get("/v1/customerinvoice", params={"released": "true"}).json()
    assert [i["referenceNumber"] for i in released] == [number]


# ----------------------------------------------------------------------------- rate limit, faults
def test_rate_limit_headers_and_429() -> None:
    now = [0.0]
    with VismanetSimulator(rate_limit=(3, 60.0), rate_clock=lambda: now[0]) as sim, api_client(sim) as http:
        answers = [http.get("/v1/customer") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
        assert answers[0].headers["X-RateLimit-Limit"] == "3"
        assert answers[0].headers["X-RateLimit-Policy"] == "4-fixed-window"
        assert answers[3].headers["Retry-After"] == "60" and answers[3].json()["statusCode"] == 429
        now[0] = 45.0
        assert http.get("/v1/customer").headers["Retry-After"] == "15"
        now[0] = 60.0
        fresh = http.get("/v1/customer")
        assert fresh.status_code == 200 and fresh.headers["X-RateLimit-Remaining"] == "2"
        assert fresh.headers["X-RateLimit-Reset"] == "60"


def test_faults_and_unlimited_headers(sim: VismanetSimulator, http: httpx.Client) -> None:
    assert http.get("/v1/customer").headers["X-RateLimit-Remaining"] == "15000"
    sim.faults.add("429", retry_after=7)
    limited = http.get("/v1/customer")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    sim.faults.add("5xx", status=503)
    assert http.get("/v1/customer").status_code == 503
    sim.faults.add("drop")
    with pytest.raises(httpx.TransportError):
        http.get("/v1/customer")


# ----------------------------------------------------------------------------- persistence, seed, controls
def test_persistence_and_seed(tmp_path: Path) -> None:
    sim = start_simulator(tmp_path, rate_limit=None, seed=True)
    try:
        with api_client(sim) as http:
            customers = http.get("/v1/customer").json()
            contacts = http.get("/v1/contact").json()
            invoices = http.get("/v1/customerinvoice").json()
            orders = http.get("/v1/salesorder").json()
            assert len(customers) == 3 and all(c["email"] for c in contacts)
            assert {i["status"] for i in invoices} >= {"Hold", "Balanced", "Open", "Closed"}
            assert any(ln["soOrderNbr"] for i in invoices for ln in i["invoiceLines"])
            assert {o["status"] for o in orders} == {"Open", "Completed"}
            from mapsync.connectors.vismanet.simulator.seed import ITEMS

            assert len(http.get("/v1/inventory").json()) == len(ITEMS)
            env = sim.env()
            assert env["VISMANET_TOKEN_URL"] == sim.url + "/connect/token"
    finally:
        sim.stop()
    assert (tmp_path / "vismanet.json").exists()
    again = start_simulator(tmp_path, rate_limit=None, seed=True)  # persisted: not seeded twice
    try:
        with api_client(again) as http:
            assert len(http.get("/v1/customer").json()) == 3
            assert again.backend.store.counters["customer"] == 10002
        with httpx.Client(base_url=again.url) as raw:
            invoiced = raw.post("/_sim/salesorder/000001/invoice")
            assert invoiced.status_code == 200 and invoiced.json()["invoiceLines"][0]["soOrderNbr"] == "000001"
            closed = raw.post(f"/_sim/customerinvoice/{invoiced.json()['referenceNumber']}/status/Closed")
            assert closed.json()["status"] == "Closed" and closed.json()["balance"] == 0.0
            assert raw.post("/_sim/clear").status_code == 200
            assert again.is_empty()
    finally:
        again.stop()
