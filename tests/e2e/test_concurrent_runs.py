"""Two runs on one state store (issue 13), as real processes against the seeded simulators over sockets:
``mapsync run`` started twice at once, and a second one started while the first is under way. One pass runs;
the other refuses at once with one line and exit code 1 (it holds no lease, starts no run, writes nothing);
nothing is created twice, and a further pass has nothing left to do. Also: another process taking the
store's write lock in the middle of a pass (the pass waits for it, ends, no traceback, nothing half-done).
Prints its figures (``-s``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mapsync.engine.composition import run_pass
from mapsync.engine.sandbox import Sandbox, start_sandbox
from mapsync.engine.state import SqliteStateStore
from tests.e2e.conftest import ROOT, clean_env, load

FORTNOX = str(ROOT / "mapsync/rules/standard/fortnox")
REFUSAL = "another pass is running on this state store"
FIGURES = Counter[str]()
MAIN = "import sys; from mapsync.engine.cli.main import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    print(f"\ntwo runs on one store: {FIGURES['tried']} case(s) tried, {FIGURES['held']} held "
          f"({FIGURES['one refused']} with one refused, {FIGURES['ran one after the other']} one after the other)")


@pytest.fixture
def seeded() -> Iterator[Sandbox]:
    """The seeded simulators, each request delayed so that a pass takes a few seconds even with its records
    applied concurrently (a second run started "a little later" must find the first still under way)."""
    sandbox = start_sandbox(None, seed=True, realistic_limits=False, products=("webcrm", "fortnox"),
                            latency=(0.02, 0.04))
    try:
        yield sandbox
    finally:
        sandbox.stop()


def _run(sandbox: Sandbox, state: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**clean_env(), **sandbox.env}
    return subprocess.Popen([sys.executable, "-c", MAIN, "run", FORTNOX, "--state", str(state), "--first-import",
                             *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _duplicates(sandbox: Sandbox) -> list[str]:
    """Names held by more than one record on either side (the seed has none)."""
    found = []
    for name, entity, field in (("webcrm", "organisation", "OrganisationName"), ("fortnox", "customer", "Name")):
        names = Counter(r.get(field) for r in sandbox.simulators[name].store.records[entity].values())
        found += [f"{name} {entity} {n!r} x{c}" for n, c in names.items() if c > 1 and n]
    return found


def _writes(sandbox: Sandbox) -> int:
    return sum(1 for sim in sandbox.simulators.values() for e in sim.log.entries()
               if e.method in ("POST", "PUT") and "auth" not in e.path.lower() and "token" not in e.path.lower())


def _outcomes(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    return [(p.returncode, *p.communicate(timeout=300)) for p in procs]


def _check_pair(sandbox: Sandbox, state: Path, outcomes: list[tuple[int, str, str]], *,
                must_refuse: bool) -> list[str]:
    """One ran and the other refused; or (``must_refuse`` False: started together, one may have got its lease
    only after the other had finished) both ran, one after the other."""
    problems = []
    ran = [o for o in outcomes if o[0] in (0, 3)]
    refused = [o for o in outcomes if o[0] == 1]
    sequential = not must_refuse and len(ran) == 2
    FIGURES["ran one after the other" if sequential else "one refused"] += 1
    if not sequential and (len(ran) != 1 or len(refused) != 1):
        problems.append(f"exit codes {[o[0] for o in outcomes]}: {[o[2][-300:] for o in outcomes]}")
    for _code, _out, err in refused:
        lines = [line for line in err.splitlines() if line.strip()]
        if len(lines) != 1 or REFUSAL not in lines[0] or "Traceback" in err:
            problems.append(f"the refusal is not one clear line: {err!r}")
    problems += _duplicates(sandbox)
    with SqliteStateStore(state) as store:
        runs = [store.get_run(i) for i in (1, 2)]
        if runs[0] is None or runs[0].status == "running" or (runs[1] is not None) != sequential:
            problems.append(f"runs: {runs}")
        first, second = runs
        if sequential and first and second and not (first.finished_at and first.finished_at <= second.started_at):
            problems.append(f"the two runs overlapped: {runs}")
        if any(m.pending_creates for m in store.summary().mappings):
            problems.append("creates left unresolved")
    before = _writes(sandbox)
    with SqliteStateStore(state) as store:  # the next pass, in this process: nothing left to do
        report = run_pass(load(Path(FORTNOX), sandbox.env), sandbox.env, store, apply=True, rate_limit=None)
    if report.fatal or _writes(sandbox) != before:
        problems.append(f"the next pass wrote {_writes(sandbox) - before} time(s): {report.fatal}")
    return problems


def _wait_for_writes(sandbox: Sandbox, run: subprocess.Popen[str], count: int) -> None:
    """Until ``run`` has written ``count`` times (it is in the middle of its pass) or has ended."""
    deadline = time.monotonic() + 60
    while _writes(sandbox) < count and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.02)


@pytest.mark.parametrize("later", [False, True], ids=["together", "a little later"])
def test_a_second_run_on_the_same_store_refuses_and_nothing_is_done_twice(later: bool, seeded: Sandbox,
                                                                          tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    first = _run(seeded, state)
    if later:  # the second starts while the first is creating: it must refuse, whatever the machine's speed
        _wait_for_writes(seeded, first, 3)
        assert first.poll() is None, "the first pass ended before it had written: the simulators are too fast"
    second = _run(seeded, state)
    for proc in (first, second):
        proc.wait(timeout=300)
    problems = _check_pair(seeded, state, _outcomes([first, second]), must_refuse=later)
    FIGURES["tried"] += 1
    FIGURES["held"] += not problems
    assert not problems


LOCKER = textwrap.dedent("""
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("COMMIT")
""")


def _lock_mid_pass(sandbox: Sandbox, state: Path, seconds: float) -> tuple[int, str, str]:
    run = _run(sandbox, state)
    _wait_for_writes(sandbox, run, 5)  # the pass has started creating
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(state), str(seconds)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        run.wait(timeout=300)
    finally:
        locker.kill()
        locker.communicate(timeout=10)
    out, err = run.communicate(timeout=60)
    return run.returncode, out, err


def test_a_lock_taken_in_the_middle_of_a_pass_is_waited_for(seeded: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    code, _out, err = _lock_mid_pass(seeded, state, 3.0)
    problems = [] if code in (0, 3) and "Traceback" not in err else [f"exit {code}: {err[-500:]}"]
    problems += _duplicates(seeded)
    with SqliteStateStore(state) as store:
        if any(m.pending_creates for m in store.summary().mappings):
            problems.append("creates left unresolved")
    FIGURES["tried"] += 1
    FIGURES["held"] += not problems
    assert not problems


@pytest.mark.slow
def test_a_lock_held_longer_than_a_pass_waits_stops_it_cleanly(seeded: Sandbox, tmp_path: Path) -> None:
    """Held beyond the pass's patience (60 s): the pass stops with one line, no traceback; the next pass
    completes what it left (the create journal), nothing twice."""
    state = tmp_path / "state.sqlite"
    code, _out, err = _lock_mid_pass(seeded, state, 75.0)
    problems: list[Any] = []
    if code != 1 or "locked by another process" not in err or "Traceback" in err:
        problems.append(f"exit {code}: {err[-500:]}")
    again = _run(seeded, state)
    again.communicate(timeout=300)
    problems += _duplicates(seeded)
    with SqliteStateStore(state) as store:
        if any(m.pending_creates for m in store.summary().mappings):
            problems.append("creates left unresolved after the next pass")
    FIGURES["tried"] += 1
    FIGURES["held"] += not problems
    assert not problems, problems
