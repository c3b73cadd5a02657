"""Secrets never leak (issue 13): commands run as processes with known secret values (API tokens, client
secrets, access tokens, in the environment and in a tenant's secrets file), at DEBUG level in text and JSON
logs, with faults and refused credentials on the way; stdout, stderr, every file they wrote (plans,
snapshots, the state store with its write-ahead log, and so the audit) are searched for the secrets and for
every token the simulators issued meanwhile: zero hits. Prints its figures (``-s``).

Every command that reads connection settings runs (30 runs, about 25 s: in the default test run).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mapsync.engine.sandbox import Sandbox, start_sandbox
from tests.e2e.conftest import ROOT, clean_env

FORTNOX = str(ROOT / "mapsync/rules/standard/fortnox")
VISMANET = str(ROOT / "mapsync/rules/standard/vismanet")
MAIN = "import sys; from mapsync.engine.cli.main import main; sys.exit(main(sys.argv[1:]))"
SECRET_NAMES = ("WEBCRM_API_TOKEN", "FORTNOX_ACCESS_TOKEN", "FORTNOX_CLIENT_SECRET", "VISMANET_CLIENT_SECRET")
FIGURES = Counter[str]()

LOGS = (["--log-level", "DEBUG"], ["--log-level", "DEBUG", "--log-json"])


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    print(f"\nsecrets: {FIGURES['tried']} command run(s) searched, {FIGURES['held']} without a hit "
          f"({FIGURES['bytes'] // 1024} kB of output and files searched)")


@pytest.fixture
def seeded() -> Iterator[Sandbox]:
    sandbox = start_sandbox(None, realistic_limits=False)
    for i in range(3):
        sandbox.simulators["webcrm"].backend.create("organisation", {"OrganisationName": f"Org {i}",
                                                                     "OrganisationType": "Customer"})
        sandbox.simulators["fortnox"].backend.create("customer", {"Name": f"Kund {i}"})
    try:
        yield sandbox
    finally:
        sandbox.stop()


def _issued(sandbox: Sandbox) -> set[str]:
    """Every token the simulators issued or hold (access and refresh tokens): secrets too."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str) and len(value) >= 12 and " " not in value:
            found.add(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, list | tuple | set):
            for item in value:
                walk(item)

    for sim in sandbox.simulators.values():
        for backend in sim.tenants.all():
            walk(backend.store.auth)
        walk(getattr(sim, "auth", None).__dict__ if getattr(sim, "auth", None) is not None else None)
    return {s for s in found if not s.startswith(("http", "20")) and "T" not in s[4:5]}


def _secrets(sandbox: Sandbox) -> set[str]:
    return {sandbox.env[name] for name in SECRET_NAMES if sandbox.env.get(name)} | {"tenant-file-secret-4711"}


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-c", MAIN, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def _search(texts: list[str], folder: Path, secrets: set[str]) -> list[str]:
    blobs = [t.encode("utf-8", "replace") for t in texts]
    names = ["output"] * len(texts)
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "secrets.env":  # the secrets file itself holds the secret
            blobs.append(path.read_bytes())
            names.append(str(path.relative_to(folder)))
    FIGURES["bytes"] += sum(len(b) for b in blobs)
    return [f"{secret!r} in {name}" for secret in sorted(secrets) for name, blob in zip(names, blobs, strict=True)
            if secret.encode() in blob]


def _commands(sandbox: Sandbox, work: Path) -> list[tuple[str, list[str], dict[str, str]]]:
    env = {**clean_env(), **sandbox.env}
    state = str(work / "state.sqlite")
    no_access = {k: v for k, v in env.items() if k != "FORTNOX_ACCESS_TOKEN"}  # the client-credentials grant
    wrong = {**env, "WEBCRM_API_TOKEN": "tenant-file-secret-4711-wrong"}
    commands = [
        ("run (faults on the way)", ["run", FORTNOX, "--state", state, "--first-import", "--format", "json"], env),
        ("plan", ["plan", FORTNOX, "--state", state, "--format", "markdown"], env),
        ("serve --once with a secrets file", ["serve", str(work / "tenants.yaml"), "--once"], clean_env()),
        ("explain", ["explain", FORTNOX, "--state", state, "--mapping", "customers", "--crm-id", "1"], env),
        ("run, refused credentials", ["run", FORTNOX, "--state", state], wrong),
        ("run, client credentials", ["run", FORTNOX, "--state", str(work / "cc.sqlite"), "--first-import"],
         no_access),
        ("run vismanet", ["run", VISMANET, "--state", str(work / "visma.sqlite"), "--first-import"], env),
        ("plan json", ["plan", FORTNOX, "--state", state, "--format", "json"], env),
        ("status", ["status", "--state", state, "--format", "json"], env),
        ("status of the tenants", ["status", str(work / "tenants.yaml")], clean_env()),
        ("serve --check", ["serve", str(work / "tenants.yaml"), "--check"], clean_env()),
        ("snapshot", ["snapshot", FORTNOX, "--out", str(work / "snap"), "--limit", "3"], env),
        ("validate", ["validate", FORTNOX], env),
        ("render", ["render", FORTNOX, "--format", "json"], env),
        ("doc", ["doc", FORTNOX, "--output", str(work / "doc.md")], env),
    ]
    return commands


def _tenants(sandbox: Sandbox, work: Path) -> None:
    (work / "secrets.env").write_text("".join(f"{k}={v}\n" for k, v in sandbox.env.items())
                                      + "EXTRA_SECRET=tenant-file-secret-4711\n", encoding="utf-8")
    (work / "tenants.yaml").write_text(
        "tenants:\n"
        f"  - {{id: acme, ruleset: {FORTNOX}, state: t-acme.sqlite, secrets: {{env_file: secrets.env}}}}\n",
        encoding="utf-8")


def _suite(sandbox: Sandbox, work: Path) -> None:
    _tenants(sandbox, work)
    sandbox.simulators["fortnox"].faults.add("5xx", 1)  # error answers on the way: messages carry no credential
    problems: list[str] = []
    outputs: dict[str, str] = {}
    codes: dict[str, int] = {}
    commands = _commands(sandbox, work)
    for index, (name, args, env) in enumerate(commands * 2):  # each in both log formats
        logs = LOGS[index // len(commands)]
        key = f"{name} {' '.join(logs)}"
        codes[key], outputs[key] = _cli([*logs, *args], env, work)
    secrets = _secrets(sandbox) | _issued(sandbox)
    assert len(secrets) >= 6, secrets  # the search is for something: the configured ones and those issued
    assert codes[f"run (faults on the way) {' '.join(LOGS[0])}"] in (0, 3), outputs  # it did sync
    assert '"level"' in outputs[f"plan {' '.join(LOGS[1])}"]  # JSON logs were written
    for name, output in outputs.items():
        hits = _search([output], work, secrets)
        FIGURES["tried"] += 1
        FIGURES["held"] += not hits
        problems += [f"{name}: {hit}" for hit in hits]
    assert not problems, problems


def test_no_secret_from_any_command_in_any_output_log_plan_or_state(seeded: Sandbox, tmp_path: Path) -> None:
    _suite(seeded, tmp_path)
