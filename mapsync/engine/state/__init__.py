"""Durable sync state: links, bases, cursors, the create journal, quarantine, runs, audit, rotated tokens.

The engine programs against the ``StateStore`` Protocol; ``SqliteStateStore`` is the implementation
(one SQLite file per rule set, ``":memory:"`` for tests). Writes that belong to one record outcome go
in one ``store.transaction()`` block, so link, base, cursor and audit become durable together.
"""

from mapsync.engine.state.backoff import BASE_DELAY, MAX_DELAY, retry_delay
from mapsync.engine.state.codec import utc_now
from mapsync.engine.state.migrations import SCHEMA_VERSION
from mapsync.engine.state.sqlite import SqliteStateStore
from mapsync.engine.state.store import (
    AuditAction,
    AuditEntry,
    Base,
    ErrorClass,
    Link,
    LinkConflictError,
    MappingSummary,
    PendingCreate,
    PendingCreateError,
    QuarantineEntry,
    Run,
    RunStatus,
    SchemaVersionError,
    Side,
    StateError,
    StateStore,
    StoreSummary,
    UnknownLinkError,
    UnknownRunError,
)

__all__ = [
    "BASE_DELAY",
    "MAX_DELAY",
    "SCHEMA_VERSION",
    "AuditAction",
    "AuditEntry",
    "Base",
    "ErrorClass",
    "Link",
    "LinkConflictError",
    "MappingSummary",
    "PendingCreate",
    "PendingCreateError",
    "QuarantineEntry",
    "Run",
    "RunStatus",
    "SchemaVersionError",
    "Side",
    "SqliteStateStore",
    "StateError",
    "StateStore",
    "StoreSummary",
    "UnknownLinkError",
    "UnknownRunError",
    "retry_delay",
    "utc_now",
]
