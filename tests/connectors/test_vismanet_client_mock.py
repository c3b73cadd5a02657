"""VismanetClient against httpx.MockTransport: auth, error mapping, ETag/412, paging, create read-back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from mapsync.connectors.base import ConflictError, Connector, FatalError, NotFoundError, RejectedError, TransientError
from mapsync.connectors.registry import make_client
from mapsync.connectors.vismanet import CONNECT_TOKEN_URL, VismanetClient

BASE = "https://api.finance.visma.net"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "vismanet"
Handler = Callable[[httpx.Request], httpx.Response]
SECRET = "very-secret-client-secret"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Api:
    """A scripted Visma.net: token endpoint plus a handler for API calls; records every request."""

    def __init__(self, handler: Handler, *, lifetime: int = 3600) -> None:
        self.handler = handler
        self.lifetime = lifetime
        self.requests: list[httpx.Request] = []
        self.tokens = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if str(request.url) == CONNECT_TOKEN_URL:
            self.tokens += 1
            return httpx.Response(
                200, json={"access_token": f"tok-{self.tokens}", "expires_in": self.lifetime, "token_type": "Bearer"}
            )
        return self.handler(request)

    def api_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if str(r.url) != CONNECT_TOKEN_URL]


def client_for(api: Api, fake_clock, **kwargs: Any) -> VismanetClient:
    return VismanetClient(
        BASE,
        client_id="isv_client",
        client_secret=SECRET,
        tenant_id="tenant-1",
        transport=httpx.MockTransport(api),
        sleep=fake_clock.sleep,
        monotonic=fake_clock,
        clock=fake_clock,
        random=lambda: 0.5,
        **kwargs,
    )


def customer(number: str = "10000", **fields: Any) -> dict[str, Any]:
    return {"number": number, "name": "A", "timeStamp": "AAAAAAAAB9E=", **fields}


# ----------------------------------------------------------------------------- auth
def test_connector_protocol_and_registry(fake_clock) -> None:
    client = client_for(Api(lambda r: httpx.Response(200, json=[])), fake_clock)
    assert isinstance(client, Connector)
    assert client.record_id("contact", {"contactId": 5}) == "5"
    assert client.record_id("sales_order", {"orderNo": "000001"}) == "000001"
    client.close()
    settings = {
        "base_url": BASE,
        "token_url": CONNECT_TOKEN_URL,
        "client_id": "c",
        "client_secret": "s",
        "tenant_id": "t",
    }
    made = make_client("vismanet", settings, token_store=object(), rate_limit=None)
    assert isinstance(made, VismanetClient) and made.base_url == BASE
    made.close()
    with pytest.raises(FatalError):
        VismanetClient(BASE, client_id="c", client_secret="", tenant_id="t")


def test_token_request_and_bearer(fake_clock) -> None:
    api = Api(lambda r: httpx.Response(200, json=customer(), headers={"ETag": "x"}))
    client = client_for(api, fake_clock)
    assert client.get("customer", "10000") == customer()
    token_request = api.requests[0]
    form = {k: v[0] for k, v in parse_qs(token_request.content.decode()).items()}
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "isv_client",
        "client_secret": SECRET,
        "tenant_id": "tenant-1",
        "scope": "vismanet_erp_service_api:read vismanet_erp_service_api:create "
        "vismanet_erp_service_api:update vismanet_erp_service_api:delete",
    }
    call = api.api_requests()[0]
    assert call.headers["Authorization"] == "Bearer tok-1"
    assert str(call.url) == f"{BASE}/v1/customer/10000"


def test_token_renewed_before_expiry_and_after_401(fake_clock) -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if request.headers["Authorization"] == "Bearer tok-2" and calls["n"] == 3:
            return httpx.Response(401, json={"message": "Authorization has been denied for this request."})
        return httpx.Response(200, json=customer())

    api = Api(handler, lifetime=100)
    client = client_for(api, fake_clock)
    client.get("customer", "1")
    fake_clock.now += 95  # inside the renewal margin (10 % of the lifetime)
    client.get("customer", "1")
    assert api.tokens == 2
    client.get("customer", "1")  # 401 -> renew -> retry
    assert api.tokens == 3
    assert [r.headers["Authorization"] for r in api.api_requests()] == [
        "Bearer tok-1",
        "Bearer tok-2",
        "Bearer tok-2",
        "Bearer tok-3",
    ]


def test_refused_credentials_are_fatal_and_secret_free(fake_clock) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"error": "invalid_client", "error_description": "Client authentication failed."}
        )

    client = VismanetClient(
        BASE,
        client_id="c",
        client_secret=SECRET,
        tenant_id="t",
        transport=httpx.MockTransport(refuse),
        sleep=fake_clock.sleep,
    )
    with pytest.raises(FatalError) as info:
        client.get("customer", "1")
    assert info.value.code == "invalid_client" and SECRET not in str(info.value)


def test_still_401_after_renewal_is_fatal(fake_clock) -> None:
    api = Api(lambda r: httpx.Response(401, json={"message": "Authorization has been denied for this request."}))
    with pytest.raises(FatalError) as info:
        client_for(api, fake_clock).get("customer", "1")
    assert info.value.status == 401 and api.tokens == 2


def test_no_licence_is_fatal_without_renewal(fake_clock) -> None:
    api = Api(lambda r: httpx.Response(400, json=fixture("doc_ippexception_12027.json")))
    with pytest.raises(FatalError) as info:
        client_for(api, fake_clock).find("customer", "name", "x")
    assert info.value.code == "12027" and "No license" in info.value.message
    assert api.tokens == 1 and len(api.api_requests()) == 1


# ----------------------------------------------------------------------------- errors
def test_error_mapping(fake_clock) -> None:
    responses = {
        "/v1/customer/404": httpx.Response(404, json={"message": "Customer 404 not found."}),
        "/v1/customer/400": httpx.Response(
            400,
            json={
                "ExceptionType": "IPPException",
                "ExceptionMessage": "Customer 400 not found.",
                "ExceptionFaultCode": "10404",
            },
        ),
        "/v2/customerinvoice": httpx.Response(400, json=fixture("doc_message_error.json")),
    }
    client = client_for(Api(lambda r: responses[r.url.path]), fake_clock)
    assert client.get("customer", "404") is None
    assert client.get("customer", "400") is None  # 400 "not found" on a GET by id
    with pytest.raises(RejectedError) as info:
        client.create("customer_invoice", {"customer": {"number": "1"}})
    assert not isinstance(info.value, NotFoundError)
    assert info.value.status == 400 and "TaxCategoryID '0' cannot be found" in info.value.message
    with pytest.raises(NotFoundError):
        client.update("customer", "404", {"name": "x"})
    with pytest.raises(RejectedError):
        client.delete("customer", "1")
    with pytest.raises(RejectedError):
        client.action("customer", "1", "release")


def test_429_honours_retry_after_then_transient(fake_clock) -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=customer())]
    client = client_for(Api(lambda r: answers.pop(0)), fake_clock)
    assert client.get("customer", "1") == customer()
    assert 7.0 in fake_clock.sleeps
    always = client_for(Api(lambda r: httpx.Response(503, json={"message": "An error has occurred."})), fake_clock)
    with pytest.raises(TransientError) as info:
        always.get("customer", "1")
    assert info.value.status == 503


def test_remaining_zero_pauses_until_reset(fake_clock) -> None:
    headers = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "42"}
    client = client_for(
        Api(lambda r: httpx.Response(200, json=customer(), headers=headers)), fake_clock, rate_limit=None
    )
    client.get("customer", "1")
    assert fake_clock.sleeps == []
    client.get("customer", "1")
    assert fake_clock.sleeps == [42.0]


# ----------------------------------------------------------------------------- ETag / If-Match
def test_update_sends_only_changes_with_if_match(fake_clock) -> None:
    state = {"rec": customer(mainAddress={"city": "Oslo", "country": {"id": "NO", "name": "Norway"}})}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            state["rec"] = {**state["rec"], "name": "B", "timeStamp": "v2"}
            return httpx.Response(204)
        return httpx.Response(200, json=state["rec"], headers={"ETag": state["rec"]["timeStamp"]})

    api = Api(handler)
    updated = client_for(api, fake_clock).update("customer", "10000", {"name": "B", "mainAddress.country.id": "SE"})
    assert updated["name"] == "B"
    put = next(r for r in api.requests if r.method == "PUT")
    assert put.headers["If-Match"] == "AAAAAAAAB9E="
    assert json.loads(put.content) == {"name": {"value": "B"}, "mainAddress": {"value": {"countryId": {"value": "SE"}}}}
    assert [r.method for r in api.api_requests()] == ["GET", "PUT", "GET"]


def test_etag_falls_back_to_dto_version(fake_clock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(204)
        return httpx.Response(200, json={"inventoryNumber": "I", "timestamp": "v9", "description": "x"})

    api = Api(handler)
    client_for(api, fake_clock).update("inventory_item", "I", {"description": "y"})
    assert next(r for r in api.requests if r.method == "PUT").headers["If-Match"] == "v9"


def _racing_api(concurrent: dict[str, Any]) -> tuple[Api, list[dict[str, Any]]]:
    """The first PUT finds the record changed by someone else (412); ``concurrent`` is their change."""
    state: dict[str, Any] = {"rec": customer(name="Old", corporateId="1", version=1)}
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        rec = state["rec"]
        if request.method == "PUT":
            bodies.append(json.loads(request.content))
            if len(bodies) == 1:
                state["rec"] = {**rec, **concurrent, "version": rec["version"] + 1}
                return httpx.Response(412, json={"message": "VismaId: 1. The record has been changed."})
            assert request.headers["If-Match"] == f"v{rec['version']}"
            state["rec"] = {**rec, **{k: v["value"] for k, v in bodies[-1].items()}, "version": rec["version"] + 1}
            return httpx.Response(204)
        return httpx.Response(200, json=rec, headers={"ETag": f"v{rec['version']}"})

    return Api(handler), bodies


def test_lost_update_on_other_field_is_merged(fake_clock) -> None:
    api, bodies = _racing_api({"corporateId": "2"})
    result = client_for(api, fake_clock).update("customer", "10000", {"name": "New"})
    assert result["name"] == "New" and result["corporateId"] == "2"
    assert len(bodies) == 2


def test_lost_update_on_same_field_is_refused(fake_clock) -> None:
    api, bodies = _racing_api({"name": "Theirs"})
    with pytest.raises(ConflictError) as info:
        client_for(api, fake_clock).update("customer", "10000", {"name": "New"})
    assert info.value.status == 412 and "name" in info.value.message
    assert len(bodies) == 1


def test_same_value_written_meanwhile_is_not_a_conflict(fake_clock) -> None:
    api, _ = _racing_api({"name": "New"})
    assert client_for(api, fake_clock).update("customer", "10000", {"name": "New"})["name"] == "New"


# ----------------------------------------------------------------------------- lists and create
def test_read_changes_query_and_cursor(fake_clock) -> None:
    fake_clock.now = 1_709_290_800.0  # 2024-03-01 11:00:00 UTC
    meta = {"metadata": {"totalCount": 1, "maxPageSize": 1000}}
    api = Api(lambda r: httpx.Response(200, json=[{**customer(), **meta}]))
    client = client_for(api, fake_clock)
    batch = client.read_changes("customer", "2024-02-29 10:00:00", frozenset({"name"}))
    assert batch.cursor == "2024-03-01 10:58:00"
    assert list(batch.records) == [customer()]
    query = api.api_requests()[0].url.params
    assert query["lastModifiedDateTime"] == "2024-02-29 10:00:00"
    assert query["lastModifiedDateTimeCondition"] == ">="
    assert query["pageNumber"] == "1" and query["pageSize"] == "1000"
    with pytest.raises(RejectedError):
        client.read_changes("customer", "not a time", frozenset())


def test_list_item_without_lines_is_fetched_in_full(fake_clock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/salesorder":
            return httpx.Response(200, json=[{"orderNo": "1", "metadata": {"totalCount": 1, "maxPageSize": 5}}])
        return httpx.Response(200, json={"orderNo": "1", "lines": []})

    client = client_for(Api(handler), fake_clock)
    assert list(client.read_changes("sales_order", None, frozenset()).records) == [{"orderNo": "1", "lines": []}]


def test_find_uses_filter_and_exact_match_and_falls_back(fake_clock) -> None:
    records = [customer("1", mainContact={"email": "a@x.no"}), customer("2", mainContact={"email": "A@X.NO "})]

    def handler(request: httpx.Request) -> httpx.Response:
        if "email" in request.url.params:
            return httpx.Response(200, json=records)
        if "corporateId" in request.url.params:
            return httpx.Response(400, json={"message": "The request is invalid."})
        return httpx.Response(200, json=records if request.url.params.get("pageNumber") == "1" else [])

    api = Api(handler)
    client = client_for(api, fake_clock)
    assert [r["number"] for r in client.find("customer", "mainContact.email", "a@x.no")] == ["1"]
    assert api.api_requests()[0].url.params["email"] == "a@x.no"
    assert client.find("customer", "corporateId", "9") == []  # filter refused -> scan
    assert client.find("customer", "name", None) == []


def test_create_reads_back_from_location(fake_clock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, headers={"Location": "https://other.host/v1/salesorder/SO/000123"})
        assert request.url.path == "/v1/salesorder/000123"
        return httpx.Response(200, json={"orderNo": "000123", "lines": []})

    api = Api(handler)
    created = client_for(api, fake_clock).create(
        "sales_order", {"orderType": "SO", "customer": {"number": "1"}, "lines": [{"inventory.number": "A"}]}
    )
    assert created["orderNo"] == "000123"
    post = next(r for r in api.api_requests() if r.method == "POST")
    assert post.url.path == "/v1/salesorder"
    assert json.loads(post.content) == {
        "orderType": {"value": "SO"},
        "customer": {"value": "1"},
        "lines": [{"operation": "Insert", "inventoryNumber": {"value": "A"}}],
    }


def test_create_without_location_finds_the_new_contact(fake_clock) -> None:
    contacts = [
        {"contactId": 3, "lastName": "B", "email": "b@x.no"},
        {"contactId": 4, "lastName": "B", "email": "b@x.no"},
        {"contactId": 5, "lastName": "C", "email": "c@x.no"},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201)
        if "greaterThanValue" in request.url.params:
            return httpx.Response(200, json=[])
        return httpx.Response(200, json=contacts)

    created = client_for(Api(handler), fake_clock).create("contact", {"lastName": "B", "email": "b@x.no"})
    assert created["contactId"] == 4


def test_post_is_not_retried_after_a_server_error(fake_clock) -> None:
    api = Api(lambda r: httpx.Response(502))
    with pytest.raises(TransientError):
        client_for(api, fake_clock).create("customer", {"name": "A"})
    assert len(api.api_requests()) == 1
