"""One crash case: a world, ``mapsync run`` killed with SIGKILL at a crash point (``mapsync.crashpoints``), then
restarted, and the end state compared with an uninterrupted run's (``tests.reliability.world``).

A case holds when: the killed run died by SIGKILL at its point (or the point was not reached that many times:
``reached`` False, the run completed); after the restart (a real ``mapsync run``, which must take over the dead
run's lease at once) and at most one more pass, the systems' end state equals the uninterrupted run's (no
duplicate, nothing lost, no field that differs); the next pass writes nothing; no run is left ``running`` and
the killed one is recorded as interrupted.
"""

from __future__ import annotations

import json
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mapsync.engine.composition import run_pass
from mapsync.engine.ruleset import load_ruleset
from mapsync.engine.state import SqliteStateStore
from mapsync.engine.state.store import INTERRUPTED
from tests.reliability.world import STANDARD_FORTNOX, build_world, differences, end_state, mapsync_run


@dataclass
class CrashOutcome:
    points: tuple[str, ...]
    reached: bool = True  # every point was reached (the run was killed there)
    passes: int = 0  # passes after the last kill until the end state matched
    problems: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return not self.problems


def baseline(size: int) -> dict[str, list[str]]:
    """The end state of an uninterrupted run (then checked to be settled: a second pass writes nothing)."""
    sandbox = build_world(size)
    try:
        with tempfile.TemporaryDirectory() as folder:
            done = mapsync_run(sandbox, Path(folder) / "state.sqlite")
            assert done.returncode == 0, done.stderr
            state = end_state(sandbox)
            again = _pass(sandbox, Path(folder) / "state.sqlite")
            assert _writes(again) == 0, again
            assert end_state(sandbox) == state
            return state
    finally:
        sandbox.stop()


def _pass(sandbox: object, state: Path) -> dict[str, int]:
    ruleset = load_ruleset(STANDARD_FORTNOX, sandbox.env, for_run=True).ruleset  # type: ignore[attr-defined]
    assert ruleset is not None
    with SqliteStateStore(state) as store:
        report = run_pass(ruleset, sandbox.env, store, apply=True, rate_limit=None)  # type: ignore[attr-defined]
    assert report.fatal is None, report.fatal
    return dict(report.as_dict()["totals"])


def _writes(totals: dict[str, int]) -> int:
    return totals.get("created", 0) + totals.get("updated", 0)


def crash_case(size: int, expected: dict[str, list[str]], points: tuple[str, ...]) -> CrashOutcome:
    """Kill ``mapsync run`` at each of ``points`` in turn (``point:n``), restart, compare (module docstring)."""
    outcome = CrashOutcome(points)
    sandbox = build_world(size)
    try:
        with tempfile.TemporaryDirectory() as folder:
            state = Path(folder) / "state.sqlite"
            for point in points:
                killed = mapsync_run(sandbox, state, crash_at=point)
                if killed.returncode == 0:
                    outcome.reached = False
                elif killed.returncode != -signal.SIGKILL:
                    outcome.problems.append(f"run with {point} ended {killed.returncode}: {killed.stderr[-800:]}")
                    return outcome
            restart = mapsync_run(sandbox, state)
            if restart.returncode != 0:
                outcome.problems.append(f"the restart ended {restart.returncode}: {restart.stderr[-800:]}"
                                        f"{restart.stdout[-800:]}")
                return outcome
            outcome.passes = 1
            if end_state(sandbox) != expected:
                _pass(sandbox, state)
                outcome.passes = 2
            found = differences(expected, end_state(sandbox))
            if found:
                outcome.problems.extend(found)
                return outcome
            settled = _pass(sandbox, state)
            if _writes(settled):
                outcome.problems.append(f"a further pass still writes: {settled}")
            outcome.problems.extend(_runs_problems(state, outcome.reached))
    finally:
        sandbox.stop()
    return outcome


def _runs_problems(state: Path, killed: bool) -> list[str]:
    with SqliteStateStore(state) as store:
        runs = [store.get_run(run_id) for run_id in range(1, (store.last_run() or _NoRun).id + 1)]
    problems = [f"run {r.id} left running" for r in runs if r is not None and r.status == "running"]
    if killed and not any(r is not None and r.summary.get("fatal") == INTERRUPTED for r in runs):
        problems.append("the killed run is not recorded as interrupted: "
                        + json.dumps([(r.id, r.status) for r in runs if r is not None]))
    return problems


class _NoRun:
    id = 0
