"""Crash points: kill the process with SIGKILL at a named point of a pass, to prove a pass survives a crash
anywhere (tests/reliability/test_crash_anywhere.py, docs/reliability.md).

``MAPSYNC_CRASH_AT=<point>:<n>`` kills the process the ``n``-th time ``reached(point)`` is called (``n``
defaults to 1). The variable is read once, at import; unset, ``reached`` returns at once. The points a pass
passes through are listed in ``POINTS``; a point of a request names the system and the method
(``request:fortnox:POST``). ``MAPSYNC_CRASH_LOG=<file>`` appends every point reached to the file, one a line,
so a test can count the points an uninterrupted pass passes through. A plan runs the same code, so it passes
the same points (against dry-run connectors): set the variable for runs only.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "request:<system>:<METHOD>",  # after any answered API request (the shared HTTP client)
    "create:before-link",  # the target created the record; nothing written back, no link stored
    "create:after-write-back",  # what the target assigned was written back to the source; no link stored
    "record:in-transaction",  # inside the per-record state-store transaction, before it commits
    "record:committed",  # the record's transaction committed
    "lines:applied",  # a line collection written (webCRM quotation lines), before the record's commit
    "cursor:committed",  # one cursor of a mapping stored, the mapping's other cursor not yet
    "reconcile:linked",  # a reconciled create linked, before the reconciliation's transaction commits
)


def _target(spec: str | None) -> tuple[str, int] | None:
    if not spec:
        return None
    point, _, count = spec.rpartition(":")
    if point and count.isdigit():
        return point, max(int(count), 1)
    return spec, 1


_TARGET = _target(os.environ.get("MAPSYNC_CRASH_AT"))
_LOG = os.environ.get("MAPSYNC_CRASH_LOG") or None
ARMED = _TARGET is not None or _LOG is not None  # callers that must build a point's name check this first
_seen: dict[str, int] = {}


def reached(point: str) -> None:
    """Called at a crash point; kills the process when it is the one ``MAPSYNC_CRASH_AT`` names."""
    if not ARMED:
        return
    if _LOG is not None:
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(point + "\n")
    if _TARGET is None or _TARGET[0] != point:
        return
    _seen[point] = _seen.get(point, 0) + 1
    if _seen[point] == _TARGET[1]:
        os.kill(os.getpid(), signal.SIGKILL)
