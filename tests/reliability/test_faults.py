"""Faults (docs/reliability.md): during a pass the simulators answer with faults drawn from a seed (429 bursts,
5xx, HTML error pages, answers slower than the client's timeout, connections reset mid-answer, truncated and
malformed JSON bodies, dropped connections); once the faults stop, at most two passes bring both systems to the
end state of a run without faults, and no pass raises.

Two worlds: the standard Fortnox rule set against the webCRM and Fortnox simulators, the standard Visma.net rule
set against the webCRM and Visma.net simulators. The default run tries a fixed set of seeds over small worlds; the
long variant tries many (``FAULT_WORLDS=fortnox,vismanet`` by default):

    FAULT_SEEDS=100 FAULT_SIZE=20 .venv/bin/pytest tests/reliability/test_faults.py -m slow -s
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest

from tests.reliability.faults import FaultsOutcome, baseline, faults_case
from tests.reliability.world import FORTNOX_WORLD, VISMANET_WORLD, World

pytestmark = pytest.mark.e2e

WORLDS = {world.name: world for world in (FORTNOX_WORLD, VISMANET_WORLD)}
# (world, organisations, seeds): among them a read failing after every retry, creates answered late or cut short
CI_PROFILE = ((FORTNOX_WORLD, 8, (0, 4, 5, 7)), (VISMANET_WORLD, 4, (1, 3)))


def report(title: str, outcomes: list[FaultsOutcome], seconds: float) -> None:
    held = sum(o.held for o in outcomes)
    kinds = Counter(f["kind"] for o in outcomes for f in o.faults)
    partial = sum(1 for o in outcomes if o.faulted.get("fatal"))
    print(f"\n{title}: {len(outcomes)} seeds tried, {held} held, {len(outcomes) - held} failed; faults injected "
          f"{dict(sorted(kinds.items()))}; faulted passes ended fatal: {partial}; passes to converge: "
          f"{dict(sorted(Counter(o.passes for o in outcomes if o.held).items()))}; {seconds:.0f} s")
    for outcome in outcomes:
        if not outcome.held:
            print(f"  FAILED seed {outcome.seed}: faults {json.dumps(outcome.faults)}")
            for problem in outcome.problems[:8]:
                print(f"    {problem[:600]}")


@pytest.mark.parametrize(("world", "size", "seeds"), CI_PROFILE, ids=[w.name for w, _, _ in CI_PROFILE])
def test_faults_fixed_seeds(world: World, size: int, seeds: tuple[int, ...]) -> None:
    started = time.monotonic()
    expected = baseline(size, world)
    outcomes = [faults_case(size, expected, seed, world=world) for seed in seeds]
    report(f"faults (CI profile, {world.name})", outcomes, time.monotonic() - started)
    assert [o.seed for o in outcomes if not o.held] == []


@pytest.mark.slow
def test_faults_many_seeds() -> None:
    size = int(os.environ.get("FAULT_SIZE", "20"))
    seeds = range(int(os.environ.get("FAULT_FIRST_SEED", "0")), int(os.environ.get("FAULT_SEEDS", "100")))
    failed: list[str] = []
    for name in os.environ.get("FAULT_WORLDS", "fortnox,vismanet").split(","):
        world = WORLDS[name]
        started = time.monotonic()
        expected = baseline(size, world)
        outcomes = [faults_case(size, expected, seed, world=world) for seed in seeds]
        report(f"faults (long, {world.name}, {size} organisations)", outcomes, time.monotonic() - started)
        failed += [f"{world.name} seed {o.seed}" for o in outcomes if not o.held]
    assert failed == []
