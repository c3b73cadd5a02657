"""``mapsync schema --out DIR``: writes the editor schemas (rule-file schemas with the catalogues' field names)
into a folder, for rule sets kept in a repository outside mapsync (docs/rules.md, Editor support)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mapsync.connectors.registry import connectors_of_side
from mapsync.engine.cli.common import add_state_option
from mapsync.engine.ruleset.schema_files import write_schemas


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "schema", help="write the JSON Schemas of rule files, with field names, for editors",
        description="Write the JSON Schemas of rule files, with the entity and field names of the connectors' "
                    "catalogues, into DIR (created when missing; files of the same name are replaced): "
                    "ruleset.schema.json, mapping.schema.json (either ERP), "
                    f"{' and '.join(f'mapping.{erp}.schema.json' for erp in connectors_of_side('erp'))}. "
                    "Point a rule file's `# yaml-language-server: $schema=` line "
                    "at one. Exit 0 written, 2 usage error.")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the schemas into")
    add_state_option(parser)  # accepted by every command (contract); schema does not use it
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    folder = Path(args.out)
    if folder.exists() and not folder.is_dir():
        print(f"mapsync schema: {args.out} exists and is not a folder", file=sys.stderr)
        return 2
    for path in write_schemas(folder):
        print(f"wrote {path}")
    return 0
