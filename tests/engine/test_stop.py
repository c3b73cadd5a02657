"""A pass asked to stop (SIGTERM to ``mapsync serve``) finishes the record at hand, keeps its cursors, and the
next pass goes on from there: nothing lost, nothing done twice."""

from __future__ import annotations

import threading

from mapsync.engine.ruleset import Side
from mapsync.engine.sync.passrun import SyncPass
from tests.engine.conftest import World


class _StopAfter:
    """A stop event that is set once ``n`` creates have been sent to the ERP."""

    def __init__(self, world: World, n: int) -> None:
        self.world, self.n = world, n
        self.event = threading.Event()
        original = world.erp.create

        def create(entity: str, values: dict) -> dict:  # type: ignore[type-arg]
            made = original(entity, values)
            if sum(1 for c in world.erp.calls if c[0] == "create") >= self.n:
                self.event.set()
            return made

        world.erp.create = create  # type: ignore[method-assign]


def test_a_stopped_pass_keeps_its_cursors_and_the_next_one_goes_on(world: World) -> None:
    for i in range(5):
        world.crm.seed("organisation", {"OrganisationName": f"Org {i}", "OrganisationType": "Customer"})
    stop = _StopAfter(world, 2)
    catalogues = {Side.CRM: world.crm.catalogue, Side.ERP: world.erp.catalogue}
    report = SyncPass(world.ruleset, {Side.CRM: world.crm, Side.ERP: world.erp}, catalogues, world.store,
                      apply=True, stop=stop.event).run()
    assert report.fatal is not None and report.fatal.startswith("stopped on request in mapping customers after 2 of 5")
    assert len(world.erp.all("customer")) == 2
    assert world.store.get_cursor("customers", "crm") is None  # not advanced: the rest is read again
    assert world.store.last_run() is not None and world.store.last_run().status == "fatal"  # type: ignore[union-attr]
    again = world.run()
    assert again.fatal is None
    assert len(world.erp.all("customer")) == 5  # the other three, and no duplicate of the first two
    assert len(world.store.links("customers")) == 5
