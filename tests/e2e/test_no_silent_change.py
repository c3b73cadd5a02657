"""Issue 8, "No silent change": each case of docs/sync.md's guarantees end to end, over real sockets.

Customer rule sets extend the standard Fortnox set with ``settings`` and ``overrides``; passes run through
the E2E world (``SyncPass`` with real clients against the simulators) and, for the plan, first-contact and
guardrail cases, through the ``mapsync`` entry point. The engine-level versions with fake connectors are
tests/engine/test_no_silent_change.py and tests/engine/test_plan_is_run.py.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mapsync.engine.cli import main
from mapsync.engine.sandbox import Sandbox
from mapsync.engine.state import SqliteStateStore
from mapsync.engine.sync.report import PassReport
from tests.e2e.conftest import E2E, load
from tests.e2e.webcrm_records import delivery
from tests.engine.test_no_silent_change import LOSSY_TYPES

ROOT = Path(__file__).resolve().parents[2]
FORTNOX = ROOT / "mapsync/rules/standard/fortnox"
pytestmark = pytest.mark.e2e


def overlay(tmp_path: Path, body: str) -> Path:
    """A customer rule set folder extending the standard Fortnox set with ``body`` (settings, overrides...)."""
    folder = Path(tempfile.mkdtemp(prefix="overlay-", dir=tmp_path))
    (folder / "ruleset.yaml").write_text(f"name: custom\nextends: {FORTNOX}\n{body}", encoding="utf-8")
    return folder


def world_of(sandbox: Sandbox, store: SqliteStateStore, folder: Path) -> E2E:
    return E2E(sandbox, store, load(folder, sandbox.env))


@pytest.fixture
def stores() -> Iterator[list[SqliteStateStore]]:
    """State stores a test opens (closed at the end)."""
    opened: list[SqliteStateStore] = []
    yield opened
    for store in opened:
        store.close()


def orgs(e2e: E2E) -> list[dict[str, Any]]:
    return list(e2e.crm.read_changes("organisation", None, frozenset()).records)


def webcrm_organisations(sb: Sandbox) -> list[Any]:
    """Every organisation the webCRM simulator holds, with the time it was last modified."""
    return list(sb.simulators["webcrm"].backend.store.all_dated("organisation"))


def fortnox_customers(sb: Sandbox) -> list[Any]:
    return list(sb.simulators["fortnox"].backend.store.all_dated("customer"))


def actions(report: PassReport, mapping: str = "customers") -> list[Any]:
    return [a for m in report.mappings if m.name == mapping for a in m.actions]


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> dict[str, Any]:
    """``mapsync ARGV --format json``: the exit code checked, the report parsed."""
    got = main([*argv, "--format", "json"])
    out = capsys.readouterr()
    assert got == code, out.err + out.out
    return dict(json.loads(out.out))


def mapping_of(report: dict[str, Any], name: str = "customers") -> dict[str, Any]:
    return dict(next(m for m in report["mappings"] if m["name"] == name))


# 1. A lossy value map never rewrites the source -----------------------------------------------------------



def test_lossy_value_map_never_rewrites_the_source(sandbox: Sandbox, tmp_path: Path,
                                                   stores: list[SqliteStateStore]) -> None:
    stores.append(store := SqliteStateStore(tmp_path / "state.sqlite"))
    e2e = world_of(sandbox, store, overlay(tmp_path, LOSSY_TYPES))
    try:
        crm_id = str(e2e.crm.create("organisation", {
            "OrganisationName": "Reseller AB", "OrganisationType": "Reseller", "OrganisationExtraCustom1": "1001",
            "OrganisationCountry": "Sverige"})["OrganisationId"])
        before = webcrm_organisations(sandbox)
        webcrm = sandbox.simulators["webcrm"]
        puts = webcrm.log.count(method="PUT")
        report = e2e.run()
        assert report.fatal is None and report.total("quarantined") == 0 and report.total("held") == 0
        customer = e2e.erp.get("customer", "1001") or {}
        assert (customer["Type"], customer["VisitingCountryCode"]) == ("COMPANY", "SE")
        # nothing written to webCRM for it: not in the report, not in the simulator
        [create] = actions(report)
        assert (create.action, create.target, create.crm_id) == ("create", "erp", crm_id)
        assert not any(a.target == "crm" for m in report.mappings for a in m.actions), \
            [a.as_dict() for m in report.mappings for a in m.actions]
        assert webcrm.log.count(method="PUT") == puts
        assert webcrm_organisations(sandbox) == before  # same values, same modification time
        stored = e2e.crm.get("organisation", crm_id) or {}
        assert (stored["OrganisationType"], stored["OrganisationCountry"]) == ("Reseller", "Sverige")
        # further passes write nothing, to either side
        for _ in range(2):
            again = e2e.run()
            assert again.writes == 0, [a.as_dict() for m in again.mappings for a in m.actions]
        assert webcrm.log.count(method="PUT") == puts
        assert webcrm_organisations(sandbox) == before
        # an unrelated change on either side flows alone: the lossy fields are not "corrected" on the way
        e2e.erp.update("customer", "1001", {"Phone1": "+46 8 5"})
        e2e.crm.update("organisation", crm_id, {"OrganisationWww": "reseller.se"})
        e2e.run()
        stored = e2e.crm.get("organisation", crm_id) or {}
        customer = e2e.erp.get("customer", "1001") or {}
        assert (stored["OrganisationType"], stored["OrganisationCountry"], stored["OrganisationTelephone"]) == (
            "Reseller", "Sverige", "+46 8 5")
        assert (customer["Type"], customer["VisitingCountryCode"], customer["WWW"]) == ("COMPANY", "SE", "reseller.se")
        assert e2e.run().writes == 0
        # a real change in Fortnox flows back through map_reverse
        e2e.erp.update("customer", "1001", {"Type": "PRIVATE"})
        back = e2e.run()
        assert back.total("updated") == 1
        stored = e2e.crm.get("organisation", crm_id) or {}
        assert (stored["OrganisationType"], stored["OrganisationCountry"]) == ("Private Customer", "Sverige")
        assert e2e.run().writes == 0
    finally:
        e2e.close()


# 2. A one-way field never blanks the side it does not flow to ---------------------------------------------

ONE_WAY_PHONE = """overrides:
  customers:
    fields:
      - {crm: OrganisationTelephone, erp: Phone1, direction: crm-to-erp}
"""


def test_one_way_field_never_blanks_the_other_side(sandbox: Sandbox, tmp_path: Path,
                                                   stores: list[SqliteStateStore]) -> None:
    stores.append(store := SqliteStateStore(tmp_path / "state.sqlite"))
    e2e = world_of(sandbox, store, overlay(tmp_path, ONE_WAY_PHONE))
    try:
        rule = next(r for m in e2e.ruleset.mappings if m.name == "customers" for r in m.fields
                    if r.key == "OrganisationTelephone <-> Phone1")
        assert rule.direction.value == "crm-to-erp"  # the override replaced the standard rule (same label)
        e2e.erp.create("customer", {"CustomerNumber": "2001", "Name": "Made in Fortnox", "Type": "COMPANY",
                                    "Phone1": "+46 8 1"})
        report = e2e.run()
        assert report.fatal is None and report.total("created") == 1
        [made] = orgs(e2e)
        crm_id = str(made["OrganisationId"])
        assert made["OrganisationName"] == "Made in Fortnox" and not made.get("OrganisationTelephone")
        assert (e2e.erp.get("customer", "2001") or {})["Phone1"] == "+46 8 1"
        for _ in range(2):
            again = e2e.run()
            assert again.writes == 0, [a.as_dict() for m in again.mappings for a in m.actions]
            assert (e2e.erp.get("customer", "2001") or {})["Phone1"] == "+46 8 1"
        # an unrelated edit in webCRM flows; the phone is kept
        e2e.crm.update("organisation", crm_id, {"OrganisationName": "Renamed in webCRM"})
        e2e.run()
        e2e.run()
        customer = e2e.erp.get("customer", "2001") or {}
        assert (customer["Name"], customer["Phone1"]) == ("Renamed in webCRM", "+46 8 1")
        # webCRM owns the field: a phone entered there flows to Fortnox
        e2e.crm.update("organisation", crm_id, {"OrganisationTelephone": "+46 8 2"})
        e2e.run()
        assert (e2e.erp.get("customer", "2001") or {})["Phone1"] == "+46 8 2"
        assert e2e.run().writes == 0
        # a phone changed in Fortnox stays there (nothing flows to webCRM), also after webCRM edits other fields
        e2e.erp.update("customer", "2001", {"Phone1": "+46 8 3"})
        assert e2e.run().writes == 0
        e2e.crm.update("organisation", crm_id, {"OrganisationWww": "fortnox.se"})
        e2e.run()
        customer = e2e.erp.get("customer", "2001") or {}
        assert (customer["WWW"], customer["Phone1"]) == ("fortnox.se", "+46 8 3")
        assert (e2e.crm.get("organisation", crm_id) or {})["OrganisationTelephone"] == "+46 8 2"
    finally:
        e2e.close()


# 3. plan is run -------------------------------------------------------------------------------------------


def _articles(sb: Sandbox, *numbers: str) -> None:
    """Fortnox refuses rows of unknown articles: the article register has these."""
    for number in numbers:
        sb.simulators["fortnox"].backend.create("article", {"ArticleNumber": number, "Description": f"Article {number}",
                                                            "Unit": "st"})


def outline(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The actions of a JSON report per mapping, without ids the systems assign: a plan shows placeholders
    for records created in the pass, a run the real ids; so ids and values equal to a created id are masked."""
    created: set[str] = set()
    for m in report["mappings"]:
        for a in m["actions"]:
            if a["action"] == "create":
                created.update(str(i) for i in (a["crm_id"], a["erp_id"]) if i is not None)

    def mask(value: Any) -> Any:
        if value is None:
            return None
        text = str(value)
        placeholder = text.startswith("new-") or (isinstance(value, int) and value < 0)
        return "<id>" if placeholder or text in created else value

    def mask_field(name: str, value: Any) -> Any:
        # DeliveryErpSyncDateTime holds the time the engine wrote it: the plan's and the run's differ
        return "<now>" if name == "DeliveryErpSyncDateTime" and value is not None else mask(value)

    out: list[tuple[Any, ...]] = []
    for m in report["mappings"]:
        for a in m["actions"]:
            changes = sorted((name, c["old"], mask_field(name, c["new"])) for name, c in a["changes"].items())
            out.append((m["name"], a["action"], a["target"], mask(a["crm_id"]), mask(a["erp_id"]),
                        str(changes), sorted(a["held"]), a["reason"]))
        counts = {k: m[k] for k in ("created", "updated", "unchanged", "skipped", "conflicts", "quarantined", "held")}
        out.append((m["name"], json.dumps(counts, sort_keys=True), json.dumps(m["warnings"])))
    return out


def test_plan_is_run(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _articles(env, "A1", "B2")
    folder = overlay(tmp_path, "settings:\n  customer_number_owner: erp\n")
    state = tmp_path / "state.sqlite"
    with SqliteStateStore(tmp_path / "scratch.sqlite") as scratch:
        e2e = world_of(env, scratch, folder)
        org_id = str(e2e.crm.create("organisation", {
            "OrganisationName": "Acme", "OrganisationType": "Customer", "OrganisationTelephone": "+46 1"})[
            "OrganisationId"])
        delivery(e2e, org_id, ("A1", 2, 10.0), ("B2", 1, 99.5))
        e2e.close()
    before = (webcrm_organisations(env), fortnox_customers(env))
    plan = cli_json(capsys, "plan", str(folder), "--state", str(state))
    assert plan["mode"] == "plan" and plan["fatal"] is None
    assert not state.exists() and (webcrm_organisations(env), fortnox_customers(env)) == before
    [create] = mapping_of(plan)["actions"]
    assert (create["action"], create["target"], create["crm_id"]) == ("create", "erp", org_id)
    assert create["changes"]["Name"] == {"old": None, "new": "Acme"}
    assert "OrganisationExtraCustom1" in create["changes"]  # the number Fortnox assigns, written back
    orders = mapping_of(plan, "deliveries-orders")
    assert orders["created"] == 1 and [a["action"] for a in orders["actions"]] == ["create"]
    assert orders["actions"][0]["target"] == "erp"
    run = cli_json(capsys, "run", str(folder), "--state", str(state), "--first-import")
    assert run["mode"] == "run" and run["fatal"] is None
    assert outline(plan) == outline(run)
    # and the systems hold what the run reported
    [(customer, _)] = fortnox_customers(env)
    number = str(customer["CustomerNumber"])
    assert (env.simulators["webcrm"].backend.get("organisation", int(org_id)))["OrganisationExtraCustom1"] == number
    [(order, _)] = env.simulators["fortnox"].backend.store.all_dated("order")
    assert str(order["CustomerNumber"]) == number and len(order["OrderRows"]) == 2
    assert mapping_of(run)["actions"][0]["changes"]["OrganisationExtraCustom1"]["new"] == number
    assert cli_json(capsys, "run", str(folder), "--state", str(state))["totals"]["created"] == 0
    # on an existing store, with changes on both sides, the plan again lists what the run does
    webcrm = env.simulators["webcrm"].backend
    webcrm.replace("organisation", int(org_id), {**webcrm.get("organisation", int(org_id)),
                                                 "OrganisationName": "Acme Group"})
    [a1] = [ql for ql in webcrm.store.all_dated("quotation_line") if ql[0]["QuotationLineData1"] == "A1"]
    webcrm.replace("quotation_line", a1[0]["QuotationLineId"], {**a1[0], "QuotationLineQuantity": 7})
    env.simulators["fortnox"].backend.update("customer", number, {"Phone1": "+46 2"})
    plan = cli_json(capsys, "plan", str(folder), "--state", str(state))
    assert mapping_of(plan)["updated"] == 1 and mapping_of(plan, "deliveries-orders")["updated"] == 1
    run = cli_json(capsys, "run", str(folder), "--state", str(state))
    assert outline(plan) == outline(run)
    [(order, _)] = env.simulators["fortnox"].backend.store.all_dated("order")
    assert sorted(float(r["OrderedQuantity"]) for r in order["OrderRows"]) == [1.0, 7.0]
    assert (webcrm.get("organisation", int(org_id)))["OrganisationTelephone"] == "+46 2"
    assert cli_json(capsys, "run", str(folder), "--state", str(state))["totals"]["updated"] == 0


def test_plan_text_report_shows_every_field_and_counts_what_it_leaves_out(
        env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backend = env.simulators["webcrm"].backend
    for number in range(25):
        backend.create("organisation", {
            "OrganisationName": f"Org {number}", "OrganisationType": "Customer", "OrganisationTelephone": "+46 1",
            "OrganisationWww": "example.se", "OrganisationAddress": "Gatan 1", "OrganisationPostCode": "111 22",
            "OrganisationCity": "Stockholm", "OrganisationCountry": "Sweden", "OrganisationVatNumber":
                f"SE55600000{number:02d}01", "OrganisationExtraCustom2": f"556000-00{number:02d}",
            "OrganisationExtraCustom5": "Box 1", "OrganisationExtraCustom6": "111 23",
            "OrganisationExtraCustom7": "Solna"})
    folder = overlay(tmp_path, "settings:\n  customer_number_owner: erp\n")
    assert main(["plan", str(folder), "--state", str(tmp_path / "state.sqlite")]) == 0
    text = capsys.readouterr().out
    section = text.split("  customers:")[1].split("\n  items:")[0]
    first = section.split("\n    create")[1]  # the first action and its field lines
    fields = [line.strip().split(":")[0] for line in first.splitlines()[1:] if line.startswith("        ")]
    assert len(fields) > 8, first
    for name in ("Name", "OrganisationExtraCustom1", "Type", "VisitingAddress", "VisitingZipCode", "VisitingCity",
                 "VisitingCountryCode", "Phone1", "WWW", "VATNumber", "OrganisationNumber", "Address1", "ZipCode",
                 "City", "TermsOfPayment", "Currency"):
        assert name in fields, (name, first)
    assert section.count("\n    create ") == 20
    assert "    ... and 5 more" in section


# 5. validate locates problems of an overlay at the overlay -------------------------------------------------


def test_validate_reports_an_unmapped_settings_value_at_the_overlay(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    folder = overlay(tmp_path, "settings:\n  sync_interval: 6m\n  customer_types: [Customer, Private Customer, "
                               "Partner]\n")
    assert main(["validate", str(folder), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    [ms322] = [d for d in doc["diagnostics"] if d["code"] == "MS322"]
    assert Path(ms322["file"]).resolve() == (folder / "ruleset.yaml").resolve()
    assert ms322["line"] == 5  # the line of settings.customer_types
    assert "'Partner'" in ms322["message"] and "customer-type" in ms322["message"]
    assert main(["validate", str(folder)]) == 1  # the text format names the same place
    assert "ruleset.yaml:5:" in capsys.readouterr().out
    # mapping the new type in the overlay's own rule makes the rule set valid
    mapped = overlay(tmp_path, LOSSY_TYPES.replace("Reseller", "Partner"))
    assert main(["validate", str(mapped), "--format", "json"]) == 0
    assert not [d for d in json.loads(capsys.readouterr().out)["diagnostics"] if d["severity"] == "error"]


def test_validate_reports_a_wrong_crm_field_once_at_the_overlay(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    folder = overlay(tmp_path, "settings:\n  crm_fields: {customer_number: OrganisationExtraCustomX}\n")
    assert main(["validate", str(folder), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    errors = [d for d in doc["diagnostics"] if d["severity"] == "error"]
    wrong = [d for d in errors if "OrganisationExtraCustomX" in d["message"]]
    assert len(wrong) == 1, errors
    assert Path(wrong[0]["file"]).resolve() == (folder / "ruleset.yaml").resolve(), wrong
    assert wrong[0]["line"] == 4
    assert not [d for d in doc["diagnostics"] if Path(d["file"]).name == "customers.yaml"], doc["diagnostics"]


# 6. First contact ------------------------------------------------------------------------------------------


def _pair(sb: Sandbox, number: str) -> str:
    """An organisation in webCRM and a customer in Fortnox with the same customer number: webCRM has a phone
    and empty invoice city and currency, Fortnox a city, EUR and no phone; the names differ."""
    org = sb.simulators["webcrm"].backend.create("organisation", {
        "OrganisationName": f"Acme {number}", "OrganisationType": "Customer", "OrganisationExtraCustom1": number,
        "OrganisationTelephone": "+46 8 100", "OrganisationExtraCustom7": "", "OrganisationExtraCustom4": ""})
    sb.simulators["fortnox"].backend.create("customer", {
        "CustomerNumber": number, "Name": f"ACME Aktiebolag {number}", "Type": "COMPANY", "City": "Malmö",
        "Currency": "EUR", "Phone1": ""})
    return str(org)


def test_first_contact_fills_empty_sides_and_holds_disagreements(env: Sandbox, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    crm_id = _pair(env, "1001")
    webcrm, fortnox = env.simulators["webcrm"].backend, env.simulators["fortnox"].backend
    state = str(tmp_path / "state.sqlite")
    report = cli_json(capsys, "run", str(FORTNOX), "--state", state, "--first-import")
    [link] = mapping_of(report)["actions"]
    assert link["action"] == "link" and link["crm_id"] == crm_id and "first contact" in link["reason"]
    assert "held for review" in link["held"]["name"]
    assert mapping_of(report)["held"] == 1
    org, customer = webcrm.get("organisation", int(crm_id)), fortnox.get("customer", "1001") or {}
    assert (org["OrganisationExtraCustom7"], org["OrganisationExtraCustom4"]) == ("Malmö", "EUR")
    assert customer["Phone1"] == "+46 8 100"
    assert (org["OrganisationName"], customer["Name"]) == ("Acme 1001", "ACME Aktiebolag 1001")
    assert not {"Name", "OrganisationName"} & set(link["changes"])
    again = cli_json(capsys, "run", str(FORTNOX), "--state", state)
    assert again["totals"]["created"] == again["totals"]["updated"] == 0
    assert mapping_of(again)["held"] == 1  # still reported until a user settles it
    org, customer = webcrm.get("organisation", int(crm_id)), fortnox.get("customer", "1001") or {}
    assert (org["OrganisationName"], customer["Name"]) == ("Acme 1001", "ACME Aktiebolag 1001")


def test_first_contact_erp_wins_by_overlay(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = overlay(tmp_path, "overrides:\n  customers:\n    first_contact: erp-wins\n")
    crm_id = _pair(env, "1002")
    webcrm, fortnox = env.simulators["webcrm"].backend, env.simulators["fortnox"].backend
    state = str(tmp_path / "fresh.sqlite")
    report = cli_json(capsys, "run", str(folder), "--state", state, "--first-import")
    [link] = mapping_of(report)["actions"]
    assert link["action"] == "link" and not link["held"]
    assert "first contact: name differs, erp-wins" in link["reason"]
    org, customer = webcrm.get("organisation", int(crm_id)), fortnox.get("customer", "1002") or {}
    assert org["OrganisationName"] == customer["Name"] == "ACME Aktiebolag 1002"
    assert (org["OrganisationExtraCustom7"], org["OrganisationExtraCustom4"]) == ("Malmö", "EUR")
    assert customer["Phone1"] == "+46 8 100"
    again = cli_json(capsys, "run", str(folder), "--state", state)
    assert again["totals"]["created"] == again["totals"]["updated"] == again["totals"]["held"] == 0


# 7. Guardrail on a mass change -----------------------------------------------------------------------------

GUARDED = "guardrails: {max_update_share: 0.25, min_updates_for_share: 2, max_blanked: 1}\n"


def test_guardrail_stops_a_mass_change(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = overlay(tmp_path, GUARDED)
    webcrm, fortnox = env.simulators["webcrm"].backend, env.simulators["fortnox"].backend
    ids = [webcrm.create("organisation", {
        "OrganisationName": f"Org {n}", "OrganisationType": "Customer", "OrganisationExtraCustom1": str(4000 + n),
        "OrganisationTelephone": f"+46 8 {n}"}) for n in range(4)]
    state = tmp_path / "state.sqlite"
    assert cli_json(capsys, "run", str(folder), "--state", str(state))["totals"]["created"] == 4
    # within the limits (one record updated, one phone blanked) a run goes on
    webcrm.replace("organisation", ids[0], {**webcrm.get("organisation", ids[0]), "OrganisationTelephone": ""})
    assert cli_json(capsys, "run", str(folder), "--state", str(state))["totals"]["updated"] == 1
    assert not fortnox.get("customer", "4000").get("Phone1")
    webcrm.replace("organisation", ids[0], {**webcrm.get("organisation", ids[0]), "OrganisationTelephone": "+46 8 0"})
    assert cli_json(capsys, "run", str(folder), "--state", str(state))["totals"]["updated"] == 1
    for crm_id in ids:  # a user blanks the phone of every one of them
        webcrm.replace("organisation", crm_id, {**webcrm.get("organisation", crm_id), "OrganisationTelephone": ""})
    before = fortnox_customers(env)
    plan = cli_json(capsys, "plan", str(folder), "--state", str(state))  # a plan shows it and goes on
    [warning] = mapping_of(plan)["warnings"]
    assert warning.startswith("guardrail: mapping customers") and "(a run stops here without --force)" in warning
    assert mapping_of(plan)["updated"] == 4
    stopped = cli_json(capsys, "run", str(folder), "--state", str(state), code=1)
    assert stopped["fatal"].startswith("guardrail: mapping customers"), stopped["fatal"]
    assert "would update 4 of 4 linked records" in stopped["fatal"]
    assert "would blank erp Phone1 in 4 records" in stopped["fatal"]
    assert fortnox_customers(env) == before  # Fortnox unchanged
    # the text report says the same
    assert main(["run", str(folder), "--state", str(state)]) == 1
    assert "FATAL: guardrail: mapping customers" in capsys.readouterr().out
    assert fortnox_customers(env) == before
    forced = cli_json(capsys, "run", str(folder), "--state", str(state), "--force")
    assert forced["fatal"] is None and forced["totals"]["updated"] == 4
    [forced_warning] = [w for m in forced["mappings"] for w in m["warnings"]]
    assert forced_warning.startswith("guardrail: mapping customers") and forced_warning.endswith("(forced)")
    assert all(not c.get("Phone1") for c, _ in fortnox_customers(env))
    assert cli_json(capsys, "run", str(folder), "--state", str(state))["totals"]["updated"] == 0
