"""Which state store a ``--state`` value names, and opening it: a ``postgresql://`` URL or a SQLite path.

Owns the rule that tells the backends apart; the CLI's ``--state`` and ``--tenant`` (``MAPSYNC_STATE``,
``MAPSYNC_TENANT``) and the tenants registry's ``state`` come here. psycopg is imported only when a
PostgreSQL store is opened.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from mapsync.engine.state.codec import utc_now
from mapsync.engine.state.sqlite import SqliteStateStore
from mapsync.engine.state.store import DEFAULT_TENANT, check_tenant

if TYPE_CHECKING:
    from mapsync.engine.state.store import StateStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(state: str | os.PathLike[str]) -> bool:
    """True for a PostgreSQL connection URL (``postgresql://`` or ``postgres://``); anything else is a path."""
    return isinstance(state, str) and state.lower().startswith(POSTGRES_SCHEMES)


def describe_state(state: str | os.PathLike[str]) -> str:
    """The store for messages: a path as given, a URL without its password or options."""
    if is_postgres_url(state):
        from mapsync.engine.state.postgres import describe_dsn

        return describe_dsn(str(state))
    return os.fspath(state)


def open_state_store(
    state: str | os.PathLike[str], *, tenant: str = DEFAULT_TENANT, now: Callable[[], datetime] = utc_now
) -> StateStore:
    """Open the state store ``state`` names, for ``tenant``.

    A ``postgresql://`` URL opens (and migrates) the PostgreSQL store, keyed by ``tenant``. Anything else is
    the path of a SQLite file, which is one tenant's state: nothing in it names the tenant, so each tenant
    needs a file of its own (the tenants registry's default is ``state/{id}.sqlite``).
    """
    check_tenant(tenant)
    if is_postgres_url(state):
        from mapsync.engine.state.postgres import PostgresStateStore

        return PostgresStateStore(str(state), tenant=tenant, now=now)
    return SqliteStateStore(state, now=now)
