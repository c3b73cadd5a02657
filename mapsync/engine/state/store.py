"""The state store interface: what the engine may ask of durable sync state.

This module owns the vocabulary of the state store: the ``StateStore`` Protocol the engine programs
against, the frozen dataclasses it returns, and the errors it raises. It holds no storage code: the
implementations are ``mapsync.engine.state.sqlite`` (one file per rule set) and
``mapsync.engine.state.postgres`` (many tenants in one database), and both pass the same tests.

Contracts every implementation keeps:

- ids and mapping names are strings; timestamps are timezone-aware UTC ``datetime`` objects;
- JSON payloads (bases, match keys, audit values, run summaries) are decoded afresh on every read, so
  mutating a returned dict never changes the store;
- every write method can run inside ``transaction()``; outside one, each write commits by itself;
- the lease methods commit at once and refuse to run inside ``transaction()`` (a lease held back in an
  uncommitted transaction would protect nothing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Literal, Protocol, Self, get_args, runtime_checkable

Side = Literal["crm", "erp"]
ErrorClass = Literal["transient", "rejected", "rule"]
RunStatus = Literal["running", "ok", "quarantined", "fatal"]
AuditAction = Literal["create", "update", "link"]

DEFAULT_TENANT = "default"  # the tenant of a store opened without one

SIDES: tuple[Side, ...] = get_args(Side)
ERROR_CLASSES: tuple[ErrorClass, ...] = get_args(ErrorClass)
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
INTERRUPTED = "interrupted: the process ended before the run finished (killed, or its machine stopped)"
AUDIT_ACTIONS: tuple[AuditAction, ...] = get_args(AuditAction)


class StateError(Exception):
    """Base of every error the state store raises. Messages never contain secret values."""


class SchemaVersionError(StateError):
    """The database was written by a newer mapsync than this one, or is not a mapsync state store."""


class StateLockedError(StateError):
    """Another process holds the state store's write lock for longer than mapsync waits for it."""


class LinkConflictError(StateError):
    """A link would give a crm id or an erp id a second partner within one mapping."""


class UnknownLinkError(StateError):
    """The operation needs a link that does not exist."""


class PendingCreateError(StateError):
    """A create for this source record is already journalled and unresolved: reconcile it first."""


class UnknownRunError(StateError):
    """The run id does not exist."""


TENANT_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # as a tenant's id in the tenants registry


def check_tenant(tenant: str) -> str:
    """A tenant name as every store accepts it: the tenants registry's ids (docs/sync.md, "The state store")."""
    if not isinstance(tenant, str) or not TENANT_PATTERN.fullmatch(tenant):
        raise StateError(f"{tenant!r} is not a tenant name: lower-case letters, digits, - and _, at most 63, "
                         "starting with a letter or digit")
    return tenant


def check_lease(holder: str, ttl: timedelta | None = None) -> None:
    """The arguments of the lease methods, as every implementation accepts them."""
    if not isinstance(holder, str) or not holder.strip():
        raise ValueError(f"a lease holder must be a non-empty string, got {holder!r}")
    if ttl is not None and (not isinstance(ttl, timedelta) or ttl <= timedelta(0)):
        raise ValueError(f"a lease needs a positive timedelta as its time to live, got {ttl!r}")


@dataclass(frozen=True)
class Base:
    """The field values both sides agreed on at the last successful sync of a link (the merge base).

    ``fields`` maps field keys to JSON values. ``lines`` is the base of a nested line collection
    (order rows, invoice rows), or None when the mapping has no line rules or none were synced yet.
    """

    fields: dict[str, Any] = field(default_factory=dict)
    lines: list[dict[str, Any]] | None = None
    held: dict[str, str] = field(default_factory=dict)  # rule key -> why its value was not brought over


@dataclass(frozen=True)
class Link:
    """One stored (crm id, erp id) pair of a mapping, with its base."""

    mapping: str
    crm_id: str
    erp_id: str
    base: Base
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PendingCreate:
    """A create that was journalled before it was sent and not yet resolved.

    ``target`` is the side the record was (maybe) created in; ``source_id`` is the id of the record on
    the other side; ``match_keys`` are the key values to look the created record up by.
    """

    id: int
    mapping: str
    target: Side
    source_id: str
    match_keys: dict[str, Any]
    run_id: int
    created_at: datetime


@dataclass(frozen=True)
class QuarantineEntry:
    """A record that failed, kept for retry and for ``status``. ``side`` is the side of ``record_id``."""

    mapping: str
    side: Side
    record_id: str
    error_class: ErrorClass
    reason: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    next_retry_at: datetime
    run_id: int
    fingerprint: str | None = None  # of the record as it failed: an unchanged re-read waits for the retry


@dataclass(frozen=True)
class Run:
    """One sync pass. ``finished_at`` is None while it is running (or if the process died)."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    summary: dict[str, Any]


@dataclass(frozen=True)
class AuditEntry:
    """One write the engine made. ``field``/``rule`` are None for whole-record actions such as links."""

    id: int
    run_id: int
    mapping: str
    target: Side
    record_id: str
    action: AuditAction
    field: str | None
    old: Any
    new: Any
    rule: str | None
    at: datetime


@dataclass(frozen=True)
class MappingSummary:
    """What ``mapsync status`` shows for one mapping."""

    name: str
    links: int
    cursors: dict[Side, str]
    quarantined: int
    quarantined_by_class: dict[ErrorClass, int]
    pending_creates: int
    held: int = 0  # links with fields held back


@dataclass(frozen=True)
class StoreSummary:
    """Everything ``mapsync status`` reads from the state store, mappings sorted by name."""

    mappings: tuple[MappingSummary, ...]
    last_run: Run | None


@runtime_checkable
class StateStore(Protocol):
    """Durable sync state, as the engine uses it."""

    # transactions and lifetime
    def transaction(self) -> AbstractContextManager[None]:
        """Group writes: all commit at the end of the outermost block, or none on an exception.

        A nested block whose exception is caught by the enclosing block undoes only its own writes.
        """
        ...

    def scratch_copy(self, *, history: bool = False) -> StateStore:
        """A throwaway copy with the same contents, for planning: writes to it never reach this store.
        Without ``history`` the copy leaves out what only grows with every pass and no pass reads: the audit,
        and the runs but the last, those still running and those a journalled create or a quarantined record
        names (``sqlite.HISTORY_FREE_RUNS``); so a plan costs the same on a tenant with years of passes."""
        ...

    def close(self) -> None:
        """Release the connection. The store is unusable afterwards."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the store."""
        ...

    # links and bases
    def link(self, mapping: str, crm_id: str, erp_id: str, base: Base | None = None) -> Link:
        """Store a link (idempotent for the same pair); ``base`` replaces the stored base if given.

        Raises ``LinkConflictError`` if either id is already linked to another record in ``mapping``.
        """
        ...

    def unlink(self, mapping: str, crm_id: str) -> bool:
        """Delete the link of ``crm_id`` with its base; False if there was none."""
        ...

    def link_by_crm(self, mapping: str, crm_id: str) -> Link | None: ...

    def link_by_erp(self, mapping: str, erp_id: str) -> Link | None: ...

    def links_of(self, mapping: str, side: Side, ids: Sequence[str]) -> dict[str, Link]:
        """The links (with their bases) of the records ``ids`` of ``side``, by id, in one read: a pass looks up a
        page of records at a time. Ids with no link are absent."""
        ...

    def links(self, mapping: str) -> list[Link]:
        """Every link of ``mapping``, ordered by crm id."""
        ...

    def count_links(self, mapping: str) -> int: ...

    def get_base(self, mapping: str, crm_id: str) -> Base | None:
        """The base of the link of ``crm_id``, or None if there is no such link."""
        ...

    def set_base(self, mapping: str, crm_id: str, base: Base) -> None:
        """Replace the base of an existing link; ``UnknownLinkError`` if there is none."""
        ...

    # cursors
    def get_cursor(self, mapping: str, side: Side) -> str | None: ...

    def set_cursor(self, mapping: str, side: Side, value: str) -> None: ...

    # create journal
    def journal_create(
        self, mapping: str, target: Side, source_id: str, match_keys: Mapping[str, Any], run_id: int
    ) -> int:
        """Record that a create is about to be sent; returns the journal id.

        Raises ``PendingCreateError`` if an unresolved create for the same source record exists.
        """
        ...

    def resolve_create(self, journal_id: int) -> bool:
        """Drop a journal entry once the link is stored (or the create surely failed)."""
        ...

    def pending_creates(self, mapping: str) -> list[PendingCreate]: ...

    # quarantine
    def quarantine(
        self, mapping: str, side: Side, record_id: str, error_class: ErrorClass, reason: str, run_id: int,
        fingerprint: str | None = None,
    ) -> QuarantineEntry:
        """Insert or update an entry: attempts + 1, next retry after a capped exponential backoff."""
        ...

    def release(self, mapping: str, side: Side, record_id: str) -> bool:
        """Remove an entry once the record synced; False if it was not quarantined."""
        ...

    def quarantine_entry(self, mapping: str, side: Side, record_id: str) -> QuarantineEntry | None: ...

    def due(self, mapping: str, now: datetime | None = None) -> list[QuarantineEntry]:
        """Entries of ``mapping`` whose next retry time is at or before ``now`` (default: the clock)."""
        ...

    def list_quarantine(self, mapping: str | None = None) -> list[QuarantineEntry]: ...

    def held_links(self, mapping: str | None = None) -> list[Link]:
        """Links whose base holds fields back (``Base.held``), by mapping and crm id."""
        ...

    # runs
    def start_run(self) -> int: ...

    def finish_run(self, run_id: int, status: RunStatus, summary: Mapping[str, Any]) -> Run: ...

    def get_run(self, run_id: int) -> Run | None: ...

    def interrupt_runs(self) -> int:
        """Finish every run still marked ``running`` as ``fatal`` with ``INTERRUPTED`` as its summary's ``fatal``:
        called by a pass that writes, under the lease, so no other pass of the store is running and such a run's
        process is gone (killed, or its machine stopped). Returns how many."""
        ...

    def last_run(self) -> Run | None: ...

    # audit
    def record_audit(
        self,
        *,
        run_id: int,
        mapping: str,
        target: Side,
        record_id: str,
        action: AuditAction,
        field: str | None = None,
        old: Any = None,
        new: Any = None,
        rule: str | None = None,
    ) -> None: ...

    def audit_entries(self, run_id: int | None = None, mapping: str | None = None) -> list[AuditEntry]: ...

    # rotated connector credentials
    def get_secret(self, name: str) -> str | None: ...

    def put_secret(self, name: str, value: str) -> None: ...

    def secret_lock(self, name: str) -> AbstractContextManager[None]:
        """Hold the lock of secret ``name`` for the block (a transaction): the read, refresh and write of a
        rotated OAuth refresh token happen under it, so two processes of one tenant never refresh with the same
        token (Fortnox revokes the integration's token then: decision 0004)."""
        ...

    # status
    def summary(self) -> StoreSummary: ...

    # the lease: at most one pass at a time per store (per tenant on PostgreSQL)
    def acquire_lease(self, holder: str, ttl: timedelta) -> bool:
        """Take the lease for ``ttl`` unless another holder has it and it has not expired.

        True when ``holder`` has the lease now (a holder that already has it gets it extended), False when
        another holder has it. A lease that is not renewed expires, so a holder that died frees it.
        """
        ...

    def renew_lease(self, holder: str, ttl: timedelta) -> bool:
        """Extend the lease to ``ttl`` from now; False if ``holder`` no longer has it (it expired, or
        another holder took it after it expired): the holder must stop, and may try ``acquire_lease``."""
        ...

    def release_lease(self, holder: str) -> bool:
        """Give the lease up; False if ``holder`` did not have it (any more)."""
        ...

    def lease_holder(self) -> str | None:
        """Who holds the lease now (None: nobody, or it expired)."""
        ...
