"""``mapsync doc RULESET``: the rule set as Markdown to hand to the customer."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from mapsync.engine.cli.common import add_state_option
from mapsync.engine.diagnostics import Severity, render
from mapsync.engine.ruleset import UsageError, load_ruleset
from mapsync.engine.ruleset.doc import render_doc, switched_off


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "doc", help="write the rule set as Markdown for the customer",
        description="Write the rule set the engine runs (extends, settings, enabled switches and overrides "
                    "applied) as Markdown: its settings, then per mapping in run order the entity pair, "
                    "direction, conditions, match keys, policies and a table of the field rules. Never "
                    "connects. Exit 0 written, 1 the rule set has errors (printed to stderr), 2 not a rule "
                    "set folder.")
    parser.add_argument("ruleset", metavar="RULESET", help="rule set folder")
    parser.add_argument("--output", "-o", metavar="FILE", help="write the Markdown to FILE instead of stdout")
    parser.add_argument("--no-descriptions", action="store_true",
                        help="leave out the field descriptions from the connectors' field catalogues")
    add_state_option(parser)  # accepted by every command (contract); doc does not use it
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        result = load_ruleset(args.ruleset, os.environ)
    except UsageError as exc:
        print(f"mapsync doc: {exc}", file=sys.stderr)
        return 2
    if not result.ok or result.ruleset is None or result.compilation is None:
        sys.stderr.write(render("text", result.diagnostics, result.files))
        errors = sum(1 for d in result.diagnostics if d.severity is Severity.ERROR)
        print(f"mapsync doc: rule set {args.ruleset} has {errors} error(s); nothing written", file=sys.stderr)
        return 1
    if result.diagnostics:  # warnings only (an unset environment variable, say)
        sys.stderr.write(render("text", result.diagnostics, result.files))
    off, mappings_off = switched_off(result.compilation)
    text = render_doc(result.ruleset, off, mappings_off, describe=not args.no_descriptions)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"mapsync doc: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
