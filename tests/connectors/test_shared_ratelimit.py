"""A rate limit shared through Redis: several processes using one credential spend one budget together
(``SharedRateLimiter``, the ``limits`` library's moving window). Skips without Redis, saying so, unless
``MAPSYNC_REQUIRE_SERVICES=1``."""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
import uuid

import pytest

from mapsync.connectors.http.shared_ratelimit import SharedRateLimiter
from tests.redis_server import RedisServer

REDIS = os.environ.get("MAPSYNC_TEST_REDIS", "redis://127.0.0.1:6379/14")


def _require_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        message = f"Redis at {REDIS} is not reachable ({exc})"
        if os.environ.get("MAPSYNC_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message}, and MAPSYNC_REQUIRE_SERVICES=1 requires it", pytrace=False)
        pytest.skip(message)


def _spend(key: str, count: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    limiter = SharedRateLimiter(REDIS, key, 4, 1.0, margin=0.0)
    for _ in range(count):
        with limiter.slot():
            out.put(time.time())


def test_processes_share_one_budget() -> None:
    _require_redis()
    key = f"test:{uuid.uuid4()}"
    out: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()  # type: ignore[type-arg]
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_spend, args=(key, 4, out)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    stamps = sorted(out.get(timeout=5) for _ in range(8))
    # 8 requests at 4 a second between two processes: never more than 4 within any second (the stamps are
    # taken just after each slot is granted, a few milliseconds late each: 0.9 s, not 1.0)
    for index in range(len(stamps) - 4):
        assert stamps[index + 4] - stamps[index] >= 0.9, stamps
    assert stamps[-1] - stamps[0] >= 0.9


def test_a_limiter_waits_and_counts() -> None:
    _require_redis()
    key = f"test:{uuid.uuid4()}"
    sleeps: list[float] = []
    one = SharedRateLimiter(REDIS, key, 2, 1.0, margin=0.0, sleep=lambda s: (sleeps.append(s), time.sleep(s)))
    two = SharedRateLimiter(REDIS, key, 2, 1.0, margin=0.0)
    with one.slot():
        pass
    with two.slot():
        pass
    assert one.in_window() == 2
    with one.slot():  # the third within the second waits for the window
        pass
    assert sleeps and one.total_wait > 0


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        SharedRateLimiter("memory://", "k", 0, 1.0)


def test_an_unreachable_counter_never_fails_a_request_and_is_used_again_when_back(
        redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    """Redis stopped (a broker restart, a partition): requests go on, counted in the process with the same
    limit; once Redis answers again (asked again after ``retry_after``), the shared window is used."""
    key = f"test:{uuid.uuid4()}"
    limiter = SharedRateLimiter(redis_server.url, key, 3, 0.5, margin=0.0, timeout=0.5, retry_after=0.2)
    with limiter.slot():
        pass
    assert limiter.in_window() == 1
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="mapsync.ratelimit"):
        started = time.monotonic()
        for _ in range(4):  # the fourth waits for the local window of 3 per 0.5 s
            with limiter.slot():
                pass
        assert 0.4 <= time.monotonic() - started < 5
        assert limiter.acquire() is False  # still known unreachable: at once, no wait for a timeout
        assert [r.message for r in caplog.records].count(
            next(r.message for r in caplog.records if "unreachable" in r.message)) == 1  # said once
        redis_server.start()
        time.sleep(0.3)  # past retry_after
        assert limiter.acquire() is True
        assert any("reachable again" in r.message for r in caplog.records)
    assert limiter.in_window() >= 1
