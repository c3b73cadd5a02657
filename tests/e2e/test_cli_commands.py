"""The plan, run, status and sandbox commands through the CLI entry point, against the simulators."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mapsync.engine.cli import main
from mapsync.engine.sandbox import Sandbox
from tests.redis_server import RedisServer
from tests.state_backends import delete_tenant, new_tenant, require_postgres

ROOT = Path(__file__).resolve().parents[2]
FORTNOX = str(ROOT / "mapsync/rules/standard/fortnox")
pytestmark = pytest.mark.e2e


def test_plan_then_run_then_status(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = str(tmp_path / "state.sqlite")
    sim = env.simulators["webcrm"]
    sim.backend.create("organisation", {"OrganisationName": "Acme", "OrganisationType": "Customer",
                                        "OrganisationExtraCustom1": "1001"})
    assert main(["plan", FORTNOX, "--state", state, "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    customers = next(m for m in plan["mappings"] if m["name"] == "customers")
    assert customers["created"] == 1
    assert customers["actions"][0]["changes"]["Name"] == {"old": None, "new": "Acme"}
    assert not Path(state).exists()  # plan writes nothing anywhere
    assert main(["run", FORTNOX, "--state", state]) == 0
    assert "customers: 1 created" in capsys.readouterr().out
    assert main(["status", "--state", state, "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert {m["name"]: m["links"] for m in status["summary"]["mappings"]}["customers"] == 1
    assert main(["run", FORTNOX, "--state", state, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["created"] == 0


def test_run_with_quarantined_records_exits_3(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "ruleset.yaml").write_text(f"""name: custom
extends: {FORTNOX}
overrides:
  customers:
    fields:
      - name: visiting-country
        crm: OrganisationCountry
        erp: VisitingCountryCode
        map: {{Sweden: SE}}
        on_unmapped: quarantine
""", encoding="utf-8")
    env.simulators["webcrm"].backend.create("organisation", {
        "OrganisationName": "Atlantis", "OrganisationType": "Customer", "OrganisationExtraCustom1": "1",
        "OrganisationCountry": "Atlantis"})
    assert main(["run", str(custom), "--state", str(tmp_path / "s.sqlite")]) == 3
    assert main(["status", "--state", str(tmp_path / "s.sqlite")]) == 0
    assert "'Atlantis' is not in the value map" in capsys.readouterr().out


def test_refused_credentials_are_fatal(env: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FORTNOX_ACCESS_TOKEN", "wrong")
    for name in ("FORTNOX_CLIENT_ID", "FORTNOX_CLIENT_SECRET", "FORTNOX_TENANT_ID"):
        monkeypatch.delenv(name)  # else the client credentials would renew the refused token
    env.simulators["webcrm"].backend.create("organisation", {"OrganisationName": "A", "OrganisationType": "Customer"})
    assert main(["run", FORTNOX, "--state", str(tmp_path / "s.sqlite")]) == 1
    assert "FATAL" in capsys.readouterr().out


def test_unset_environment_is_an_error_for_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("WEBCRM_BASE_URL", "WEBCRM_API_TOKEN", "FORTNOX_BASE_URL", "FORTNOX_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["run", FORTNOX, "--state", str(tmp_path / "s.sqlite")]) == 1
    err = capsys.readouterr().err
    assert "MS502" in err and "nothing was run" in err


def test_sandbox_command_writes_env_and_stops_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "sb"
    proc = subprocess.Popen([sys.executable, "-m", "mapsync.engine.cli.main", "sandbox", "--dir", str(folder),
                             "--seed", "--latency", "300-400ms"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ})
    try:
        deadline = time.monotonic() + 20
        while not (folder / "sandbox.env").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        text = (folder / "sandbox.env").read_text(encoding="utf-8")
        assert "FORTNOX_BASE_URL=http://127.0.0.1:" in text and "WEBCRM_API_TOKEN=" in text
        url = next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith("FORTNOX_BASE_URL="))
        started = time.monotonic()
        assert httpx.get(f"{url}/3/customers", headers={"Authorization": "Bearer tenant-x"}).status_code == 200
        assert time.monotonic() - started >= 0.3  # --latency applies
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert b"latency: 300-400 ms per request" in err
    assert (folder / "fortnox" / "fortnox.json").exists()  # data persisted


def test_sandbox_latency_must_be_a_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["sandbox", "--dir", "unused", "--latency", "300-100ms"])
    assert stopped.value.code == 2
    assert "the low end comes first" in capsys.readouterr().err


def test_run_watch_repeats_until_terminated(env: Sandbox, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mapsync.engine.cli.main", "run", FORTNOX, "--state", str(tmp_path / "s.sqlite"),
         "--watch", "--interval", "0.2s", "--format", "json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ}, text=True)
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        second = json.loads(proc.stdout.readline())
        assert first["mode"] == second["mode"] == "run" and second["run_id"] == first["run_id"] + 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_secrets_never_appear_in_output_or_state(env: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "s.sqlite"
    env.simulators["webcrm"].backend.create("organisation", {"OrganisationName": "A", "OrganisationType": "Customer",
                                                             "OrganisationExtraCustom1": "1"})
    env.simulators["fortnox"].faults.add("5xx", 5)  # every attempt of one request fails: an error message is made
    main(["run", FORTNOX, "--state", str(state), "--format", "json"])
    monkeypatch.setenv("WEBCRM_API_TOKEN", "a-wrong-token-value")
    main(["run", FORTNOX, "--state", str(state)])
    out = capsys.readouterr()
    text = out.out + out.err + state.read_bytes().decode("latin-1")
    for secret in (env.env["WEBCRM_API_TOKEN"], env.env["FORTNOX_ACCESS_TOKEN"], "a-wrong-token-value"):
        assert secret not in text


def test_status_lists_fields_held_back(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    custom = tmp_path / "held"
    custom.mkdir()
    (custom / "ruleset.yaml").write_text(f"""name: custom
extends: {FORTNOX}
overrides:
  customers:
    fields:
      - name: visiting-country
        crm: OrganisationCountry
        erp: VisitingCountryCode
        map: {{Sweden: SE}}
""", encoding="utf-8")
    env.simulators["webcrm"].backend.create("organisation", {
        "OrganisationName": "Atlantis", "OrganisationType": "Customer", "OrganisationExtraCustom1": "1",
        "OrganisationCountry": "Atlantis"})
    state = str(tmp_path / "s.sqlite")
    assert main(["run", str(custom), "--state", state]) == 0  # held back is not quarantined
    assert "held visiting-country: rule visiting-country: value 'Atlantis' is not in the value map" in \
        capsys.readouterr().out
    assert main(["status", "--state", state]) == 0
    out = capsys.readouterr().out
    assert "Records with fields held back: 1" in out and "visiting-country: rule visiting-country" in out
    assert main(["status", "--state", state, "--format", "json"]) == 0
    [held] = json.loads(capsys.readouterr().out)["held"]
    assert held["mapping"] == "customers" and "visiting-country" in held["fields"]


def test_plan_as_markdown_for_a_pull_request(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env.simulators["webcrm"].backend.create("organisation", {
        "OrganisationName": "Pipe | and `tick`", "OrganisationType": "Customer", "OrganisationExtraCustom1": "1001"})
    env.simulators["webcrm"].backend.create("organisation", {"OrganisationName": "Supplier",
                                                             "OrganisationType": "Supplier"})
    assert main(["plan", FORTNOX, "--state", str(tmp_path / "s.sqlite"), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### mapsync plan: rule set `fortnox-standard`")
    assert "| mapping | created | updated |" in out and "| customers | 1 | 0 |" in out
    assert "<details>" in out and "<b>create</b> → erp" in out
    assert "| `Name` | *(empty)* | `` Pipe \\| and `tick` `` |" in out  # a pipe or backtick cannot break the table
    assert "- skipped: 1 record(s), organisation does not meet the crm condition" in out


def test_plan_run_and_status_with_a_postgresql_state_store(env: Sandbox, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """``--state postgresql://...`` with ``--tenant`` (or ``MAPSYNC_STATE``/``MAPSYNC_TENANT``): the tables in
    the default schema, one tenant's rows apart from another's; a password in the URL is never shown."""
    url = require_postgres().replace("postgresql://postgres@", "postgresql://postgres:never-shown@")
    tenant, neighbour = new_tenant(), new_tenant()
    try:
        env.simulators["webcrm"].backend.create("organisation", {
            "OrganisationName": "Acme", "OrganisationType": "Customer", "OrganisationExtraCustom1": "1001"})
        assert main(["plan", FORTNOX, "--state", url, "--tenant", tenant, "--format", "json"]) == 0
        plan = json.loads(capsys.readouterr().out)
        assert next(m for m in plan["mappings"] if m["name"] == "customers")["created"] == 1
        assert main(["status", "--state", url, "--tenant", tenant, "--format", "json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["summary"] == {"mappings": [], "last_run": None}  # the plan wrote nothing
        monkeypatch.setenv("MAPSYNC_STATE", url)
        monkeypatch.setenv("MAPSYNC_TENANT", tenant)
        assert main(["run", FORTNOX]) == 0
        assert "customers: 1 created" in capsys.readouterr().out
        assert main(["status", "--format", "json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert {m["name"]: m["links"] for m in status["summary"]["mappings"]}["customers"] == 1
        assert main(["run", FORTNOX, "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["totals"]["created"] == 0
        [(org, _)] = env.simulators["webcrm"].backend.store.all_dated("organisation")
        org_id = str(org["OrganisationId"])
        assert main(["explain", FORTNOX, "--mapping", "customers", "--crm-id", org_id, "--format", "json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["state"] == "postgresql://127.0.0.1:5432/test"  # no password
        assert any(a["action"] == "create" and a["new"] == "Acme" for a in doc["audit"])

        # the neighbour is a new store: its first run would link Acme again, and is refused
        monkeypatch.setenv("MAPSYNC_TENANT", neighbour)
        assert main(["run", FORTNOX]) == 1
        err = capsys.readouterr().err
        assert "has never been used" in err and "--first-import" in err
        assert "never-shown" not in err
        assert main(["status", "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["summary"]["mappings"] == []
    finally:
        delete_tenant("mapsync", tenant)
        delete_tenant("mapsync", neighbour)


def test_a_tenant_needs_a_postgresql_state_store(env: Sandbox, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A SQLite file holds one tenant: two tenants given the same file must not share its links."""
    state = str(tmp_path / "state.sqlite")
    assert main(["run", FORTNOX, "--state", state, "--tenant", "acme", "--first-import"]) == 1
    assert "tenant 'acme' needs a PostgreSQL state store" in capsys.readouterr().err
    assert main(["run", FORTNOX, "--state", state]) == 0
    assert main(["status", "--state", state, "--tenant", "acme"]) == 1
    assert "tenant 'acme' needs a PostgreSQL state store" in capsys.readouterr().err


def test_a_second_run_on_the_same_store_is_refused_up_front(env: Sandbox, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Another pass (a run, serve) holds the store's lease: `mapsync run` refuses at once and writes nothing;
    once the lease is free it runs, and it gives the lease back."""
    from datetime import timedelta

    from mapsync.engine.state import SqliteStateStore

    state = tmp_path / "state.sqlite"
    crm = env.simulators["webcrm"].backend
    crm.create("organisation", {"OrganisationName": "Acme", "OrganisationType": "Customer"})
    with SqliteStateStore(state) as other:
        assert other.acquire_lease("serve@elsewhere", timedelta(minutes=5))
        assert main(["run", FORTNOX, "--state", str(state)]) == 1
        assert "another pass is running on this state store" in capsys.readouterr().err
        assert other.links("customers") == []
        assert other.release_lease("serve@elsewhere")
    assert main(["run", FORTNOX, "--state", str(state)]) == 0
    assert "customers: 1 created" in capsys.readouterr().out
    with SqliteStateStore(state) as store:
        assert store.acquire_lease("next", timedelta(seconds=1))  # the run released it


def test_a_run_counts_its_requests_where_mapsync_rate_limits_url_says(
        env: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        redis_server: RedisServer) -> None:
    """``mapsync run`` and ``plan`` by hand spend the budget serve and the workers spend, when told where it is
    counted; a value that is neither a Redis URL nor ``local`` is refused before anything is read."""
    import redis

    webcrm = env.simulators["webcrm"].backend
    webcrm.create("organisation", {"OrganisationName": "Acme", "OrganisationType": "Customer"})
    monkeypatch.setenv("MAPSYNC_RATE_LIMITS_URL", "postgresql://nope")
    assert main(["run", FORTNOX, "--state", str(tmp_path / "s.sqlite")]) == 1
    assert "MAPSYNC_RATE_LIMITS_URL='postgresql://nope' is neither a Redis URL" in capsys.readouterr().err
    assert not (tmp_path / "s.sqlite").exists()
    monkeypatch.setenv("MAPSYNC_RATE_LIMITS_URL", redis_server.url)
    assert main(["run", FORTNOX, "--state", str(tmp_path / "s.sqlite"), "--first-import"]) == 0
    with redis.Redis.from_url(redis_server.url) as client:
        keys = {k.decode() for k in client.keys("*mapsync:rate:*")}
    assert {k.split("mapsync:rate:")[1].split(":")[0] for k in keys} == {"webcrm", "fortnox"}, keys
