"""Generated RULE SETS against the simulators over sockets (issue 8): a small sample of what
tests/engine/test_generated_rulesets.py runs against the in-memory fakes.

The rule sets and histories come from the same generators (tests/engine/rulegen.py) and every pass is
checked by the same ``Sim`` (the 7 invariants of docs/sync.md "The guarantees"); only the systems differ.
Here users and the engine talk to the webCRM and Fortnox simulators on loopback HTTP through the real
clients:

- every history starts from a fresh pair of simulators (in memory, rate limits off: starting them takes
  ~0.1 s, so no reset between examples is needed);
- the invariants see the fields the generator knows (the rule fields, the match key and the record id):
  the simulators return full records (every field, empty ones as ``""`` or ``null``) and stamp fields of
  their own (times, derived country names, defaults such as ``Currency``), which no rule writes; Fortnox's
  default ``Type: COMPANY`` is left out unless the rule set has a type rule;
- each system numbers its records in its own range (webCRM from 1001, Fortnox from 70001), as the fakes do,
  so that an id assigned in a pass is not mistaken for a value or a number users type;
- users type no empty names (``SocketSim.pools``: Fortnox requires one, and a refused create has
  consequences a plan cannot foresee);
- a user's save the system refuses (Fortnox: a customer without a name, a number already taken) did not
  happen, as in the systems; a record the engine writes and the system refuses is quarantined by the
  engine and, as in the fake test, exempt from convergence;
- "a further pass writes nothing" counts the POST/PUT/DELETE requests the simulators carried out (a refused
  one changed nothing: the engine retries a quarantined record it reads again within webCRM's cursor
  overlap; those are counted as ``refused_writes``).

Runs:

- CI sample (marker ``e2e``, derandomized, part of ``scripts/test``; ``GENRULES_SOCKETS_CI_EXAMPLES``,
  default 20)::

      .venv/bin/pytest tests/e2e/test_generated_rulesets_sockets.py -s

- larger sample (marker ``slow``, excluded by default; ``GENRULES_SOCKETS_EXAMPLES``, default 200)::

      GENRULES_SOCKETS_EXAMPLES=200 .venv/bin/pytest tests/e2e/test_generated_rulesets_sockets.py -m slow -s

The figures (rule sets, skipped as invalid, histories, passes, user saves and engine writes the simulators
refused, seconds) are printed by the last test of the module (``-s``, both runs). Shrinking is off in the
CI sample (a failure prints its rule set and steps; ``GENRULES_SHRINK=1`` turns it on) and on in the
larger one (``GENRULES_NO_SHRINK=1`` turns it off).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mapsync.connectors.base import RejectedError
from mapsync.connectors.webcrm.simulator.store import COUNTER
from mapsync.engine.ruleset import RuleSet
from mapsync.engine.sandbox import Sandbox, start_sandbox
from mapsync.engine.state import SqliteStateStore
from tests.e2e.conftest import E2E
from tests.engine.rulegen import FIELDS, KEY_CRM, KEY_ERP, GenRuleset, rulesets
from tests.engine.test_generated_rulesets import ENTITY, ID_FIELD, SIDES, Sim, run_case

pytestmark = pytest.mark.e2e

COUNTS: dict[str, float] = {"rulesets": 0, "invalid": 0, "histories": 0, "passes": 0, "refused_user_saves": 0,
                            "refused_writes": 0, "seconds": 0.0}
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]  # a failing example is printed with its steps
CI = settings(max_examples=int(os.environ.get("GENRULES_SOCKETS_CI_EXAMPLES", "20")), derandomize=True,
              deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=list(Phase) if os.environ.get("GENRULES_SHRINK") else NO_SHRINK)
LONG = settings(max_examples=int(os.environ.get("GENRULES_SOCKETS_EXAMPLES", "200")), deadline=None,
                database=None, suppress_health_check=list(HealthCheck),
                phases=NO_SHRINK if os.environ.get("GENRULES_NO_SHRINK") else list(Phase))
PRODUCTS = ("webcrm", "fortnox")
# the fields the generator knows on each side (what the invariants compare)
KNOWN = {"crm": frozenset({ID_FIELD["crm"], KEY_CRM, *(f.crm for f in FIELDS)}),
         "erp": frozenset({ID_FIELD["erp"], KEY_ERP, *(f.erp for f in FIELDS)})}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class SocketSim(Sim):
    """``Sim`` with the webCRM and Fortnox simulators behind real clients instead of the fakes."""

    counts = COUNTS
    # Fortnox refuses a customer without a name: users never save one, and an organisation without a name
    # would be refused on create, which the plan cannot foresee, nor its consequence (another organisation
    # with the same number is then created instead of being refused as a duplicate number)
    pools = {"OrganisationName": ("Acme", "Beta", " Gamma "), "Name": ("Acme", "Delta", "Beta ")}
    sandbox: Sandbox
    known: dict[str, frozenset[str]]
    refused_writes = 0

    def make_world(self, ruleset: RuleSet, store: SqliteStateStore) -> Any:
        # Fortnox gives a customer created without a Type the Type COMPANY: without a type rule, the
        # engine never writes Type, and that default is the system's, not a change to check
        typed = any(rule.key == "type" for rule in self.gen.rules)
        self.known = {"crm": KNOWN["crm"], "erp": KNOWN["erp"] if typed else KNOWN["erp"] - {"Type"}}
        self.sandbox = start_sandbox(None, realistic_limits=False, products=PRODUCTS)
        # each system numbers its records in its own range (as the fakes do), so that an id a pass assigns
        # is never mistaken for a value (the plan masks new ids) nor for a number users type (100-102)
        self.sandbox.simulators["webcrm"].store.note(COUNTER["organisation"], 1000)
        self.sandbox.simulators["fortnox"].store.note("customer", 70000)
        return E2E(self.sandbox, store, ruleset)

    def records(self, side: str) -> dict[str, dict[str, Any]]:
        conn, entity = self.conn[side], ENTITY[side]
        out: dict[str, dict[str, Any]] = {}
        for listed in conn.read_changes(entity, None, frozenset()).records:
            rid = str(listed[ID_FIELD[side]])
            full = conn.get(entity, rid) if side == "erp" else listed  # Fortnox lists a few fields only
            assert full is not None, f"{side} {rid} listed but not found"
            out[rid] = {k: v for k, v in full.items() if k in self.known[side]}
        return out

    def user_create(self, side: str, record: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        try:
            made = self.conn[side].create(ENTITY[side], record)
        except RejectedError:
            self.refused()
            return None
        return str(made[ID_FIELD[side]]), {k: v for k, v in made.items() if k in self.known[side]}

    def user_edit(self, side: str, rid: str, values: dict[str, Any]) -> bool:
        try:
            self.conn[side].update(ENTITY[side], rid, values)
        except RejectedError:
            self.refused()
            return False
        return True

    def refused(self) -> None:
        COUNTS["refused_user_saves"] += 1
        self.log.append("  (refused by the system: did not happen)")

    def write_calls(self) -> int:
        """Writes the simulators carried out. A write they refused changed nothing: the engine retries a
        quarantined record it reads again within the cursor overlap (webCRM reads from two minutes back), so
        a quiet pass may repeat a refused create; those are counted apart (``refused_writes``)."""
        entries = [e for p in PRODUCTS for e in self.sandbox.simulators[p].log.entries()
                   if e.method in WRITES and "auth" not in e.path.lower()]
        self.refused_writes = sum(1 for e in entries if e.status >= 400)
        return len(entries) - self.refused_writes

    def close(self) -> None:
        self.write_calls()
        COUNTS["refused_writes"] += self.refused_writes
        self.world.close()
        self.sandbox.stop()


def run(gen: GenRuleset, data: st.DataObject) -> None:
    run_case(gen, data, 2, SocketSim, COUNTS)


@CI
@given(rulesets(), st.data())
def test_generated_rulesets_against_the_simulators(gen: GenRuleset, data: st.DataObject) -> None:
    run(gen, data)


@pytest.mark.slow
@LONG
@given(rulesets(), st.data())
def test_generated_rulesets_against_the_simulators_long(gen: GenRuleset, data: st.DataObject) -> None:
    run(gen, data)


def test_zz_generated_sockets_figures() -> None:
    """Runs last in the module: how much was generated and checked (printed with ``-s``)."""
    figures()


@pytest.mark.slow
def test_zz_generated_sockets_figures_long() -> None:
    figures()


def figures() -> None:
    shown = {k: round(v, 2) if isinstance(v, float) else v for k, v in COUNTS.items()}
    print(f"\ngenerated rule sets against the simulators: {shown}")
    if COUNTS["rulesets"]:
        assert COUNTS["rulesets"] - COUNTS["invalid"] >= 5
        assert COUNTS["histories"] >= 10


assert set(SIDES) == set(KNOWN)
