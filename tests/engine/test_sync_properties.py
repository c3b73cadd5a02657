"""Property-based tests of the sync invariants: no duplicates, convergence, no echo (fake connectors).

Hypothesis generates interleavings of users creating and editing customers on both sides with passes
in between; whatever happened, a few passes later both sides hold the same customers, each once,
field for field, and a further pass writes nothing.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapsync.engine.state import SqliteStateStore
from tests.engine.conftest import World, fortnox_ruleset

RULESET = fortnox_ruleset()
NAMES = st.sampled_from(["Acme", "Beta", "Gamma", "Delta", "Åkesson & Co"])
PHONES = st.sampled_from(["", "+46 8 1", "+46 8 2", "031-12"])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("crm_create"), NAMES, PHONES),
        st.tuples(st.just("erp_create"), NAMES, PHONES),
        st.tuples(st.just("crm_edit"), st.integers(0, 5), NAMES, PHONES),
        st.tuples(st.just("erp_edit"), st.integers(0, 5), NAMES, PHONES),
        st.tuples(st.just("pass")),
    ),
    max_size=14,
)


def _apply(world: World, op: tuple[Any, ...], numbers: Any) -> None:
    kind = op[0]
    if kind == "crm_create":
        world.crm.seed("organisation", {"OrganisationName": op[1], "OrganisationTelephone": op[2],
                                        "OrganisationType": "Customer", "OrganisationExtraCustom1": next(numbers)})
    elif kind == "erp_create":
        world.erp.seed("customer", {"CustomerNumber": next(numbers), "Name": op[1], "Phone1": op[2],
                                    "Type": "COMPANY"})
    elif kind == "crm_edit" and world.crm.all("organisation"):
        orgs = world.crm.all("organisation")
        target = orgs[op[1] % len(orgs)]
        world.crm.edit("organisation", str(target["OrganisationId"]), OrganisationName=op[2],
                       OrganisationTelephone=op[3])
    elif kind == "erp_edit" and world.erp.all("customer"):
        customers = world.erp.all("customer")
        target = customers[op[1] % len(customers)]
        world.erp.edit("customer", str(target["CustomerNumber"]), Name=op[2], Phone1=op[3])
    elif kind == "pass":
        world.run()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_any_interleaving_converges_without_duplicates_or_echo(ops: list[tuple[Any, ...]]) -> None:
    with SqliteStateStore(":memory:") as store:
        world = World(store, RULESET)
        numbers = (str(n) for n in itertools.count(5000))
        for op in ops:
            _apply(world, op, numbers)
        for _ in range(3):
            if world.run().writes == 0:
                break
        orgs = world.crm.all("organisation")
        customers = world.erp.all("customer")
        # no duplicates: one customer per organisation, linked one to one
        assert len(orgs) == len(customers) == store.count_links("customers")
        by_number = {c["CustomerNumber"]: c for c in customers}
        for org in orgs:
            link = store.link_by_crm("customers", str(org["OrganisationId"]))
            assert link is not None
            customer = by_number[link.erp_id]
            # convergence: the mapped fields agree
            assert org["OrganisationName"] == customer["Name"]
            assert (org.get("OrganisationTelephone") or "") == (customer.get("Phone1") or "")
            assert org["OrganisationExtraCustom1"] == customer["CustomerNumber"]
        # no echo: nothing left to write
        assert world.run().writes == 0
        assert store.list_quarantine() == []
