"""``mapsync doc RULESET``: the rule set as Markdown to hand to the customer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mapsync.engine.cli.common import add_state_option, load_offline
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
    result = load_offline("doc", args.ruleset, "written")
    if isinstance(result, int):
        return result
    assert result.ruleset is not None and result.compilation is not None
    off, mappings_off = switched_off(result.compilation)
    text = render_doc(result.ruleset, off, mappings_off, describe=not args.no_descriptions)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"mapsync doc: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
