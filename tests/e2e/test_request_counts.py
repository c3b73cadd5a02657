"""Requests per record of an import against the simulators' request logs (issue 12, target 3): a create
costs one webCRM request (the PUT writing the assigned customer number back), not GET + PUT + GET."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.e2e.conftest import E2E

pytestmark = pytest.mark.e2e
RECORD_PATH = re.compile(r"/\d+$")
COUNT = 12


def served(e2e: E2E, system: str) -> Counter[str]:
    entries = e2e.sandbox.simulators[system].log.entries()
    return Counter(f"{e.method} {RECORD_PATH.sub('/{id}', e.path)}" for e in entries)


def test_a_create_costs_one_webcrm_request(e2e: E2E) -> None:
    backend = e2e.sandbox.simulators["webcrm"].backend
    for i in range(COUNT):
        backend.create("organisation", {"OrganisationName": f"Customer {i}", "OrganisationType": "Customer"})
    for simulator in e2e.sandbox.simulators.values():
        simulator.log.clear()
    report = e2e.run()
    assert report.total("created") == COUNT and report.total("quarantined") == 0
    webcrm = served(e2e, "webcrm")
    assert webcrm["PUT /Organisations/{id}"] == COUNT  # the customer number written back, one PUT each
    assert webcrm["GET /Organisations/{id}"] <= 1  # one GET teaches the client the DTO's fields; none per create
    checks = webcrm["GET /Queries"]  # a /Queries check proves served records current, one per 2 s at most
    lists = webcrm["GET /Organisations"] + webcrm["GET /Deliveries"] + webcrm["POST /Auth/ApiLogin"]
    assert sum(webcrm.values()) == lists + COUNT + webcrm["GET /Organisations/{id}"] + checks
    assert checks <= COUNT  # at most 2 requests per create, about 1 (was 3: GET, PUT, GET)
    fortnox = served(e2e, "fortnox")
    assert fortnox["POST /3/customers"] == COUNT and fortnox["GET /3/customers/{id}"] == 0
    numbers = {str(o["OrganisationExtraCustom1"]) for o in backend.store.all("organisation")}
    assert len(numbers) == COUNT and "None" not in numbers
    second = e2e.run()  # the base holds what webCRM holds: the write-backs come back as no-ops
    assert second.writes == 0, [a.as_dict() for m in second.mappings for a in m.actions]
