"""WebcrmClient against httpx.MockTransport: session handling, error mapping, fallbacks, bodies."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from mapsync.connectors.base import Connector, FatalError, NotFoundError, RejectedError, TransientError
from mapsync.connectors.webcrm import WebcrmClient, format_timestamp, literal, parse_timestamp, select

API_TOKEN = "app-token-0000-secret"
Handler = Callable[[httpx.Request], httpx.Response]


def token(access: str = "at-1", refresh: str = "rt-1", expires: int = 3600) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "AccessToken": access,
            "RefreshToken": refresh,
            "Error": None,
            "ErrorDescription": None,
            "IsError": False,
            "ExpiresIn": expires,
            "TokenType": "Bearer",
        },
    )


class Api:
    """Routes by path; records every request."""

    def __init__(self, routes: dict[str, Callable[[httpx.Request], httpx.Response]]) -> None:
        self.routes = routes
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        handler = self.routes.get(f"{request.method} {request.url.path}") or self.routes.get(request.url.path)
        if handler is None:
            return httpx.Response(404, json={"Message": "No HTTP resource"})
        return handler(request)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.seen]


def client_for(api: Handler, fake_clock, **kwargs) -> WebcrmClient:
    return WebcrmClient(
        "https://api.webcrm.com",
        API_TOKEN,
        transport=httpx.MockTransport(api),
        sleep=fake_clock.sleep,
        monotonic=fake_clock,
        clock=fake_clock,
        random=lambda: 0.5,
        **kwargs,
    )


def org(record_id: int = 1, **fields) -> dict:
    return {"OrganisationId": record_id, "OrganisationName": "A", "OrganisationCity": None, **fields}


def test_protocol_login_and_bearer(fake_clock) -> None:
    api = Api({"/Auth/ApiLogin": lambda r: token(), "/Organisations/1": lambda r: httpx.Response(200, json=org())})
    client = client_for(api, fake_clock)
    assert isinstance(client, Connector)
    assert client.get("organisation", "1") == org()
    login = api.seen[0]
    assert b'name="authCode"' in login.content and API_TOKEN.encode() in login.content
    assert api.seen[1].headers["Authorization"] == "Bearer at-1"
    assert client.record_id("quotation_line", {"QuotationLineId": 5}) == "5"
    assert client.get("organisation", "not-a-number") is None


def test_refused_login_is_fatal_without_token_in_message(fake_clock) -> None:
    refused = httpx.Response(
        200, json={"AccessToken": None, "IsError": True, "Error": "invalid_grant", "ErrorDescription": "bad code"}
    )
    client = client_for(Api({"/Auth/ApiLogin": lambda r: refused}), fake_clock)
    with pytest.raises(FatalError) as info:
        client.get("organisation", "1")
    assert "bad code" in str(info.value) and API_TOKEN not in str(info.value)
    client2 = client_for(Api({"/Auth/ApiLogin": lambda r: httpx.Response(401)}), fake_clock)
    with pytest.raises(FatalError):
        client2.get("organisation", "1")


def test_refresh_before_expiry_then_relogin_when_refresh_refused(fake_clock) -> None:
    refresh_answers = [token("at-2", "rt-2", 100), httpx.Response(401, json={"IsError": True})]
    api = Api(
        {
            "/Auth/ApiLogin": lambda r: token("at-1", "rt-1", 100),
            "/Auth/ApiRefresh": lambda r: refresh_answers.pop(0),
            "/Organisations/1": lambda r: httpx.Response(200, json=org()),
        }
    )
    client = client_for(api, fake_clock)
    client.get("organisation", "1")
    fake_clock.now += 95
    client.get("organisation", "1")
    refresh = api.seen[2]
    assert refresh.url.path == "/Auth/ApiRefresh" and refresh.headers["refreshToken"] == "rt-1"
    assert b"rt-1" in refresh.content  # also as a form field
    assert api.seen[3].headers["Authorization"] == "Bearer at-2"
    fake_clock.now += 95
    client.get("organisation", "1")
    assert api.paths()[-3:] == ["POST /Auth/ApiRefresh", "POST /Auth/ApiLogin", "GET /Organisations/1"]


def test_401_renews_once_then_fatal(fake_clock) -> None:
    answers = [
        httpx.Response(401, json={"Message": "Authorization has been denied for this request."}),
        httpx.Response(200, json=org()),
    ]
    api = Api(
        {
            "/Auth/ApiLogin": lambda r: token(),
            "/Auth/ApiRefresh": lambda r: token("at-2"),
            "/Organisations/1": lambda r: answers.pop(0),
        }
    )
    assert client_for(api, fake_clock).get("organisation", "1") == org()
    assert api.paths() == [
        "POST /Auth/ApiLogin",
        "GET /Organisations/1",
        "POST /Auth/ApiRefresh",
        "GET /Organisations/1",
    ]
    always = Api(
        {
            "/Auth/ApiLogin": lambda r: token(),
            "/Auth/ApiRefresh": lambda r: token("at-2"),
            "/Organisations/1": lambda r: httpx.Response(401),
        }
    )
    with pytest.raises(FatalError):
        client_for(always, fake_clock).get("organisation", "1")


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        (
            httpx.Response(
                400,
                json={
                    "Message": "The request is invalid.",
                    "ModelState": {"organisation.OrganisationCity": ["too long"]},
                },
            ),
            RejectedError,
            "OrganisationCity: too long",
        ),
        (httpx.Response(400, text="Bad things"), RejectedError, "Bad things"),
        (httpx.Response(400), RejectedError, "Bad Request"),
        (httpx.Response(404, json={"message": "gone"}), NotFoundError, "gone"),
        (httpx.Response(403, json={"Message": "Forbidden"}), FatalError, "Forbidden"),
        (httpx.Response(500, text="<html>oops</html>"), TransientError, "HTTP 500"),
    ],
)
def test_error_mapping_never_depends_on_body(fake_clock, response, error, text) -> None:
    api = Api(
        {
            "/Auth/ApiLogin": lambda r: token(),
            "/Organisations/1": lambda r: httpx.Response(200, json=org()),
            "PUT /Organisations/1": lambda r: response,
        }
    )
    with pytest.raises(error) as info:
        client_for(api, fake_clock).update("organisation", "1", {"OrganisationCity": "x"})
    assert text in str(info.value)
    assert API_TOKEN not in str(info.value) and "at-1" not in str(info.value)


def test_429_honours_retry_after(fake_clock) -> None:
    throttled = httpx.Response(
        429,
        headers={"Retry-After": "14"},
        json={"RetryAfterSeconds": 14, "Message": "The request was throttled.", "Type": "TooManyRequestsException"},
    )
    answers = [throttled, httpx.Response(200, json=org())]
    api = Api({"/Auth/ApiLogin": lambda r: token(), "/Organisations/1": lambda r: answers.pop(0)})
    assert client_for(api, fake_clock).get("organisation", "1") == org()
    assert 14.0 in fake_clock.sleeps


def test_update_gets_merges_and_puts_full_record(fake_clock) -> None:
    stored = org(7, OrganisationCity="Umeå", OrganisationPlus1="keep")
    puts: list[dict] = []

    def put(request: httpx.Request) -> httpx.Response:
        puts.append(json.loads(request.content))
        stored.update(puts[-1])
        return httpx.Response(200)

    api = Api(
        {
            "/Auth/ApiLogin": lambda r: token(),
            "GET /Organisations/7": lambda r: httpx.Response(200, json=stored),
            "PUT /Organisations/7": put,
        }
    )
    client = client_for(api, fake_clock)
    result = client.update("organisation", "7", {"OrganisationCity": None, "OrganisationId": 99})
    assert puts == [
        {"OrganisationId": 7, "OrganisationName": "A", "OrganisationCity": None, "OrganisationPlus1": "keep"}
    ]
    assert result["OrganisationCity"] is None
    assert client.update("organisation", "7", {}) == result  # nothing to change: no PUT
    assert len(puts) == 1


def test_queries_refused_falls_back_to_listing(fake_clock) -> None:
    pages = {1: [org(1), org(2)], 2: []}
    api = Api(
        {
            "/Auth/ApiLogin": lambda r: token(),
            "/Queries": lambda r: httpx.Response(400, json={"Message": "Invalid column name"}),
            "/Organisations": lambda r: httpx.Response(200, json=pages[int(r.url.params["Page"])]),
        }
    )
    batch = client_for(api, fake_clock).read_changes("organisation", "2024-01-01T00:00:00Z", frozenset())
    assert [r["OrganisationId"] for r in batch.records] == [1, 2]
    assert "GET /Queries" in api.paths()


def test_organisation_post_without_id_is_looked_up(fake_clock) -> None:
    def queries(request: httpx.Request) -> httpx.Response:
        script = request.url.params["script"]
        assert "OrganisationName = 'O''Brien AB'" in script and "OrganisationCreatedAt >=" in script
        page = int(request.url.params["Page"])
        return httpx.Response(
            200,
            json=[
                org(3, OrganisationName="O'Brien AB"),
                org(4, OrganisationName="O'Brien AB", OrganisationCity="Elsewhere"),
            ]
            if page == 1
            else [],
        )

    api = Api(
        {
            "/Auth/ApiLogin": lambda r: token(),
            "POST /Organisations": lambda r: httpx.Response(200),
            "/Queries": queries,
            "GET /Organisations/3": lambda r: httpx.Response(200, json=org(3, OrganisationName="O'Brien AB")),
        }
    )
    created = client_for(api, fake_clock).create(
        "organisation", {"OrganisationName": "O'Brien AB", "OrganisationCity": None}
    )
    assert created["OrganisationId"] == 3


def test_post_returns_id_as_number_or_string(fake_clock) -> None:
    for body in (b"12", b'"12"'):
        api = Api(
            {
                "/Auth/ApiLogin": lambda r: token(),
                "POST /Persons": lambda r, b=body: httpx.Response(200, content=b),
                "GET /Persons/12": lambda r: httpx.Response(200, json={"PersonId": 12}),
            }
        )
        assert client_for(api, fake_clock).create("person", {"PersonFirstName": "X"}) == {"PersonId": 12}


def test_delete_only_lines_and_items(fake_clock) -> None:
    api = Api({"/Auth/ApiLogin": lambda r: token(), "DELETE /QuotationLines/5": lambda r: httpx.Response(200)})
    client = client_for(api, fake_clock)
    client.delete("quotation_line", "5")
    with pytest.raises(RejectedError):
        client.delete("organisation", "5")


def test_script_helpers() -> None:
    assert literal("O'Neil") == "'O''Neil'"
    assert select("Organisation", where=[("OrganisationUpdatedAt", ">=", "2024-01-01")], order_by="OrganisationId") == (
        "SELECT * FROM Organisation WHERE OrganisationUpdatedAt >= '2024-01-01' ORDER BY OrganisationId ASC"
    )
    with pytest.raises(ValueError):
        select("Organisation", where=[("x; DROP", "=", 1)])
    stamp = parse_timestamp("2018-10-05T12:00:00Z")
    assert format_timestamp(stamp) == "2018-10-05T12:00:00.0000000Z"
    assert parse_timestamp("2018-10-05T14:00:00+02:00") == stamp
    assert parse_timestamp("2018-10-05T12:00:00") == stamp  # no offset: UTC
