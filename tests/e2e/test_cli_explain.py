"""``mapsync explain`` through the CLI entry point, against the simulators: the engine's own decision for one
record, step by step, and nothing written anywhere."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mapsync.engine.cli import main
from mapsync.engine.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
FORTNOX = str(ROOT / "mapsync/rules/standard/fortnox")
pytestmark = pytest.mark.e2e


def _writes(env: Sandbox) -> int:
    """Requests that write to a system (logging in is not writing)."""
    return sum(1 for sim in env.simulators.values() for e in sim.log.entries()
               if e.method in ("POST", "PUT", "PATCH", "DELETE") and "auth" not in e.path.lower()
               and "token" not in e.path.lower())


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _organisation(env: Sandbox, **values: str) -> str:
    return str(env.simulators["webcrm"].backend.create("organisation", values))


def test_linked_customer_changed_in_crm_flows_to_erp_with_audit(env: Sandbox, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state.sqlite"
    webcrm = env.simulators["webcrm"]
    org = _organisation(env, OrganisationName="Acme", OrganisationType="Customer", OrganisationExtraCustom1="1001")
    assert main(["run", FORTNOX, "--state", str(state)]) == 0
    record = webcrm.backend.get("organisation", int(org))
    webcrm.backend.replace("organisation", int(org), {**record, "OrganisationName": "Acme AB"})
    capsys.readouterr()
    writes, digest = _writes(env), _digest(state)

    assert main(["explain", FORTNOX, "--mapping", "customers", "--crm-id", org, "--state", str(state)]) == 0
    text = capsys.readouterr().out
    assert "crm: record.OrganisationType in settings.customer_types -> true" in text
    assert "linked to erp customer 1001" in text
    name = text[text.index("  name ("):]
    assert name.splitlines()[0].endswith("flows crm->erp")
    assert "read: crm 'Acme AB', erp 'Acme'" in name and "base: crm 'Acme', erp 'Acme'; changed since: crm" in name
    assert "writes erp Name: 'Acme' -> 'Acme AB'" in name
    assert "erp 1001 Name: 'Acme' -> 'Acme AB'" in text  # what a pass would write
    audit = text[text.index("6. written to this record"):]
    assert "create erp 1001 Name: None -> 'Acme' (rule name)" in audit

    assert main(["explain", FORTNOX, "--mapping", "customers", "--erp-id", "1001", "--state", str(state),
                 "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)  # one JSON document
    field = next(f for f in doc["fields"] if f["rule"] == "name")
    assert field["decision"] == "flows crm->erp" and field["base"] == {"crm": "Acme", "erp": "Acme"}
    assert field["writes"] == [{"side": "erp", "field": "Name", "old": "Acme", "new": "Acme AB"}]
    assert doc["outcome"]["action"] == "update"
    assert any(a["action"] == "create" and a["field"] == "Name" and a["new"] == "Acme" for a in doc["audit"])
    assert _writes(env) == writes and _digest(state) == digest  # nothing written anywhere


def test_organisation_not_meeting_the_condition(env: Sandbox, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    org = _organisation(env, OrganisationName="Prospect Ltd", OrganisationType="Prospect")
    state = tmp_path / "none.sqlite"
    assert main(["explain", FORTNOX, "--mapping", "customers", "--crm-id", org, "--state", str(state)]) == 0
    text = capsys.readouterr().out
    assert "crm: record.OrganisationType in settings.customer_types -> false" in text
    assert "3. outcome: skip" in text and "does not meet the crm condition" in text
    assert not state.exists() and _writes(env) == 0


def test_unlinked_organisation_that_would_match(env: Sandbox, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    env.simulators["fortnox"].backend.create("customer", {"CustomerNumber": "2002", "Name": "Beta AB"})
    org = _organisation(env, OrganisationName="Beta", OrganisationType="Customer", OrganisationExtraCustom1="2002")
    assert main(["explain", FORTNOX, "--mapping", "customers", "--crm-id", org, "--state",
                 str(tmp_path / "s.sqlite"), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    first = doc["match"][0]
    assert first["key"] == "OrganisationExtraCustom1 = CustomerNumber" and first["value"] == "2002"
    assert first["candidates"] == [{"id": "2002", "linked_to": None}] and first["result"] == "matches erp 2002"
    assert doc["outcome"]["action"] in ("link", "conflict")
    name = next(f for f in doc["fields"] if f["rule"] == "name")
    assert name["base"] is None and name["decision"] == "first contact: values differ, held for review"
    assert _writes(env) == 0
    assert main(["explain", FORTNOX, "--mapping", "customers", "--crm-id", org, "--state",
                 str(tmp_path / "s.sqlite")]) == 0
    assert "match OrganisationExtraCustom1 = CustomerNumber: value '2002', candidates: 2002 (free) -> matches erp " \
           "2002" in capsys.readouterr().out


def test_unknown_id_is_an_error(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", FORTNOX, "--mapping", "customers", "--crm-id", "999999", "--state",
                 str(tmp_path / "s.sqlite")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "mapsync explain: crm organisation 999999 not found"
    assert main(["explain", FORTNOX, "--mapping", "nope", "--crm-id", "1", "--state", str(tmp_path / "s.sqlite")]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["explain", FORTNOX, "--mapping", "customers"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["explain", FORTNOX, "--mapping", "customers", "--crm-id", "1", "--erp-id", "2"])
    assert exc.value.code == 2


def test_field_changed_on_both_sides_is_a_conflict(env: Sandbox, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state.sqlite"
    webcrm, fortnox = env.simulators["webcrm"], env.simulators["fortnox"]
    org = _organisation(env, OrganisationName="Gamma", OrganisationType="Customer", OrganisationExtraCustom1="3003")
    assert main(["run", FORTNOX, "--state", str(state)]) == 0
    record = webcrm.backend.get("organisation", int(org))
    webcrm.backend.replace("organisation", int(org), {**record, "OrganisationName": "Gamma CRM"})
    fortnox.backend.update("customer", "3003", {"Name": "Gamma ERP"})
    capsys.readouterr()
    assert main(["explain", FORTNOX, "--mapping", "customers", "--crm-id", org, "--state", str(state),
                 "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    name = next(f for f in doc["fields"] if f["rule"] == "name")
    assert name["changed"] == {"crm": True, "erp": True}
    assert name["conflict"] == {"crm": "Gamma CRM", "erp": "Gamma ERP", "resolution": "erp-wins"}
    assert name["decision"] == "conflict: changed on both sides, erp wins, flows erp->crm"
    assert doc["outcome"]["action"] == "conflict"
