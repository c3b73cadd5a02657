"""Argument parsing and dispatch for every ``mapsync`` command."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Sequence

from mapsync.engine import __version__
from mapsync.engine.cli import (
    demo_cmd,
    doc_cmd,
    explain_cmd,
    init_cmd,
    pass_cmds,
    render_cmd,
    sandbox_cmd,
    schema_cmd,
    serve_cmd,
    snapshot_cmd,
    status_cmd,
    test_cmd,
    transform_cmd,
    validate_cmd,
    worker_cmd,
)
from mapsync.engine.cli.common import CommandError
from mapsync.engine.logs import configure_logging
from mapsync.engine.state import StateError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mapsync", description="Declarative webCRM <-> ERP sync engine.")
    parser.add_argument("--version", action="version", version=f"mapsync {__version__}")
    parser.add_argument("--log-level", default=os.environ.get("MAPSYNC_LOG_LEVEL"),
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"), type=str.upper,
                        help="log to stderr at this level, each record with tenant, mapping and run "
                             "(default: $MAPSYNC_LOG_LEVEL; no logging when unset)")
    parser.add_argument("--log-json", action="store_true", default=os.environ.get("MAPSYNC_LOG_FORMAT") == "json",
                        help="log records as JSON lines (also: MAPSYNC_LOG_FORMAT=json)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    init_cmd.register(commands)
    validate_cmd.register(commands)
    render_cmd.register(commands)
    doc_cmd.register(commands)
    pass_cmds.register(commands)
    status_cmd.register(commands)
    explain_cmd.register(commands)
    transform_cmd.register(commands)
    test_cmd.register(commands)
    snapshot_cmd.register(commands)
    schema_cmd.register(commands)
    serve_cmd.register(commands)
    worker_cmd.register(commands)
    sandbox_cmd.register(commands)
    demo_cmd.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.log_level:
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
