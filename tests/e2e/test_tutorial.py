"""docs/tutorial.md runs as written: its rule set and its `mapsync` commands (sections 2 to 6), in order,
against seeded simulators over real sockets; a Partner organisation becomes a Fortnox company customer.

The commands are taken from the tutorial's ```sh blocks before "## 7. Go live" (which points at the real
systems); `mapsync sandbox` (this test starts the simulators itself) and `--watch` (endless) are left out.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mapsync.engine.cli import main
from mapsync.engine.sandbox import Sandbox, start_sandbox

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial.md"
pytestmark = pytest.mark.e2e

_BLOCK = re.compile(r"^```(yaml|sh)\n(.*?)^```", re.S | re.M)
_FILE_LINE = re.compile(r"^# file: (\S+)\n")


def _tutorial() -> tuple[dict[str, str], list[list[str]]]:
    """The complete rule files (path -> text) and the commands of sections up to "Go live"."""
    text = TUTORIAL.read_text(encoding="utf-8").split("## 7. Go live")[0]
    files: dict[str, str] = {}
    commands: list[list[str]] = []
    for kind, body in _BLOCK.findall(text):
        if kind == "yaml":
            match = _FILE_LINE.match(body)
            if match:
                files[match.group(1)] = body
            continue
        for line in body.splitlines():
            argv = shlex.split(line, comments=True)
            if argv[:1] == ["mapsync"] and argv[1] != "sandbox" and "--watch" not in argv:
                commands.append(argv[1:])
    return files, commands


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    sb = start_sandbox(tmp_path / "sandbox", seed=True, realistic_limits=False, products=("webcrm", "fortnox"))
    for key, value in sb.env.items():
        monkeypatch.setenv(key, value)
    try:
        yield sb
    finally:
        sb.stop()


def test_the_tutorial_runs_as_written(seeded: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    files, commands = _tutorial()
    assert "rules/customers/acme/ruleset.yaml" in files
    assert [c[0] for c in commands] == ["validate", "validate", "plan", "run", "status"]
    work = tmp_path / "work"
    shutil.copytree(ROOT / "mapsync" / "rules" / "standard", work / "rules" / "standard")
    for path, body in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(body, encoding="utf-8")
    monkeypatch.chdir(work)
    webcrm, fortnox = seeded.simulators["webcrm"].backend, seeded.simulators["fortnox"].backend
    partner = webcrm.create("organisation", {"OrganisationName": "Partnerbolaget AB", "OrganisationType": "Partner",
                                             "OrganisationExtraCustom1": "7001"})
    outputs: dict[str, str] = {}
    for argv in commands:
        code = main(argv)
        out = capsys.readouterr()
        assert code == 0, f"mapsync {shlex.join(argv)} exited {code}:\n{out.out}\n{out.err}"
        outputs.setdefault(argv[0], out.out)
    assert outputs["validate"].startswith("ok: 7 file(s) valid")  # what section 4 says
    assert not (work / "acme.sqlite").exists() or "run" in outputs  # the plan created nothing
    # The Partner organisation became a Fortnox customer of type COMPANY, and got no quarantine.
    customer = fortnox.get("customer", "7001")
    assert customer["Name"] == "Partnerbolaget AB" and customer["Type"] == "COMPANY"
    assert webcrm.get("organisation", partner)["OrganisationType"] == "Partner"
    assert "Quarantined records: 0" in outputs["status"]
    # "A second pass right after writes nothing."
    assert main(["run", "rules/customers/acme", "--state", "acme.sqlite", "--format", "json"]) == 0
    assert '"created": 0, "updated": 0' in capsys.readouterr().out


def test_the_tutorials_first_run_needs_its_flag(seeded: Sandbox, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `--first-import` the tutorial's run against the seeded systems would be refused."""
    files, commands = _tutorial()
    run = next(c for c in commands if c[0] == "run")
    assert "--first-import" in run
    shutil.copytree(ROOT / "mapsync" / "rules" / "standard", tmp_path / "rules" / "standard")
    for path, body in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main([a for a in run if a != "--first-import"]) == 1
    assert not (tmp_path / "acme.sqlite").exists()
