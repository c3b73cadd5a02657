"""What a pass holds per record, on disk (``mapsync.engine.sync.spill``) and a mapping's actions past the first
thousand (``report.ActionLog``): order, replacement, references to the rule set, id sets, the key index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mapsync.connectors.catalogue import load_catalogue
from mapsync.engine.extractors import FieldPath
from mapsync.engine.ruleset import Side, load_ruleset
from mapsync.engine.state import Base
from mapsync.engine.sync import report as report_module
from mapsync.engine.sync.bound import bind
from mapsync.engine.sync.decide import decide_update
from mapsync.engine.sync.fieldmerge import base_of
from mapsync.engine.sync.report import Action, ActionLog, MappingReport, render_text
from mapsync.engine.sync.spill import Spill, SpilledKeyIndex, SpillError

ROOT = Path(__file__).resolve().parents[2]
ENV = {name: "x" for name in ("WEBCRM_BASE_URL", "WEBCRM_API_TOKEN", "FORTNOX_BASE_URL", "FORTNOX_ACCESS_TOKEN")}


@pytest.fixture
def spill() -> Iterator[Spill]:
    s = Spill()
    yield s
    s.close()


def test_records_keep_the_order_first_read_and_a_record_read_again_replaces_its_copy(spill: Spill) -> None:
    spill.put_record("crm", "1", {"n": 1}, True)
    spill.put_record("crm", "2", {"n": 2}, True)
    spill.put_record("erp", "9", {"n": 9}, False)
    spill.put_record("crm", "1", {"n": 11}, True)
    assert [(rid, record) for rid, record, *_ in spill.rows("crm")] == [("1", {"n": 11}), ("2", {"n": 2})]
    assert spill.record("erp", "9") == ({"n": 9}, False)
    assert spill.record("erp", "1") is None
    spill.drop_record("crm", "2")
    assert not spill.has_record("crm", "2") and spill.count("crm") == 1


def test_a_link_is_kept_with_its_record_and_a_paired_record_is_left_out(spill: Spill) -> None:
    for rid in ("1", "2"):
        spill.put_record("crm", rid, {"id": rid}, True)
        spill.put_record("erp", rid, {"id": rid}, True)
    spill.set_link("crm", "1", None)
    spill.set_link("crm", "2", {"erp": "2"})
    spill.pair("erp", "2")
    assert [(rid, looked_up, link) for rid, _, _, looked_up, link in spill.rows("crm")] == [
        ("1", True, None), ("2", True, {"erp": "2"})]
    assert [rid for rid, *_ in spill.rows("erp", unpaired=True)] == ["1"]
    assert spill.count("erp", unpaired=True) == 1


def test_a_record_that_waits_is_matched_against_but_never_decided_nor_a_partner(spill: Spill) -> None:
    spill.put_record("erp", "1", {"CustomerNumber": "1", "VATNumber": "SE1"}, True)
    spill.put_waiting("erp", "1", {"CustomerNumber": "1", "VATNumber": "changed?"})  # a copy read before wins
    spill.put_waiting("erp", "2", {"CustomerNumber": "2", "VATNumber": "SE2"})
    assert [rid for rid, *_ in spill.rows("erp")] == ["1"] and spill.count("erp") == 1
    assert spill.record("erp", "2") is None and not spill.has_record("erp", "2")
    assert SpilledKeyIndex(spill, "erp").find(FieldPath("VATNumber"), "SE2") == [
        {"CustomerNumber": "2", "VATNumber": "SE2"}]
    spill.put_record("erp", "2", {"CustomerNumber": "2", "VATNumber": "SE3"}, True)  # read again, changed
    assert [rid for rid, *_ in spill.rows("erp")] == ["1", "2"]


def test_rows_stream_in_chunks_past_the_chunk_size(spill: Spill) -> None:
    for i in range(1000):
        spill.put_record("crm", str(i), {"i": i}, True)
    assert [record["i"] for _, record, *_ in spill.rows("crm")] == list(range(1000))


def test_plans_come_back_in_order_with_the_rule_set_objects_they_name_by_reference(spill: Spill) -> None:
    ruleset = load_ruleset(ROOT / "mapsync/rules/standard/fortnox", ENV).ruleset
    assert ruleset is not None
    mapping = ruleset.mapping("customers")
    assert mapping is not None
    bound = bind(mapping, {Side.CRM: load_catalogue("webcrm"), Side.ERP: load_catalogue("fortnox")},
                 ruleset.settings)
    crm = {"OrganisationId": 1, "OrganisationName": "A AB", "OrganisationType": "Customer"}
    erp = {"CustomerNumber": "1", "Name": "A AB", "Type": "COMPANY"}
    base = Base(fields=base_of(bound, crm, erp))
    plan = decide_update(bound, "update", Side.CRM, {Side.CRM: "1", Side.ERP: "1"},
                         {Side.CRM: {**crm, "OrganisationName": "B AB"}, Side.ERP: erp}, base, Side.CRM, [], {})
    assert plan.changes
    spill.put_plan(("first", plan))
    spill.put_plan(("second", None))
    [(tag, loaded), second] = list(spill.plans())
    assert tag == "first" and second == ("second", None) and spill.plan_count() == 2
    assert loaded.bound is bound  # the bound mapping itself, not a copy
    assert all(isinstance(c.path, FieldPath) for c in loaded.changes)
    assert [(c.field, c.old, c.new) for c in loaded.changes] == [(c.field, c.old, c.new) for c in plan.changes]


def test_id_sets_take_sides_as_enums_or_text_and_clear_keeps_the_parents_linked(spill: Spill) -> None:
    handled, linked = spill.id_set("handled"), spill.id_set("linked:customers")
    handled.update([(Side.CRM, "1")])
    linked.add((Side.ERP, "7"))
    assert (Side.CRM, "1") in handled and ("crm", "1") in handled
    assert (Side.ERP, "1") not in handled and "nonsense" not in handled
    spill.clear()
    assert (Side.CRM, "1") not in handled
    assert spill.ids_of("linked:customers", "erp") == ["7"]


def test_the_key_index_finds_records_read_before_it_was_made(spill: Spill) -> None:
    spill.put_record("erp", "1", {"CustomerNumber": "1", "VATNumber": "SE1"}, True)
    spill.put_record("erp", "2", {"CustomerNumber": "2", "VATNumber": "SE1"}, True)
    spill.put_record("erp", "3", {"CustomerNumber": "3", "VATNumber": ""}, True)
    index = SpilledKeyIndex(spill, "erp")
    spill.put_record("erp", "4", {"CustomerNumber": "4", "VATNumber": "SE1"}, False)  # a retry, fetched later
    path = FieldPath("VATNumber")
    assert [r["CustomerNumber"] for r in index.find(path, "SE1")] == ["1", "2"]
    assert index.find(path, "") == [] and index.find(FieldPath("CustomerNumber"), 3) == [
        {"CustomerNumber": "3", "VATNumber": ""}]


def test_an_action_log_past_its_memory_part_reads_back_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_module, "IN_MEMORY", 3)
    log = ActionLog()
    actions = [Action("update", "erp", str(i), str(i), {"name": {"old": i, "new": i + 1}}) for i in range(600)]
    for action in actions:
        log.append(action)
    assert len(log) == 600 and list(log) == actions and log == actions
    assert log[0] == actions[0] and log[5] == actions[5] and log[-1] == actions[-1]
    assert log[2:6] == actions[2:6]
    with pytest.raises(IndexError):
        log[600]


def test_the_text_report_of_many_actions_shows_the_first_and_counts_the_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from mapsync.engine.sync.report import PassReport

    monkeypatch.setattr(report_module, "IN_MEMORY", 10)
    mapping = MappingReport("customers")
    for i in range(50):
        mapping.add(Action("update", "erp", str(i), str(i), {"Name": {"old": "a", "new": "b"}}))
    for i in range(7):
        mapping.add(Action("skip", None, str(100 + i), None, reason="not a customer"))
    report = PassReport("rs", True, [mapping])
    text = render_text(report, max_actions=3)
    assert "... and 47 more" in text
    assert "skip x7 [crm 100, crm 101, crm 102, crm 103, crm 104 +2]: not a customer" in text
    assert report.totals()["updated"] == 50 and report.as_dict()["totals"] == report.totals()


def test_a_spill_that_cannot_grow_says_what_to_do(spill: Spill) -> None:
    spill._conn.execute("PRAGMA max_page_count = 20")  # a temporary folder that is full
    with pytest.raises(SpillError, match="SQLITE_TMPDIR") as failed:
        for i in range(1000):
            spill.put_record("crm", str(i), {"blob": "x" * 2000}, True)
    assert "full" in str(failed.value)
