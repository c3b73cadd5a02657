"""Many tenants in one simulator: per credential its own data, id counters and rate-limit window, made on first
use; the configured credentials keep the default tenant; latency delays requests without blocking others."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mapsync.connectors.fortnox.simulator import FortnoxAuthConfig, FortnoxSimulator
from mapsync.connectors.simkit import (
    DEFAULT_TENANT,
    Request,
    Response,
    Router,
    SimServer,
    Tenants,
    json_response,
    parse_latency,
)
from mapsync.connectors.vismanet.simulator import SCOPES, VismanetAuthConfig, VismanetSimulator
from mapsync.connectors.webcrm.simulator import WebcrmAuthConfig, WebcrmSimulator

pytestmark = pytest.mark.e2e


# ----------------------------------------------------------------------------- webCRM
def webcrm_login(client: httpx.Client, token: str) -> dict[str, str]:
    answer = client.post("/Auth/ApiLogin", data={"authCode": token})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['AccessToken']}"}


def test_webcrm_each_api_token_has_its_own_data_and_numbering() -> None:
    with WebcrmSimulator(rate_limit=None) as sim, httpx.Client(base_url=sim.url) as c:
        default = webcrm_login(c, "sandbox-webcrm-api-token")
        acme, beta = webcrm_login(c, "tenant-acme"), webcrm_login(c, "tenant-beta")
        assert c.post("/Organisations", json={"OrganisationName": "Default Org"}, headers=default).json() == 1
        assert c.post("/Organisations", json={"OrganisationName": "Acme Org"}, headers=acme).json() == 1
        assert c.post("/Organisations", json={"OrganisationName": "Acme Two"}, headers=acme).json() == 2
        assert [o["OrganisationName"] for o in c.get("/Organisations", headers=acme).json()] == ["Acme Org", "Acme Two"]
        assert c.get("/Organisations", headers=beta).json() == []
        assert c.get("/Organisations/2", headers=beta).status_code == 404
        assert [o["OrganisationName"] for o in c.get("/Organisations", headers=default).json()] == ["Default Org"]
        refreshed = c.post("/Auth/ApiLogin", data={"authCode": "tenant-acme"}).json()["RefreshToken"]
        again = c.post("/Auth/ApiRefresh", headers={"refreshToken": refreshed}).json()["AccessToken"]
        assert len(c.get("/Organisations", headers={"Authorization": f"Bearer {again}"}).json()) == 2  # same tenant
        assert c.post("/Auth/ApiLogin", data={"authCode": "wrong"}).status_code == 401
        assert c.post("/Auth/ApiLogin", data={"authCode": "tenant-"}).status_code == 401  # a prefix alone names none
    assert sim.tenants.ids() == [DEFAULT_TENANT, "tenant-acme", "tenant-beta"]
    assert sim.store.get("organisation", 1)["OrganisationName"] == "Default Org"  # the default tenant's store
    assert sim.log.count(path_prefix="/Organisations", tenant="tenant-acme") == 4
    refused = [e for e in sim.log.entries() if e.status == 401]
    assert [(e.path, e.tenant) for e in refused] == [("/Auth/ApiLogin", None)] * 2  # charged to no tenant


def test_webcrm_tenants_have_their_own_rate_limit_window() -> None:
    with WebcrmSimulator(rate_limit=(3, 60.0)) as sim, httpx.Client(base_url=sim.url) as c:
        acme = webcrm_login(c, "tenant-acme")  # the login counts for the token it presents
        assert [c.get("/Organisations", headers=acme).status_code for _ in range(3)] == [200, 200, 429]
        beta = webcrm_login(c, "tenant-beta")
        assert [c.get("/Organisations", headers=beta).status_code for _ in range(2)] == [200, 200]
        default = webcrm_login(c, "sandbox-webcrm-api-token")
        assert c.get("/Organisations", headers=default).status_code == 200
        assert c.get("/Organisations", headers=acme).status_code == 429
        assert c.get("/Organisations", headers=beta).status_code == 429


def test_webcrm_without_a_tenant_prefix_only_the_configured_tokens_pass() -> None:
    config = WebcrmAuthConfig(tenant_prefix=None)
    with WebcrmSimulator(rate_limit=None, auth=config) as sim, httpx.Client(base_url=sim.url) as c:
        assert c.post("/Auth/ApiLogin", data={"authCode": "tenant-acme"}).status_code == 401
        webcrm_login(c, "sandbox-webcrm-api-token")
    assert len(sim.tenants) == 1


def test_webcrm_invented_tenants_persist_under_a_digest(tmp_path: Path) -> None:
    sim = WebcrmSimulator(tmp_path, rate_limit=None).start()
    with httpx.Client(base_url=sim.url) as c:
        acme = webcrm_login(c, "tenant-acme-secret-token")
        c.post("/Organisations", json={"OrganisationName": "Kept"}, headers=acme)
    sim.stop()
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    assert len(files) == 2 and "webcrm.json" in files
    assert not any("acme" in name for name in files)  # a token never becomes a file name
    again = WebcrmSimulator(tmp_path, rate_limit=None).start()
    try:
        assert again.is_empty()  # the default tenant's data is not the invented one's
        with httpx.Client(base_url=again.url) as c:
            orgs = c.get("/Organisations", headers=webcrm_login(c, "tenant-acme-secret-token")).json()
        assert [o["OrganisationName"] for o in orgs] == ["Kept"]
    finally:
        again.stop()


def test_seed_and_clear_controls_name_a_tenant() -> None:
    with WebcrmSimulator(rate_limit=None) as sim, httpx.Client(base_url=sim.url) as c:
        assert c.post("/_sim/seed", params={"tenant": "tenant-acme"}).json() == {"ok": True}
        acme = webcrm_login(c, "tenant-acme")
        assert len(c.get("/Organisations", headers=acme).json()) == 3
        assert sim.is_empty()
        c.post("/_sim/clear", params={"tenant": "tenant-acme"})
        assert c.get("/Organisations", headers=acme).json() == []


# ----------------------------------------------------------------------------- Fortnox
def basic() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(b"sandbox-client-id:sandbox-client-secret").decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fortnox_names(client: httpx.Client, headers: dict[str, str]) -> list[str]:
    answer = client.get("/3/customers", headers=headers)
    assert answer.status_code == 200, answer.text
    return [c["Name"] for c in answer.json()["Customers"]]


def test_fortnox_tenants_by_token_and_by_client_credentials() -> None:
    with FortnoxSimulator(rate_limit=None) as sim, httpx.Client(base_url=sim.url) as c:
        default, acme = bearer("sandbox-access-token"), bearer("tenant-acme")
        created = c.post("/3/customers", json={"Customer": {"Name": "Acme AB"}}, headers=acme).json()["Customer"]
        assert created["CustomerNumber"] == "1"
        assert c.post("/3/customers", json={"Customer": {"Name": "Default AB"}}, headers=default).json()[
            "Customer"]["CustomerNumber"] == "1"
        issued = c.post("/oauth-v1/token", data={"grant_type": "client_credentials"},
                        headers={**basic(), "TenantId": "tenant-acme"})
        assert issued.status_code == 200
        assert fortnox_names(c, bearer(issued.json()["access_token"])) == ["Acme AB"]  # the same tenant
        beta = c.post("/oauth-v1/token", data={"grant_type": "client_credentials"},
                      headers={**basic(), "TenantId": "tenant-beta"}).json()["access_token"]
        assert fortnox_names(c, bearer(beta)) == []
        sandbox = c.post("/oauth-v1/token", data={"grant_type": "client_credentials"},
                         headers={**basic(), "TenantId": "sandbox-tenant"}).json()["access_token"]
        assert fortnox_names(c, bearer(sandbox)) == fortnox_names(c, default) == ["Default AB"]
        legacy = {"Access-Token": "sandbox-legacy-access-token", "Client-Secret": "sandbox-legacy-client-secret"}
        assert fortnox_names(c, legacy) == ["Default AB"]
        refused = c.post("/oauth-v1/token", data={"grant_type": "client_credentials"},
                         headers={**basic(), "TenantId": "someone-else"})
        assert refused.status_code == 400
        assert c.get("/3/customers", headers=bearer("someone-else")).status_code == 401
        sim.auth.expire_access_tokens()
        assert c.get("/3/customers", headers=bearer(beta)).status_code == 401
        assert c.get("/3/customers", headers=acme).status_code == 200  # a static token does not expire


def test_fortnox_tenants_have_their_own_rate_limit_window() -> None:
    with FortnoxSimulator(rate_limit=(3, 30.0)) as sim, httpx.Client(base_url=sim.url) as c:
        assert [c.get("/3/customers", headers=bearer("tenant-acme")).status_code for _ in range(4)] == [
            200, 200, 200, 429]
        assert [c.get("/3/customers", headers=bearer("tenant-beta")).status_code for _ in range(3)] == [200] * 3
        assert c.get("/3/customers", headers=bearer("sandbox-access-token")).status_code == 200
        assert c.get("/3/customers", headers=bearer("tenant-acme")).status_code == 429
    assert sim.log.count(status=429, tenant="tenant-acme") == 2 and sim.log.count(status=429) == 2


def test_fortnox_without_a_tenant_prefix() -> None:
    with (FortnoxSimulator(rate_limit=None, auth=FortnoxAuthConfig(tenant_prefix=None)) as sim,
          httpx.Client(base_url=sim.url) as c):
        assert c.get("/3/customers", headers=bearer("tenant-acme")).status_code == 401
        assert c.post("/oauth-v1/token", data={"grant_type": "client_credentials"},
                      headers={**basic(), "TenantId": "tenant-acme"}).status_code == 400


# ----------------------------------------------------------------------------- Visma.net
@contextmanager
def visma(sim: VismanetSimulator, tenant_id: str) -> Iterator[httpx.Client]:
    config = VismanetAuthConfig()
    with httpx.Client(base_url=sim.url) as http:
        answer = http.post("/connect/token", data={
            "grant_type": "client_credentials", "client_id": config.client_id, "client_secret": config.client_secret,
            "tenant_id": tenant_id, "scope": " ".join(SCOPES)})
        assert answer.status_code == 200, answer.text
        http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield http


def test_vismanet_each_company_has_its_own_data_and_quota() -> None:
    now = [0.0]
    with (VismanetSimulator(rate_limit=(3, 60.0), rate_clock=lambda: now[0]) as sim,
          visma(sim, "tenant-acme") as acme, visma(sim, "tenant-beta") as beta,
          visma(sim, "sandbox-tenant-id") as default):
        created = acme.post("/v1/customer", json={"name": {"value": "Acme AS"}})
        assert created.status_code == 201 and created.headers["X-RateLimit-Remaining"] == "2"
        listed = beta.get("/v1/customer")
        assert listed.json() == [] and listed.headers["X-RateLimit-Remaining"] == "2"
        assert [a.status_code for a in (acme.get("/v1/customer"), acme.get("/v1/customer"), acme.get("/v1/customer"))
                ] == [200, 200, 429]
        assert beta.get("/v1/customer").status_code == 200
        answer = default.get("/v1/customer")
        assert answer.status_code == 200 and answer.json() == [] and answer.headers["X-RateLimit-Remaining"] == "2"
        now[0] = 60.0
        assert [c["name"] for c in acme.get("/v1/customer").json()] == ["Acme AS"]
    with VismanetSimulator(rate_limit=None) as sim, visma(sim, "sandbox-unlicensed-tenant-id") as unlicensed:
        assert unlicensed.get("/v1/customer").status_code == 403
        assert sim.tenants.ids() == [DEFAULT_TENANT]


def test_vismanet_controls_name_a_tenant() -> None:
    with VismanetSimulator(rate_limit=None) as sim, httpx.Client(base_url=sim.url) as raw:
        raw.post("/_sim/seed", params={"tenant": "tenant-acme"})
        with visma(sim, "tenant-acme") as acme:
            assert len(acme.get("/v1/customer").json()) == 3
            invoiced = raw.post("/_sim/salesorder/000001/invoice", params={"tenant": "tenant-acme"})
            assert invoiced.status_code == 200
            assert [i["referenceNumber"] for i in acme.get("/v1/customerinvoice").json()].count(
                invoiced.json()["referenceNumber"]) == 1
        assert sim.is_empty()


# ----------------------------------------------------------------------------- tenants, latency
def test_tenants_are_made_once_on_first_use() -> None:
    made: list[str] = []

    def make(tenant: str) -> list[str]:
        made.append(tenant)
        time.sleep(0.01)
        return [tenant]

    tenants = Tenants(["default"], make)
    threads = [threading.Thread(target=tenants.get, args=("tenant-x",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == ["tenant-x"] and tenants.get("tenant-x") is tenants.get("tenant-x")
    assert tenants.get(None) is tenants.get(DEFAULT_TENANT) is tenants.default
    assert len(tenants) == 2 and tenants.all() == [["default"], ["tenant-x"]]


def test_parse_latency() -> None:
    assert parse_latency("100-300ms") == pytest.approx((0.1, 0.3))
    assert parse_latency("0.1-0.3s") == pytest.approx((0.1, 0.3))
    assert parse_latency("200ms") == pytest.approx((0.2, 0.2))
    assert parse_latency("1") == (1.0, 1.0)
    for bad in ("300-100ms", "fast", "-1ms", "1-2-3s"):
        with pytest.raises(ValueError):
            parse_latency(bad)


def _echo_server(latency: tuple[float, float]) -> SimServer:
    router = Router()

    @router.route("GET", "/echo")
    def echo(request: Request) -> Response:
        return json_response(200, {"ok": True})

    return SimServer(router, latency=latency)


def test_latency_delays_each_request_without_blocking_the_others() -> None:
    with _echo_server((1.0, 1.0)) as server:
        started = time.monotonic()
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/echo").status_code == 200
        assert time.monotonic() - started >= 1.0
        answers: list[int] = []

        def call() -> None:
            with httpx.Client(base_url=server.url, timeout=30) as c:
                answers.append(c.get("/echo").status_code)

        threads = [threading.Thread(target=call) for _ in range(10)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        assert answers == [200] * 10
        # one after the other would take 10 s; the margin is for a loaded machine starting ten clients
        assert 1.0 <= elapsed < 5.0


def test_latency_is_drawn_between_its_bounds_and_spares_control_paths() -> None:
    with _echo_server((0.05, 0.25)) as server, httpx.Client(base_url=server.url) as client:
        times = []
        for _ in range(12):
            started = time.monotonic()
            client.get("/echo")
            times.append(time.monotonic() - started)
        assert min(times) >= 0.05
        assert len({round(t, 2) for t in times}) > 1  # drawn, not fixed
        server.latency = (3.0, 3.0)  # may be changed while serving
        started = time.monotonic()
        assert client.get("/_sim/health").status_code == 200
        assert time.monotonic() - started < 2.0
