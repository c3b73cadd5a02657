"""Crash anywhere (docs/reliability.md): ``mapsync run`` killed with SIGKILL at instrumented points of a pass,
then restarted: no duplicate, nothing lost, no field that differs from an uninterrupted run, convergence within
two passes, no run left ``running``.

The default run kills at a fixed set of points over a small world; the long variant (``-m slow``) first counts
the points an uninterrupted pass over a larger world passes through (``MAPSYNC_CRASH_LOG``), then kills at a
spread of them (``CRASH_CASES``, default 120), some twice in a row:

    CRASH_CASES=120 CRASH_SIZE=60 .venv/bin/pytest tests/reliability/test_crash_anywhere.py -m slow -s
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.reliability.crash import CrashOutcome, baseline, crash_case
from tests.reliability.world import build_world, mapsync_run

pytestmark = pytest.mark.e2e

CI_SIZE = 8
CI_POINTS = (
    ("create:before-link:4",),  # a customer created in Fortnox, its assigned number not yet written back, no link
    ("request:fortnox:POST:8",),  # an order created (its rows from the delivery's lines), killed at its answer
    ("cursor:committed:1",),  # one of the customers' cursors stored, the other not
    ("create:before-link:2", "reconcile:linked:1"),  # killed twice in a row: again while reconciling
)


def report(title: str, outcomes: list[CrashOutcome], seconds: float) -> None:
    held = sum(o.held for o in outcomes)
    unreached = sum(not o.reached for o in outcomes)
    passes = Counter(o.passes for o in outcomes if o.held)
    print(f"\n{title}: {len(outcomes)} kill cases tried, {held} held, {len(outcomes) - held} failed "
          f"({unreached} points not reached: the run completed); passes to converge after the restart: "
          f"{dict(sorted(passes.items()))}; {seconds:.0f} s")
    for outcome in outcomes:
        if not outcome.held:
            print(f"  FAILED {' then '.join(outcome.points)}:")
            for problem in outcome.problems[:8]:
                print(f"    {problem}")


def test_crash_anywhere_fixed_points() -> None:
    started = time.monotonic()
    expected = baseline(CI_SIZE)
    outcomes = [crash_case(CI_SIZE, expected, points) for points in CI_POINTS]
    report("crash anywhere (CI profile)", outcomes, time.monotonic() - started)
    assert all(o.reached for o in outcomes), [o.points for o in outcomes if not o.reached]
    assert [o.points for o in outcomes if not o.held] == []


def points_of_a_pass(size: int) -> Counter[str]:
    """How many times an uninterrupted first pass over the world reaches each crash point."""
    sandbox = build_world(size)
    try:
        with tempfile.TemporaryDirectory() as folder:
            log = Path(folder) / "points.log"
            done = mapsync_run(sandbox, Path(folder) / "state.sqlite", extra_env={"MAPSYNC_CRASH_LOG": str(log)})
            assert done.returncode == 0, done.stderr
            return Counter(log.read_text(encoding="utf-8").split())
    finally:
        sandbox.stop()


def spread(counts: Counter[str], wanted: int) -> list[tuple[str, ...]]:
    """``wanted`` kill cases over every point reached, each point's occurrences sampled evenly; every fifth case
    killed a second time, at a point of the restart."""
    per_point = max(wanted // max(len(counts), 1), 1)
    cases: list[tuple[str, ...]] = []
    for point, count in sorted(counts.items()):
        taken = min(per_point, count)
        for k in range(taken):
            cases.append((f"{point}:{1 + (k * count) // taken}",))
    second = sorted(counts)
    for index in range(0, len(cases), 5):
        cases[index] = (cases[index][0], f"{second[index % len(second)]}:1")
    while len(cases) < wanted:  # fewer distinct occurrences than wanted: kill twice in a row more often
        first = cases[len(cases) % len(cases)][0]
        cases.append((first, f"{second[len(cases) % len(second)]}:2"))
    return cases[:max(wanted, len(cases))] if len(cases) < wanted else cases


@pytest.mark.slow
def test_crash_anywhere_long() -> None:
    size = int(os.environ.get("CRASH_SIZE", "60"))
    wanted = int(os.environ.get("CRASH_CASES", "120"))
    started = time.monotonic()
    counts = points_of_a_pass(size)
    print(f"\ncrash points an uninterrupted pass over {size} organisations reaches: {dict(sorted(counts.items()))}")
    expected = baseline(size)
    outcomes = [crash_case(size, expected, points) for points in spread(counts, wanted)]
    report(f"crash anywhere (long, {size} organisations)", outcomes, time.monotonic() - started)
    assert [o.points for o in outcomes if not o.held] == []
