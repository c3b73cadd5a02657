"""Issue 8: a new state store against systems that already hold records the pass would link.

Through the CLI entry point (and, for ``--watch``, the ``mapsync`` process), against the simulators over
real sockets: refused without ``--first-import`` (nothing created, nothing written), allowed with it,
allowed when nothing would be linked, and an existing store works as before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mapsync.engine.cli import main
from mapsync.engine.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
FORTNOX = str(ROOT / "mapsync/rules/standard/fortnox")
pytestmark = pytest.mark.e2e


def _both_sides(sb: Sandbox) -> None:
    """One organisation in webCRM and its customer in Fortnox, same customer number, different names."""
    sb.simulators["webcrm"].backend.create("organisation", {
        "OrganisationName": "Acme", "OrganisationType": "Customer", "OrganisationExtraCustom1": "1001"})
    sb.simulators["fortnox"].backend.create("customer", {"CustomerNumber": "1001", "Name": "Acme AB (old)"})


def _snapshot(sb: Sandbox) -> dict[str, Any]:
    return {"organisations": sb.simulators["webcrm"].backend.store.all_dated("organisation"),
            "customers": sb.simulators["fortnox"].backend.store.all_dated("customer")}


def test_refused_without_first_import(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _both_sides(env)
    before = _snapshot(env)
    state = tmp_path / "new" / "state.sqlite"
    assert main(["run", FORTNOX, "--state", str(state)]) == 1
    err = capsys.readouterr().err
    assert f"state store {state} does not exist yet" in err
    assert "1 record(s) in mapping customers would be linked" in err
    assert "Pass --state PATH to use the existing store, or --first-import if this really is the first import" in err
    assert len(err.strip().splitlines()) == 2
    assert not state.exists() and not state.parent.exists()  # nothing created, not even the folder
    assert _snapshot(env) == before  # nothing written to either system


def test_watch_is_refused_too(env: Sandbox, tmp_path: Path) -> None:
    _both_sides(env)
    state = tmp_path / "state.sqlite"
    proc = subprocess.run(
        [sys.executable, "-m", "mapsync.engine.cli.main", "run", FORTNOX, "--state", str(state), "--watch",
         "--interval", "0.2s"], cwd=ROOT, capture_output=True, text=True, env={**os.environ}, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "--first-import" in proc.stderr
    assert not state.exists()


def test_first_import_flag_links_and_imports(env: Sandbox, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _both_sides(env)
    state = str(tmp_path / "state.sqlite")
    assert main(["run", FORTNOX, "--state", state, "--first-import", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    customers = next(m for m in report["mappings"] if m["name"] == "customers")
    assert [a["action"] for a in customers["actions"]] == ["link"]
    # first contact: the two names differ, and the default first_contact policy holds them for review
    assert env.simulators["fortnox"].backend.get("customer", "1001")["Name"] == "Acme AB (old)"
    assert "held for review" in customers["actions"][0]["held"]["name"]
    # The store now exists: later runs need no flag, and a run with nothing to do writes nothing.
    assert main(["run", FORTNOX, "--state", state, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["created"] == 0
    assert main(["status", "--state", state, "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert {m["name"]: m["links"] for m in status["summary"]["mappings"]}["customers"] == 1


def test_a_mistyped_state_path_next_to_an_existing_store_is_refused(
        env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _both_sides(env)
    assert main(["run", FORTNOX, "--state", str(tmp_path / "state.sqlite"), "--first-import"]) == 0
    env.simulators["fortnox"].backend.create("customer", {"CustomerNumber": "1002", "Name": "Beta"})
    capsys.readouterr()
    typo = tmp_path / "stat.sqlite"
    assert main(["run", FORTNOX, "--state", str(typo)]) == 1
    err = capsys.readouterr().err
    assert "1 record(s) in mapping customers" in err and not typo.exists()
    assert main(["run", FORTNOX, "--state", str(tmp_path / "state.sqlite")]) == 0  # the right one works


def test_allowed_without_flag_when_nothing_would_be_linked(env: Sandbox, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """An empty ERP: every organisation is created there; a legitimate first run needs no flag."""
    env.simulators["webcrm"].backend.create("organisation", {
        "OrganisationName": "Acme", "OrganisationType": "Customer", "OrganisationExtraCustom1": "1001"})
    env.simulators["webcrm"].backend.create("organisation", {
        "OrganisationName": "Prospect", "OrganisationType": "Prospect", "OrganisationExtraCustom1": "1002"})
    state = tmp_path / "state.sqlite"
    assert main(["run", FORTNOX, "--state", str(state)]) == 0
    assert "customers: 1 created" in capsys.readouterr().out
    assert state.exists()
    assert env.simulators["fortnox"].backend.get("customer", "1001")["Name"] == "Acme"


def test_a_store_left_by_a_failed_first_run_is_still_new(env: Sandbox, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Refused credentials on the very first run leave a store with one fatal run and nothing else; the
    run after fixing the credentials is guarded like a first one."""
    _both_sides(env)
    state = tmp_path / "state.sqlite"
    monkeypatch.setenv("FORTNOX_ACCESS_TOKEN", "wrong")
    for name in ("FORTNOX_CLIENT_ID", "FORTNOX_CLIENT_SECRET", "FORTNOX_TENANT_ID"):
        monkeypatch.delenv(name)  # else the client credentials would renew the refused token
    assert main(["run", FORTNOX, "--state", str(state)]) == 1
    assert "FATAL" in capsys.readouterr().out
    monkeypatch.setenv("FORTNOX_ACCESS_TOKEN", env.env["FORTNOX_ACCESS_TOKEN"])
    assert main(["run", FORTNOX, "--state", str(state)]) == 1
    assert "has never been used" in capsys.readouterr().err
    assert env.simulators["fortnox"].backend.get("customer", "1001")["Name"] == "Acme AB (old)"


def test_plan_with_a_missing_store_creates_nothing(env: Sandbox, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _both_sides(env)
    state = tmp_path / "new" / "state.sqlite"
    assert main(["plan", FORTNOX, "--state", str(state), "--format", "json"]) == 0
    out = capsys.readouterr()
    customers = next(m for m in json.loads(out.out)["mappings"] if m["name"] == "customers")
    assert [a["action"] for a in customers["actions"]] == ["link"]
    assert "in-memory store" in out.err
    assert not state.exists() and not state.parent.exists()


def test_a_rotating_refresh_token_is_not_spent_on_a_check(env: Sandbox, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """With a refresh token, neither the new-store check nor a plan may spend it without a store to keep the
    rotated one in: both refuse before contacting the systems; --first-import runs and keeps it."""
    folder = tmp_path / "rotating"
    folder.mkdir()
    (folder / "ruleset.yaml").write_text(
        f"name: rotating\nextends: {FORTNOX}\nsystems:\n  erp:\n    connection:\n"
        "      access_token: ${env:UNSET_IN_THIS_TEST}\n"
        "      refresh_token: ${env:FORTNOX_REFRESH_TOKEN}\n", encoding="utf-8")
    monkeypatch.delenv("UNSET_IN_THIS_TEST", raising=False)
    monkeypatch.delenv("FORTNOX_TENANT_ID")
    monkeypatch.setenv("FORTNOX_REFRESH_TOKEN", "sandbox-refresh-token")
    _both_sides(env)
    state = tmp_path / "state.sqlite"
    assert main(["run", str(folder), "--state", str(state)]) == 1
    assert "rotates its OAuth refresh token" in capsys.readouterr().err
    assert main(["plan", str(folder), "--state", str(state)]) == 1
    assert "rotates its OAuth refresh token" in capsys.readouterr().err
    assert not state.exists() and env.simulators["fortnox"].auth.refreshes == 0
    assert main(["run", str(folder), "--state", str(state), "--first-import"]) == 0
    assert env.simulators["fortnox"].auth.refreshes == 1 and state.exists()
