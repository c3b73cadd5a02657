"""Fortnox simulator behaviour: rows, blanking, numbering, lists, actions, auth, persistence."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from mapsync.connectors.fortnox.simulator import FortnoxAuthConfig, FortnoxSimulator, start_simulator
from mapsync.connectors.fortnox.simulator.backend import ocr_for
from tests.connectors.fortnox_shapes import shape_mismatches

AUTH = {"Authorization": "Bearer sandbox-access-token"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 11, 0, 0, tzinfo=UTC)  # 12:00 in Stockholm

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock: Clock) -> Iterator[FortnoxSimulator]:
    with FortnoxSimulator(rate_limit=None, now=clock) as server:
        yield server


@pytest.fixture
def client(sim: FortnoxSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, headers=AUTH) as c:
        yield c


def create(client: httpx.Client, path: str, wrapper: str, **fields) -> dict:
    response = client.post(f"/3/{path}", json={wrapper: fields})
    assert response.status_code == 201, response.text
    return response.json()[wrapper]


def error_code(response: httpx.Response) -> int:
    info = response.json()["ErrorInformation"]
    return info.get("code", info.get("Code"))


def test_shape_checker_detects_differences() -> None:
    assert shape_mismatches({"a": "1", "b": None}, {"a": 1, "b": None}) == ["$.a: expected string, got number (1)"]
    assert shape_mismatches({"a": 1}, {"a": 1, "c": 2}) == ["$: extra keys ['c']"]
    assert shape_mismatches({"l": [{"x": "s"}, {"x": None}]}, {"l": [{"x": None}, {"x": 3}]}) != []


def test_ocr_like_recordings() -> None:
    assert [ocr_for(n) for n in ("1", "18", "20", "34")] == ["133", "1842", "2048", "3442"]


def test_customer_numbering_and_reservation(client: httpx.Client) -> None:
    first = create(client, "customers", "Customer", Name="A")
    assert first["CustomerNumber"] == "1"
    assert create(client, "customers", "Customer", Name="B", CustomerNumber="K-7")["CustomerNumber"] == "K-7"
    assert client.delete("/3/customers/1").status_code == 204
    assert client.get("/3/customers/1").status_code == 404
    again = client.post("/3/customers", json={"Customer": {"Name": "C", "CustomerNumber": "1"}})
    assert again.status_code == 400 and error_code(again) == 2000637
    assert "error" in again.json()["ErrorInformation"]  # validation errors: lower-case keys
    assert create(client, "customers", "Customer", Name="D")["CustomerNumber"] == "2"


def test_write_validation_errors(client: httpx.Client) -> None:
    r = client.post("/3/customers", json={"Customer": {"Name": "X", "Bogus": 1}})
    assert r.status_code == 400 and error_code(r) == 2001399
    r = client.post("/3/customers", content=b"")
    assert r.status_code == 400 and error_code(r) == 2001392
    r = client.post("/3/customers", json={"Name": "unwrapped"})
    assert r.status_code == 400 and error_code(r) == 2001392
    r = client.post("/3/customers", content=b'{"Customer": {', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and error_code(r) == 2002115
    r = client.post("/3/customers", json={"Customer": {"Name": "X", "Active": "maybe"}})
    assert r.status_code == 400 and error_code(r) == 2000134
    r = client.post("/3/customers", json={"Customer": {"Name": "X", "SalesAccount": "abc"}})
    assert r.status_code in (201, 400)  # null-typed field: accepted as sent
    r = client.post("/3/articles", json={"Article": {"Description": "A", "PurchasePrice": "abc"}})
    assert r.status_code == 400 and error_code(r) == 2000108


def test_partial_update_blank_and_empty(client: httpx.Client) -> None:
    create(client, "customers", "Customer", Name="A", Phone1="123", Email="a@x.se", City="Umeå")
    r = client.put("/3/customers/1", json={"Customer": {"City": "Luleå"}})
    c = r.json()["Customer"]
    assert c["City"] == "Luleå" and c["Phone1"] == "123" and c["Email"] == "a@x.se"
    c = client.put("/3/customers/1", json={"Customer": {"Phone1": "", "Email": None}}).json()["Customer"]
    assert c["Phone1"] == "123" and c["Email"] == "a@x.se"  # empty values leave fields unchanged
    c = client.put("/3/customers/1", json={"Customer": {"Phone1": "API_BLANK", "Email": "API_BLANK"}}).json()[
        "Customer"
    ]
    assert c["Phone1"] is None and c["Email"] == ""


def test_country_is_derived_and_read_only(client: httpx.Client) -> None:
    c = create(client, "customers", "Customer", Name="A", CountryCode="se", Country="Mars")
    assert c["CountryCode"] == "SE" and c["Country"] == "Sverige"


def test_list_paging_sort_and_search(client: httpx.Client) -> None:
    for i in range(7):
        create(client, "customers", "Customer", Name=f"Kund {i}", Email=f"k{i}@Example.se")
    page = client.get("/3/customers", params={"limit": 3, "page": 3}).json()
    assert page["MetaInformation"] == {"@TotalResources": 7, "@TotalPages": 3, "@CurrentPage": 3}
    assert [c["CustomerNumber"] for c in page["Customers"]] == ["7"]
    assert client.get("/3/customers", params={"limit": 3, "page": 9}).json()["Customers"] == []
    assert client.get("/3/customers", params={"limit": 501}).status_code == 400
    desc = client.get("/3/customers", params={"sortby": "customernumber", "sortorder": "descending"}).json()
    assert desc["Customers"][0]["CustomerNumber"] == "7"
    found = client.get("/3/customers", params={"email": "K3@example"}).json()["Customers"]
    assert [c["CustomerNumber"] for c in found] == ["4"]
    assert len(client.get("/3/customers", params={"name": "kund"}).json()["Customers"]) == 7
    assert client.get("/3/customers", params={"sortby": "bogus"}).status_code == 400
    r = client.get("/3/customers", params={"filter": "nope"})
    assert r.status_code == 400 and error_code(r) == 2000587


def test_lastmodified_inclusive_stockholm_time(client: httpx.Client, clock: Clock) -> None:
    create(client, "customers", "Customer", Name="Old")  # 12:00:00 Stockholm
    clock.now += timedelta(minutes=5)
    create(client, "customers", "Customer", Name="New")  # 12:05:00 Stockholm
    clock.now += timedelta(minutes=5)
    client.put("/3/customers/1", json={"Customer": {"City": "Kiruna"}})  # 12:10:00

    def numbers(value: str) -> list[str]:
        r = client.get("/3/customers", params={"lastmodified": value})
        assert r.status_code == 200, r.text
        return [c["CustomerNumber"] for c in r.json()["Customers"]]

    assert numbers("2024-03-01 12:05") == ["1", "2"]  # inclusive
    assert numbers("2024-03-01 12:05:01") == ["1", "2"]  # minute precision: the seconds are dropped
    assert numbers("2024-03-01 12:06") == ["1"]
    assert numbers("2024-03-01 12:10:00") == ["1"]
    assert numbers("2024-03-01 12:11") == []
    assert numbers("2024-03-01") == ["1", "2"]
    assert client.get("/3/customers", params={"lastmodified": "yesterday"}).status_code == 400


def test_rows_follow_official_rules(client: httpx.Client) -> None:
    create(client, "customers", "Customer", Name="A")
    create(client, "articles", "Article", ArticleNumber="A1", Description="Art 1", Unit="st")
    order = create(
        client,
        "orders",
        "Order",
        CustomerNumber="1",
        OrderRows=[
            {"ArticleNumber": "A1", "OrderedQuantity": 2.0, "Price": 10},
            {"Description": "Fri text", "OrderedQuantity": "1", "Price": 5},
        ],
    )
    rows = order["OrderRows"]
    assert [r["OrderedQuantity"] for r in rows] == ["2", "1"]
    assert rows[0]["Description"] == "Art 1" and rows[0]["Unit"] == "st"
    ids = [r["RowId"] for r in rows]
    # RowId given: keep row 1 unchanged, drop row 2, add a new row
    updated = client.put(
        "/3/orders/1", json={"Order": {"OrderRows": [{"RowId": ids[0]}, {"Description": "Ny", "Price": 1}]}}
    ).json()["Order"]
    rows2 = updated["OrderRows"]
    assert [r["Description"] for r in rows2] == ["Art 1", "Ny"]
    assert not set(r["RowId"] for r in rows2) & set(ids)  # all rows renumbered
    # no RowId: array order maps onto the existing rows; missing rows removed
    rows3 = client.put("/3/orders/1", json={"Order": {"OrderRows": [{"Price": 99}]}}).json()["Order"]["OrderRows"]
    assert len(rows3) == 1 and rows3[0]["Description"] == "Art 1" and rows3[0]["Price"] == 99
    # any update renumbers rows, even without rows in the body
    rows4 = client.put("/3/orders/1", json={"Order": {"Remarks": "x"}}).json()["Order"]["OrderRows"]
    assert rows4[0]["RowId"] != rows3[0]["RowId"]
    bad = client.put("/3/orders/1", json={"Order": {"OrderRows": [{"RowId": 424242}]}})
    assert bad.status_code == 400
    r = client.post("/3/orders", json={"Order": {"CustomerNumber": "1", "OrderRows": [{"ArticleNumber": "NOPE"}]}})
    assert r.status_code == 400 and error_code(r) == 2000428


def test_order_and_invoice_actions(client: httpx.Client) -> None:
    create(client, "customers", "Customer", Name="A", City="Lund")
    order = create(
        client,
        "orders",
        "Order",
        CustomerNumber="1",
        OrderRows=[{"Description": "X", "OrderedQuantity": 2, "DeliveredQuantity": 2, "Price": 100, "VAT": 25}],
    )
    assert order["CustomerName"] == "A" and order["City"] == "Lund"
    assert order["Total"] == 250 and order["TotalVAT"] == 50
    done = client.put("/3/orders/1/createinvoice").json()["Order"]
    invoice_number = done["InvoiceReference"]
    assert invoice_number not in ("", "0")
    invoice = client.get(f"/3/invoices/{invoice_number}").json()["Invoice"]
    assert invoice["OrderReference"] == "1" and invoice["Total"] == 250
    assert invoice["InvoiceRows"][0]["DeliveredQuantity"] == "2"
    assert client.put("/3/orders/1/createinvoice").status_code == 400
    assert client.put("/3/orders/1", json={"Order": {"Remarks": "late"}}).status_code == 400
    assert client.put(f"/3/invoices/{invoice_number}/credit").status_code == 400  # not booked yet
    booked = client.put(f"/3/invoices/{invoice_number}/bookkeep").json()["Invoice"]
    assert booked["Booked"] is True
    locked = client.put(f"/3/invoices/{invoice_number}", json={"Invoice": {"Comments": "x"}})
    assert locked.status_code == 400 and error_code(locked) == 2999004
    assert client.put(f"/3/invoices/{invoice_number}/cancel").status_code == 400
    original = client.put(f"/3/invoices/{invoice_number}/credit").json()["Invoice"]
    credit_number = original["CreditInvoiceReference"]
    credit = client.get(f"/3/invoices/{credit_number}").json()["Invoice"]
    assert credit["Credit"] == "true" and credit["CreditInvoiceReference"] == invoice_number
    assert credit["InvoiceRows"][0]["DeliveredQuantity"] == "-2"
    assert client.delete(f"/3/invoices/{invoice_number}").status_code == 405
    other = create(client, "orders", "Order", CustomerNumber="1")
    assert client.put(f"/3/orders/{other['DocumentNumber']}/cancel").json()["Order"]["Cancelled"] is True
    unbooked = create(client, "invoices", "Invoice", CustomerNumber="1")
    assert client.put(f"/3/invoices/{unbooked['DocumentNumber']}/cancel").json()["Invoice"]["Cancelled"] is True


def test_invoice_for_unknown_customer(client: httpx.Client) -> None:
    r = client.post("/3/invoices", json={"Invoice": {"CustomerNumber": "99"}})
    assert r.status_code == 400 and error_code(r) == 2000433


def basic(client_id: str = "sandbox-client-id", secret: str = "sandbox-client-secret") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_refresh_token_rotation(sim: FortnoxSimulator) -> None:
    with httpx.Client(base_url=sim.url) as c:
        first = c.post(
            "/oauth-v1/token",
            data={"grant_type": "refresh_token", "refresh_token": "sandbox-refresh-token"},
            headers=basic(),
        ).json()
        assert first["token_type"] == "bearer" and first["expires_in"] == 3600
        second = c.post(
            "/oauth-v1/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            headers=basic(),
        ).json()
        assert second["refresh_token"] != first["refresh_token"]
        reuse = c.post(
            "/oauth-v1/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            headers=basic(),
        )
        assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
        bad_client = c.post(
            "/oauth-v1/token", data={"grant_type": "refresh_token", "refresh_token": "x"}, headers=basic(secret="wrong")
        )
        assert bad_client.status_code == 401
        ok = c.get("/3/customers", headers={"Authorization": f"Bearer {second['access_token']}"})
        assert ok.status_code == 200
        sim.auth.expire_access_tokens()
        expired = c.get("/3/customers", headers={"Authorization": f"Bearer {second['access_token']}"})
        assert expired.status_code == 401 and error_code(expired) == 2000311


def test_client_credentials_and_legacy_headers(sim: FortnoxSimulator) -> None:
    with httpx.Client(base_url=sim.url) as c:
        r = c.post(
            "/oauth-v1/token",
            data={"grant_type": "client_credentials"},
            headers={**basic(), "TenantId": "sandbox-tenant"},
        )
        assert r.status_code == 200 and "refresh_token" not in r.json()
        assert c.post("/oauth-v1/token", data={"grant_type": "client_credentials"}, headers=basic()).status_code == 400
        legacy = {"Access-Token": "sandbox-legacy-access-token", "Client-Secret": "sandbox-legacy-client-secret"}
        assert c.get("/3/articles", headers=legacy).status_code == 200
        wrong = c.get("/3/articles", headers={**legacy, "Client-Secret": "nope"})
        assert wrong.status_code == 403 and error_code(wrong) == 2000310
        assert c.get("/3/articles").status_code == 401


def test_denied_scope_is_403_licence_error() -> None:
    config = FortnoxAuthConfig(denied_scopes=("invoice",))
    with FortnoxSimulator(rate_limit=None, auth=config) as sim, httpx.Client(base_url=sim.url, headers=AUTH) as c:
        r = c.get("/3/invoices")
        assert r.status_code == 403 and error_code(r) == 2001101
        assert c.get("/3/customers").status_code == 200


def test_rate_limit_429_body() -> None:
    with FortnoxSimulator(rate_limit=(3, 30.0)) as sim, httpx.Client(base_url=sim.url, headers=AUTH) as c:
        codes = [c.get("/3/customers").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = c.get("/3/customers")
        assert r.json() == {"message": "Too Many Requests"}
        assert c.post("/oauth-v1/token", data={"grant_type": "x"}, headers=basic()).status_code == 400  # exempt


def test_persistence_survives_restart(tmp_path) -> None:
    sim = start_simulator(tmp_path, rate_limit=None, seed=True)
    with httpx.Client(base_url=sim.url) as c:
        tokens = c.post(
            "/oauth-v1/token",
            data={"grant_type": "refresh_token", "refresh_token": "sandbox-refresh-token"},
            headers=basic(),
        ).json()
        count = c.get("/3/customers", headers=AUTH).json()["MetaInformation"]["@TotalResources"]
        c.delete("/3/customers/4", headers=AUTH)
    sim.stop()
    assert (tmp_path / "fortnox.json").exists()
    again = start_simulator(tmp_path, rate_limit=None, seed=True)  # seeding skipped: not empty
    with httpx.Client(base_url=again.url) as c:
        assert c.get("/3/customers", headers=AUTH).json()["MetaInformation"]["@TotalResources"] == count - 1
        reused = c.post("/3/customers", json={"Customer": {"Name": "X", "CustomerNumber": "4"}}, headers=AUTH)
        assert error_code(reused) == 2000637
        old = c.post(
            "/oauth-v1/token",
            data={"grant_type": "refresh_token", "refresh_token": "sandbox-refresh-token"},
            headers=basic(),
        )
        assert old.status_code == 400  # the initial refresh token stays spent
        newer = c.post(
            "/oauth-v1/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            headers=basic(),
        )
        assert newer.status_code == 200
    again.stop()
