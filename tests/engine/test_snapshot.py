"""Snapshots with in-memory connectors: what is read (read methods only), how ``limit`` keeps references
whole, the folder and its manifest, and ``SnapshotFolder`` reading it back."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from mapsync.connectors.base import ChangeBatch, FatalError, Record
from mapsync.connectors.catalogue import load_catalogue
from mapsync.engine.ruleset import RuleSet, Side, load_ruleset
from mapsync.engine.snapshot import (
    MANIFEST,
    FieldReference,
    Manifest,
    NotInSnapshot,
    SnapshotError,
    SnapshotFolder,
    WrittenReference,
    public_url,
    scope,
    take_snapshot,
)
from tests.engine.conftest import ENV, ROOT, fortnox_ruleset
from tests.engine.fakes import FakeConnector


class ReadOnlySystem(FakeConnector):
    """A fake system that fails the test on any write."""

    def create(self, entity: str, values: Mapping[str, Any]) -> Record:
        raise AssertionError(f"snapshot wrote: create {entity}")

    def update(self, entity: str, record_id: str, changes: Mapping[str, Any]) -> Record:
        raise AssertionError(f"snapshot wrote: update {entity} {record_id}")

    def delete(self, entity: str, record_id: str) -> None:
        raise AssertionError(f"snapshot wrote: delete {entity} {record_id}")


@pytest.fixture
def ruleset() -> RuleSet:
    return fortnox_ruleset()


@pytest.fixture
def systems() -> dict[Side, ReadOnlySystem]:
    crm, erp = ReadOnlySystem("webcrm"), ReadOnlySystem("fortnox")
    for org_id in (1, 2, 3, 4, 5):
        crm.seed("organisation", {"OrganisationId": org_id, "OrganisationName": f"Org {org_id}",
                                  "OrganisationType": "Customer", "PersonEmail": "not@really"})
    # deliveries of organisations 5 and 4 (listed first), lines of deliveries and of an opportunity
    crm.seed("delivery", {"DeliveryId": 10, "DeliveryOrganisationId": 5})
    crm.seed("delivery", {"DeliveryId": 11, "DeliveryOrganisationId": 4})
    crm.seed("delivery", {"DeliveryId": 12, "DeliveryOrganisationId": 99})  # an organisation that is gone
    for line_id, deal in ((100, 10), (101, 10), (102, 11), (103, 12), (104, 50)):
        crm.seed("quotation_line", {"QuotationLineId": line_id, "QuotationLineOpportunityId": deal})
    crm.seed("catalogue_item", {"QuotationLineLinkedDataItemId": 7, "QuotationLineLinkedDataItemData1": "A"})
    for number in ("1", "2", "3"):
        erp.seed("customer", {"CustomerNumber": number, "Name": f"Customer {number}"})
    erp.seed("order", {"DocumentNumber": "20", "CustomerNumber": "3", "OrderRows": [{"RowId": 1}]})
    erp.seed("invoice", {"DocumentNumber": "30", "CustomerNumber": "2", "InvoiceRows": []})
    erp.seed("invoice", {"DocumentNumber": "31", "CustomerNumber": "3", "InvoiceRows": []})
    erp.seed("article", {"ArticleNumber": "A", "Description": "a"})
    erp.seed("article", {"ArticleNumber": "B", "Description": "b"})
    for system in (crm, erp):
        system.calls.clear()
    return {Side.CRM: crm, Side.ERP: erp}


def snap(ruleset: RuleSet, systems: Mapping[Side, FakeConnector], out: Path, **kwargs: Any) -> SnapshotFolder:
    catalogues = {side: load_catalogue(ruleset.system(side).connector) for side in Side}
    take_snapshot(ruleset, systems, catalogues, out, now=lambda: datetime(2024, 5, 1, 12, tzinfo=UTC), **kwargs)
    return SnapshotFolder(out)


def ids(folder: SnapshotFolder, system: str, entity: str) -> list[str]:
    entry = folder.entry(system, entity)
    return [str(r[entry.id_field]) for r in folder.records(system, entity)]


def test_scope_reads_children_before_their_parents_and_owners_before_their_lines(ruleset: RuleSet) -> None:
    order = [(item.side.value, item.entity) for item in scope(ruleset)]
    assert order.index(("crm", "delivery")) < order.index(("crm", "organisation"))
    assert order.index(("crm", "delivery")) < order.index(("crm", "quotation_line"))
    assert order.index(("erp", "order")) < order.index(("erp", "customer"))
    assert order.index(("erp", "invoice")) < order.index(("erp", "customer"))
    assert {e for _, e in order} == {"organisation", "customer", "catalogue_item", "article", "delivery", "order",
                                     "invoice", "quotation_line"}
    lines = next(item for item in scope(ruleset) if item.entity == "quotation_line")
    assert not lines.whole and [owner for owner, _ in lines.lines_of] == ["delivery"]


def test_a_full_snapshot_holds_every_record_and_the_lines_of_its_deliveries(
        ruleset: RuleSet, systems: dict[Side, ReadOnlySystem], tmp_path: Path) -> None:
    folder = snap(ruleset, systems, tmp_path / "snap")
    assert ids(folder, "crm", "organisation") == ["1", "2", "3", "4", "5"]
    assert ids(folder, "webcrm", "delivery") == ["10", "11", "12"]
    assert ids(folder, "crm", "quotation_line") == ["100", "101", "102", "103"]  # not the opportunity's line
    assert ids(folder, "erp", "invoice") == ["30", "31"]
    assert folder.record("fortnox", "order", 20)["OrderRows"] == [{"RowId": 1}]  # rows travel in the document
    manifest = yaml.safe_load((tmp_path / "snap" / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["ruleset"] == "fortnox-standard" and manifest["taken_at"] == "2024-05-01T12:00:00Z"
    assert manifest["limit"] is None and manifest["format"] == 1 and manifest["mapsync"]
    assert manifest["systems"] == {"crm": {"connector": "webcrm"}, "erp": {"connector": "fortnox"}}
    counts = {(e["connector"], e["entity"]): (e["count"], e["limited"]) for e in manifest["entities"]}
    assert counts[("webcrm", "organisation")] == (5, False) and counts[("fortnox", "customer")] == (3, False)
    for entry in manifest["entities"]:  # one JSON record a line, one file per system and entity
        lines = (tmp_path / "snap" / entry["file"]).read_text(encoding="utf-8").splitlines()
        assert len(lines) == entry["count"] and all(isinstance(json.loads(line), dict) for line in lines)
    notice = (tmp_path / "snap" / "README.txt").read_text(encoding="utf-8")
    assert "PERSONAL DATA" in notice and "repository" in notice
    assert (tmp_path / "snap" / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == "*"


def test_only_read_methods_are_used(ruleset: RuleSet, systems: dict[Side, ReadOnlySystem], tmp_path: Path) -> None:
    snap(ruleset, systems, tmp_path / "a")
    snap(ruleset, systems, tmp_path / "b", limit=1)
    for system in systems.values():
        assert system.calls and {call for call, _ in system.calls} <= {"read", "get"}
        assert system.writes() == []


def test_limit_keeps_children_first_and_every_parent_they_refer_to(
        ruleset: RuleSet, systems: dict[Side, ReadOnlySystem], tmp_path: Path) -> None:
    folder = snap(ruleset, systems, tmp_path / "snap", limit=1)
    assert ids(folder, "crm", "delivery") == ["10"]
    assert ids(folder, "crm", "quotation_line") == ["100", "101"]  # lines are never cut
    assert ids(folder, "crm", "organisation") == ["5"]  # the parent of the kept delivery, not the first listed
    assert ids(folder, "erp", "order") == ["20"] and ids(folder, "erp", "invoice") == ["30"]
    assert ids(folder, "erp", "customer") == ["2", "3"]  # beyond the limit: both are needed
    entries = {(e.connector, e.entity): e for e in folder.manifest.entities}
    assert entries[("webcrm", "organisation")].limited and entries[("fortnox", "customer")].limited
    assert not entries[("fortnox", "order")].limited  # the only order
    assert entries[("webcrm", "quotation_line")].limited  # lines of left-out deliveries are not there
    assert "refer to" in entries[("fortnox", "customer")].selection
    assert folder.manifest.limit == 1


def test_limit_larger_than_the_parents_needed_fills_up_in_list_order(
        ruleset: RuleSet, systems: dict[Side, ReadOnlySystem], tmp_path: Path) -> None:
    folder = snap(ruleset, systems, tmp_path / "snap", limit=3)
    assert ids(folder, "crm", "delivery") == ["10", "11", "12"]
    assert ids(folder, "crm", "organisation") == ["1", "4", "5"]  # 99 is gone: not there, no error
    assert not folder.entry("crm", "delivery").limited and folder.entry("crm", "organisation").limited


def test_snapshot_folder_reads_records_by_system_entity_and_id(
        ruleset: RuleSet, systems: dict[Side, ReadOnlySystem], tmp_path: Path) -> None:
    folder = snap(ruleset, systems, tmp_path / "snap")
    record = folder.record("crm", "organisation", 3)
    assert record == folder.record("webcrm", "organisation", "3") and record["OrganisationName"] == "Org 3"
    record["OrganisationName"] = "changed"
    assert folder.record("crm", "organisation", 3)["OrganisationName"] == "Org 3"  # copies
    with pytest.raises(NotInSnapshot, match="no webcrm organisation with OrganisationId 42"):
        folder.record("crm", "organisation", 42)
    with pytest.raises(LookupError, match="no webcrm entity 'person'"):
        folder.record("crm", "person", 1)
    with pytest.raises(NotInSnapshot, match="no system 'vismanet'"):
        folder.record("vismanet", "customer", 1)


def test_a_failed_snapshot_leaves_nothing_behind(ruleset: RuleSet, systems: dict[Side, ReadOnlySystem],
                                                 tmp_path: Path) -> None:
    erp = systems[Side.ERP]
    read = erp.read_changes

    def refused(entity: str, cursor: str | None, fields: frozenset[str]) -> ChangeBatch:
        if entity == "customer":  # read late, after other entities' files were written
            raise FatalError("auth refused")
        return read(entity, cursor, fields)

    erp.read_changes = refused  # type: ignore[method-assign]
    with pytest.raises(FatalError):
        snap(ruleset, systems, tmp_path / "snap")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(ruleset: RuleSet, systems: dict[Side, ReadOnlySystem],
                                                 tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SnapshotError, match="not an empty folder"):
        snap(ruleset, systems, tmp_path / "snap")
    assert (tmp_path / "snap" / "keep.txt").read_text(encoding="utf-8") == "mine"
    (tmp_path / "empty").mkdir()
    assert snap(ruleset, systems, tmp_path / "empty").manifest.entities


def test_base_urls_lose_credentials_and_queries(ruleset: RuleSet, systems: dict[Side, ReadOnlySystem],
                                                tmp_path: Path) -> None:
    assert public_url("https://user:s3cret@api.example.com:8443/v1?token=abc#x") == "https://api.example.com:8443/v1"
    folder = snap(ruleset, systems, tmp_path / "snap",
                  base_urls={Side.CRM: "https://u:s3cret@api.webcrm.com/", Side.ERP: "https://api.fortnox.se?t=abc"})
    assert folder.manifest.systems["crm"]["base_url"] == "https://api.webcrm.com/"
    assert folder.manifest.systems["erp"]["base_url"] == "https://api.fortnox.se"
    text = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "snap").rglob("*") if p.is_file())
    assert "s3cret" not in text and "abc" not in text


def test_folders_that_are_not_snapshots_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="not a snapshot folder"):
        SnapshotFolder(tmp_path)
    (tmp_path / MANIFEST).write_text("format: 99\nsystems: {}\nentities: []\n", encoding="utf-8")
    with pytest.raises(SnapshotError, match="format 99 is not supported"):
        SnapshotFolder(tmp_path)
    (tmp_path / MANIFEST).write_text("just text\n", encoding="utf-8")
    with pytest.raises(SnapshotError, match="not a snapshot manifest"):
        SnapshotFolder(tmp_path)


def test_a_damaged_record_file_is_named_with_its_line(ruleset: RuleSet, systems: dict[Side, ReadOnlySystem],
                                                      tmp_path: Path) -> None:
    folder = snap(ruleset, systems, tmp_path / "snap")
    path = tmp_path / "snap" / folder.entry("erp", "customer").file
    path.write_text(path.read_text(encoding="utf-8") + "{broken\n", encoding="utf-8")
    with pytest.raises(SnapshotError, match=r"customer\.jsonl:4"):
        SnapshotFolder(tmp_path / "snap").record("erp", "customer", "1")


def test_the_manifest_in_docs_is_the_manifest_written(ruleset: RuleSet, systems: dict[Side, ReadOnlySystem],
                                                     tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "rehearsal.md").read_text(encoding="utf-8")
    documented = next(yaml.safe_load(block) for block in re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)
                      if "entities:" in block)
    snap(ruleset, systems, tmp_path / "snap", limit=2, base_urls={Side.CRM: "https://a", Side.ERP: "https://b"})
    written = yaml.safe_load((tmp_path / "snap" / MANIFEST).read_text(encoding="utf-8"))
    assert list(documented) == list(written)
    assert list(documented["entities"][0]) == list(written["entities"][0])
    assert documented["systems"]["crm"].keys() == written["systems"]["crm"].keys()
    assert Manifest.from_dict(documented).entities[0].limited


# -- records the kept ones refer to --------------------------------------------------------------------------

def without_items(tmp_path: Path) -> RuleSet:
    """A customer who invoices straight away and keeps the article register out of webCRM (docs/tutorial.md)."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "ruleset.yaml").write_text(
        f"name: acme\nextends: {ROOT / 'mapsync/rules/standard/fortnox'}\nsettings:\n  delivery_target: invoice\n"
        "overrides:\n  items:\n    enabled: false\n", encoding="utf-8")
    result = load_ruleset(tmp_path, ENV, for_run=True)
    assert result.ruleset is not None, [d.message for d in result.diagnostics]
    return result.ruleset


@pytest.fixture
def referring(systems: dict[Side, ReadOnlySystem]) -> dict[Side, ReadOnlySystem]:
    """Documents whose rows name articles, and delivery lines whose item numbers become such rows."""
    crm, erp = systems[Side.CRM], systems[Side.ERP]
    for line_id, deal, item in ((105, 10, "D"), (106, 11, "B"), (107, 50, "E")):  # 107: the opportunity's
        crm.seed("quotation_line", {"QuotationLineId": line_id, "QuotationLineOpportunityId": deal,
                                    "QuotationLineData1": item})
    erp.edit("invoice", "30", InvoiceRows=[{"RowId": 1, "ArticleNumber": "A"}, {"RowId": 2, "ArticleNumber": ""},
                                           {"RowId": 3, "ArticleNumber": "GONE"}])  # no such article
    erp.edit("invoice", "31", InvoiceRows=[{"RowId": 4, "ArticleNumber": "B"}])
    erp.edit("order", "20", OrderRows=[{"RowId": 5, "ArticleNumber": "C"}])
    for number in ("C", "D", "E", "F"):
        erp.seed("article", {"ArticleNumber": number, "Description": number.lower()})
    for system in (crm, erp):
        system.calls.clear()
    return systems


def test_scope_takes_along_the_entities_kept_records_refer_to(tmp_path: Path) -> None:
    items = scope(without_items(tmp_path))
    order = [(item.side.value, item.entity) for item in items]
    assert ("erp", "order") not in order and ("crm", "catalogue_item") not in order  # mappings switched off
    article = next(item for item in items if item.entity == "article")
    assert not article.whole and article.mappings == [] and not article.parents and not article.lines_of
    assert order.index(("erp", "invoice")) < order.index(("erp", "article"))  # rows first, then what they name
    assert order.index(("crm", "quotation_line")) < order.index(("erp", "article"))
    rows, written = article.referred_by
    assert isinstance(rows, FieldReference) and (rows.side, rows.entity, rows.field.name) == (
        Side.ERP, "invoice", "ArticleNumber") and rows.rows is not None and rows.rows.name == "InvoiceRows"
    assert isinstance(written, WrittenReference) and (written.side, written.entity, written.field) == (
        Side.CRM, "quotation_line", "ArticleNumber") and written.owner is not None and written.owner[0] == "delivery"
    customer = next(item for item in items if item.entity == "customer")
    assert customer.whole and [r.label for r in customer.referred_by] == [
        "the kept invoice records (invoice.CustomerNumber)"]


def test_an_entity_no_mapping_covers_holds_the_records_referred_to(
        referring: dict[Side, ReadOnlySystem], tmp_path: Path) -> None:
    folder = snap(without_items(tmp_path / "rules"), referring, tmp_path / "snap")
    # A, B: invoice rows; D, B: the item numbers of the lines of kept deliveries (made into invoice rows);
    # not C (an order's: orders are not synced), E (an opportunity's line) or F (named by nothing)
    assert ids(folder, "erp", "article") == ["A", "B", "D"]
    entry = folder.entry("erp", "article")
    assert entry.mappings == () and not entry.limited
    assert entry.selection == (
        "the records referred to by the InvoiceRows of the kept invoice records (invoice_row.ArticleNumber) and "
        "the invoice_row.ArticleNumber values mapping deliveries-invoices makes from the kept quotation_line records")
    assert {call for call, entity in referring[Side.ERP].calls if entity == "article"} == {"get"}  # never listed
    assert referring[Side.ERP].writes() == [] and referring[Side.CRM].writes() == []


def test_limit_keeps_every_record_the_kept_documents_refer_to(
        referring: dict[Side, ReadOnlySystem], tmp_path: Path) -> None:
    folder = snap(without_items(tmp_path / "rules"), referring, tmp_path / "snap", limit=1)
    assert ids(folder, "erp", "invoice") == ["30"] and ids(folder, "crm", "delivery") == ["10"]
    assert ids(folder, "erp", "article") == ["A", "D"]  # beyond the limit; B only for documents left out
    assert folder.entry("erp", "article").limited  # the articles of the documents left out are not there


def test_a_mappings_entity_keeps_its_selection_and_the_records_referred_to(
        ruleset: RuleSet, referring: dict[Side, ReadOnlySystem], tmp_path: Path) -> None:
    full = snap(ruleset, referring, tmp_path / "full")
    assert ids(full, "erp", "article") == ["A", "B", "C", "D", "E", "F"]
    assert full.entry("erp", "article").selection == "every record"
    limited = snap(ruleset, referring, tmp_path / "limited", limit=1)
    # order 20 names C, invoice 30 names A, the lines of delivery 10 name D: all kept, nothing more
    assert ids(limited, "erp", "article") == ["A", "C", "D"]
    entry = limited.entry("erp", "article")
    assert entry.limited and entry.mappings == ("items",)
    assert entry.selection.startswith("the first 1 record(s) listed, and the records referred to by the OrderRows")
