"""Helpers shared by the commands: the ``--state`` option, opening the state store, loading rule sets.

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
from mapsync.engine.state import SqliteStateStore

DEFAULT_STATE = ".mapsync/state.sqlite"


def add_state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state", default=os.environ.get("MAPSYNC_STATE", DEFAULT_STATE),
        help=f"state store (SQLite file); default $MAPSYNC_STATE or {DEFAULT_STATE}")


def open_store(path: str, *, create: bool = True) -> SqliteStateStore:
    """The state store; with ``create=False`` a missing file gives an empty in-memory store (plan)."""
    if not create and not Path(path).exists():
        return SqliteStateStore(":memory:")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return SqliteStateStore(path)


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


