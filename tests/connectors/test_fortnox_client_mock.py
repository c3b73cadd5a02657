"""FortnoxClient against httpx.MockTransport: error mapping, retries, OAuth refresh, request bodies."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from mapsync.connectors.base import Connector, FatalError, NotFoundError, RejectedError, TransientError
from mapsync.connectors.fortnox import FortnoxClient, blank_changes, normalise_record, normalise_value

TOKEN = "static-secret-token-123"
Handler = Callable[[httpx.Request], httpx.Response]


class Secrets:
    def __init__(self, **values: str) -> None:
        self.values = dict(values)

    def get_secret(self, name: str) -> str | None:
        return self.values.get(name)

    def put_secret(self, name: str, value: str) -> None:
        self.values[name] = value


def client_for(handler: Handler, fake_clock, **kwargs) -> FortnoxClient:
    kwargs.setdefault("access_token", TOKEN)
    return FortnoxClient(
        "https://api.fortnox.se",
        transport=httpx.MockTransport(handler),
        sleep=fake_clock.sleep,
        monotonic=fake_clock,
        clock=fake_clock,
        random=lambda: 0.5,
        **kwargs,
    )


def error(status: int, code: int, message: str, *, capitalised: bool = False) -> httpx.Response:
    if capitalised:
        info = {"Error": 1, "Message": message, "Code": code}
    else:
        info = {"error": 1, "message": message, "code": code}
    return httpx.Response(status, json={"ErrorInformation": info})


def test_implements_connector_protocol(fake_clock) -> None:
    client = client_for(lambda r: httpx.Response(200), fake_clock)
    assert isinstance(client, Connector)
    assert client.record_id("customer", {"CustomerNumber": "12"}) == "12"
    assert client.record_id("invoice", {"DocumentNumber": "7"}) == "7"
    client.close()


def test_sends_bearer_and_unwraps(fake_clock) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"Customer": {"CustomerNumber": "1", "Name": "A"}})

    client = client_for(handler, fake_clock)
    assert client.get("customer", "1") == {"CustomerNumber": "1", "Name": "A"}
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen[0].url == "https://api.fortnox.se/3/customers/1"


def test_legacy_headers(fake_clock) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"Article": {"ArticleNumber": "A"}})

    client_for(handler, fake_clock, client_secret="legacy-secret").get("article", "A")
    assert seen[0].headers["Access-Token"] == TOKEN
    assert seen[0].headers["Client-Secret"] == "legacy-secret"
    assert "Authorization" not in seen[0].headers


def test_not_found_capitalised_keys(fake_clock) -> None:
    client = client_for(lambda r: error(404, 2000433, "Kan inte hitta kunden.", capitalised=True), fake_clock)
    assert client.get("customer", "123456789") is None
    with pytest.raises(NotFoundError) as info:
        client.update("customer", "123456789", {"Name": "x"})
    assert info.value.code == "2000433" and "Kan inte hitta kunden." in str(info.value)


def test_validation_error_lowercase_keys(fake_clock) -> None:
    client = client_for(lambda r: error(400, 2000587, "Ett ogiltigt filter har använts."), fake_clock)
    with pytest.raises(RejectedError) as info:
        client.create("invoice", {"CustomerNumber": "1"})
    assert not isinstance(info.value, NotFoundError)
    assert info.value.status == 400 and info.value.code == "2000587"
    assert "Ett ogiltigt filter har använts." in info.value.message


def test_error_without_json_body(fake_clock) -> None:
    client = client_for(lambda r: httpx.Response(400, text="<html>bad</html>"), fake_clock)
    with pytest.raises(RejectedError) as info:
        client.create("article", {"Description": "x"})
    assert info.value.status == 400 and info.value.code is None


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (error(401, 2000311, "Ogiltig access-token."), "2000311"),
        (error(403, 2000310, "Ogiltig Client-Secret."), "2000310"),
        (httpx.Response(403, json={"message": "Forbidden"}), None),
        (error(400, 2001101, "Licens saknas."), "2001101"),
        (error(400, 2001103, "Ingen API-licens."), "2001103"),
        (error(400, 2000311, "Ogiltig Access-Token."), "2000311"),
    ],
)
def test_fatal_errors(fake_clock, response: httpx.Response, code: str | None) -> None:
    client = client_for(lambda r: response, fake_clock)
    with pytest.raises(FatalError) as info:
        client.get("customer", "1")
    assert info.value.code == code
    assert TOKEN not in str(info.value)


def test_5xx_retried_then_success(fake_clock) -> None:
    answers = [httpx.Response(503), httpx.Response(500), httpx.Response(200, json={"Order": {"DocumentNumber": "1"}})]
    client = client_for(lambda r: answers.pop(0), fake_clock)
    assert client.get("order", "1") == {"DocumentNumber": "1"}
    assert client.requests_sent == 3


def test_persistent_5xx_is_transient(fake_clock) -> None:
    client = client_for(lambda r: httpx.Response(502), fake_clock)
    with pytest.raises(TransientError) as info:
        client.get("order", "1")
    assert client.requests_sent == 6
    assert TOKEN not in str(info.value)


def test_429_then_success_uses_backoff_or_retry_after(fake_clock) -> None:
    answers = [
        httpx.Response(429, json={"message": "Too Many Requests"}),
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(200, json={"Invoice": {"DocumentNumber": "1"}}),
    ]
    client = client_for(lambda r: answers.pop(0), fake_clock)
    assert client.get("invoice", "1") == {"DocumentNumber": "1"}
    assert fake_clock.sleeps == [0.5, 2.0]


def test_timeouts_and_resets_retried(fake_clock) -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.Response(200, json={"Customer": {"CustomerNumber": "1"}}),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        item = answers.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    assert client_for(handler, fake_clock).get("customer", "1") == {"CustomerNumber": "1"}


def test_action_not_retried_after_ambiguous_failure(fake_clock) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(500)

    client = client_for(handler, fake_clock)
    with pytest.raises(TransientError):
        client.action("order", "1", "createinvoice")
    assert calls == ["/3/orders/1/createinvoice"]
    with pytest.raises(RejectedError):
        client.action("order", "1", "explode")


def test_update_sends_only_changes_with_api_blank(fake_clock) -> None:
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"Customer": {"CustomerNumber": "1"}})

    client = client_for(handler, fake_clock)
    client.update("customer", "1", {"Phone1": None, "Email": "", "City": "Lund"})
    assert bodies == [{"Customer": {"Phone1": "API_BLANK", "Email": "API_BLANK", "City": "Lund"}}]


def test_create_leaves_out_empty_values(fake_clock) -> None:
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(201, json={"Customer": {"CustomerNumber": "9", "Name": "A"}})

    created = client_for(handler, fake_clock).create("customer", {"Name": "A", "Phone1": None, "Email": ""})
    assert created["CustomerNumber"] == "9"
    assert bodies == [{"Customer": {"Name": "A"}}]


def test_unknown_entity_is_rejected(fake_clock) -> None:
    with pytest.raises(RejectedError):
        client_for(lambda r: httpx.Response(200), fake_clock).get("voucher", "1")


def test_no_credentials_is_fatal() -> None:
    with pytest.raises(FatalError):
        FortnoxClient("https://api.fortnox.se", transport=httpx.MockTransport(lambda r: httpx.Response(200)))


class TokenServer:
    """A mock token endpoint with rotation plus an API that checks the bearer token."""

    def __init__(self, lifetime: int = 3600) -> None:
        self.valid_refresh = {"rt-0"}
        self.valid_access: set[str] = set()
        self.counter = 0
        self.lifetime = lifetime
        self.token_calls: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth-v1/token":
            form = dict(httpx.QueryParams(request.content.decode()))
            self.token_calls.append(form)
            assert request.headers["Authorization"].startswith("Basic ")
            if form.get("refresh_token") not in self.valid_refresh:
                return httpx.Response(
                    400, json={"error": "invalid_grant", "error_description": "Invalid refresh token"}
                )
            self.valid_refresh.discard(form["refresh_token"])
            self.counter += 1
            access, refresh = f"at-{self.counter}", f"rt-{self.counter}"
            self.valid_access = {access}
            self.valid_refresh.add(refresh)
            return httpx.Response(
                200,
                json={
                    "access_token": access,
                    "refresh_token": refresh,
                    "expires_in": self.lifetime,
                    "token_type": "bearer",
                    "scope": "customer",
                },
            )
        if request.headers.get("Authorization", "")[7:] not in self.valid_access:
            return error(401, 2000311, "Ogiltig access-token.")
        return httpx.Response(200, json={"Customer": {"CustomerNumber": "1"}})


def oauth_client(server: Handler, fake_clock, store: Secrets | None = None, **kwargs) -> FortnoxClient:
    kwargs.setdefault("refresh_token", "rt-0")
    return client_for(
        server, fake_clock, access_token=None, client_id="cid", client_secret="csecret", token_store=store, **kwargs
    )


def test_oauth_refresh_on_start_rotation_and_store(fake_clock) -> None:
    server = TokenServer()
    store = Secrets()
    client = oauth_client(server, fake_clock, store)
    client.get("customer", "1")
    assert store.values["fortnox.cid.refresh_token"] == "rt-1"
    server.valid_access.clear()  # server-side expiry -> 401 -> one refresh
    client.get("customer", "1")
    assert store.values["fortnox.cid.refresh_token"] == "rt-2"
    assert [c["refresh_token"] for c in server.token_calls] == ["rt-0", "rt-1"]


def test_token_url_for_real_api_is_apps_host(fake_clock) -> None:
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        return (
            TokenServer()(request)
            if request.url.path == "/oauth-v1/token"
            else httpx.Response(200, json={"Customer": {}})
        )

    oauth_client(handler, fake_clock).credentials.headers()
    assert urls == ["https://apps.fortnox.se/oauth-v1/token"]


def test_refreshes_before_expiry(fake_clock) -> None:
    server = TokenServer(lifetime=100)
    client = oauth_client(server, fake_clock)
    client.get("customer", "1")
    fake_clock.now += 50
    client.get("customer", "1")
    assert len(server.token_calls) == 1
    fake_clock.now += 45  # within the margin (10 % of the lifetime) before expiry
    client.get("customer", "1")
    assert len(server.token_calls) == 2


def test_stored_refresh_token_preferred_and_fallback(fake_clock) -> None:
    server = TokenServer()
    server.valid_refresh = {"rt-stored"}
    store = Secrets(**{"fortnox.cid.refresh_token": "rt-stored"})
    oauth_client(server, fake_clock, store, refresh_token="rt-env").get("customer", "1")
    assert server.token_calls[0]["refresh_token"] == "rt-stored"
    # stored token refused, configured one (re-authorised by the user) accepted
    server2 = TokenServer()
    server2.valid_refresh = {"rt-env"}
    store2 = Secrets(**{"fortnox.cid.refresh_token": "rt-stale"})
    oauth_client(server2, fake_clock, store2, refresh_token="rt-env").get("customer", "1")
    assert [c["refresh_token"] for c in server2.token_calls] == ["rt-stale", "rt-env"]
    assert store2.values["fortnox.cid.refresh_token"] == "rt-1"


def test_refused_refresh_token_is_fatal_without_secrets(fake_clock) -> None:
    server = TokenServer()
    server.valid_refresh = set()
    with pytest.raises(FatalError) as info:
        oauth_client(server, fake_clock, refresh_token="rt-very-secret").get("customer", "1")
    assert "rt-very-secret" not in str(info.value) and "csecret" not in str(info.value)


def test_second_401_is_fatal(fake_clock) -> None:
    server = TokenServer()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth-v1/token":
            return server(request)
        return error(401, 2000311, "Ogiltig access-token.")

    client = oauth_client(handler, fake_clock)
    with pytest.raises(FatalError):
        client.get("customer", "1")
    assert len(server.token_calls) == 2  # initial + one refresh after the 401


def test_client_credentials_grant(fake_clock) -> None:
    forms: list[tuple[dict, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth-v1/token":
            forms.append((dict(httpx.QueryParams(request.content.decode())), request.headers.get("TenantId")))
            return httpx.Response(200, json={"access_token": "cc-1", "expires_in": 3600, "token_type": "bearer"})
        assert request.headers["Authorization"] == "Bearer cc-1"
        return httpx.Response(200, json={"Customer": {"CustomerNumber": "1"}})

    client = client_for(handler, fake_clock, access_token=None, client_id="cid", client_secret="s", tenant_id="t-9")
    client.get("customer", "1")
    assert forms == [({"grant_type": "client_credentials"}, "t-9")]


def test_normalise_helpers() -> None:
    assert normalise_value("12.50") == 12.5 and normalise_value("3") == 3 and normalise_value("false") is False
    assert normalise_value("SE556") == "SE556" and normalise_value("nan") == "nan" and normalise_value(None) is None
    invoice = {
        "DocumentNumber": "7",
        "Credit": "false",
        "CurrencyRate": "1",
        "InvoiceRows": [{"DeliveredQuantity": "2", "Price": 10, "ContributionPercent": "0"}],
    }
    out = normalise_record("invoice", invoice)
    assert out["DocumentNumber"] == "7" and out["Credit"] is False and out["CurrencyRate"] == 1
    assert out["InvoiceRows"][0] == {"DeliveredQuantity": 2, "Price": 10, "ContributionPercent": 0}
    assert invoice["Credit"] == "false"  # input untouched
    assert normalise_record("article", {"PurchasePrice": "0", "EAN": "5901234123457"}) == {
        "PurchasePrice": 0,
        "EAN": "5901234123457",
    }
    assert blank_changes({"A": None, "Rows": [{"RowId": 1, "X": ""}], "O": {"Invoice": None}}) == {
        "A": "API_BLANK",
        "Rows": [{"RowId": 1, "X": "API_BLANK"}],
        "O": {"Invoice": "API_BLANK"},
    }


def test_normalise_uses_the_catalogue() -> None:
    order = {"DocumentNumber": "3", "CustomerNumber": "10", "OrderRows": [{"OrderedQuantity": "2.5", "RowId": 4}]}
    out = normalise_record("order", order)
    assert out["DocumentNumber"] == "3" and out["CustomerNumber"] == "10"  # ids stay strings
    assert out["OrderRows"][0]["OrderedQuantity"] == 2.5
    customer = normalise_record("customer", {"InvoiceFreight": "12", "Active": "true", "Name": "10"})
    assert customer == {"InvoiceFreight": 12, "Active": True, "Name": "10"}
    assert normalise_record("customer", {"InvoiceFreight": "12"}, catalogue=False) == {"InvoiceFreight": "12"}
