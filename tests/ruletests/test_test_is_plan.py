"""A rule test sees what a plan sees: for generated rule sets and records, the outcome ``mapsync test`` reads
off ``SyncPass.decide_record`` equals the action a whole dry-run pass (``mapsync plan``) reports for the same
record in the same world: the action, the side written and every value written."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mapsync.engine.diagnostics import Location
from mapsync.engine.ruleset import Side
from mapsync.engine.ruletest.cases import Expectation, RuleTest
from mapsync.engine.ruletest.runner import _World, decide
from mapsync.engine.ruletest.suite import catalogues_of
from mapsync.engine.sync.bound import bind_ruleset
from mapsync.engine.sync.passrun import SyncPass
from tests.engine.rulegen import GenRuleset, _values, rulesets
from tests.engine.test_generated_rulesets import load

HERE = Location("generated.test.yaml", 1, 1)


@st.composite
def _case(draw: st.DrawFn, gen: GenRuleset) -> tuple[dict[Side, dict[str, Any]], dict[Side, dict[str, Any]] | None]:
    kind = draw(st.sampled_from(["crm", "erp", "linked"]))
    records: dict[Side, dict[str, Any]] = {}
    if kind in ("crm", "linked"):
        records[Side.CRM] = {"OrganisationId": 11, **_values(draw, gen, "crm", some=False)}
    if kind in ("erp", "linked"):
        records[Side.ERP] = {"CustomerNumber": "22", **_values(draw, gen, "erp", some=False)}
    base = None
    if kind == "linked":
        base = {Side.CRM: _values(draw, gen, "crm", some=True), Side.ERP: _values(draw, gen, "erp", some=True)}
    return records, base


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rulesets(), st.data())
def test_a_rule_test_sees_what_a_plan_sees(gen: GenRuleset, data: st.DataObject) -> None:
    ruleset = load(gen)
    assume(ruleset is not None)  # a generated combination validate refuses (as the engine tests do)
    assert ruleset is not None
    records, base = data.draw(_case(gen))
    source = Side.CRM if Side.CRM in records else Side.ERP
    if base is not None and not ruleset.mappings[0].direction.writes(source.other):
        source = source.other  # a pass reads only the side whose records flow
    test = RuleTest("generated", HERE, "customers", source, MappingProxyType(records),
                    MappingProxyType(base) if base is not None else None,
                    MappingProxyType({Side.CRM: MappingProxyType({}), Side.ERP: MappingProxyType({})}), (),
                    Expectation(HERE))
    catalogues = catalogues_of(ruleset)
    bound = bind_ruleset(ruleset, catalogues)[0]
    outcome = decide(test, ruleset, catalogues, bound).outcome
    assert outcome is not None

    world = _World(test, ruleset, bound)
    report = SyncPass(ruleset, world.connectors, catalogues, world.store, apply=False).run()
    world.close()
    source_id = world.ids[source]
    actions = [a for a in report.mappings[0].actions
               if (a.crm_id if source is Side.CRM else a.erp_id) == source_id]
    if not actions and not ruleset.mappings[0].direction.writes(source.other):
        assert outcome.action == "skip"  # a pass does not even read a side whose records flow nowhere
        return
    if not actions:  # the report counts, without listing, what it leaves unchanged or skips by a condition
        counted = {"skip": "skipped", "unchanged": "unchanged"}.get(outcome.action)
        assert counted is not None and report.mappings[0].counts[counted] >= 1, (outcome, report.as_dict())
        return
    action = actions[0]
    assert action.action == outcome.action, (outcome, action)
    assert (action.target or "none") == outcome.target
    written = {**outcome.writes[Side.CRM], **outcome.writes[Side.ERP]}
    if action.action == "create":  # the write-back after a create is applying's, not the record plan's
        reported = {k: v["new"] for k, v in action.changes.items() if k in written}
        assert reported == written
    else:
        assert {k: v["new"] for k, v in action.changes.items()} == written
