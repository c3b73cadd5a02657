"""Applying a mapping's decided records several at a time, results in order.

The APIs answer in 100-300 ms and each system has its own rate limit; applied one at a time, a pass spends the
webCRM and the ERP budgets in turn (a create in Fortnox, then its write-back to webCRM) and waits out every
answer. Up to ``concurrency`` records are in flight at once, each still written, then committed in one
transaction of its own (the store is shared through ``mapsync.engine.state.serial.SerialStore``); the
clients' rate limiters pace the requests, so the binding limit is what sets the pace.

What stays as it was: the records are decided first, one by one, in order (reads and matching; the plan),
and only then applied; their actions reach the report in the order they were decided; ``before`` runs for
each record in order on the calling thread (the stop signal, progress and the lease). A stop or a fatal
error lets the records already in flight finish and be reported, then propagates: nothing half-applied
is left behind that the create journal would not recover.
"""

from __future__ import annotations

import contextvars
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def apply_in_order(items: Iterable[T], apply_one: Callable[[T], R], *, concurrency: int,
                   before: Callable[[int], None], done: Callable[[R], None]) -> None:
    """``apply_one`` over ``items`` (a stream: taken one at a time, as they are applied) with at most
    ``concurrency`` in flight; ``done`` gets each result in the order of ``items``. ``before(index)`` runs
    first for each item on this thread and may raise to stop (items in flight still finish and reach
    ``done``)."""
    if concurrency <= 1:
        for index, item in enumerate(items):
            before(index)
            done(apply_one(item))
        return
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mapsync-apply") as pool:
        in_flight: deque[Future[R]] = deque()
        try:
            for index, item in enumerate(items):
                before(index)
                context = contextvars.copy_context()  # the log context (tenant, mapping, run) goes along
                in_flight.append(pool.submit(context.run, apply_one, item))
                while len(in_flight) >= concurrency or (in_flight and in_flight[0].done()):
                    done(in_flight.popleft().result())
        finally:
            failure: BaseException | None = None
            while in_flight:
                try:
                    result = in_flight.popleft().result()
                except BaseException as exc:  # the first failure propagates once the others have finished
                    failure = failure or exc
                else:
                    done(result)  # committed: reported even after another record's failure
            if failure is not None:
                raise failure
