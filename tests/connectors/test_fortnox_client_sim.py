"""FortnoxClient against the Fortnox simulator over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from mapsync.connectors.base import FatalError, RejectedError
from mapsync.connectors.fortnox import FortnoxClient
from mapsync.connectors.fortnox.simulator import FortnoxAuthConfig, FortnoxSimulator

pytestmark = pytest.mark.e2e


class Secrets:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get_secret(self, name: str) -> str | None:
        return self.values.get(name)

    def put_secret(self, name: str, value: str) -> None:
        self.values[name] = value


class SimClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 11, 0, 0, tzinfo=UTC)  # 12:00 Stockholm

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sim() -> Iterator[FortnoxSimulator]:
    with FortnoxSimulator(rate_limit=None) as server:
        yield server


def make_client(sim: FortnoxSimulator, **kwargs) -> FortnoxClient:
    kwargs.setdefault("access_token", "sandbox-access-token")
    kwargs.setdefault("rate_limit", None)
    kwargs.setdefault("sleep", lambda s: None)
    return FortnoxClient(sim.url, **kwargs)


@pytest.fixture
def client(sim: FortnoxSimulator) -> Iterator[FortnoxClient]:
    with make_client(sim) as c:
        yield c


def test_paging_reads_every_record(sim: FortnoxSimulator) -> None:
    with make_client(sim, page_size=5) as client:
        for i in range(12):
            client.create("customer", {"Name": f"Kund {i}"})
        sim.log.clear()
        batch = client.read_changes("customer", None, frozenset({"Name", "CustomerNumber"}))
        names = [r["Name"] for r in batch.records]
    assert names == [f"Kund {i}" for i in range(12)]
    assert sim.log.count("GET", "/3/customers") == 3  # list items suffice: no single GETs


def test_subset_fields_fetch_full_records(sim: FortnoxSimulator, client: FortnoxClient) -> None:
    client.create("customer", {"Name": "A", "Phone1": "010-1", "VATNumber": "SE1"})
    client.create("customer", {"Name": "B"})
    sim.log.clear()
    records = list(client.read_changes("customer", None, frozenset({"Name", "VATNumber"})).records)
    assert [r["VATNumber"] for r in records] == ["SE1", ""]
    assert sim.log.count("GET", "/3/customers/") == 2
    sim.log.clear()
    list(client.read_changes("order", None, frozenset({"OrderRows[].ArticleNumber"})).records)
    assert sim.log.count("GET") == 1  # no orders yet


def test_changed_since_with_overlap() -> None:
    sim_clock = SimClock()
    client_time = [sim_clock.now.timestamp()]
    with FortnoxSimulator(rate_limit=None, now=sim_clock) as sim, make_client(sim, clock=lambda: client_time[0]) as c:
        c.create("customer", {"Name": "Old"})  # 12:00:00
        sim_clock.now += timedelta(minutes=3)
        client_time[0] = sim_clock.now.timestamp() + 30  # the client reads at 12:03:30
        first = c.read_changes("customer", None, frozenset({"Name"}))
        assert [r["Name"] for r in first.records] == ["Old"]
        assert first.cursor == "2024-03-01 12:02"  # 12:03:30 - 1 min, minute precision
        sim_clock.now += timedelta(seconds=10)  # 12:03:10: a change during/after the read
        c.create("customer", {"Name": "New"})
        second = c.read_changes("customer", first.cursor, frozenset({"Name"}))
        assert [r["Name"] for r in second.records] == ["New"]
        assert sim.log.entries()[-1].query.startswith("lastmodified=2024-03-01 12:02")


def test_iso_cursor_is_accepted(client: FortnoxClient) -> None:
    client.create("customer", {"Name": "A"})
    cursor = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    assert [r["Name"] for r in client.read_changes("customer", cursor, frozenset({"Name"})).records] == ["A"]
    with pytest.raises(RejectedError):
        client.read_changes("customer", "not a time", frozenset())


def test_create_update_blank_get(client: FortnoxClient) -> None:
    created = client.create("customer", {"Name": "Bolaget AB", "Phone1": "08-1", "Email": "a@b.se", "Fax": None})
    number = client.record_id("customer", created)
    assert created["Phone1"] == "08-1" and created["Fax"] is None
    updated = client.update("customer", number, {"City": "Visby", "Phone1": None, "Email": ""})
    assert updated["City"] == "Visby" and updated["Phone1"] is None and updated["Email"] == ""
    assert updated["Name"] == "Bolaget AB"
    assert client.get("customer", number) == updated
    assert client.update("customer", number, {}) == updated
    assert client.get("customer", "999999") is None
    client.delete("customer", number)
    assert client.get("customer", number) is None
    with pytest.raises(RejectedError):
        client.create("customer", {"Name": "again", "CustomerNumber": number})


def test_find_exact_via_search_and_scan(client: FortnoxClient) -> None:
    client.create("customer", {"Name": "Test", "Email": "a@x.se", "VATNumber": "SE1"})
    client.create("customer", {"Name": "Test customer", "Email": "aa@x.se", "VATNumber": "SE12"})
    assert [r["Name"] for r in client.find("customer", "Name", "Test")] == ["Test"]
    assert [r["Email"] for r in client.find("customer", "Email", "a@x.se")] == ["a@x.se"]
    assert [r["Name"] for r in client.find("customer", "VATNumber", "SE12")] == ["Test customer"]  # scan
    assert [r["Name"] for r in client.find("customer", "CustomerNumber", "2")] == ["Test customer"]
    assert client.find("customer", "Name", "Nobody") == []
    assert client.find("customer", "Email", None) == []


def test_documents_rows_and_actions(client: FortnoxClient) -> None:
    client.create("customer", {"Name": "A"})
    client.create("article", {"ArticleNumber": "A1", "Description": "Sak"})
    order = client.create(
        "order", {"CustomerNumber": "1", "OrderRows": [{"ArticleNumber": "A1", "OrderedQuantity": 3, "Price": 10}]}
    )
    number = client.record_id("order", order)
    row_id = order["OrderRows"][0]["RowId"]
    changed = client.update("order", number, {"OrderRows": [{"RowId": row_id}, {"Description": "Frakt", "Price": 50}]})
    assert [r["Description"] for r in changed["OrderRows"]] == ["Sak", "Frakt"]
    assert changed["OrderRows"][0]["OrderedQuantity"] == "3"
    invoiced = client.action("order", number, "createinvoice")
    invoice = client.get("invoice", invoiced["InvoiceReference"])
    assert invoice is not None and invoice["OrderReference"] == number
    client.action("invoice", invoice["DocumentNumber"], "bookkeep")
    with pytest.raises(RejectedError) as info:
        client.update("invoice", invoice["DocumentNumber"], {"Comments": "too late"})
    assert info.value.status == 400 and info.value.code == "2999004"
    found = client.find("invoice", "OrderReference", number)  # no search parameter: scan
    assert [i["DocumentNumber"] for i in found] == [invoice["DocumentNumber"]]


def test_oauth_rotation_against_simulator() -> None:
    with FortnoxSimulator(rate_limit=None) as sim:
        store = Secrets()
        client = make_client(
            sim,
            access_token=None,
            client_id="sandbox-client-id",
            client_secret="sandbox-client-secret",
            refresh_token="sandbox-refresh-token",
            token_store=store,
        )
        client.create("customer", {"Name": "A"})
        first = store.values["fortnox.sandbox-client-id.refresh_token"]
        sim.auth.expire_access_tokens()
        assert client.get("customer", "1") is not None  # 401 -> refresh -> retry
        second = store.values["fortnox.sandbox-client-id.refresh_token"]
        sim.auth.expire_access_tokens()
        assert client.get("customer", "1") is not None
        third = store.values["fortnox.sandbox-client-id.refresh_token"]
        assert len({first, second, third}) == 3 and sim.auth.refreshes == 3
        client.close()
        with httpx.Client(base_url=sim.url, auth=("sandbox-client-id", "sandbox-client-secret")) as raw:
            old = raw.post("/oauth-v1/token", data={"grant_type": "refresh_token", "refresh_token": second})
            assert old.status_code == 400
        # a new client (next pass) starts from the stored, newest token
        again = make_client(
            sim,
            access_token=None,
            client_id="sandbox-client-id",
            client_secret="sandbox-client-secret",
            refresh_token="sandbox-refresh-token",
            token_store=store,
        )
        assert again.get("customer", "1") is not None
        again.close()


def test_short_token_lifetime_refreshes_ahead() -> None:
    config = FortnoxAuthConfig(access_token_lifetime=100)
    now = [1_000_000.0]
    with FortnoxSimulator(rate_limit=None, auth=config, clock=lambda: now[0]) as sim:
        client = make_client(
            sim,
            access_token=None,
            client_id="sandbox-client-id",
            client_secret="sandbox-client-secret",
            refresh_token="sandbox-refresh-token",
            clock=lambda: now[0],
        )
        client.get("customer", "1")
        now[0] += 95  # inside the refresh margin
        client.get("customer", "1")
        assert sim.auth.refreshes == 2
        assert sim.log.count(status=401) == 0
        client.close()


def test_bad_credentials_are_fatal(sim: FortnoxSimulator) -> None:
    with make_client(sim, access_token="wrong") as client, pytest.raises(FatalError) as info:
        client.get("customer", "1")
    assert "wrong" not in str(info.value)
    with (
        make_client(
            sim,
            access_token=None,
            client_id="sandbox-client-id",
            client_secret="sandbox-client-secret",
            refresh_token="not-valid",
        ) as client,
        pytest.raises(FatalError),
    ):
        client.get("customer", "1")


def test_survives_429_burst_5xx_and_dropped_connection(sim: FortnoxSimulator, client: FortnoxClient) -> None:
    client.create("customer", {"Name": "A"})
    sim.faults.add("429", 3)
    assert client.get("customer", "1") is not None
    sim.faults.add("5xx", 2, status=503)
    assert client.get("customer", "1") is not None
    sim.faults.add("drop", 1)
    assert client.get("customer", "1") is not None
    statuses = [e.status for e in sim.log.entries()[1:]]
    assert statuses == [429, 429, 429, 200, 503, 503, 200, 0, 200]


def test_rate_limiter_keeps_burst_free_of_429() -> None:
    with FortnoxSimulator(rate_limit=(15, 0.3)) as sim:
        with FortnoxClient(sim.url, access_token="sandbox-access-token", rate_limit=(15, 0.3)) as client:
            client.create("customer", {"Name": "A"})
            for _ in range(59):
                client.get("customer", "1")
        assert sim.log.count() == 60
        assert sim.log.count(status=429) == 0


def test_from_env_with_simulator_settings() -> None:
    with FortnoxSimulator(rate_limit=None) as sim:
        env = sim.env()
        assert env["FORTNOX_BASE_URL"] == sim.url
        with FortnoxClient.from_env(env, rate_limit=None) as client:
            client.create("customer", {"Name": "A"})

        with FortnoxClient.from_env({**env, "FORTNOX_ACCESS_TOKEN": ""}, rate_limit=None) as client:
            assert client.get("customer", "1") is not None
            assert client.credentials.refresh_count == 1  # client_credentials grant
        with pytest.raises(FatalError):
            FortnoxClient.from_env({})
