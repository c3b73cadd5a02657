"""The rule tests shown in docs/testing.md pass as written, against the standard Fortnox rule set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mapsync.engine.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def test_the_documented_tests_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    blocks = [b for b in re.findall(r"^```yaml\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)
              if b.startswith("tests:")]
    assert len(blocks) == 2
    (tmp_path / "ruleset.yaml").write_text("name: docs\nextends: mapsync:standard/fortnox\n", encoding="utf-8")
    for index, block in enumerate(blocks):
        (tmp_path / f"doc{index}.test.yaml").write_text(block, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = main(["test", ".", "--no-coverage"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "4 passed, 0 failed (2 test file(s))" in out
