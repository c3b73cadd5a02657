"""``mapsync validate PATH...``: schema and semantic checks, every problem at once."""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Any

from mapsync.engine.cli.common import add_state_option
from mapsync.engine.diagnostics import FORMATS, Severity, render
from mapsync.engine.ruleset import UsageError, validate_paths


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "validate", help="check rule sets or rule files",
        description="Check rule set folders or single rule files against the JSON Schema and the field "
                    "catalogues. Exit 0 valid (warnings allowed), 1 problems found, 2 usage error.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="rule set folder or rule file")
    parser.add_argument("--format", choices=sorted(FORMATS), default="text", help="output format")
    add_state_option(parser)  # accepted by every command (contract); validate does not use it
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # The check builds documents, positions and compiled rules that live until it ends; the cyclic garbage
    # collector's passes over them, every few hundred allocations, were a fifth of validate's time and found
    # little to free (a few dozen objects a file). It is off while the check runs, and what the check made is
    # then frozen (gc.freeze: never scanned again, still freed by reference counting) rather than scanned once
    # more when the collector is switched back on: the report is all that is left to do.
    collecting = gc.isenabled()
    gc.disable()
    try:
        diagnostics, files = validate_paths(args.paths)
    except UsageError as exc:
        print(f"mapsync validate: {exc}", file=sys.stderr)
        return 2
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    sys.stdout.write(render(args.format, diagnostics, files))
    return 1 if any(d.severity is Severity.ERROR for d in diagnostics) else 0
