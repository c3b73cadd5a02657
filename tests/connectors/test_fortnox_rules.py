"""Fortnox behaviours the documentation leaves out (mapsync.connectors.fortnox.simulator.rules), in the
simulator and survived by FortnoxClient, over real sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mapsync.connectors.base import RejectedError
from mapsync.connectors.fortnox import FortnoxClient
from mapsync.connectors.fortnox.simulator import FortnoxSimulator
from mapsync.connectors.fortnox.simulator.rules import FortnoxRules

pytestmark = pytest.mark.e2e


class SimClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 11, 0, 0, tzinfo=UTC)  # 12:00 Stockholm

    def __call__(self) -> datetime:
        return self.now


def make_client(sim: FortnoxSimulator, **kwargs) -> FortnoxClient:
    return FortnoxClient(sim.url, access_token="sandbox-access-token", rate_limit=None, sleep=lambda s: None, **kwargs)


def _invoice_from_order(client: FortnoxClient) -> tuple[str, dict]:
    client.create("customer", {"Name": "A"})
    client.create("article", {"ArticleNumber": "A1", "Description": "Sak"})
    order = client.create(
        "order", {"CustomerNumber": "1", "OrderRows": [{"ArticleNumber": "A1", "OrderedQuantity": 3, "Price": 10}]}
    )
    invoiced = client.action("order", client.record_id("order", order), "createinvoice")
    invoice = client.get("invoice", invoiced["InvoiceReference"])
    assert invoice is not None
    return invoice["DocumentNumber"], invoice


def test_rows_of_an_invoice_made_from_an_order_cannot_be_updated() -> None:
    with FortnoxSimulator(rate_limit=None) as sim, make_client(sim) as client:
        number, invoice = _invoice_from_order(client)
        row = invoice["InvoiceRows"][0]
        with pytest.raises(RejectedError) as info:
            client.update("invoice", number, {"InvoiceRows": [{"RowId": row["RowId"], "Price": 99}]})
        assert info.value.status == 400 and info.value.code == "2999009"
        assert client.get("invoice", number)["InvoiceRows"][0]["Price"] == row["Price"]
        assert client.update("invoice", number, {"Remarks": "fine"})["Remarks"] == "fine"  # other fields stay writable
        direct = client.create("invoice", {"CustomerNumber": "1", "InvoiceRows": [{"ArticleNumber": "A1", "Price": 5}]})
        rows = [{"RowId": direct["InvoiceRows"][0]["RowId"], "Price": 7}]
        assert client.update("invoice", direct["DocumentNumber"], {"InvoiceRows": rows})["InvoiceRows"][0]["Price"] == 7
    lax = FortnoxRules(order_invoice_rows_locked=False)
    with FortnoxSimulator(rate_limit=None, rules=lax) as sim, make_client(sim) as client:
        number, invoice = _invoice_from_order(client)
        rows = [{"RowId": invoice["InvoiceRows"][0]["RowId"], "Price": 99}]
        assert client.update("invoice", number, {"InvoiceRows": rows})["InvoiceRows"][0]["Price"] == 99


def test_lastmodified_has_minute_precision_and_the_cursor_overlap_stays_safe() -> None:
    clock = SimClock()
    client_time = [clock.now.timestamp()]
    with FortnoxSimulator(rate_limit=None, now=clock) as sim, make_client(sim, clock=lambda: client_time[0]) as c:
        clock.now += timedelta(seconds=59)  # 12:00:59
        c.create("customer", {"Name": "Late in the minute"})
        names = [r["Name"] for r in c.list_items("customer", lastmodified="2024-03-01 12:00:30")]
        assert names == ["Late in the minute"]  # the seconds are dropped on both sides
        assert list(c.list_items("customer", lastmodified="2024-03-01 12:01")) == []
        # Reads and writes interleaved within minutes: nothing is ever missed.
        cursor = None
        seen: list[str] = []
        for step in range(6):
            clock.now += timedelta(seconds=25)
            c.create("customer", {"Name": f"C{step}"})
            client_time[0] = clock.now.timestamp() + 5
            batch = c.read_changes("customer", cursor, frozenset({"Name"}))
            seen.extend(r["Name"] for r in batch.records)
            cursor = batch.cursor
        assert {f"C{i}" for i in range(6)} <= set(seen)
    seconds = FortnoxRules(lastmodified_minutes=False)
    with FortnoxSimulator(rate_limit=None, now=clock, rules=seconds) as sim, make_client(sim) as c:
        c.create("customer", {"Name": "Exact"})
        stamp = (clock.now + timedelta(hours=1, seconds=1)).strftime("%Y-%m-%d %H:%M:%S")  # Stockholm, +1 s
        assert list(c.list_items("customer", lastmodified=stamp)) == []


def test_lastmodified_refused_falls_back_to_a_full_read() -> None:
    clock = SimClock()
    rules = FortnoxRules(lastmodified_refused=frozenset({"article"}))
    with FortnoxSimulator(rate_limit=None, now=clock, rules=rules) as sim, make_client(sim) as client:
        client.create("article", {"ArticleNumber": "A1", "Description": "Old"})
        client.create("customer", {"Name": "Old"})
        cursor = "2024-03-01 13:00"  # after both records: a server honouring it lists nothing
        with pytest.raises(RejectedError):
            list(client.list_items("article", lastmodified=cursor))
        sim.log.clear()
        batch = client.read_changes("article", cursor, frozenset({"ArticleNumber", "Description"}))
        assert [r["ArticleNumber"] for r in batch.records] == ["A1"]  # everything, as lastmodified was refused
        assert batch.cursor  # the cursor still moves
        assert [e.query.startswith("lastmodified") for e in sim.log.entries()] == [True, False]
        sim.log.clear()
        assert [r["ArticleNumber"] for r in client.read_changes("article", cursor, frozenset()).records] == ["A1"]
        assert all("lastmodified" not in e.query for e in sim.log.entries())  # remembered: not asked again
        assert list(client.read_changes("customer", cursor, frozenset({"Name"})).records) == []  # others filter
