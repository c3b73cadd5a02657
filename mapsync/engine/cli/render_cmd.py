"""``mapsync render RULESET``: the effective rule set, every value with the file and line it came from."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mapsync.engine.cli.common import add_state_option, load_offline
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
    result = load_offline("render", args.ruleset, "rendered")
    if isinstance(result, int):
        return result
    assert result.ruleset is not None and result.compilation is not None
    tree = render_tree(result.ruleset, result.compilation)
    if args.format == "json":
        sys.stdout.write(json.dumps(tree, ensure_ascii=False, default=str) + "\n")
    else:
        sys.stdout.write(to_yaml(tree))
    return 0
