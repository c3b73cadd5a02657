"""Going live with Fortnox client credentials: the standard rule set runs with client id, secret and
tenant id only (no access token in the environment), against the simulator's OAuth token endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapsync.engine.cli import main
from mapsync.engine.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
FORTNOX = str(ROOT / "mapsync/rules/standard/fortnox")
pytestmark = pytest.mark.e2e


def test_a_pass_authenticates_with_client_credentials(sandbox: Sandbox, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    for key, value in sandbox.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FORTNOX_ACCESS_TOKEN")
    fortnox = sandbox.simulators["fortnox"]
    sandbox.simulators["webcrm"].backend.create("organisation", {
        "OrganisationName": "Acme", "OrganisationType": "Customer", "OrganisationExtraCustom1": "1001"})
    assert main(["validate", FORTNOX]) == 0
    assert capsys.readouterr().out.startswith("ok:")  # no MS502 for the unused access token
    assert main(["run", FORTNOX, "--state", str(tmp_path / "state.sqlite")]) == 0
    assert "customers: 1 created" in capsys.readouterr().out
    assert fortnox.backend.get("customer", "1001")["Name"] == "Acme"
    issued = fortnox.auth.store.auth["access_tokens"]
    assert issued  # the simulator issued a token through the client-credentials grant
    assert fortnox.auth.refreshes == 0  # no refresh token involved


def test_refused_client_credentials_are_fatal(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    for key, value in sandbox.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FORTNOX_ACCESS_TOKEN")
    monkeypatch.setenv("FORTNOX_CLIENT_SECRET", "wrong")
    assert main(["run", FORTNOX, "--state", str(tmp_path / "state.sqlite")]) == 1
    out = capsys.readouterr()
    assert "FATAL" in out.out and "wrong" not in out.out + out.err


def test_with_both_kinds_a_refused_token_is_renewed_by_the_client_credentials(
        sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for key, value in sandbox.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FORTNOX_ACCESS_TOKEN", "revoked")
    sandbox.simulators["webcrm"].backend.create("organisation", {
        "OrganisationName": "Acme", "OrganisationType": "Customer", "OrganisationExtraCustom1": "1001"})
    assert main(["run", FORTNOX, "--state", str(tmp_path / "state.sqlite")]) == 0
    assert "customers: 1 created" in capsys.readouterr().out
