"""``mapsync plan`` and ``mapsync run`` (with ``--watch``): one code path, ``plan`` only skips applying."""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
from typing import Any

from connectors.base import FatalError
from engine.cli.common import CommandError, add_state_option, connect, load_for_pass, open_store
from engine.connections import MissingEnvironment
from engine.ruleset import Side
from engine.sync.passrun import SyncPass
from engine.sync.report import PassReport, render_text

EXIT_OK, EXIT_FATAL, EXIT_QUARANTINED = 0, 1, 3


def parse_interval(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not an interval like 30s, 6m or 1h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def register(commands: Any) -> None:
    for name, help_text in (("plan", "show what a pass would do; writes nothing"), ("run", "run a sync pass")):
        parser = commands.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("ruleset", metavar="RULESET", help="rule set folder")
        parser.add_argument("--format", choices=("text", "json"), default="text")
        add_state_option(parser)
        if name == "run":
            parser.add_argument("--watch", action="store_true", help="repeat passes until interrupted")
            parser.add_argument("--interval", type=parse_interval, default=None,
                                help="time between passes with --watch (default: the rule set's "
                                     "settings.sync_interval, else 6m)")
        parser.set_defaults(handler=run_plan if name == "plan" else run_run)


def _progress(mapping: str, done: int, total: int) -> None:
    sys.stderr.write(f"\r{mapping}: {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _one_pass(args: argparse.Namespace, *, apply: bool) -> PassReport:
    ruleset = load_for_pass(args.ruleset)
    # A plan writes nothing, except a rotated OAuth refresh token (decision 0005): losing it would end
    # the integration, so with a refresh token configured the state store is opened even for a plan.
    rotates = any("refresh_token" in ruleset.system(side).connection for side in Side)
    store = open_store(args.state, create=apply or rotates)
    try:
        connectors, catalogues = connect(ruleset, store)
        try:
            progress = _progress if sys.stderr.isatty() else None
            return SyncPass(ruleset, connectors, catalogues, store, apply=apply, progress=progress).run()
        finally:
            for connector in connectors.values():
                connector.close()
    except MissingEnvironment as exc:
        raise CommandError(str(exc)) from exc
    finally:
        store.close()


def _emit(report: PassReport, fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, default=str) + "\n")
    else:
        sys.stdout.write(render_text(report))
    sys.stdout.flush()


def _exit_code(report: PassReport) -> int:
    if report.fatal:
        return EXIT_FATAL
    return EXIT_QUARANTINED if report.applied and report.total("quarantined") else EXIT_OK


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
