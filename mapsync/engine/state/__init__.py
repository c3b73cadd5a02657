"""Durable sync state: links, bases, cursors, the create journal, quarantine, runs, audit, rotated tokens.

The engine programs against the ``StateStore`` Protocol. Two implementations: ``SqliteStateStore`` (one
SQLite file per rule set, ``":memory:"`` for tests) and ``PostgresStateStore`` in
``mapsync.engine.state.postgres`` (many tenants in one database; imported from there, so that psycopg is
loaded only when it is used). ``open_state_store`` picks one from a ``--state`` value. Writes that belong
to one record outcome go in one ``store.transaction()`` block, so link, base, cursor and audit become
durable together.
"""

from mapsync.engine.state.backoff import BASE_DELAY, MAX_DELAY, retry_delay
from mapsync.engine.state.codec import utc_now
from mapsync.engine.state.migrations import SCHEMA_VERSION
from mapsync.engine.state.sqlite import SqliteStateStore
from mapsync.engine.state.store import (
    DEFAULT_TENANT,
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
from mapsync.engine.state.url import describe_state, is_postgres_url, open_state_store

__all__ = [
    "BASE_DELAY",
    "DEFAULT_TENANT",
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
    "describe_state",
    "is_postgres_url",
    "open_state_store",
    "retry_delay",
    "utc_now",
]
