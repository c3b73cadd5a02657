"""Argument parsing and dispatch for every ``mapsync`` command.

A command's module is imported only when that command runs (or when the whole parser is needed: ``--help``,
a usage error): ``mapsync validate`` or ``transform`` do not pay for importing the simulators, the Celery app
and the connectors' HTTP clients at every start (about 70% of the start-up).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sqlite3
import sys
from collections.abc import Sequence

from mapsync.engine import __version__
from mapsync.engine.cli.common import CommandError
from mapsync.engine.state import StateError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("init_cmd", ("init",)), ("validate_cmd", ("validate",)), ("render_cmd", ("render",)), ("doc_cmd", ("doc",)),
    ("pass_cmds", ("plan", "run")), ("status_cmd", ("status",)), ("explain_cmd", ("explain",)),
    ("transform_cmd", ("transform",)), ("test_cmd", ("test",)), ("snapshot_cmd", ("snapshot",)),
    ("schema_cmd", ("schema",)), ("serve_cmd", ("serve",)), ("worker_cmd", ("worker", "scheduler")),
    ("sandbox_cmd", ("sandbox",)), ("demo_cmd", ("demo",)),
)
"""Each command module and the commands it registers, in the order ``--help`` lists them."""


def _command(argv: Sequence[str]) -> str | None:
    """The command named in ``argv`` (the first word that is not an option or an option's value)."""
    words = iter(argv)
    for word in words:
        if word == "--log-level":
            next(words, None)
        elif not word.startswith("-"):
            return word if any(word in names for _, names in COMMANDS) else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of the command ``only``."""
    parser = _Parser(prog="mapsync", description="Declarative webCRM <-> ERP sync engine.")
    parser.add_argument("--version", action="version", version=f"mapsync {__version__}")
    parser.add_argument("--log-level", default=os.environ.get("MAPSYNC_LOG_LEVEL"),
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"), type=str.upper,
                        help="log to stderr at this level, each record with tenant, mapping and run "
                             "(default: $MAPSYNC_LOG_LEVEL; no logging when unset)")
    parser.add_argument("--log-json", action="store_true", default=os.environ.get("MAPSYNC_LOG_FORMAT") == "json",
                        help="log records as JSON lines (also: MAPSYNC_LOG_FORMAT=json)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module, names in COMMANDS:
        if only is None or only in names:
            importlib.import_module(f"mapsync.engine.cli.{module}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(_command(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if args.log_level:
        from mapsync.engine.logs import configure_logging  # logging's modules only for a command that logs

        configure_logging(args.log_level, json=args.log_json)
    try:
        code: int = args.handler(args)
    except (StateError, CommandError, OSError) as exc:
        # A state store that is not one, a folder that cannot be written: say so, no traceback.
        print(f"mapsync {args.command}: {exc}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:  # the state file failed under the command (damaged, locked): one line
        print(f"mapsync {args.command}: state store error: {exc}; see `mapsync status`", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
