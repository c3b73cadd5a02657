"""One faults case: a world, a pass during which the simulators answer with faults drawn from a seed (429 bursts,
5xx, HTML error pages, answers slower than the client's timeout, connections reset mid-answer, truncated and
malformed JSON bodies, dropped connections), then the faults stop and at most two passes must bring both systems
to the end state of a run without faults (``tests.reliability.world``).

The passes run in this process (``run_pass``, the engine and clients of ``mapsync run``) with a short client
timeout and waits between retries cut short, so that a case takes seconds. A case holds when no pass raises
(a traceback), the end state matches after at most two passes without faults, and a further pass writes nothing.
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from mapsync.engine.composition import run_pass
from mapsync.engine.ruleset import load_ruleset
from mapsync.engine.sandbox import Sandbox
from mapsync.engine.state import SqliteStateStore
from mapsync.engine.state.codec import utc_now
from mapsync.engine.sync.report import PassReport
from tests.reliability.world import FORTNOX_WORLD, World, differences

INTERVAL = timedelta(minutes=6)  # the standard rule sets' sync_interval
CLIENT_TIMEOUT = 0.5  # seconds; a ``slow`` fault answers after 1 s
KINDS = ("429", "5xx", "html", "slow", "reset", "truncated", "malformed", "drop")
METHODS = (None, None, "GET", "POST", "PUT")


@dataclass
class FaultsOutcome:
    seed: int
    faults: list[dict[str, Any]] = field(default_factory=list)
    faulted: dict[str, Any] = field(default_factory=dict)  # the faulted pass: totals, fatal
    passes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return not self.problems


def draw_faults(seed: int, products: tuple[str, ...], count: int = 6) -> list[tuple[str, dict[str, Any]]]:
    """``count`` faults for the products, each striking after a number of requests, drawn from ``seed``."""
    rng = random.Random(seed)
    faults = []
    for _ in range(count):
        kind = rng.choice(KINDS)
        fault: dict[str, Any] = {"kind": kind, "count": rng.randint(1, 3), "skip": rng.randint(0, 40)}
        method = rng.choice(METHODS)
        if method is not None:
            fault["method"] = method
        if kind == "429":
            fault["count"] = rng.choice((2, 4, 8))  # a burst; 8 outlasts the clients' attempts
            fault["retry_after"] = 0.0
        elif kind in ("5xx", "html"):
            fault["status"] = rng.choice((500, 502, 503))
        elif kind == "slow":
            fault["seconds"] = 2 * CLIENT_TIMEOUT
        faults.append((rng.choice(products), fault))
    return faults


def _fast_sleep(seconds: float) -> None:
    time.sleep(min(seconds, 0.01))


def one_pass(sandbox: Sandbox, state: Path, number: int = 0, world: World = FORTNOX_WORLD) -> PassReport:
    """Pass ``number`` of a case: the state store's clock runs ``INTERVAL`` ahead per pass, as passes six minutes
    apart would find it (a quarantined record is due for its first retry a minute after it failed)."""
    ruleset = load_ruleset(world.ruleset, sandbox.env, for_run=True).ruleset
    assert ruleset is not None
    with SqliteStateStore(state, now=lambda: utc_now() + number * INTERVAL) as store:
        return run_pass(ruleset, sandbox.env, store, apply=True, rate_limit=None, timeout=CLIENT_TIMEOUT,
                        sleep=_fast_sleep)


def writes(report: PassReport) -> int:
    return report.total("created") + report.total("updated")


def faults_case(size: int, expected: dict[str, list[str]], seed: int, count: int = 6,
                world: World = FORTNOX_WORLD) -> FaultsOutcome:
    outcome = FaultsOutcome(seed)
    sandbox = world.build(size)
    try:
        with tempfile.TemporaryDirectory() as folder:
            state = Path(folder) / "state.sqlite"
            for product, fault in draw_faults(seed, world.products, count):
                sandbox.simulators[product].faults.add(**fault)
                outcome.faults.append({"system": product, **fault})
            try:
                faulted = one_pass(sandbox, state, 0, world)
            except Exception as exc:  # a traceback: the pass must end with a report, whatever the systems answer
                outcome.problems.append(f"the faulted pass raised {type(exc).__name__}: {exc}")
                return outcome
            outcome.faulted = {"totals": faulted.as_dict()["totals"], "fatal": faulted.fatal}
            for simulator in sandbox.simulators.values():
                simulator.faults.clear()
            for number in (1, 2):
                report = one_pass(sandbox, state, number, world)
                outcome.passes = number
                if report.fatal:
                    outcome.problems.append(f"pass {number} after the faults: fatal {report.fatal}")
                    return outcome
                if world.end_state(sandbox) == expected:
                    break
            outcome.problems.extend(differences(expected, world.end_state(sandbox)))
            if outcome.problems:
                return outcome
            settled = one_pass(sandbox, state, 3, world)
            if writes(settled):
                outcome.problems.append(f"a further pass still writes: {settled.as_dict()['totals']}")
    finally:
        sandbox.stop()
    return outcome


def baseline(size: int, world: World = FORTNOX_WORLD) -> dict[str, list[str]]:
    """The end state of passes without faults (two: the second must write nothing)."""
    sandbox = world.build(size)
    try:
        with tempfile.TemporaryDirectory() as folder:
            first = one_pass(sandbox, Path(folder) / "state.sqlite", 0, world)
            assert first.fatal is None, first.fatal
            state = world.end_state(sandbox)
            again = one_pass(sandbox, Path(folder) / "state.sqlite", 1, world)
            assert writes(again) == 0 and world.end_state(sandbox) == state
            return state
    finally:
        sandbox.stop()
