"""The defects the faults suite found, each on its own (docs/reliability.md): a delivery lost for good when its
organisation's write-back failed, a rate limit on one mapping's read that made the whole pass fatal, a customer
number that never reached webCRM when Fortnox answered the create after the client's timeout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mapsync.engine.sandbox import Sandbox, start_sandbox
from mapsync.engine.state import SqliteStateStore
from tests.reliability.faults import CLIENT_TIMEOUT, one_pass
from tests.reliability.world import backdate

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = start_sandbox(None, realistic_limits=False, products=("webcrm", "fortnox"))
    try:
        yield sb
    finally:
        sb.stop()


def backends(sandbox: Sandbox) -> tuple[Any, Any]:
    return sandbox.simulators["webcrm"].tenants.get(None), sandbox.simulators["fortnox"].tenants.get(None)


def new_customer_with_delivery(sandbox: Sandbox) -> tuple[int, int]:
    """An organisation without a customer number (Fortnox assigns it, written back) with a delivery of one line."""
    crm, erp = backends(sandbox)
    erp.create("article", {"ArticleNumber": "HAMMARE", "Description": "Snickarhammare", "Unit": "st"})
    org = crm.create("organisation", {"OrganisationName": "Ny Kund AB", "OrganisationType": "Customer"})
    delivery = crm.create("delivery", {"DeliveryOrganisationId": org, "DeliveryDescription": "Etapp 1",
                                       "DeliveryOrderDate": "2026-11-02T00:00:00", "DeliveryStatus": "New"})
    crm.create("quotation_line", {"QuotationLineOpportunityId": delivery, "QuotationLineData1": "HAMMARE",
                                  "QuotationLineQuantity": 2, "QuotationLinePrice": 299})
    backdate(sandbox)
    return org, delivery


def records(backend: Any, entity: str) -> list[dict[str, Any]]:
    return list(backend.store.records[entity].values())


def test_a_delivery_is_not_lost_when_its_organisations_write_back_fails(sandbox: Sandbox, tmp_path: Path) -> None:
    crm, erp = backends(sandbox)
    org, delivery = new_customer_with_delivery(sandbox)
    # Fortnox creates the customer; writing its number back to webCRM fails through every retry.
    sandbox.simulators["webcrm"].faults.add("5xx", 20, status=503, path_prefix="/Organisations/", method="PUT")
    first = one_pass(sandbox, tmp_path / "s.sqlite", 0)
    assert first.fatal is None and first.total("quarantined") == 1
    assert records(erp, "order") == []  # its delivery waited for the organisation
    sandbox.simulators["webcrm"].faults.clear()
    second = one_pass(sandbox, tmp_path / "s.sqlite", 1)
    assert second.fatal is None
    [customer] = records(erp, "customer")
    assert crm.store.records["organisation"][str(org)]["OrganisationExtraCustom1"] == customer["CustomerNumber"]
    [order] = records(erp, "order")  # the delivery became an order, once
    assert order["CustomerNumber"] == customer["CustomerNumber"]
    assert [row["ArticleNumber"] for row in order["OrderRows"]] == ["HAMMARE"]
    assert crm.store.records["delivery"][str(delivery)]["DeliveryCustom1"] == order["DocumentNumber"]
    assert one_pass(sandbox, tmp_path / "s.sqlite", 2).writes == 0


def test_a_rate_limit_outlasting_the_retries_on_one_mappings_read_is_not_fatal(sandbox: Sandbox,
                                                                             tmp_path: Path) -> None:
    crm, erp = backends(sandbox)
    new_customer_with_delivery(sandbox)
    erp.create("article", {"ArticleNumber": "SÅG", "Description": "Fogsvans", "Unit": "st"})
    sandbox.simulators["fortnox"].faults.add("429", 50, retry_after=0.0, path_prefix="/3/articles")
    first = one_pass(sandbox, tmp_path / "s.sqlite", 0)
    assert first.fatal is None
    assert first.failed_mappings == ["items"]
    assert len(records(erp, "customer")) == 1 and len(records(erp, "order")) == 1  # the other mappings ran
    with SqliteStateStore(tmp_path / "s.sqlite") as store:
        assert store.get_cursor("items", "erp") is None  # the failed mapping's cursor did not move
        last = store.last_run()
        assert last is not None and last.status == "quarantined"
    sandbox.simulators["fortnox"].faults.clear()
    second = one_pass(sandbox, tmp_path / "s.sqlite", 1)
    assert second.fatal is None and second.failed_mappings == []
    assert sorted(r["QuotationLineLinkedDataItemData1"] for r in records(crm, "catalogue_item")) == ["HAMMARE", "SÅG"]


def test_a_rate_limit_on_every_read_is_still_fatal(sandbox: Sandbox, tmp_path: Path) -> None:
    new_customer_with_delivery(sandbox)
    sandbox.simulators["fortnox"].faults.add("429", 500, retry_after=0.0)
    report = one_pass(sandbox, tmp_path / "s.sqlite", 0)
    assert report.fatal is not None and "429" in report.fatal


def test_a_create_answered_after_the_timeout_gets_its_number_written_back(sandbox: Sandbox, tmp_path: Path) -> None:
    crm, erp = backends(sandbox)
    org, _ = new_customer_with_delivery(sandbox)
    sandbox.simulators["fortnox"].faults.add("slow", 1, seconds=3 * CLIENT_TIMEOUT, path_prefix="/3/customers",
                                             method="POST")
    first = one_pass(sandbox, tmp_path / "s.sqlite", 0)
    assert first.fatal is None and first.total("quarantined") == 1
    one_pass(sandbox, tmp_path / "s.sqlite", 1)
    [customer] = records(erp, "customer")  # created once, though the client gave up waiting
    assert crm.store.records["organisation"][str(org)]["OrganisationExtraCustom1"] == customer["CustomerNumber"]
    assert customer["TermsOfPayment"] == "30"  # the default reached Fortnox with the create
    assert len(records(erp, "order")) == 1
    assert one_pass(sandbox, tmp_path / "s.sqlite", 2).writes == 0
