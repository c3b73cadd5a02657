"""The tenants registry: read and checked like a rule set, every problem located, a broken tenant left out
while the others stay; secrets from a dotenv file or prefixed environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mapsync.engine.cli import main
from mapsync.engine.diagnostics.formats import shown_file
from mapsync.engine.tenants.registry import Secrets, SecretsError, interval_seconds, load_registry

CASES = Path(__file__).parent / "cases"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if (p / "expected.yaml").is_file()))
def test_case(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = CASES / case
    monkeypatch.chdir(folder)
    expected = yaml.safe_load((folder / "expected.yaml").read_text(encoding="utf-8"))
    registry = load_registry("tenants.yaml", process_env={})
    assert [t.id for t in registry.tenants] == expected["tenants"]
    got = sorted((shown_file(d.location.file), d.location.line, d.code) for d in registry.diagnostics)
    assert got == sorted((p["file"], p["line"], p["code"]) for p in expected["problems"])


def test_check_exits_1_on_problems_and_0_when_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(CASES / "bad-registry")
    assert main(["serve", "tenants.yaml", "--check"]) == 1
    out = capsys.readouterr()
    assert "1 tenant(s) ready (1 enabled)" in out.out and "MS701" in out.err
    (tmp_path / "t.yaml").write_text("tenants:\n  - id: acme\n    ruleset: acme\n    secrets: {env_prefix: ACME_}\n"
                                     "    enabled: false\n", encoding="utf-8")
    assert main(["serve", str(tmp_path / "t.yaml"), "--check"]) == 0  # disabled: its rule set is not loaded
    assert main(["serve", str(tmp_path / "none.yaml")]) == 2


def test_a_whole_file_problem_takes_no_tenant(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text("tenant: []\n", encoding="utf-8")
    registry = load_registry(path)
    assert registry.tenants == [] and {d.code for d in registry.diagnostics} == {"MS201", "MS202"}
    path.write_text("tenants:\n  - id: a\n    ruleset: x\n    secrets: {env_prefix: A_}\n  bad\n", encoding="utf-8")
    assert [d.code for d in load_registry(path).diagnostics] == ["MS101"]


def test_defaults_and_paths(tmp_path: Path) -> None:
    path = tmp_path / "reg" / "tenants.yaml"
    path.parent.mkdir()
    path.write_text("defaults: {interval: 10m, state: 'db/{id}.sqlite'}\ntenants:\n"
                    "  - {id: a, ruleset: rules/a, secrets: {env_prefix: A_}}\n"
                    "  - {id: b, ruleset: rules/b, secrets: {env_file: b.env}, interval: 30s,"
                    " state: 'postgresql://db/mapsync'}\n", encoding="utf-8")
    a, b = load_registry(path, check_rulesets=False).tenants
    assert a.interval == 600 and b.interval == 30
    assert a.state == str(path.parent.resolve() / "db" / "a.sqlite") and b.state == "postgresql://db/mapsync"
    assert a.ruleset == path.parent.resolve() / "rules" / "a"


def test_secrets(tmp_path: Path) -> None:
    env = {"ACME_WEBCRM_API_TOKEN": "t1", "ACME_X": "1", "BETA_WEBCRM_API_TOKEN": "t2"}
    assert Secrets("env_prefix", "ACME_").read(env) == {"WEBCRM_API_TOKEN": "t1", "X": "1"}
    file = tmp_path / "a.env"
    file.write_text("# the tenant's secrets\nWEBCRM_API_TOKEN='se cret'\nexport FORTNOX_ACCESS_TOKEN=abc\n",
                    encoding="utf-8")
    assert Secrets("env_file", str(file)).read() == {"WEBCRM_API_TOKEN": "se cret", "FORTNOX_ACCESS_TOKEN": "abc"}
    with pytest.raises(SecretsError, match="does not exist"):
        Secrets("env_file", str(tmp_path / "missing.env")).read()


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("6m", 360), ("1h", 3600), ("90", 90), ("1.5m", 90)])
def test_intervals(text: str, seconds: float) -> None:
    assert interval_seconds(text) == seconds


def test_a_bad_interval() -> None:
    with pytest.raises(ValueError, match="not an interval"):
        interval_seconds("soon")
