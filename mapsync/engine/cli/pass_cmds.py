"""``mapsync plan`` and ``mapsync run`` (with ``--watch``): one code path, ``plan`` only skips applying.

A run with a new state store is guarded (decision 0006): when the systems already hold records that the
pass would link to each other by their match keys, ``run`` refuses unless ``--first-import`` is given,
since a mistyped or forgotten ``--state`` would otherwise match everything again and overwrite values.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import closing
from typing import Any

from mapsync.connectors.base import FatalError
from mapsync.engine.cli.common import (
    CommandError,
    add_state_option,
    load_for_pass,
    open_store,
    state_exists,
)
from mapsync.engine.composition import MissingEnvironment, rotates_refresh_token, run_pass
from mapsync.engine.ratelimits import LimiterPool, rate_limits_url
from mapsync.engine.ruleset import RuleSet
from mapsync.engine.state import SqliteStateStore, StateStore, describe_state
from mapsync.engine.state.lease import Lease, holder_name
from mapsync.engine.sync.markdown import render_markdown
from mapsync.engine.sync.report import PassReport, render_text

EXIT_OK, EXIT_FATAL, EXIT_QUARANTINED = 0, 1, 3


def parse_interval(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not an interval like 30s, 6m or 1h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


DEFAULT_CONCURRENCY = 4


def _positive(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def register(commands: Any) -> None:
    for name, help_text in (("plan", "show what a pass would do; writes nothing"), ("run", "run a sync pass")):
        parser = commands.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("ruleset", metavar="RULESET", help="rule set folder")
        formats = ("text", "json", "markdown") if name == "plan" else ("text", "json")
        parser.add_argument("--format", choices=formats, default="text",
                            help="markdown: a pull-request comment (summary table, changes per record folded)"
                            if name == "plan" else None)
        add_state_option(parser)
        if name == "run":
            parser.add_argument("--watch", action="store_true", help="repeat passes until interrupted")
            parser.add_argument("--interval", type=parse_interval, default=None,
                                help="time between passes with --watch (default: the rule set's "
                                     "settings.sync_interval, else 6m)")
            parser.add_argument("--force", action="store_true",
                                help="go beyond the rule set's guardrails (a mass update or blanking that would "
                                     "otherwise stop the pass before writing the mapping)")
            parser.add_argument("--concurrency", type=_positive, default=DEFAULT_CONCURRENCY, metavar="N",
                                help="records applied at once, each still committed on its own; the APIs' rate "
                                     f"limits set the pace (default {DEFAULT_CONCURRENCY}; 1: one at a time)")
            parser.add_argument("--first-import", action="store_true",
                                help="allow a new state store although the systems already hold records the "
                                     "pass would link by their match keys (the first import)")
        parser.set_defaults(handler=run_plan if name == "plan" else run_run)


def _progress(mapping: str, done: int, total: int) -> None:
    sys.stderr.write(f"\r{mapping}: {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _is_new(args: argparse.Namespace) -> bool:
    """A state store that does not exist yet, or exists but never recorded a link, cursor, quarantined
    record or create (a first run that stopped on refused credentials, say; a new PostgreSQL tenant)."""
    if not state_exists(args.state):
        return True
    with closing(open_store(args.state, tenant=args.tenant)) as store:
        return not store.summary().mappings


def _pass_with(ruleset: RuleSet, store: StateStore, *, apply: bool, force: bool = False,
               keeper: Callable[[], StateStore] | None = None, concurrency: int = 1) -> PassReport:
    """One pass; a run holds the state store's lease for it (a second run, or ``serve``, on the same store
    is refused up front, not run alongside: docs/deployment.md), renewed on ``keeper()``'s connection."""
    shown = _progress if sys.stderr.isatty() else None
    try:
        shared = rate_limits_url(os.environ)  # MAPSYNC_RATE_LIMITS_URL: budgets counted with serve and workers
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    limiter_for = LimiterPool(shared) if shared else None
    try:
        if not apply:
            return run_pass(ruleset, os.environ, store, apply=False, progress=shown, limiter_for=limiter_for)
        lease = Lease(store, holder_name("run"), threading.Event(), keeper=keeper,
                      one_machine=isinstance(store, SqliteStateStore))
        if not lease.acquire():
            raise CommandError("another pass is running on this state store (it holds the store's lease: a second "
                               "`mapsync run` or `mapsync serve`); nothing was run. Try again when it has finished.")

        def progress(mapping: str, done: int, total: int) -> None:
            lease.progress(mapping, done, total)
            if shown is not None:
                shown(mapping, done, total)

        try:
            return run_pass(ruleset, os.environ, store, apply=True, force=force, progress=progress, stop=lease,
                            concurrency=concurrency, limiter_for=limiter_for)
        finally:
            lease.release()
    except MissingEnvironment as exc:
        raise CommandError(str(exc)) from exc


def would_link(report: PassReport) -> dict[str, int]:
    """Per mapping, how many records the pass would link to an existing record by the match keys (a
    conflicting first contact is reported as a conflict, its reason starting the same way)."""
    counts: dict[str, int] = {}
    for mapping in report.mappings:
        linked = sum(1 for a in mapping.actions
                     if a.action == "link" or a.reason.startswith("matched an existing record"))
        if linked:
            counts[mapping.name] = linked
    return counts


def _guard_new_store(args: argparse.Namespace, ruleset: RuleSet) -> None:
    """Refuse a run with a new state store against systems holding records the pass would link.

    The check is the pass itself as a plan, against an empty in-memory store (or the unused store file):
    it creates nothing and writes nothing. Without links, the run goes ahead (an empty ERP, say).
    """
    exists = state_exists(args.state)
    if not exists and rotates_refresh_token(ruleset, os.environ):
        # Checking would spend the configured refresh token, with no store to keep the rotated one in.
        raise CommandError(
            f"state store {args.state} does not exist, and the connection rotates its OAuth refresh token, "
            "so the systems cannot be checked for records a new store would link; nothing was run.\n"
            "Pass --state PATH to use the existing store, or --first-import if this really is the first import.")
    probe = open_store(args.state, tenant=args.tenant) if exists else SqliteStateStore(":memory:")
    try:
        report = _pass_with(ruleset, probe, apply=False)
    finally:
        probe.close()
    if report.fatal:
        return  # the pass itself reports it (refused credentials, a system that is down)
    linked = would_link(report)
    if not linked:
        return
    what = ", ".join(f"{n} record(s) in mapping {m}" for m, n in linked.items())
    state = f"state store {args.state} does not exist yet" if not exists else (
        f"state store {describe_state(args.state)} has never been used")
    raise CommandError(
        f"{state}, but {what} would be linked to existing records by their match keys and overwritten; "
        "nothing was run.\n"
        "Pass --state PATH to use the existing store, or --first-import if this really is the first import.")


def _one_pass(args: argparse.Namespace, *, apply: bool) -> PassReport:
    ruleset = load_for_pass(args.ruleset)
    if not apply:
        # A plan writes nothing, except a rotated OAuth refresh token (decision 0005): losing it would end
        # the integration, so with a refresh token configured the plan needs the existing state store.
        if not state_exists(args.state):
            if rotates_refresh_token(ruleset, os.environ):
                raise CommandError(
                    f"no state store at {args.state}: the connection rotates its OAuth refresh token and a plan "
                    "has nowhere to keep the new one; pass --state PATH of the existing store")
            print(f"mapsync plan: no state store at {args.state}; planning a first import against an empty "
                  "in-memory store (nothing is written)", file=sys.stderr)
        store = open_store(args.state, tenant=args.tenant, create=False)
        try:
            return _pass_with(ruleset, store, apply=False)
        finally:
            store.close()
    if not getattr(args, "first_import", False) and _is_new(args):
        _guard_new_store(args, ruleset)
    store = open_store(args.state, tenant=args.tenant)
    try:
        return _pass_with(ruleset, store, apply=True, force=getattr(args, "force", False),
                          concurrency=getattr(args, "concurrency", DEFAULT_CONCURRENCY),
                          keeper=lambda: open_store(args.state, tenant=args.tenant))
    finally:
        store.close()


def _emit(report: PassReport, fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, default=str) + "\n")
    elif fmt == "markdown":
        sys.stdout.write(render_markdown(report))
    else:
        sys.stdout.write(render_text(report))
    sys.stdout.flush()


def _exit_code(report: PassReport) -> int:
    if report.fatal:
        return EXIT_FATAL
    partial = report.total("quarantined") or report.failed_mappings
    return EXIT_QUARANTINED if report.applied and partial else EXIT_OK


def run_plan(args: argparse.Namespace) -> int:
    try:
        report = _one_pass(args, apply=False)
    except (CommandError, FatalError) as exc:
        print(f"mapsync plan: {exc}", file=sys.stderr)
        return EXIT_FATAL
    _emit(report, args.format)
    return EXIT_FATAL if report.fatal else EXIT_OK


def run_run(args: argparse.Namespace) -> int:
    stop = threading.Event()
    if args.watch:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    code = EXIT_OK
    while True:
        try:
            report = _one_pass(args, apply=True)
        except (CommandError, FatalError) as exc:
            print(f"mapsync run: {exc}", file=sys.stderr)
            return EXIT_FATAL
        _emit(report, args.format)
        code = _exit_code(report)
        if not args.watch or report.fatal:
            return code
        interval = args.interval
        if interval is None:
            ruleset = load_for_pass(args.ruleset)
            interval = parse_interval(str(ruleset.settings.get("sync_interval", "6m")))
        if stop.wait(interval):
            return code
