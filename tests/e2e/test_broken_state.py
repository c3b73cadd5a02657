"""Broken state files (issue 13): read-only, a folder, empty, not SQLite, corrupt pages, another program's
SQLite file, a newer schema, locked by another process. Every command that opens the state store answers with
one clear line and exit code 1 within seconds, and nothing is written: not the file, not its folder, not the
systems. Prints its figures (``-s``): cases tried and held.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mapsync.engine.cli.main import main
from mapsync.engine.sandbox import Sandbox
from mapsync.engine.state import SCHEMA_VERSION, SqliteStateStore
from tests.e2e.conftest import ROOT

FORTNOX = str(ROOT / "mapsync/rules/standard/fortnox")
COMMANDS = (["status"], ["plan", FORTNOX], ["run", FORTNOX], ["explain", FORTNOX, "--mapping", "customers",
                                                             "--crm-id", "1"])


def _store(path: Path) -> None:
    with SqliteStateStore(path) as s:
        run = s.start_run()
        s.set_cursor("customers", "crm", "2026-01-01T00:00:00Z")
        s.finish_run(run, "ok", {})


def _zero(path: Path) -> None:
    path.write_bytes(b"")


def _folder(path: Path) -> None:
    path.mkdir()


def _text(path: Path) -> None:
    path.write_text("not a database\n" * 50)


def _read_only(path: Path) -> None:
    _store(path)
    path.chmod(0o444)


def _foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    conn.commit()
    conn.close()


def _newer(path: Path) -> None:
    _store(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()


def _corrupt(path: Path) -> None:
    _store(path)
    data = bytearray(path.read_bytes())
    for i in range(4096, len(data), 7):  # every page but the first: the header still says mapsync
        data[i] = 0xAB
    path.write_bytes(bytes(data))


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "zero bytes": (_zero, "empty file"),
    "a folder": (_folder, "is a folder"),
    "not SQLite": (_text, "not a SQLite database"),
    "read-only": (_read_only, "read-only"),
    "foreign SQLite": (_foreign, "not a mapsync state store"),
    "newer schema": (_newer, "newer mapsync"),
    "corrupt pages": (_corrupt, "damaged"),
}
FIGURES: dict[str, list[int]] = {}


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder`` with its content hash and mode: 'nothing written' is this, unchanged."""
    seen = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            seen[str(path.relative_to(folder))] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mode)
        else:
            seen[str(path.relative_to(folder))] = ("dir", path.stat().st_mode)
    return seen


def _writes(sandbox: Sandbox) -> list[str]:
    return [f"{e.method} {e.path}" for sim in sandbox.simulators.values() for e in sim.log.entries()
            if e.method not in ("GET", "HEAD") and "auth" not in e.path.lower() and "token" not in e.path.lower()]


def _count(name: str, held: bool) -> None:
    tried_held = FIGURES.setdefault(name, [0, 0])
    tried_held[0] += 1
    tried_held[1] += held


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    tried = sum(t for t, _ in FIGURES.values())
    held = sum(h for _, h in FIGURES.values())
    print(f"\nbroken state: {tried} case(s) tried, {held} held")
    for name, (t, h) in FIGURES.items():
        print(f"  {name}: {h}/{t}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_broken_state_file_is_refused_with_one_line_and_nothing_written(
        case: str, env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, expected = CASES[case]
    folder = tmp_path / "state"
    folder.mkdir()
    state = folder / "state.sqlite"
    make(state)
    env.simulators["webcrm"].backend.create("organisation", {"OrganisationName": "Acme",
                                                             "OrganisationType": "Customer"})
    before = _snapshot(folder)
    for command in COMMANDS:
        started = time.monotonic()
        code = main([*command, "--state", str(state)])
        seconds = time.monotonic() - started
        out, err = capsys.readouterr()
        lines = [line for line in err.splitlines() if line.strip()]
        if case == "read-only" and command[0] == "explain":  # reads a copy: a read-only store is fine
            held = code == 0 and "explain customers" in out
        else:
            held = (code == 1 and len(lines) == 1 and expected in lines[0] and "Traceback" not in err
                    and lines[0].startswith(f"mapsync {command[0]}: ") and seconds < 10 and not out.strip())
        held = held and _snapshot(folder) == before and not _writes(env)
        _count(case, held)
        assert held, (command[0], code, err, out, seconds, _writes(env))


LOCKER = textwrap.dedent("""
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    if sys.argv[2] == "exclusive":
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
    else:
        conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE cursors SET value = value")
    print("locked", flush=True)
    time.sleep(float(sys.argv[3]))
""")


@contextmanager
def _locked(state: Path, mode: str, seconds: float = 30.0) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(state), mode, str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.communicate(timeout=10)


@pytest.mark.parametrize("mode", ["write", "exclusive"])
def test_a_store_locked_by_another_process_answers_within_seconds(
        mode: str, env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holds the write lock (``write``: readers go on in WAL mode, so ``status`` answers) or
    the whole file (``exclusive``). ``run`` says so within seconds, one line, nothing done. (The wait is
    shortened from its 5 s here to keep the suite fast; the write case keeps the real one.)"""
    from mapsync.engine.state import sqlite, sqlite_file

    assert sqlite_file.BUSY_SECONDS <= 5
    if mode == "exclusive":
        monkeypatch.setattr(sqlite, "BUSY_SECONDS", 1.0)
        monkeypatch.setattr(sqlite_file, "BUSY_SECONDS", 1.0)
    state = tmp_path / "state.sqlite"
    _store(state)
    env.simulators["webcrm"].backend.create("organisation", {"OrganisationName": "Acme",
                                                             "OrganisationType": "Customer"})
    commands = [["status"], ["run", FORTNOX]]
    with _locked(state, mode):
        for command in commands:
            started = time.monotonic()
            code = main([*command, "--state", str(state)])
            seconds = time.monotonic() - started
            out, err = capsys.readouterr()
            lines = [line for line in err.splitlines() if line.strip()]
            if mode == "write" and command[0] == "status":
                held = code == 0 and "customers" in out and seconds < 10
            else:
                held = (code == 1 and len(lines) == 1 and "locked by another process" in lines[0]
                        and "Traceback" not in err and seconds < 10 and not _writes(env))
            _count(f"locked ({mode})", held)
            assert held, (command[0], code, err, seconds)
    with SqliteStateStore(state) as store:
        assert [r.status for r in [store.last_run()] if r] == ["ok"]  # no run started while it was locked


def test_a_new_store_is_never_seen_half_made(tmp_path: Path) -> None:
    """Two processes creating one new store at once: both open it, neither sees an empty or half-migrated
    file (a new store is built under another name and linked into place)."""
    state = tmp_path / "new.sqlite"
    code = ("import sys; from mapsync.engine.state import SqliteStateStore\n"
            "with SqliteStateStore(sys.argv[1]) as s: s.set_cursor('m', 'crm', sys.argv[2])\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(state), str(i)], cwd=ROOT, stderr=subprocess.PIPE,
                              text=True) for i in range(4)]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    held = all(p.returncode == 0 for p in procs) and not any(errors)
    _count("created at once by 4 processes", held)
    assert held, errors
    assert sorted(os.listdir(tmp_path)) == ["new.sqlite"]
