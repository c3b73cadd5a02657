"""Records applied several at a time (``mapsync.engine.sync.pipeline``): results in order, a bounded number
in flight, a stop or a failure lets the records in flight finish and be reported."""

from __future__ import annotations

import contextvars
import random
import threading
import time

import pytest

from mapsync.engine.sync.pipeline import apply_in_order

TAG: contextvars.ContextVar[str] = contextvars.ContextVar("tag", default="none")


class Probe:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def apply(self, item: int) -> int:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(random.uniform(0.001, 0.02))
        with self.lock:
            self.running -= 1
        if item == 13:
            raise RuntimeError("record 13 failed")
        return item * 10


@pytest.mark.parametrize("concurrency", [1, 2, 4, 8])
def test_results_arrive_in_order_with_at_most_concurrency_in_flight(concurrency: int) -> None:
    probe, results = Probe(), []
    apply_in_order(list(range(12)), probe.apply, concurrency=concurrency, before=lambda i: None, done=results.append)
    assert results == [i * 10 for i in range(12)]
    assert probe.most <= concurrency
    if concurrency > 1:
        assert probe.most > 1


def test_a_stop_lets_the_records_in_flight_finish_and_be_reported() -> None:
    probe, results = Probe(), []

    def before(index: int) -> None:
        if index == 6:
            raise KeyboardInterrupt("stop")

    with pytest.raises(KeyboardInterrupt):
        apply_in_order(list(range(12)), probe.apply, concurrency=4, before=before, done=results.append)
    assert results == [i * 10 for i in range(6)]  # every record started was reported, none after the stop


def test_a_failure_is_raised_after_the_others_in_flight_are_reported() -> None:
    probe, results = Probe(), []
    with pytest.raises(RuntimeError, match="record 13"):
        apply_in_order(list(range(20)), probe.apply, concurrency=4, before=lambda i: None, done=results.append)
    assert results[:13] == [i * 10 for i in range(13)]
    assert 130 not in results
    assert probe.running == 0  # nothing left running behind the caller's back


def test_the_log_context_goes_along_to_the_threads() -> None:
    TAG.set("tenant-a")
    seen: list[str] = []
    apply_in_order([1, 2, 3], lambda item: TAG.get(), concurrency=3, before=lambda i: None, done=seen.append)
    assert seen == ["tenant-a"] * 3
