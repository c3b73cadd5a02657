"""Rehearsing on the customer's data: ``mapsync snapshot`` against simulators standing in for the real systems
(read-only, no secret in the folder, ``--limit``), then ``mapsync sandbox --from`` serving the snapshot and a
first import planned and run against it, in terms of the real systems' ids."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mapsync.connectors.catalogue import load_catalogue
from mapsync.connectors.registry import CONNECTION_SETTINGS, make_client
from mapsync.engine.cli import main
from mapsync.engine.connections import resolve_connection
from mapsync.engine.extractors import FieldPath
from mapsync.engine.ruleset import Side
from mapsync.engine.sandbox import Sandbox, running_sandbox, start_sandbox
from mapsync.engine.snapshot import SnapshotFolder
from tests.e2e.conftest import load

ROOT = Path(__file__).resolve().parents[2]
FORTNOX = str(ROOT / "mapsync/rules/standard/fortnox")
VISMANET = str(ROOT / "mapsync/rules/standard/vismanet")
pytestmark = pytest.mark.e2e
# Requests a read-only snapshot may make besides GETs: asking for a token.
TOKEN_REQUESTS = {("POST", "/Auth/ApiLogin"), ("POST", "/oauth-v1/token"), ("POST", "/connect/token")}


@pytest.fixture
def real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The customer's systems: the demo data under ids a fresh simulator would not give, and their connection
    settings in the environment (as for `run`)."""
    sandbox = start_sandbox(tmp_path / "real", realistic_limits=False)
    try:
        webcrm, fortnox, vismanet = (sandbox.simulators[n].store for n in ("webcrm", "fortnox", "vismanet"))
        for series, start in (("organisation", 700), ("person", 800), ("deal", 40), ("quotation_line", 300),
                              ("catalogue_item", 60)):
            webcrm.note(series, start)
        for series, start in (("customer", 500), ("order", 40), ("invoice", 60)):
            fortnox.note(series, start)
        for series, start in (("contact", 80), ("salesorder", 700), ("customerinvoice", 900)):  # customers: 10000..
            vismanet.note(series, start)
        for simulator in sandbox.simulators.values():
            simulator.seed_demo()
            simulator.log.clear()
        for key, value in sandbox.env.items():
            monkeypatch.setenv(key, value)
        yield sandbox
    finally:
        sandbox.stop()


def secrets(sandbox: Sandbox) -> set[str]:
    """Every secret the snapshot had to hand: the secret connection settings and the tokens the systems issued."""
    values: set[str] = set()
    for connector, settings in CONNECTION_SETTINGS.items():
        for name, secret in settings.items():
            value = sandbox.env.get(f"{connector.upper()}_{name.upper()}")
            if secret and value:
                values.add(value)
    for simulator in sandbox.simulators.values():
        for issued in simulator.store.auth.values():  # token -> grant maps, lists of refresh tokens
            values.update(str(token) for token in issued if len(str(token)) >= 12)
    return values


def folder_text(folder: Path) -> str:
    return "".join(path.read_text(encoding="utf-8") for path in sorted(folder.rglob("*")) if path.is_file())


def only_reads(sandbox: Sandbox) -> list[tuple[str, str]]:
    """The requests of all systems that were neither a GET nor a token request (should be none)."""
    return [(e.method, e.path) for simulator in sandbox.simulators.values() for e in simulator.log.entries()
            if e.method != "GET" and (e.method, e.path) not in TOKEN_REQUESTS]


def snapshot(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["snapshot", *args]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "personal data" in err  # the warning
    return err


def test_snapshot_reads_what_the_fortnox_rule_set_touches_and_nothing_secret(
        real: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, state = tmp_path / "snap", tmp_path / "state.sqlite"
    snapshot([FORTNOX, "--out", str(out), "--state", str(state)], capsys)
    assert only_reads(real) == []
    assert real.simulators["fortnox"].log.count("GET") > 0 and real.simulators["webcrm"].log.count("GET") > 0
    assert not state.exists()  # nothing written anywhere else either
    text = folder_text(out)
    leaked = [s for s in secrets(real) if s in text]
    assert secrets(real) and not leaked
    manifest = yaml.safe_load((out / "snapshot.yaml").read_text(encoding="utf-8"))
    assert manifest["ruleset"] == "fortnox-standard" and manifest["limit"] is None
    assert manifest["systems"]["crm"] == {"connector": "webcrm", "base_url": real.env["WEBCRM_BASE_URL"]}
    assert manifest["systems"]["erp"]["connector"] == "fortnox"
    counts = {(e["connector"], e["entity"]): e["count"] for e in manifest["entities"]}
    stores = {name: real.simulators[name].store for name in ("webcrm", "fortnox")}
    for (connector, entity), count in counts.items():
        if entity != "quotation_line":
            assert count == len(stores[connector].records[entity]), (connector, entity)
    assert counts[("webcrm", "quotation_line")] == 2  # the delivery's lines, not the opportunity's
    assert not any(e["limited"] for e in manifest["entities"])
    folder = SnapshotFolder(out)
    assert folder.record("crm", "organisation", 701)["OrganisationName"] == "Nordisk Trä AB"
    assert folder.record("erp", "customer", "501")["Name"] == "Nordisk Trä AB"
    assert folder.record("erp", "invoice", "61")["InvoiceRows"]  # documents are read full, rows included
    assert "PERSONAL DATA" in (out / "README.txt").read_text(encoding="utf-8")
    assert (out / ".gitignore").read_text(encoding="utf-8").strip().endswith("*")
    assert main(["snapshot", FORTNOX, "--out", str(out)]) == 1  # never over an existing snapshot
    assert "not an empty folder" in capsys.readouterr().err


def test_limit_keeps_the_parents_of_the_kept_children(real: Sandbox, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "snap"
    snapshot([FORTNOX, "--out", str(out), "--limit", "1", "--state", str(tmp_path / "s.sqlite")], capsys)
    assert only_reads(real) == []
    folder = SnapshotFolder(out)
    entries = {(e.connector, e.entity): e for e in folder.manifest.entities}
    assert folder.manifest.limit == 1
    for (connector, entity), entry in entries.items():
        if entity != "article":  # articles: every one the kept documents and delivery lines name (below)
            assert entry.count <= (3 if entity in ("customer", "organisation") else 2), (connector, entity)
    assert entries[("fortnox", "customer")].count == 2 and entries[("fortnox", "customer")].limited
    organisations = {str(r["OrganisationId"]) for r in folder.records("crm", "organisation")}
    deliveries = folder.records("crm", "delivery")
    assert deliveries and all(str(d["DeliveryOrganisationId"]) in organisations for d in deliveries)
    delivery_ids = {d["DeliveryId"] for d in deliveries}
    assert all(line["QuotationLineOpportunityId"] in delivery_ids for line in folder.records("crm", "quotation_line"))
    customers = {r["CustomerNumber"] for r in folder.records("erp", "customer")}
    documents = folder.records("erp", "order") + folder.records("erp", "invoice")
    assert documents and all(d["CustomerNumber"] in customers for d in documents)
    named = {row["ArticleNumber"] for d in folder.records("erp", "order") for row in d["OrderRows"]}
    named |= {row["ArticleNumber"] for d in folder.records("erp", "invoice") for row in d["InvoiceRows"]}
    named |= {line["QuotationLineData1"] for line in folder.records("crm", "quotation_line")}
    articles = {r["ArticleNumber"] for r in folder.records("erp", "article")}
    assert len(named - {""}) > 1 and articles == named - {""}  # beyond the limit: every article named


def _env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


def _actions(report: dict[str, Any], mapping: str) -> list[dict[str, Any]]:
    return next(m for m in report["mappings"] if m["name"] == mapping)["actions"]


def test_a_first_import_rehearsed_on_a_snapshot_talks_about_the_real_ids(
        real: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    snap, folder, state = tmp_path / "snap", tmp_path / "rehearsal", str(tmp_path / "rehearsal.sqlite")
    snapshot([FORTNOX, "--out", str(snap), "--state", str(tmp_path / "none.sqlite")], capsys)
    real.stop()  # the customer's systems are out of reach from here on
    proc = subprocess.Popen([sys.executable, "-m", "mapsync.engine.cli.main", "sandbox", "--dir", str(folder),
                             "--from", str(snap), "--no-rate-limits"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ})
    try:
        deadline = time.monotonic() + 30
        while not (folder / "sandbox.env").exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        env = _env_file(folder / "sandbox.env")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        assert main(["plan", FORTNOX, "--state", state, "--format", "json"]) == 0
        plan = json.loads(capsys.readouterr().out)
        customers = _actions(plan, "customers")
        assert any(a["action"] == "link" and (a["crm_id"], a["erp_id"]) == ("701", "501") for a in customers)
        assert any(a["action"] == "create" and (a["crm_id"], a["erp_id"]) == ("702", "1001") for a in customers)
        assert main(["run", FORTNOX, "--state", state, "--first-import", "--format", "json"]) == 0
        run = json.loads(capsys.readouterr().out)
        customers = _actions(run, "customers")
        assert any(a["action"] == "link" and (a["crm_id"], a["erp_id"]) == ("701", "501") for a in customers)
        created_orgs = [int(a["crm_id"]) for a in customers if a["action"] == "create" and a["target"] == "crm"]
        assert sorted(a["erp_id"] for a in customers if a["target"] == "crm") == ["502", "503", "504"]
        assert created_orgs and min(created_orgs) > 703  # webCRM's ids go on after the snapshot's
        orders = _actions(run, "deliveries-orders")
        assert any(a["action"] == "create" and a["crm_id"] == "41" and int(a["erp_id"]) > 41 for a in orders)
        assert any(a["action"] == "create" and a["erp_id"] == "41" and int(a["crm_id"]) > 41 for a in orders)
        ruleset = load(Path(FORTNOX), env)
        fortnox = make_client("fortnox", resolve_connection(ruleset.system(Side.ERP), env), rate_limit=None)
        try:  # the sandbox holds the real records and the rehearsal's writes
            assert (fortnox.get("customer", "501") or {})["Name"] == "Nordisk Trä AB"
            assert (fortnox.get("customer", "1001") or {})["Name"] == "Bergsgården Bygg AB"
        finally:
            fortnox.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "personal data" in err.decode("utf-8") and "PERSONAL DATA" in (folder / "README.txt").read_text(
        encoding="utf-8")
    # the sandbox folder now holds the rehearsal's data: a snapshot is served from a new folder only
    assert main(["sandbox", "--dir", str(folder), "--from", str(snap)]) == 1
    assert "already holds records" in capsys.readouterr().err
    assert main(["sandbox", "--dir", str(tmp_path / "other"), "--from", str(tmp_path)]) == 1
    assert "not a snapshot folder" in capsys.readouterr().err


def test_vismanet_snapshot_round_trip(real: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "snap"
    snapshot([VISMANET, "--out", str(out), "--state", str(tmp_path / "s.sqlite")], capsys)
    assert only_reads(real) == []
    assert not [s for s in secrets(real) if s in folder_text(out)]
    folder = SnapshotFolder(out)
    erp_entities = [e for e in folder.manifest.entities if e.connector == "vismanet"]
    assert {e.entity for e in erp_entities} == {"customer", "contact", "inventory_item", "sales_order",
                                                "customer_invoice"}
    erp = load(Path(VISMANET), real.env).system(Side.ERP)
    with running_sandbox(None, snapshot=folder, realistic_limits=False) as rehearsal:
        assert rehearsal.loaded["vismanet"] == sum(e.count for e in erp_entities)
        clients = [make_client("vismanet", resolve_connection(erp, s.env), rate_limit=None) for s in (real, rehearsal)]
        try:  # what the client reads from the rehearsal is what it read from the real system, ids and all
            for entry in erp_entities:
                fields = load_catalogue("vismanet").entities[entry.entity].readable_fields
                original, served = (
                    {c.record_id(entry.entity, r): {k: v for k, v in r.items() if k not in ("timeStamp", "timestamp")}
                     for r in c.read_changes(entry.entity, None, fields).records} for c in clients)
                assert served == original and len(served) == entry.count, entry.entity
        finally:
            for client in clients:
                client.close()
        for key, value in rehearsal.env.items():
            monkeypatch.setenv(key, value)
        assert main(["plan", VISMANET, "--state", str(tmp_path / "r.sqlite"), "--format", "json"]) == 0
        plan = json.loads(capsys.readouterr().out)
    links = {(m["name"], a["crm_id"], a["erp_id"]) for m in plan["mappings"] for a in m["actions"]
             if a["action"] == "link"}
    assert {("customers", "701", "10002"), ("persons", "801", "84")} <= links


@pytest.mark.parametrize(("standard", "target", "items", "rows"), [
    (FORTNOX, "invoice", "article", [("invoice", "InvoiceRows", "ArticleNumber")]),
    (VISMANET, "order", "inventory_item", [("sales_order", "lines", "inventory.number"),
                                           ("customer_invoice", "invoiceLines", "inventoryNumber")])])
def test_a_rehearsal_without_the_item_register_has_the_items_its_documents_name(
        real: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        standard: str, target: str, items: str, rows: list[tuple[str, str, str]]) -> None:
    """The customer keeps the item register out of webCRM (`items` switched off): the documents' rows, and those
    of the documents the rehearsal makes from webCRM deliveries, name items the real ERP has; the rehearsal has
    them too, and the first import quarantines nothing."""
    rules = tmp_path / "acme"
    rules.mkdir()
    (rules / "ruleset.yaml").write_text(f"name: acme\nextends: {standard}\nsettings:\n  delivery_target: {target}\n"
                                        "overrides:\n  items:\n    enabled: false\n", encoding="utf-8")
    out = tmp_path / "snap"
    snapshot([str(rules), "--out", str(out), "--state", str(tmp_path / "s.sqlite")], capsys)
    assert only_reads(real) == []
    folder = SnapshotFolder(out)
    entry = folder.entry("erp", items)
    assert entry.mappings == () and entry.selection.startswith("the records referred to by ")
    with pytest.raises(LookupError):
        folder.entry("crm", "catalogue_item")  # the mapping is off: webCRM's catalogue is not read
    named = {str(line["QuotationLineData1"]) for line in folder.records("crm", "quotation_line")}
    for entity, collection, path in rows:
        for document in folder.records("erp", entity):
            for row in document[collection]:
                value = FieldPath(path).get(row)
                if isinstance(value, str) and value:
                    named.add(value)
    id_field = load_catalogue(folder.connector("erp")).entities[items].id_field
    assert {str(record[id_field]) for record in folder.records("erp", items)} == named and len(named) > 1
    with running_sandbox(None, snapshot=folder, realistic_limits=False) as rehearsal:
        for key, value in rehearsal.env.items():
            monkeypatch.setenv(key, value)
        code = main(["run", str(rules), "--state", str(tmp_path / "r.sqlite"), "--first-import", "--format", "json"])
        report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["totals"]["quarantined"] == 0 and not report["fatal"]
    documents = next(m for m in report["mappings"] if m["name"] == f"deliveries-{target}s")
    assert any(a["action"] == "create" and a["target"] == "erp" for a in documents["actions"]), documents
