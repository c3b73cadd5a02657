"""VismanetClient against the Visma.net simulator over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from mapsync.connectors.base import ConflictError, FatalError, RejectedError
from mapsync.connectors.registry import make_client
from mapsync.connectors.vismanet import VismanetClient
from mapsync.connectors.vismanet.simulator import VismanetAuthConfig, VismanetSimulator
from mapsync.connectors.vismanet.simulator.requestlimits import RequestLimitConfig

pytestmark = pytest.mark.e2e
CONFIG = VismanetAuthConfig()


class SimClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 11, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def make(sim: VismanetSimulator, **kwargs: Any) -> VismanetClient:
    kwargs.setdefault("rate_limit", None)
    kwargs.setdefault("sleep", lambda s: None)
    return VismanetClient(
        sim.url,
        token_url=sim.token_url,
        client_id=kwargs.pop("client_id", CONFIG.client_id),
        client_secret=kwargs.pop("client_secret", CONFIG.client_secret),
        tenant_id=kwargs.pop("tenant_id", CONFIG.tenant_id),
        **kwargs,
    )


# The client's sleep is a no-op here: the per-request limits have tests of their own (test_vismanet_request_limits)
NO_REQUEST_LIMITS = RequestLimitConfig(enabled=False)


@pytest.fixture
def sim() -> Iterator[VismanetSimulator]:
    with VismanetSimulator(rate_limit=None, request_limits=NO_REQUEST_LIMITS) as server:
        yield server


@pytest.fixture
def client(sim: VismanetSimulator) -> Iterator[VismanetClient]:
    with make(sim) as c:
        yield c


def items(client: VismanetClient) -> None:
    client.create("inventory_item", {"inventoryNumber": "A", "description": "Item A", "defaultPrice": 100.0})
    client.create("inventory_item", {"inventoryNumber": "B", "description": "Item B", "defaultPrice": 50.0})


# ----------------------------------------------------------------------------- auth
def test_token_renewal_after_expiry_and_ahead_of_it() -> None:
    now = [1_000_000.0]
    config = VismanetAuthConfig(token_lifetime=100)
    with (
        VismanetSimulator(rate_limit=None, auth=config, clock=lambda: now[0]) as sim,
        make(sim, clock=lambda: now[0]) as client,
    ):
        client.create("customer", {"name": "A"})
        now[0] += 95  # inside the renewal margin: renewed before use
        assert client.get("customer", "10000") is not None
        assert sim.auth.issued == 2 and sim.log.count(status=401) == 0
        sim.auth.expire_tokens()  # revoked early: 401 -> renewal -> retry
        assert client.get("customer", "10000") is not None
        assert sim.auth.issued == 3 and sim.log.count(status=401) == 1


def test_refused_credentials_and_missing_licence_are_fatal(sim: VismanetSimulator) -> None:
    with make(sim, client_secret="wrong") as client, pytest.raises(FatalError) as info:
        client.get("customer", "1")
    assert "wrong" not in str(info.value) and info.value.code == "invalid_client"
    with make(sim, tenant_id="sandbox-unlicensed-tenant-id") as client, pytest.raises(FatalError) as info:
        client.get("customer", "1")
    assert info.value.code == "12027"
    assert sim.log.count(status=403) == 1  # no renewal loop for a licence problem


def test_from_env_and_registry(sim: VismanetSimulator) -> None:
    with VismanetClient.from_env(sim.env(), rate_limit=None) as client:
        assert client.create("customer", {"name": "A"})["number"] == "10000"
    settings = {k.removeprefix("VISMANET_").lower(): v for k, v in sim.env().items()}
    connector = make_client("vismanet", settings, token_store=None, rate_limit=None)
    assert connector.get("customer", "10000") is not None
    connector.close()
    with pytest.raises(FatalError):
        VismanetClient.from_env({})


# ----------------------------------------------------------------------------- reading
def test_paging_reads_every_record_contacts_too() -> None:
    with VismanetSimulator(rate_limit=None, max_page_size=4) as sim, make(sim) as client:
        for i in range(10):
            client.create("customer", {"name": f"C{i}"})
            client.create("contact", {"lastName": f"L{i}", "email": f"p{i}@x.no"})
        sim.log.clear()
        names = [r["name"] for r in client.read_changes("customer", None, frozenset({"name"})).records]
        assert names == [f"C{i}" for i in range(10)]
        assert sim.log.count("GET", "/v1/customer") == 3  # 4 + 4 + 2, stopped by the metadata
        contacts = [r["contactId"] for r in client.read_changes("contact", None, frozenset()).records]
        assert contacts == list(range(1, 11))
        assert [e.query for e in sim.log.entries() if e.path == "/v1/contact"] == [
            "orderBy=contactId&numberToRead=1000",
            "orderBy=contactId&numberToRead=1000&greaterThanValue=4",
            "orderBy=contactId&numberToRead=1000&greaterThanValue=8",
        ]
        assert all("metadata" not in r for r in client.list_items("contact"))


def test_changed_since_with_overlap() -> None:
    sim_clock = SimClock()
    client_time = [sim_clock.now.timestamp()]
    with VismanetSimulator(rate_limit=None, now=sim_clock) as sim, make(sim, clock=lambda: client_time[0]) as c:
        c.create("customer", {"name": "Old"})  # 11:00:00
        sim_clock.now += timedelta(minutes=5)
        client_time[0] = sim_clock.now.timestamp()  # the client reads at 11:05:00
        first = c.read_changes("customer", None, frozenset({"name"}))
        assert [r["name"] for r in first.records] == ["Old"]
        assert first.cursor == "2024-03-01 11:03:00"  # before reading, minus 2 minutes
        sim_clock.now += timedelta(seconds=10)
        c.create("customer", {"name": "New"})
        c.create("contact", {"lastName": "New contact"})
        second = c.read_changes("customer", first.cursor, frozenset({"name"}))
        assert [r["name"] for r in second.records] == ["New"]
        assert (
            "lastModifiedDateTime=2024-03-01 11:03:00&lastModifiedDateTimeCondition=>=" in sim.log.entries()[-1].query
        )
        contacts = c.read_changes("contact", first.cursor, frozenset())
        assert [r["lastName"] for r in contacts.records] == ["New contact"]
        iso = c.read_changes("customer", "2024-03-01T11:04:00+00:00", frozenset())
        assert [r["name"] for r in iso.records] == ["New"]


@pytest.mark.parametrize(
    ("value", "condition", "expected"),
    [
        ("2024-03-01 11:00:30", ">", ["Late"]),
        ("2024-03-01 11:00:30.500", ">=", ["Late"]),
        ("2024-03-01 11:00:30.500", ">", []),
        ("2024-03-01 11:00:30", "<", ["Early"]),
        ("2024-03-01 11:00:00", "<=", ["Early"]),
        ("2024-03-01", ">=", ["Early", "Late"]),
    ],
)
def test_changed_since_conditions_through_the_client(value: str, condition: str, expected: list[str]) -> None:
    sim_clock = SimClock()
    with VismanetSimulator(rate_limit=None, now=sim_clock) as sim, make(sim) as c:
        c.create("customer", {"name": "Early"})
        sim_clock.now += timedelta(seconds=30, milliseconds=500)
        c.create("customer", {"name": "Late"})
        found = c.list_items("customer", lastModifiedDateTime=value, lastModifiedDateTimeCondition=condition)
        assert [r["name"] for r in found] == expected
        with pytest.raises(RejectedError) as info:
            list(
                c.list_items("customer", lastModifiedDateTime="2024-03-01T11:00:00", lastModifiedDateTimeCondition=">")
            )
        assert info.value.code == "12002"


def test_find_by_filters_and_scan(client: VismanetClient) -> None:
    client.create("customer", {"name": "Test", "corporateId": "111", "mainContact": {"email": "a@x.no"}})
    client.create("customer", {"name": "Test AS", "corporateId": "1111", "mainContact": {"email": "aa@x.no"}})
    client.create("contact", {"lastName": "K", "email": "k@x.no", "businessAccount": "10001"})
    assert [r["number"] for r in client.find("customer", "corporateId", "111")] == ["10000"]
    assert [r["number"] for r in client.find("customer", "mainContact.email", "aa@x.no")] == ["10001"]
    assert [r["number"] for r in client.find("customer", "mainAddress.country.id", "NO")] == ["10000", "10001"]
    assert [r["contactId"] for r in client.find("contact", "email", "k@x.no")] == [1]
    assert [r["contactId"] for r in client.find("contact", "businessAccount", "10001")] == [1]
    assert [r["contactId"] for r in client.find("contact", "contactId", 1)] == [1]
    assert client.find("customer", "name", "Nobody") == []


# ----------------------------------------------------------------------------- writing
def test_create_update_partial_blank(client: VismanetClient) -> None:
    created = client.create(
        "customer",
        {
            "name": "Bolaget AS",
            "mainAddress": {"addressLine1": "Vei 1", "country": {"id": "SE"}},
            "mainContact.email": "post@bolaget.no",
            "creditTerms": {"id": "14"},
            "currencyId": "SEK",
            "vatRegistrationId": None,
            "sendDunningLettersViaEMail": True,
        },
    )
    assert created["sendDunningLettersViaEMail"] is True and created["vatRegistrationId"] is None
    number = client.record_id("customer", created)
    assert number == "10000" and created["mainAddress"]["country"]["name"] == "Sweden"
    assert created["creditTerms"] == {"id": "14", "description": "14 days"} and created["currencyId"] == "SEK"
    updated = client.update("customer", number, {"mainContact": {"phone1": "123", "email": None}, "corporateId": "9"})
    assert updated["mainContact"]["phone1"] == "123" and updated["mainContact"]["email"] is None
    assert updated["name"] == "Bolaget AS" and updated["mainAddress"]["addressLine1"] == "Vei 1"
    assert client.get("customer", number) == updated
    assert client.update("customer", number, {}) == updated
    with pytest.raises(RejectedError) as info:
        client.update("customer", number, {"creditTerms": {"id": "99"}})
    assert "CreditTermsID '99' cannot be found" in info.value.message
    contact = client.create("contact", {"firstName": "Kari", "lastName": "N", "businessAccount": number})
    assert contact["displayName"] == "Kari N" and client.record_id("contact", contact) == "1"
    assert client.update("contact", "1", {"position": "CFO"})["position"] == "CFO"
    item = client.create("inventory_item", {"inventoryNumber": "X1", "description": "X", "vatCode": {"id": "3"}})
    assert item["vatCode"] == {"id": "3", "description": "Output VAT, medium rate"}
    with pytest.raises(RejectedError):
        client.create("inventory_item", {"inventoryNumber": "X1", "description": "again"})
    assert client.get("customer", "99999") is None


def test_sales_order_lines_insert_update_delete_and_cancel(client: VismanetClient) -> None:
    client.create("customer", {"name": "A"})
    items(client)
    order = client.create(
        "sales_order",
        {
            "orderType": "SO",
            "customer": {"number": "10000"},
            "description": "First",
            "date": "2024-03-01",
            "requestOn": "2024-03-15T00:00:00",
            "lines": [{"inventory": {"number": "A"}, "quantity": 2}, {"inventory.number": "B", "quantity": 1}],
        },
    )
    number = client.record_id("sales_order", order)
    assert (order["date"], order["requestOn"], order["status"]) == (
        "2024-03-01T00:00:00",
        "2024-03-15T00:00:00",
        "Open",
    )
    assert order["customer"]["number"] == "10000" and order["terms"]["id"] == "30"
    assert [(ln["lineNbr"], ln["inventory"]["number"], ln["unitPrice"]) for ln in order["lines"]] == [
        (1, "A", 100.0),
        (2, "B", 50.0),
    ]
    changed = client.update(
        "sales_order",
        number,
        {
            "description": "Second",
            "lines": [
                {"lineNbr": 2, "quantity": 4, "discountPercent": 10},
                {"inventory.number": "A", "quantity": 1, "lineDescription": "Extra"},
            ],
        },
    )
    assert changed["description"] == "Second"
    assert [(ln["lineNbr"], ln["quantity"], ln["lineDescription"]) for ln in changed["lines"]] == [
        (2, 4.0, "Item B"),
        (3, 1.0, "Extra"),
    ]
    assert changed["lines"][0]["extPrice"] == 180.0
    same = client.update("sales_order", number, {"lines": [{"lineNbr": 2}, {"lineNbr": 3}]})
    assert same == changed  # nothing to send: no PUT
    with pytest.raises(ConflictError):
        client.update("sales_order", number, {"lines": [{"lineNbr": 1, "quantity": 1}]})
    cancelled = client.action("sales_order", number, "cancelSalesOrder")
    assert cancelled["status"] == "Cancelled" and cancelled["canceled"] is True
    with pytest.raises(RejectedError) as info:
        client.update("sales_order", number, {"description": "late"})
    assert info.value.status == 400
    assert client.action("sales_order", number, "reopenSalesOrder")["status"] == "Open"


def test_sales_order_text_line_without_item_accepted_a_line_with_neither_refused(client: VismanetClient) -> None:
    """A line with a description and no item (a text line) is accepted, with no item defaults and no price;
    a line with neither is refused as the item is mandatory for it."""
    client.create("customer", {"name": "A"})
    items(client)
    order = client.create("sales_order", {
        "orderType": "SO", "customer": {"number": "10000"}, "date": "2024-03-01",
        "lines": [{"inventory": {"number": "A"}, "quantity": 1}, {"lineDescription": "Delivery in week 12"}]})
    text = order["lines"][1]
    assert (text.get("inventory"), text["lineDescription"], text["unitPrice"] or 0.0) == (
        None, "Delivery in week 12", 0.0)
    number = client.record_id("sales_order", order)
    changed = client.update("sales_order", number, {"lines": [
        {"lineNbr": 1}, {"lineNbr": 2, "lineDescription": "Delivery in week 13"}]})
    assert changed["lines"][1]["lineDescription"] == "Delivery in week 13"
    with pytest.raises(RejectedError) as info:
        client.update("sales_order", number, {"lines": [{"lineNbr": 1}, {"lineNbr": 2}, {"quantity": 1}]})
    assert info.value.status == 400 and "inventoryNumber' is a mandatory field" in str(info.value)


def test_invoice_lines_release_and_lock(client: VismanetClient) -> None:
    client.create("customer", {"name": "A"})
    items(client)
    invoice = client.create(
        "customer_invoice",
        {
            "customer": {"number": "10000"},
            "invoiceText": "Draft",
            "invoiceLines": [{"inventoryNumber": "A", "quantity": 2, "unitPrice": 80}, {"inventoryNumber": "B"}],
        },
    )
    number = client.record_id("customer_invoice", invoice)
    assert invoice["status"] == "Hold" and invoice["amount"] == round((160 + 50) * 1.25, 2)
    lines = client.update(
        "customer_invoice",
        number,
        {
            "invoiceLines": [
                {"lineNumber": 1, "unitPrice": 90, "discountAmount": 18},
                {"description": "Freight", "quantity": 1, "unitPrice": 10, "vatCode": {"id": "6"}},
            ]
        },
    )
    assert [(ln["lineNumber"], ln["unitPrice"], ln["amount"]) for ln in lines["invoiceLines"]] == [
        (1, 90.0, 162.0),
        (3, 10.0, 10.0),
    ]
    assert lines["invoiceLines"][0]["discountPercent"] == 10.0
    balanced = client.update("customer_invoice", number, {"hold": False})
    assert balanced["status"] == "Balanced"
    released = client.action("customer_invoice", number, "release")
    assert released["status"] == "Open"
    with pytest.raises(RejectedError) as info:
        client.update("customer_invoice", number, {"invoiceText": "too late"})
    assert info.value.status == 400 and "status Open" in info.value.message
    with pytest.raises(RejectedError):
        client.delete("customer_invoice", number)
    draft = client.create("customer_invoice", {"customer": {"number": "10000"}})
    client.delete("customer_invoice", draft["referenceNumber"])
    assert client.get("customer_invoice", draft["referenceNumber"]) is None
    with pytest.raises(RejectedError):
        client.delete("sales_order", "000001")


# ----------------------------------------------------------------------------- lost updates
def _meddler(sim: VismanetSimulator, resource: str, key: str, body: dict[str, Any]) -> httpx.Client:
    """An httpx client that lets "someone else" change the record right before the client's first PUT."""
    done = [False]

    def before(request: httpx.Request) -> None:
        if request.method == "PUT" and not done[0]:
            done[0] = True
            sim.backend.update(resource, key, body)

    return httpx.Client(event_hooks={"request": [before]})


def test_lost_update_merged_when_other_fields_changed(sim: VismanetSimulator) -> None:
    with make(sim) as setup:
        setup.create("customer", {"name": "A", "corporateId": "1"})
    with _meddler(sim, "customer", "10000", {"corporateId": {"value": "2"}}) as http, make(sim, http=http) as client:
        result = client.update("customer", "10000", {"name": "B"})
    assert result["name"] == "B" and result["corporateId"] == "2"
    assert sim.log.count("PUT", status=412) == 1 and sim.log.count("PUT", status=204) == 1


def test_lost_update_refused_when_the_same_field_changed(sim: VismanetSimulator) -> None:
    with make(sim) as setup:
        setup.create("customer", {"name": "A"})
    with (
        _meddler(sim, "customer", "10000", {"name": {"value": "Theirs"}}) as http,
        make(sim, http=http) as client,
        pytest.raises(ConflictError) as info,
    ):
        client.update("customer", "10000", {"name": "Mine"})
    assert "name" in info.value.message
    assert sim.backend.get("customer", "10000")[0]["name"] == "Theirs"


def test_lost_update_refused_when_lines_changed(sim: VismanetSimulator) -> None:
    with make(sim) as setup:
        setup.create("customer", {"name": "A"})
        items(setup)
        setup.create("sales_order", {"customer": {"number": "10000"}, "lines": [{"inventory.number": "A"}]})
    theirs = {"lines": [{"operation": "Insert", "inventoryNumber": {"value": "B"}}]}
    with (
        _meddler(sim, "salesorder", "000001", theirs) as http,
        make(sim, http=http) as client,
        pytest.raises(ConflictError),
    ):
        client.update("sales_order", "000001", {"lines": [{"lineNbr": 1, "quantity": 5}]})
    order, _ = sim.backend.get("salesorder", "000001")
    assert [(ln["lineNbr"], ln["quantity"]) for ln in order["lines"]] == [(1, 1.0), (2, 1.0)]


# ----------------------------------------------------------------------------- resilience
def test_survives_429_burst_5xx_and_dropped_connection(sim: VismanetSimulator, client: VismanetClient) -> None:
    client.create("customer", {"name": "A"})
    sim.log.clear()
    sim.faults.add("429", 3, retry_after=1)
    assert client.get("customer", "10000") is not None
    sim.faults.add("5xx", 2, status=503)
    assert client.get("customer", "10000") is not None
    sim.faults.add("drop", 1)
    assert client.get("customer", "10000") is not None
    sim.faults.add("drop", 1, path_prefix="/v1/customer/10000")
    assert client.update("customer", "10000", {"name": "B"})["name"] == "B"
    statuses = [e.status for e in sim.log.entries()]
    assert statuses[:9] == [429, 429, 429, 200, 503, 503, 200, 0, 200]


def test_rate_limit_headers_pace_the_client() -> None:
    clock = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    with VismanetSimulator(rate_limit=(5, 10.0), rate_clock=lambda: clock[0], request_limits=NO_REQUEST_LIMITS) as sim:
        with make(sim, sleep=sleep, monotonic=lambda: clock[0]) as client:
            client.create("customer", {"name": "A"})
            for _ in range(11):
                assert client.get("customer", "10000") is not None
        assert sim.log.count(status=429) == 0
        assert sim.log.count(path_prefix="/v1/") == 13  # POST, its read-back GET and 11 GETs
        assert sleeps == [10.0, 10.0]  # waited for the window reset twice, never refused
