"""A rate limit shared through Redis: several processes using one credential spend one budget together
(``SharedRateLimiter``, the ``limits`` library's moving window). Skips without Redis, saying so, unless
``MAPSYNC_REQUIRE_SERVICES=1``."""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid

import pytest

from mapsync.connectors.http.shared_ratelimit import SharedRateLimiter

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
