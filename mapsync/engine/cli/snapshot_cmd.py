"""``mapsync snapshot RULESET --out DIR [--limit N]``: the records a rule set would touch, read-only from the
real systems, into a folder to rehearse on (docs/rehearsal.md; the folder's format: ``mapsync.engine.snapshot``).

Connection settings come from the environment, as for ``run``. The state store is only opened to keep an
OAuth refresh token the connection rotates (decision 0004), as ``plan`` does. The folder holds personal
data: a warning is printed before and after, and README.txt in the folder says so.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from mapsync.connectors.base import ConnectorError
from mapsync.engine.cli.common import CommandError, add_state_option, load_for_pass, open_store, state_exists
from mapsync.engine.composition import connect, rotates_refresh_token
from mapsync.engine.connections import MissingEnvironment, resolve_connection
from mapsync.engine.ruleset import Side
from mapsync.engine.snapshot import PERSONAL_DATA_WARNING, EntityEntry, SnapshotError, take_snapshot


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "snapshot", help="copy the records a rule set would touch into a folder, read-only (personal data!)",
        description="Read, read-only, the records RULESET would touch from the real systems (connection settings "
                    "from the environment, as for run) into a new folder that `mapsync sandbox --from` serves. "
                    "The folder holds personal data: keep it out of every repository and delete it after use.")
    parser.add_argument("ruleset", metavar="RULESET", help="rule set folder")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="new folder for the snapshot (must not exist, or be empty)")
    parser.add_argument("--limit", type=_positive, default=None, metavar="N",
                        help="at most N records per entity, plus the parents the kept children refer to; "
                             "lines are kept whole")
    add_state_option(parser)
    parser.set_defaults(handler=run)


def _progress(entry: EntityEntry) -> None:
    limited = " (limited)" if entry.limited else ""
    print(f"  {entry.connector} {entry.entity}: {entry.count} record(s){limited}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    try:
        ruleset = load_for_pass(args.ruleset)
    except CommandError as exc:
        print(f"mapsync snapshot: {exc}", file=sys.stderr)
        return 1
    out: Path = args.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        print(f"mapsync snapshot: {out} already exists and is not an empty folder; choose a new folder",
              file=sys.stderr)
        return 1
    if not state_exists(args.state) and rotates_refresh_token(ruleset, os.environ):
        print(f"mapsync snapshot: no state store at {args.state}: the connection rotates its OAuth refresh token "
              "and the snapshot has nowhere to keep the new one; pass --state PATH of the existing store",
              file=sys.stderr)
        return 1
    print(f"WARNING: the snapshot folder {out} {PERSONAL_DATA_WARNING}", file=sys.stderr)
    store = open_store(args.state, tenant=args.tenant, create=False)
    try:
        with connect(ruleset, os.environ, store) as systems:
            base_urls = {side: resolve_connection(ruleset.system(side), os.environ).get("base_url", "")
                         for side in Side}
            manifest = take_snapshot(ruleset, systems.connectors, systems.catalogues, out, limit=args.limit,
                                     base_urls=base_urls, progress=_progress)
    except (MissingEnvironment, ConnectorError, SnapshotError) as exc:
        print(f"mapsync snapshot: {exc}; no snapshot was written", file=sys.stderr)
        return 1
    finally:
        store.close()
    total = sum(e.count for e in manifest.entities)
    limited = f", at most {manifest.limit} per entity" if manifest.limit else ""
    print(f"snapshot of rule set {manifest.ruleset}: {total} record(s) of {len(manifest.entities)} entities "
          f"in {out}{limited}")
    print(f"WARNING: {out} {PERSONAL_DATA_WARNING}", file=sys.stderr)
    return 0
