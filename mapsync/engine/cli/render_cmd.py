"""``mapsync render RULESET``: the effective rule set, every value with the file and line it came from."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from mapsync.engine.cli.common import add_state_option
from mapsync.engine.diagnostics import Severity, render
from mapsync.engine.ruleset import UsageError, load_ruleset
from mapsync.engine.ruleset.render import render_tree, to_yaml


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "render", help="print the effective rule set with where each value came from",
        description="Print the rule set the engine runs, after extends, settings, ${settings.x} field names, "
                    "enabled switches and overrides, each value annotated with the file, line and column it "
                    "came from. Connection settings are shown as written (${env:NAME} is never resolved). "
                    "Exit 0 rendered, 1 the rule set has errors (printed to stderr), 2 not a rule set folder.")
    parser.add_argument("ruleset", metavar="RULESET", help="rule set folder")
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml",
                        help="yaml: values with `# from file:line:column` comments; json: the annotated tree")
    add_state_option(parser)  # accepted by every command (contract); render does not use it
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        result = load_ruleset(args.ruleset, os.environ)
    except UsageError as exc:
        print(f"mapsync render: {exc}", file=sys.stderr)
        return 2
    if not result.ok or result.ruleset is None or result.compilation is None:
        sys.stderr.write(render("text", result.diagnostics, result.files))
        errors = sum(1 for d in result.diagnostics if d.severity is Severity.ERROR)
        print(f"mapsync render: rule set {args.ruleset} has {errors} error(s); nothing rendered", file=sys.stderr)
        return 1
    if result.diagnostics:  # warnings only (an unset environment variable, say)
        sys.stderr.write(render("text", result.diagnostics, result.files))
    tree = render_tree(result.ruleset, result.compilation)
    if args.format == "json":
        sys.stdout.write(json.dumps(tree, ensure_ascii=False, default=str) + "\n")
    else:
        sys.stdout.write(to_yaml(tree))
    return 0
