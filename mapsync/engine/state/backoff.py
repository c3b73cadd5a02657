"""Retry timing for quarantined records: a pure, capped exponential backoff.

Owns only arithmetic; the store calls it with the new attempt count and adds the delay to its clock.
"""

from __future__ import annotations

from datetime import timedelta

BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=6)


def retry_delay(attempts: int, *, base: timedelta = BASE_DELAY, cap: timedelta = MAX_DELAY) -> timedelta:
    """The wait before the next retry after ``attempts`` failures: base, 2*base, 4*base ... at most cap.

    With the defaults: 1 min, 2, 4, 8, 16, 32, 64, 128, 256 min, then 6 h from the 10th failure on.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    if base <= timedelta(0) or cap < base:
        raise ValueError(f"need 0 < base <= cap, got base={base}, cap={cap}")
    delay = base
    for _ in range(attempts - 1):
        if delay >= cap:
            break
        delay *= 2
    return min(delay, cap)
