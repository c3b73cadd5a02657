"""Helpers shared by the commands: the ``--state`` and ``--tenant`` options, opening the state store,
loading rule sets.

A pass and its connectors are wired in one place, ``mapsync.engine.composition``; the commands give it
their process environment.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mapsync.engine.diagnostics import Severity, render
from mapsync.engine.ruleset import LoadResult, RuleSet, UsageError, load_ruleset
from mapsync.engine.state import DEFAULT_TENANT, StateError, StateStore, is_postgres_url, open_state_store

DEFAULT_STATE = ".mapsync/state.sqlite"


def add_state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state", default=os.environ.get("MAPSYNC_STATE", DEFAULT_STATE),
        help=f"state store: a SQLite file or a postgresql:// URL; default $MAPSYNC_STATE or {DEFAULT_STATE}")
    parser.add_argument(
        "--tenant", default=os.environ.get("MAPSYNC_TENANT", DEFAULT_TENANT),
        help=f"the tenant whose state to use in a PostgreSQL state store; default $MAPSYNC_TENANT or "
             f"{DEFAULT_TENANT}")


def state_exists(state: str) -> bool:
    """Whether the state store is there: a SQLite file that exists, or any PostgreSQL URL (the database is
    the operator's; a tenant with no rows in it is a new store, as an unused file is)."""
    return is_postgres_url(state) or Path(state).exists()


def open_store(state: str, *, tenant: str = DEFAULT_TENANT, create: bool = True) -> StateStore:
    """The state store; with ``create=False`` a missing SQLite file gives an empty in-memory store (plan).

    A tenant other than the default needs a PostgreSQL store: a SQLite file does not know its tenant, so
    two tenants given the same ``--state`` file would share its links."""
    if not is_postgres_url(state):
        if tenant != DEFAULT_TENANT:
            raise StateError(
                f"tenant {tenant!r} needs a PostgreSQL state store (--state postgresql://...); the SQLite file "
                f"{state} is one tenant's state: give each tenant its own file and leave --tenant unset")
        if not create and not Path(state).exists():
            return open_state_store(":memory:")
        Path(state).parent.mkdir(parents=True, exist_ok=True)
    return open_state_store(state, tenant=tenant)


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback, exit code 1."""


def load_offline(command: str, folder: str, what: str, *, quiet: tuple[str, ...] = ()) -> LoadResult | int:
    """A rule set for a command that never connects (render, doc): the load result, or the exit code after
    the problems were printed to stderr (2 not a rule set folder, 1 the rule set has errors). Warnings (an
    unset environment variable) are printed and do not stop the command; warnings with a code in ``quiet``
    are left out (``mapsync test`` never connects, so unset connection variables do not concern it)."""
    try:
        result = load_ruleset(folder, os.environ)
    except UsageError as exc:
        print(f"mapsync {command}: {exc}", file=sys.stderr)
        return 2
    shown = [d for d in result.diagnostics if d.severity is Severity.ERROR or d.code not in quiet]
    if shown:
        sys.stderr.write(render("text", shown, result.files))
    if not result.ok or result.ruleset is None or result.compilation is None:
        errors = sum(1 for d in result.diagnostics if d.severity is Severity.ERROR)
        print(f"mapsync {command}: rule set {folder} has {errors} error(s); nothing {what}", file=sys.stderr)
        return 1
    return result


def load_for_pass(folder: str) -> RuleSet:
    """Load a rule set for ``plan``/``run``; unset environment variables are errors here."""
    try:
        result = load_ruleset(folder, os.environ, for_run=True)
    except UsageError as exc:
        raise CommandError(str(exc)) from exc
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    if errors or result.ruleset is None:
        sys.stderr.write(render("text", result.diagnostics, result.files))
        raise CommandError(f"rule set {folder} has {len(errors)} error(s); nothing was run")
    return result.ruleset


