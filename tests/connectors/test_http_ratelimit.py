"""Client-side sliding-window rate limiter."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapsync.connectors.http import SlidingWindowRateLimiter
from tests.connectors.conftest import FakeClock


def test_allows_burst_up_to_limit_without_waiting(fake_clock) -> None:
    limiter = SlidingWindowRateLimiter(5, 1.0, clock=fake_clock, sleep=fake_clock.sleep)
    for _ in range(5):
        with limiter.slot():
            pass
    assert fake_clock.sleeps == []
    assert limiter.in_window() == 5


def test_sixth_request_waits_until_oldest_leaves_window(fake_clock) -> None:
    limiter = SlidingWindowRateLimiter(5, 1.0, clock=fake_clock, sleep=fake_clock.sleep)
    start = fake_clock.now
    for _ in range(5):
        with limiter.slot():
            fake_clock.now += 0.1
    with limiter.slot():
        pass
    # first request completed at start+0.1, so the sixth may go at start+1.1
    assert fake_clock.now == pytest.approx(start + 1.1)


def test_any_window_holds_at_most_n_completions(fake_clock) -> None:
    limiter = SlidingWindowRateLimiter(10, 1.0, clock=fake_clock, sleep=fake_clock.sleep)
    sent: list[float] = []
    for _ in range(60):
        with limiter.slot():
            sent.append(fake_clock.now)
            fake_clock.now += 0.003
    for i in range(len(sent) - 10):
        assert sent[i + 10] - sent[i] >= 1.0


def test_in_flight_slots_count_and_do_not_expire(fake_clock) -> None:
    limiter = SlidingWindowRateLimiter(2, 1.0, clock=fake_clock, sleep=fake_clock.sleep)
    a = limiter.acquire()
    b = limiter.acquire()
    fake_clock.now += 10
    assert limiter.in_window() == 2
    limiter.release(a)
    limiter.release(b)
    fake_clock.now += 1.01
    assert limiter.in_window() == 0


def test_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        SlidingWindowRateLimiter(0, 1.0)
    with pytest.raises(ValueError):
        SlidingWindowRateLimiter(1, 0)


def test_thread_safe_under_real_clock() -> None:
    limiter = SlidingWindowRateLimiter(20, 0.2)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            with limiter.slot(), lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert len(stamps) == 40
    for i in range(len(stamps) - 20):
        assert stamps[i + 20] - stamps[i] >= 0.2 - 0.005


@settings(max_examples=150, deadline=None)
@given(
    durations=st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=1, max_size=80),
    limit=st.integers(min_value=1, max_value=10),
    window=st.floats(min_value=0.05, max_value=2.0),
)
def test_server_never_sees_more_than_limit_per_window(durations: list[float], limit: int, window: float) -> None:
    """Whatever the latencies, requests sent through the limiter never exceed ``limit`` per window."""
    clock = FakeClock()
    limiter = SlidingWindowRateLimiter(limit, window, clock=clock, sleep=clock.sleep)
    sent: list[float] = []
    for duration in durations:
        with limiter.slot():
            sent.append(clock.now)  # the server sees the request at or after this moment
            clock.now += duration
    for i in range(len(sent) - limit):
        assert sent[i + limit] - sent[i] >= window - 1e-9
