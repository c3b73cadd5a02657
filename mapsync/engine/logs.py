"""Logging: the standard ``logging`` module, with the tenant, mapping and run in every record.

The engine logs through ``logging.getLogger("mapsync....")``; what a record is about comes from context
variables set where it is known (``log_context``: the tenant by the runner, the run id and mapping by the
pass), so every record of a pass carries ``tenant``, ``mapping`` and ``run`` without threading them through
every call, and concurrent passes (threads, tasks) each see their own. ``configure_logging`` installs a
handler on the ``mapsync`` logger: plain text, or one JSON object a line (python-json-logger, a well-kept
formatter) for log collectors.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

FIELDS = ("tenant", "mapping", "run")
_context: dict[str, contextvars.ContextVar[Any]] = {name: contextvars.ContextVar(name, default=None)
                                                    for name in FIELDS}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [tenant=%(tenant)s mapping=%(mapping)s run=%(run)s] %(message)s"


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Within the block, log records carry these values (``tenant``, ``mapping``, ``run``); None leaves a
    value as it is."""
    tokens = [(_context[name], _context[name].set(value)) for name, value in values.items()
              if value is not None]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Adds the context's tenant, mapping and run to every record that passes through."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in FIELDS:
            if not hasattr(record, name):
                setattr(record, name, _context[name].get())
        return True


def configure_logging(level: str = "WARNING", *, json: bool = False, stream: IO[str] | None = None,
                      root: bool = False) -> logging.Handler:
    """A handler on the ``mapsync`` logger (replacing one installed before): text or JSON lines. ``root``: on
    the root logger instead, so that other libraries' records (Celery's, in a worker) share the format;
    mapsync's records reach it through the ``mapsync`` logger, which then keeps no handler of its own."""
    logger = logging.getLogger("" if root else "mapsync")
    for holder in {logging.getLogger("mapsync"), logger}:
        for old in [h for h in holder.handlers if getattr(h, "mapsync_handler", False)]:
            holder.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.mapsync_handler = True  # type: ignore[attr-defined]
    handler.addFilter(ContextFilter())
    if json:
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(tenant)s %(mapping)s "
                                           "%(run)s", rename_fields={"levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    return handler
