"""``mapsync test RULESET``: run the rule set's rule tests offline and report failures and coverage.

Exit codes: 0 every test passed, 1 a test failed, a test file has a problem, no test was found or the rule set
has errors, 2 usage (not a rule set folder, a test file that does not exist). docs/testing.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mapsync.engine.cli.common import add_state_option, load_offline
from mapsync.engine.ruletest import run_suite
from mapsync.engine.ruletest.report import FORMATS, summary

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "test", help="run the rule tests (*.test.yaml) of a rule set, offline, with coverage",
        description="Run rule tests: given records (and optionally the other side's record and the last agreed "
                    "base), check the record plan the pass makes (action, field changes per side, mapped values, "
                    "held fields, conflicts), with the same decision code as plan and run, against in-memory "
                    "systems. Reports failures at the test's line with the rule that made the difference, and a "
                    "coverage report of field rules, conditions and value-map entries no test exercised. "
                    "Exit 0 all passed, 1 failures (or problems in the test files, or no tests), 2 usage.")
    parser.add_argument("ruleset", metavar="RULESET", help="rule set folder")
    parser.add_argument("tests", metavar="TESTFILE", nargs="*",
                        help="test files to run (default: every *.test.yaml in the rule set folder)")
    parser.add_argument("--format", choices=tuple(FORMATS), default="text")
    parser.add_argument("-k", dest="name_filter", default="", metavar="TEXT",
                        help="run only the tests whose name contains TEXT")
    parser.add_argument("--no-coverage", dest="coverage", action="store_false", help="leave the coverage out")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of stdout")
    add_state_option(parser)  # accepted by every command (contract); tests never use a state store
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    missing = [t for t in args.tests if not Path(t).is_file()]
    if missing:
        print(f"mapsync test: no such test file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    loaded = load_offline("test", args.ruleset, "tested", quiet=("MS502",))
    if isinstance(loaded, int):
        return loaded
    assert loaded.ruleset is not None
    suite = run_suite(loaded.ruleset, [Path(t) for t in args.tests] if args.tests else None,
                      name_filter=args.name_filter)
    report = FORMATS[args.format](suite, coverage=args.coverage)
    if args.output:
        Path(args.output).write_text(report, encoding="utf-8")
        print(f"mapsync test: report written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(report)
    if args.format != "text" and args.output is None:
        print(f"mapsync test: {summary(suite)}", file=sys.stderr)
    return EXIT_OK if suite.ok else EXIT_FAILED

