"""A pass streams its records through a spill on disk (docs/sync.md, "Memory: a pass streams"; decision 0016):
what it decides comes back in order from disk, and a spill that cannot grow stops the pass cleanly."""

from __future__ import annotations

import pytest

from mapsync.engine.sync import passrun
from mapsync.engine.sync.spill import Spill
from tests.engine.conftest import World


def org(name: str, number: str) -> dict[str, object]:
    return {"OrganisationName": name, "OrganisationType": "Customer", "OrganisationExtraCustom1": number}


def test_more_records_than_a_chunk_are_decided_and_applied_in_the_order_read(world: World) -> None:
    for i in range(600):  # past the spill's chunk of 256 and the pass's page of links
        world.crm.seed("organisation", org(f"Org {i}", str(1000 + i)))
    world.erp.seed("customer", {"CustomerNumber": "1300", "Name": "Org 300", "Type": "COMPANY"})
    report = world.run()
    customers = report.mappings[0]
    assert customers.counts["created"] == 599 and world.store.count_links("customers") == 600
    assert [a.crm_id for a in customers.actions] == [str(o["OrganisationId"]) for o in world.crm.all("organisation")]
    assert len(world.erp.all("customer")) == 600
    for i in (0, 299, 599):
        world.crm.edit("organisation", str(world.crm.all("organisation")[i]["OrganisationId"]),
                       OrganisationName=f"Renamed {i}")
    again = world.run().mappings[0]
    assert again.counts["updated"] == 3 and again.counts["created"] == 0


def test_a_spill_that_cannot_grow_stops_the_pass_with_what_to_do(world: World,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    class FullSpill(Spill):
        def __init__(self) -> None:
            super().__init__()
            self._conn.execute("PRAGMA max_page_count = 30")  # a temporary folder that is full

    monkeypatch.setattr(passrun, "Spill", FullSpill)
    for i in range(200):
        world.crm.seed("organisation", org(f"Org {i} " + "x" * 300, str(1000 + i)))
    report = world.run()
    assert report.fatal is not None and "SQLITE_TMPDIR" in report.fatal
    assert world.store.get_cursor("customers", "crm") is None  # read again next pass
    monkeypatch.undo()
    assert world.run().fatal is None and world.store.count_links("customers") == 200
