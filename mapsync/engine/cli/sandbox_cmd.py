"""``mapsync sandbox --dir DIR``: every simulator on loopback until SIGINT/SIGTERM, data kept in DIR.

``--from SNAP`` serves a snapshot of the real systems (``mapsync snapshot``, docs/rehearsal.md): the
simulators start with its records, ids kept, so a first import can be rehearsed on a copy of the customer's
data. DIR then holds personal data too: a warning is printed and DIR gets the same README.txt notice and
``.gitignore`` as the snapshot.

``--latency 100-300ms`` delays every API request by a uniform random time in that range. Each simulator
serves many tenants: the credentials in ``sandbox.env`` reach the default one, a credential starting with
``tenant-`` a tenant of its own (docs/connectors.md).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from mapsync.connectors.registry import titles
from mapsync.connectors.simkit import Latency, parse_latency
from mapsync.engine.cli.common import CommandError, add_state_option
from mapsync.engine.sandbox import ENV_FILE, start_sandbox
from mapsync.engine.snapshot import PERSONAL_DATA_WARNING, SnapshotError, SnapshotFolder, write_notice


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "sandbox", help=f"run the {titles()} simulators on loopback",
        description="Start the simulators on 127.0.0.1, write DIR/sandbox.env with every connection setting "
                    "the standard rule sets read, and serve until interrupted. Data persists in DIR.")
    parser.add_argument("--dir", required=True, type=Path, help="folder for the simulators' data and sandbox.env")
    parser.add_argument("--seed", action="store_true", help="add demo records to empty simulators")
    parser.add_argument("--from", dest="snapshot", type=Path, default=None, metavar="SNAP",
                        help="start the simulators with the records of this snapshot folder (mapsync snapshot); "
                             "DIR must be new")
    parser.add_argument("--no-rate-limits", action="store_true",
                        help="switch off the simulators' rate limits (the real limits are the default)")
    parser.add_argument("--latency", type=_latency, default=None, metavar="RANGE",
                        help="delay every API request by a uniform random time in RANGE, e.g. 100-300ms or 0.2s")
    add_state_option(parser)
    parser.set_defaults(handler=run)


def _latency(text: str) -> Latency:
    try:
        return parse_latency(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    snapshot = None
    if args.snapshot is not None:
        try:
            snapshot = SnapshotFolder(args.snapshot)
        except SnapshotError as exc:
            raise CommandError(str(exc)) from None
    args.dir.mkdir(parents=True, exist_ok=True)
    try:
        sandbox = start_sandbox(args.dir, seed=args.seed, realistic_limits=not args.no_rate_limits,
                                snapshot=snapshot, latency=args.latency)
    except SnapshotError as exc:
        raise CommandError(str(exc)) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if snapshot is not None:
            write_notice(args.dir, "This folder holds the data of a mapsync sandbox serving the snapshot "
                                   f"{args.snapshot}\n(rule set {snapshot.manifest.ruleset}, taken "
                                   f"{snapshot.manifest.taken_at}).")
            loaded = ", ".join(f"{count} into {name}" for name, count in sandbox.loaded.items()) or "no records"
            print(f"snapshot {args.snapshot}: loaded {loaded}", file=sys.stderr)
            print(f"WARNING: {args.dir} now {PERSONAL_DATA_WARNING}", file=sys.stderr)
        env_path = sandbox.write_env(args.dir / ENV_FILE)
        for name, simulator in sandbox.simulators.items():
            print(f"{name:<9} {simulator.url}", file=sys.stderr)
        print(f"environment: {env_path}  (set -a; . {env_path}; set +a)", file=sys.stderr)
        print("tenants: a credential starting with tenant- reaches a tenant of its own (docs/connectors.md)",
              file=sys.stderr)
        if args.latency is not None:
            print(f"latency: {args.latency[0] * 1000:g}-{args.latency[1] * 1000:g} ms per request", file=sys.stderr)
        print("serving; stop with Ctrl-C", file=sys.stderr)
        stop.wait()
    finally:
        sandbox.stop()
    return 0
