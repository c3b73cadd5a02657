"""docs/tutorial.md runs as written, from an empty folder outside the repository, with mapsync installed from
its wheel: every ```sh command and every ```yaml file (``# file: PATH``) of sections 1 to 10, in order, in
one bash session, as a consultant would type them; ``pip install mapsync`` installs the wheel built from this
repository. The transcript (each command after ``$``, then its output) is kept; with
``MAPSYNC_TUTORIAL_TRANSCRIPT=FILE`` it is also written to FILE.

Section 11 ("Go live") points at the real systems and is not run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import clean_env

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial.md"
pytestmark = pytest.mark.e2e

_BLOCK = re.compile(r"^```(yaml|sh)\n(.*?)^```", re.S | re.M)
_FILE_LINE = re.compile(r"^# file: (\S+)\n")


def tutorial_script(wheel: Path) -> tuple[str, list[str], list[str]]:
    """The bash script of sections 1 to 10, the commands in it and the files it writes."""
    text = TUTORIAL.read_text(encoding="utf-8").split("## 11. Go live")[0]
    lines = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    commands: list[str] = []
    files: list[str] = []
    for kind, body in _BLOCK.findall(text):
        if kind == "yaml":
            match = _FILE_LINE.match(body)
            if match:
                path = match.group(1)
                files.append(path)
                lines += [f"echo {shlex.quote('$ cat > ' + path)}",
                          f"cat > {shlex.quote(path)} <<'MAPSYNC_TUTORIAL_EOF'", body.rstrip("\n"),
                          "MAPSYNC_TUTORIAL_EOF"]
            continue
        for line in body.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            commands.append(line)
            run = f"pip install -q {shlex.quote(str(wheel))}" if line.strip() == "pip install mapsync" else line
            lines += [f"echo {shlex.quote('$ ' + line)}", run]
    return "\n".join(lines) + "\n", commands, files


def test_the_tutorial_runs_as_written(tmp_path: Path, built_wheel: Path) -> None:
    script, commands, files = tutorial_script(built_wheel)
    assert files == ["ruleset.yaml", "tests/customers.test.yaml"]
    names = [c.split()[1] for c in commands if c.startswith("mapsync ")]
    for name in ("init", "validate", "test", "render", "doc", "sandbox", "plan", "snapshot", "run", "status",
                 "explain"):
        assert name in names, f"the tutorial no longer shows mapsync {name}"
    folder = tmp_path / "consultant"  # an empty folder outside the repository
    folder.mkdir()
    env = clean_env() | {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit"), "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                         "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig")}
    done = subprocess.run(["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=900)
    transcript = done.stdout + (f"\n[stderr]\n{done.stderr}" if done.stderr.strip() else "")
    if os.environ.get("MAPSYNC_TUTORIAL_TRANSCRIPT"):
        Path(os.environ["MAPSYNC_TUTORIAL_TRANSCRIPT"]).write_text(transcript, encoding="utf-8")
    assert done.returncode == 0, transcript[-6000:]
    out = done.stdout
    acme = folder / "acme"
    # 1-2: installed from the wheel, not from the repository; the skeleton is there
    assert "mapsync 0." in out
    assert not list((folder / ".venv").glob("lib/*/site-packages/__editable__*"))  # the wheel, not editable
    assert (acme / ".github" / "workflows" / "mapsync.yml").is_file()
    # 4-5: valid (no connection settings yet: MS502 warnings only), every rule test passes, with the coverage report
    assert re.search(r"^0 error\(s\), 7 warning\(s\) in \d+ file\(s\)$", out, re.M) and "warning MS502" in out
    assert "4 passed, 0 failed (1 test file(s))" in out
    assert "coverage: field rules" in out and "mapping deliveries-invoices: no test" in out
    # 6: the review documents
    assert "# from ruleset.yaml:" in (acme / "effective.yaml").read_text(encoding="utf-8")
    assert "customers" in (acme / "acme-integration.md").read_text(encoding="utf-8")
    # 8: the plan as a pull-request comment
    plan = (acme / "plan.md").read_text(encoding="utf-8")
    assert "<details>" in plan and "customers" in plan
    # 9: the rehearsal ran on the snapshot's ids, and explain shows organisation 1
    assert (folder / "snapshots" / "acme" / "snapshot.yaml").is_file()
    assert "Nordisk Trä AB" in out
    # 10: the real run, then a second run that writes nothing; the pre-commit hooks pass
    assert (acme / ".mapsync" / "state.sqlite").is_file()
    assert out.count("mapsync validate") >= 1 and re.search(r"mapsync test\.+Passed", out)
