"""Hostile rule files and expressions (``tests/rules/hostile.py``): each gives its one located diagnostic and the
right exit code from ``mapsync validate``, never a traceback, in bounded time.

The run reports how many cases were tried and how many held (``tests/conftest.py`` prints the tally).
A case whose folder cannot be built on this machine (FIFOs, symlinks) is skipped, and counted as such.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mapsync.engine.cli import main
from tests.rules.hostile import CASES, SECONDS, Hostile

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WEBCRM_BASE_URL", "WEBCRM_API_TOKEN", "FORTNOX_BASE_URL", "FORTNOX_ACCESS_TOKEN"):
        monkeypatch.setenv(name, "set-by-the-test")


def _relative(folder: Path, file: str) -> str:
    path = Path(file)
    path = path if path.is_absolute() else Path.cwd() / path
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case(case: Hostile, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "case"
    folder.mkdir()
    try:
        target = case.build(folder)
    except (OSError, NotImplementedError) as exc:  # no FIFOs or symlinks here
        pytest.skip(f"cannot build the case here: {exc}")
    started = time.perf_counter()
    code = main(["validate", "--format", "json", str(target)])
    elapsed = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert elapsed < SECONDS, f"{case.name}: {elapsed:.1f} s"
    assert "Traceback" not in out + err
    assert code == case.exit, f"{case.name}: exit {code}\n{out}\n{err}"
    if case.exit == 2:
        assert err.startswith("mapsync validate: ") and len(err.strip().splitlines()) == 1
        return
    report = json.loads(out)
    found = [d for d in report["diagnostics"] if d["code"] == case.code
             and (not case.file or _relative(folder, d["file"]) == case.file
                  or (case.file.startswith("/") and Path(d["file"]) == Path(case.file)))
             and (d["line"] == case.line if case.line else d["line"] >= 1)
             and (case.column is None or d["column"] == case.column)
             and case.message in d["message"]]
    listing = "\n".join(f"  {d['code']} {_relative(folder, d['file'])}:{d['line']}:{d['column']} {d['message'][:120]}"
                        for d in report["diagnostics"])
    assert found, f"{case.name}: no {case.code} at {case.file}:{case.line}:{case.column}; got\n{listing}"
    for d in found:
        assert d["severity"] == "error" and d["message"] and d["hint"] and d["column"] >= 1


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 100
    assert len({c.code for c in CASES}) >= 10


def test_huge_file_refused_before_parsing_whole_process(tmp_path: Path) -> None:
    """The whole process on a 13 MB rule file: refused by its size (MS110), exit 1, no parsing. The time is not
    asserted tightly here (benchmarks/validation_speed.py measures it); a generous bound catches parsing."""
    folder = tmp_path / "huge"
    folder.mkdir()
    [case] = [c for c in CASES if c.name == "huge-mapping-file-13mb"]
    case.build(folder)
    env = {**os.environ, "WEBCRM_BASE_URL": "x", "WEBCRM_API_TOKEN": "x", "FORTNOX_BASE_URL": "x",
           "FORTNOX_ACCESS_TOKEN": "x"}
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).parent / "mapsync"), "validate", str(folder)], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60)
    elapsed = time.perf_counter() - started
    assert done.returncode == 1, done.stderr
    assert "MS110" in done.stdout and "Traceback" not in done.stderr
    assert elapsed < 3 * SECONDS, elapsed  # parsing 13 MB took 31 s unloaded, minutes under load
