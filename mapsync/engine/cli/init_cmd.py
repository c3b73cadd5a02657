"""``mapsync init DIR --erp fortnox|vismanet``: a customer's rule-set repository, ready to validate.

The files and what is in them are ``mapsync.engine.ruleset.scaffold``'s; this module parses the command line
and reports. Exit 0 written, 1 the folder is not empty (without ``--force``) or cannot be written, 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mapsync.engine.cli.common import CommandError, add_state_option
from mapsync.engine.ruleset.scaffold import ERPS, ScaffoldError, init_ruleset


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "init", help="start a customer's rule-set repository",
        description="Write a customer's rule-set repository into DIR: ruleset.yaml extending the standard rule "
                    "set of the ERP (with an example of settings and overrides, commented out), the JSON "
                    "Schemas for the editor, an example rule test, CI for GitHub Actions and GitLab, a "
                    "pre-commit configuration, .gitignore and a README. Exit 0 written, 1 DIR is not empty "
                    "(without --force), 2 usage error.")
    parser.add_argument("dir", metavar="DIR", help="the folder to write (created when missing)")
    parser.add_argument("--erp", required=True, choices=sorted(ERPS), help="the ERP the customer uses")
    parser.add_argument("--name", help="the rule set's name (default: from DIR and the ERP, e.g. acme-fortnox)")
    parser.add_argument("--force", action="store_true",
                        help="write into a folder that is not empty, replacing files of the same name")
    add_state_option(parser)  # accepted by every command (contract); init does not use it
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    try:
        written = init_ruleset(folder, args.erp, args.name, force=args.force)
    except ValueError as exc:
        print(f"mapsync init: {exc}", file=sys.stderr)
        return 2
    except ScaffoldError as exc:
        raise CommandError(str(exc)) from exc
    for path in written:
        print(f"  {path.relative_to(folder)}")
    print(f"mapsync init: wrote {len(written)} files into {folder}\n"
          f"next: cd {folder} && git init && mapsync validate . && mapsync test .", file=sys.stderr)
    return 0
