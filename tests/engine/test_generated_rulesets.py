"""Property tests over generated RULE SETS (tests/engine/rulegen.py), not only edit histories.

Hypothesis generates a customers mapping (direction, condition, per-field direction, lossless/lossy
maps with and without ``map_reverse``, transforms, defaults, write/conflict/first-contact/on_unmapped
policies), loads it with ``load_ruleset(for_run=True)`` (rule sets that do not validate are skipped and
counted), then runs random histories of creates, edits and blanks on both sides with passes in between.
After every pass it checks:

1. no write against a direction (a field changes on a side only through a rule that writes that side);
2. no value changed that no side changed (a user changed the partner's field since it was last synced,
   or the pair was linked in this pass: first contact fills an empty side or applies the policy winner);
   the value written is the rule's conversion of the partner's value;
3. no blank without a rule (a field is blanked only when the partner's field was blanked by a user);
4. plan equals run (``PLAN_EQUALS_RUN``);
5. convergence after quiet passes (agreement under the map; held fields exempt and reported as held);
6. a further pass writes nothing;
7. no duplicates (links one to one, every record linked unless the rules say otherwise).

Runs:

- CI profile (default, derandomized, part of ``scripts/test``)::

      .venv/bin/pytest tests/engine/test_generated_rulesets.py -s

- long profile (marker ``slow``, excluded by default)::

      GENRULES_EXAMPLES=2000 .venv/bin/pytest tests/engine/test_generated_rulesets.py -m slow -s

The figures (rule sets generated, skipped as invalid, histories and passes checked) are printed by the
last test of the module (``-s``) and written to ``.hypothesis-counts/generated_rulesets.json``.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from mapsync.connectors.base import Record, RejectedError
from mapsync.engine.ruleset import RuleSet, load_ruleset
from mapsync.engine.state import SqliteStateStore
from mapsync.engine.sync.report import PassReport
from tests.engine.conftest import ENV, ROOT, World
from tests.engine.fakes import FakeConnector
from tests.engine.rulegen import (
    KEY_CRM,
    KEY_ERP,
    GenRule,
    GenRuleset,
    histories,
    norm,
    rulesets,
    write_folder,
)

# Plan (``run(apply=False)``) and run are compared action by action before every pass. Ids the systems
# assign to records created in the pass are masked (a plan shows placeholders), and records the target
# rejects in the run are left out of both (a plan cannot know what the target will refuse).
PLAN_EQUALS_RUN = True

COUNTS: dict[str, float] = {"rulesets": 0, "invalid": 0, "histories": 0, "passes": 0, "seconds": 0.0}
COUNTS_FILE = ROOT / ".hypothesis-counts" / "generated_rulesets.json"
SIDES = ("crm", "erp")
ENTITY = {"crm": "organisation", "erp": "customer"}
ID_FIELD = {"crm": "OrganisationId", "erp": "CustomerNumber"}
CI = settings(max_examples=int(os.environ.get("GENRULES_CI_EXAMPLES", "500")), derandomize=True, deadline=None,
              database=None, suppress_health_check=list(HealthCheck))
LONG = settings(max_examples=int(os.environ.get("GENRULES_EXAMPLES", "1000")), deadline=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
                if os.environ.get("GENRULES_NO_SHRINK") else list(Phase))


class StrictFake(FakeConnector):
    """Fortnox refuses a customer number that is taken (the plain fake would overwrite the record). Each
    system numbers its records in its own range, so an id the run assigns is never mistaken for a value."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.ids = itertools.count(1001 if name == "webcrm" else 70001)

    def create(self, entity: str, values: Mapping[str, Any]) -> Record:
        if self.name == "fortnox" and str(values.get(KEY_ERP)) in self.records.get(entity, {}):
            self.calls.append(("create", entity))
            raise RejectedError(f"customer number {values[KEY_ERP]} is taken", status=400, code="2000000")
        return super().create(entity, values)


def load(gen: GenRuleset) -> RuleSet | None:
    with tempfile.TemporaryDirectory() as tmp:
        result = load_ruleset(write_folder(Path(tmp), gen), ENV, for_run=True)
    return result.ruleset


class Sim:
    """One world under a generated rule set, with the bookkeeping the invariants need."""

    counts = COUNTS  # where passes are counted
    pools: dict[str, tuple[str, ...]] | None = None  # values users type, where they differ from rulegen's

    def __init__(self, gen: GenRuleset, ruleset: RuleSet, store: SqliteStateStore) -> None:
        self.gen = gen
        self.world: Any = self.make_world(ruleset, store)
        self.store = store
        self.conn: dict[str, Any] = {"crm": self.world.crm, "erp": self.world.erp}
        self.by_field = {s: {r.field_of(s): r for r in gen.rules} for s in SIDES}
        self.dirty: set[tuple[str, str, str]] = set()  # (side, id, field) changed by a user, not yet synced
        self.last_edit: dict[tuple[str, str, str], int] = {}
        self.tick = 0
        self.link_tick: dict[str, int] = {}  # crm id -> the user-edit tick when its link was made
        self.skip_conflicts: set[tuple[str, str]] = set()  # (crm id, rule) left apart by conflict: skip
        self.log: list[str] = []

    # -- the systems (overridden to run against the simulators: tests/e2e/test_generated_rulesets_sockets.py) --
    def make_world(self, ruleset: RuleSet, store: SqliteStateStore) -> Any:
        world = World(store, ruleset)
        world.crm = StrictFake("webcrm")
        world.erp = StrictFake("fortnox")
        return world

    def records(self, side: str) -> dict[str, dict[str, Any]]:
        """Every record of ``side``'s entity by id, as the invariants compare them (a copy)."""
        return copy.deepcopy(self.conn[side].records.get(ENTITY[side], {}))

    def user_create(self, side: str, record: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """A user saves a new record (None: the system refused it); returns its id and the stored record."""
        conn = self.conn[side]
        made = conn.seed(ENTITY[side], record)
        return conn.record_id(ENTITY[side], made), made

    def user_edit(self, side: str, rid: str, values: dict[str, Any]) -> bool:
        """A user saves ``values`` on a record (False: the system refused it)."""
        self.conn[side].edit(ENTITY[side], rid, **values)
        return True

    def write_calls(self) -> int:
        return len(self.world.crm.writes()) + len(self.world.erp.writes())

    def close(self) -> None:
        pass

    # -- users ----------------------------------------------------------------------------------------
    def _touch(self, side: str, rid: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        for name, value in new.items():
            if norm(value) != norm(old.get(name)):
                self.tick += 1
                self.dirty.add((side, rid, name))
                self.last_edit[(side, rid, name)] = self.tick

    def step(self, step: tuple[Any, ...]) -> None:
        self.log.append(repr(step))
        if step[0] == "pass":
            self.run_pass()
            return
        kind, side, arg, values = step
        if kind == "create":
            record = dict(values)
            if arg is not None:
                if side == "crm":
                    record[KEY_CRM] = arg
                elif arg not in self.records(side):
                    record[KEY_ERP] = arg
            made = self.user_create(side, record)
            if made is not None:
                self._touch(side, made[0], {}, made[1])
        else:
            records = self.records(side)
            if not records:
                return
            rid = list(records)[arg % len(records)]
            old = records[rid]
            if self.user_edit(side, rid, values):
                self._touch(side, rid, old, values)

    # -- passes ---------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {s: self.records(s) for s in SIDES}

    def links(self) -> dict[str, str]:
        return {link.crm_id: link.erp_id for link in self.store.links("customers")}

    def run_pass(self) -> PassReport:
        self.counts["passes"] += 1
        before = self.snapshot()
        links_before = self.links()
        plan = self.world.run(apply=False) if PLAN_EQUALS_RUN else None
        report = self.world.run()
        assert report.fatal is None, report.fatal
        after = self.snapshot()
        links_after = self.links()
        for crm_id in set(links_after) - set(links_before):
            self.link_tick[crm_id] = self.tick
        self.check_pass(before, after, links_before, links_after, report)
        if plan is not None:
            rejected = self.rejected(report, before)
            assert self.comparable(plan, before, rejected) == self.comparable(report, before, rejected), \
                self.context()
        self.settle(report)
        return report

    def context(self) -> str:
        return "\nrule set:\n" + self.gen.yaml_text() + "\nsteps:\n" + "\n".join(self.log)

    def comparable(self, report: PassReport, before: dict[str, dict[str, dict[str, Any]]],
                   rejected: set[tuple[str, str | None, str | None]] | None = None) -> list[Any]:
        out = []
        new_ids = {str(i) for m in report.mappings for a in m.actions
                   for i, side in ((a.crm_id, "crm"), (a.erp_id, "erp")) if i is not None and i not in before[side]}

        def masked(value: Any) -> str:
            return "<new id>" if value is not None and str(value) in new_ids else repr(value)

        for m in report.mappings:
            for a in m.actions:
                crm = a.crm_id if a.crm_id in before["crm"] else "new"
                erp = a.erp_id if a.erp_id in before["erp"] else "new"
                if rejected is not None and (m.name, crm, erp) in rejected:
                    continue
                out.append((m.name, a.action, a.target, crm, erp,
                            sorted((k, masked(v.get("old")), masked(v.get("new"))) for k, v in a.changes.items()),
                            sorted(a.held)))
        return out

    @staticmethod
    def rejected(report: PassReport, before: dict[str, dict[str, dict[str, Any]]]) -> set[Any]:
        """Records the target refused in the run (a plan cannot foresee it), as comparable keys."""
        return {(m.name, a.crm_id if a.crm_id in before["crm"] else "new",
                 a.erp_id if a.erp_id in before["erp"] else "new")
                for m in report.mappings for a in m.actions
                if a.action == "quarantine" and a.reason.startswith("rejected")}

    def check_pass(self, before: dict[str, dict[str, dict[str, Any]]], after: dict[str, dict[str, dict[str, Any]]],
                   links_before: dict[str, str], links_after: dict[str, str], report: PassReport) -> None:
        ctx = self.context
        partner_of = {"crm": links_after, "erp": {e: c for c, e in links_after.items()}}
        # 7. links one to one
        assert len(set(links_after.values())) == len(links_after), "two organisations linked to one customer" + ctx()
        for crm_id, erp_id in links_after.items():
            assert crm_id in after["crm"] and erp_id in after["erp"], ctx()
        for side in SIDES:
            assert set(before[side]) <= set(after[side]), "a record disappeared" + ctx()
            other = "erp" if side == "crm" else "crm"
            for rid, rec in after[side].items():
                old = before[side].get(rid)
                if old is None:  # created by the engine: only fields of rules writing this side
                    for name, value in rec.items():
                        if name == ID_FIELD[side] or norm(value) is None:
                            continue
                        rule = self.by_field[side].get(name)
                        assert rule is not None and rule.writes(side), \
                            f"created {side} {rid} got {name}={value!r} against the rules" + ctx()
                    continue
                for name in set(old) | set(rec):
                    b, a = norm(old.get(name)), norm(rec.get(name))
                    if a == b:
                        continue
                    where = f"{side} {rid} {name}: {b!r} -> {a!r}"
                    rule = self.by_field[side].get(name)
                    # 1. no write against a direction
                    assert rule is not None, f"field without a rule changed: {where}" + ctx()
                    assert rule.writes(side), f"write against the direction {rule.direction}: {where}" + ctx()
                    assert rule.write != "on-create", f"on-create rule wrote an existing record: {where}" + ctx()
                    assert rule.write != "if-empty" or b is None, f"if-empty rule overwrote: {where}" + ctx()
                    pid = partner_of[side].get(rid)
                    assert pid is not None, f"unlinked record changed: {where}" + ctx()
                    pfield = rule.field_of(other)
                    partner_now = after[other][pid].get(pfield)
                    is_new_link = (links_before.get(rid) if side == "crm" else
                                   {e: c for c, e in links_before.items()}.get(rid)) != pid
                    if is_new_link:
                        # first contact: fill an empty side, or the policy's winner, or a write-back after create
                        if pid in before[other]:
                            winner = self.gen.first_contact_of(rule)
                            assert b is None or winner == f"{other}-wins", \
                                f"first contact overwrote without policy ({winner}): {where}" + ctx()
                        else:
                            assert b is None, f"write-back after create overwrote: {where}" + ctx()
                    else:
                        # 2. only a change the partner saw since the last sync flows
                        assert (other, pid, pfield) in self.dirty, f"changed though no side changed: {where}" + ctx()
                        # 3. no blank without a user blanking the partner
                        assert a is not None or norm(before[other][pid].get(pfield)) is None, \
                            f"blanked without a rule: {where}" + ctx()
                    expected = rule.convert(side, partner_now)
                    assert a == expected, f"{where}, but the rule gives {expected!r} from {partner_now!r}" + ctx()

    def settle(self, report: PassReport) -> None:
        """Forget user changes the pass brought in step (the records it processed), keep what it held back."""
        for m in report.mappings:
            for a in m.actions:
                for rule, conflict in re.findall(r"conflict on ([\w-]+): .*?, (skip|\w+-wins)", a.reason):
                    if conflict == "skip" and a.crm_id:
                        self.skip_conflicts.add((a.crm_id, rule))
                if a.action not in ("update", "unchanged", "link", "create"):
                    continue
                keep = {r.field_of(s) for r in self.gen.rules if r.key in a.held for s in SIDES}
                for side, rid in (("crm", a.crm_id), ("erp", a.erp_id)):
                    if rid is None:
                        continue
                    self.dirty = {d for d in self.dirty if d[:2] != (side, rid) or d[2] in keep}

    def quiet(self) -> PassReport:
        """Passes without user changes until nothing is written (at most 4), then the end-state checks."""
        report = self.run_pass()
        for _ in range(3):
            if report.writes == 0:
                break
            report = self.run_pass()
        self.check_converged(report)
        calls = self.write_calls()
        again = self.run_pass()
        # 6. a further pass writes nothing
        assert again.writes == 0, "a quiet pass still writes" + self.context()
        assert self.write_calls() == calls, self.context()
        return again

    def check_converged(self, report: PassReport) -> None:
        ctx = self.context
        gen = self.gen
        held: dict[str, set[str]] = {}
        for m in report.mappings:
            for a in m.actions:
                if a.crm_id:
                    held.setdefault(a.crm_id, set()).update(a.held)
        quarantined = {(q.side, q.record_id) for q in self.store.list_quarantine()}
        links = self.links()
        orgs, customers = self.records("crm"), self.records("erp")
        # 7. every record linked unless the rules say otherwise
        linked_erp = set(links.values())
        # a pair matched by key and quarantined on one side leaves both unlinked
        held_keys = {str(orgs[r].get(KEY_CRM)) for s, r in quarantined if s == "crm" and r in orgs} | \
            {r for s, r in quarantined if s == "erp"}
        if gen.direction != "crm-to-erp":
            for rid in customers:
                assert rid in linked_erp or rid in held_keys, f"customer {rid} not linked" + ctx()
        if gen.direction != "erp-to-crm":
            for rid, org in orgs.items():
                assert rid in links or ("crm", rid) in quarantined or not gen.crm_condition(org) or \
                    str(org.get(KEY_CRM)) in held_keys, \
                    f"organisation {rid} not linked" + ctx()
        # 5. convergence
        for crm_id, erp_id in links.items():
            org, cust = orgs[crm_id], customers[erp_id]
            if not gen.crm_condition(org) or ("crm", crm_id) in quarantined or ("erp", erp_id) in quarantined:
                continue
            for rule in gen.rules:
                crm, erp = org.get(rule.field_of("crm")), cust.get(rule.field_of("erp"))
                if rule.agree(crm, erp) or self.exempt(rule, crm_id, erp_id, crm, erp):
                    continue
                assert rule.key in held.get(crm_id, set()), \
                    (f"not converged and not held: {rule.key} crm {crm!r} erp {erp!r} "
                     f"(link {crm_id}<->{erp_id})") + ctx()

    def exempt(self, rule: GenRule, crm_id: str, erp_id: str, crm: Any, erp: Any) -> bool:
        """Divergence the rules mean: on-create / if-empty fields, skipped conflicts, a one-way rule whose
        target was edited after its source."""
        if rule.write in ("on-create", "if-empty") or (crm_id, rule.key) in self.skip_conflicts:
            return True
        if rule.direction != "both":
            source, target = ("crm", "erp") if rule.direction == "crm-to-erp" else ("erp", "crm")
            ids = {"crm": crm_id, "erp": erp_id}
            s_edit = self.last_edit.get((source, ids[source], rule.field_of(source)), 0)
            t_edit = self.last_edit.get((target, ids[target], rule.field_of(target)), 0)
            # an empty source at first contact does not blank the target (only a later user blank flows)
            linked_at = self.link_tick.get(crm_id, 0)
            return t_edit > s_edit or (s_edit <= linked_at and norm(crm if source == "crm" else erp) is None)
        return False


def run_case(gen: GenRuleset, data: st.DataObject, count: int, sim_class: type[Sim] | None = None,
             counts: dict[str, float] | None = None) -> None:
    """``count`` histories under ``gen``, each in a new world of ``sim_class`` (the fakes by default)."""
    counts = COUNTS if counts is None else counts
    started = time.monotonic()
    ruleset = load(gen)
    counts["rulesets"] += 1
    if ruleset is None:
        counts["invalid"] += 1
    assume(ruleset is not None)
    assert ruleset is not None
    for _ in range(count):
        steps = data.draw(histories(gen, (sim_class or Sim).pools))
        counts["histories"] += 1
        with SqliteStateStore(":memory:") as store:
            sim = (sim_class or Sim)(gen, ruleset, store)
            try:
                for step in steps:
                    sim.step(step)
                sim.quiet()
            finally:
                sim.close()
    counts["seconds"] += time.monotonic() - started


@CI
@given(rulesets(), st.data())
def test_generated_rulesets_keep_the_invariants(gen: GenRuleset, data: st.DataObject) -> None:
    run_case(gen, data, 2)


@pytest.mark.slow
@LONG
@given(rulesets(), st.data())
def test_generated_rulesets_keep_the_invariants_long(gen: GenRuleset, data: st.DataObject) -> None:
    run_case(gen, data, 3)


def test_zz_generated_figures() -> None:
    """Runs last in the module: how much was generated and checked (printed with ``-s``, and written to
    .hypothesis-counts/generated_rulesets.json)."""
    figures()


@pytest.mark.slow
def test_zz_generated_figures_long() -> None:
    """The same after the long profile (``-m slow`` selects only slow tests)."""
    figures()


def figures() -> None:
    shown = {k: round(v, 2) if isinstance(v, float) else v for k, v in COUNTS.items()}
    print(f"\ngenerated rule sets: {shown}")
    COUNTS_FILE.parent.mkdir(exist_ok=True)
    COUNTS_FILE.write_text(json.dumps(shown), encoding="utf-8")
    if COUNTS["rulesets"]:  # the module ran the property test (not only this test selected)
        assert COUNTS["rulesets"] - COUNTS["invalid"] >= 10
        assert COUNTS["histories"] >= 20



# -- bugs found by the generator, shrunk to plain tests -------------------------------------------------------
MINIMAL_BOTH = GenRuleset(direction="both", conflict=None, first_contact=None, condition_types=None, rules=(
    GenRule("name", "both", False),
    GenRule("customer-number", "both", False, write="if-empty", conflict="crm-wins"),
))


def test_a_field_absent_then_saved_empty_is_no_change() -> None:
    """A field the engine left out of a record it created (the source was empty) and that a user later saves
    empty (absent -> "") did not change: it must not count as a change, win a conflict and blank the other
    side's new value (found by the generator; fixed in fieldmerge.merge)."""
    ruleset = load(MINIMAL_BOTH)
    assert ruleset is not None
    with SqliteStateStore(":memory:") as store:
        sim = Sim(MINIMAL_BOTH, ruleset, store)
        sim.step(("create", "crm", "102", {"OrganisationName": ""}))
        sim.step(("pass",))
        assert "Name" not in sim.world.erp.records["customer"]["102"]  # not sent: the source was empty
        sim.step(("edit", "crm", 0, {"OrganisationName": "Beta"}))
        sim.step(("edit", "erp", 0, {"Name": ""}))  # saved in Fortnox without changing the (empty) name
        sim.step(("pass",))  # checks: no blank without a rule
        assert sim.world.erp.records["customer"]["102"]["Name"] == "Beta"
        assert sim.world.crm.all("organisation")[0]["OrganisationName"] == "Beta"
