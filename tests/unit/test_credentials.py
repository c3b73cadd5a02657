"""Alternative kinds of credentials (Fortnox: access token, or client credentials): the unused kind may
stay unset without MS502, and a pass leaves its settings out."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapsync.connectors.registry import credential_kinds, optional_settings
from mapsync.engine.cli import main
from mapsync.engine.connections import MissingEnvironment, resolve_connection
from mapsync.engine.diagnostics import Severity
from mapsync.engine.ruleset import Side, load_ruleset

ROOT = Path(__file__).resolve().parents[2]
FORTNOX = ROOT / "mapsync/rules/standard/fortnox"
BASE = {"WEBCRM_BASE_URL": "http://127.0.0.1:1", "WEBCRM_API_TOKEN": "t", "FORTNOX_BASE_URL": "http://127.0.0.1:2"}
CLIENT = {"FORTNOX_CLIENT_ID": "id", "FORTNOX_CLIENT_SECRET": "secret", "FORTNOX_TENANT_ID": "tenant"}
FORTNOX_VARIABLES = ("FORTNOX_ACCESS_TOKEN", *CLIENT)


def _codes(env: dict[str, str]) -> list[tuple[str, str, str]]:
    result = load_ruleset(FORTNOX, env)
    return [(d.code, d.severity.value, d.message) for d in result.diagnostics]


def test_only_client_credentials_validate_clean(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _codes({**BASE, **CLIENT}) == []
    for name in FORTNOX_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**BASE, **CLIENT}.items():
        monkeypatch.setenv(name, value)
    assert main(["validate", str(FORTNOX)]) == 0
    assert capsys.readouterr().out.startswith("ok:")
    result = load_ruleset(FORTNOX, {**BASE, **CLIENT}, for_run=True)  # run accepts it too
    assert result.ruleset is not None


def test_only_an_access_token_validates_clean() -> None:
    assert _codes({**BASE, "FORTNOX_ACCESS_TOKEN": "token"}) == []


def test_no_complete_kind_reports_each_unset_variable_with_the_kinds() -> None:
    result = load_ruleset(FORTNOX, {**BASE, "FORTNOX_CLIENT_ID": "id"})
    unset = {d.message.split()[2]: d for d in result.diagnostics if d.code == "MS502"}
    assert set(unset) == {"FORTNOX_ACCESS_TOKEN", "FORTNOX_CLIENT_SECRET", "FORTNOX_TENANT_ID"}
    assert all(d.severity is Severity.WARNING for d in unset.values())
    assert "client_id + client_secret + tenant_id" in unset["FORTNOX_TENANT_ID"].hint
    assert not load_ruleset(FORTNOX, {**BASE, "FORTNOX_CLIENT_ID": "id"}, for_run=True).ok


def test_settings_that_are_not_credentials_are_always_needed() -> None:
    env = {**CLIENT, "WEBCRM_BASE_URL": "x", "WEBCRM_API_TOKEN": "t"}
    assert [c[2] for c in _codes(env)] == ["environment variable FORTNOX_BASE_URL is not set"]


def test_resolved_connection_leaves_the_unused_kind_out() -> None:
    ruleset = load_ruleset(FORTNOX, {**BASE, **CLIENT}, for_run=True).ruleset
    assert ruleset is not None
    erp = ruleset.system(Side.ERP)
    assert resolve_connection(erp, {**BASE, **CLIENT}) == {
        "base_url": BASE["FORTNOX_BASE_URL"], "client_id": "id", "client_secret": "secret", "tenant_id": "tenant"}
    assert resolve_connection(erp, {**BASE, "FORTNOX_ACCESS_TOKEN": "tok"}) == {
        "base_url": BASE["FORTNOX_BASE_URL"], "access_token": "tok"}
    with pytest.raises(MissingEnvironment, match="FORTNOX_ACCESS_TOKEN"):
        resolve_connection(erp, BASE)


def test_registry_kinds() -> None:
    assert optional_settings("fortnox", {"base_url", "access_token"}) >= {"client_id", "client_secret", "tenant_id"}
    assert optional_settings("fortnox", {"base_url", "client_id"}) == frozenset()
    assert optional_settings("vismanet", {"base_url", "token_url"}) == frozenset()
    assert credential_kinds("fortnox").startswith("access_token; or client_id + client_secret + tenant_id")
