"""``mapsync serve TENANTS``: every enabled tenant of a registry synced on its cadence, until SIGTERM.

Exit codes: 0 stopped cleanly (or ``--check``: the registry and every tenant's rule set are valid), 1 the
registry has errors (printed; with ``--check``), 2 usage. docs/deployment.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from mapsync.engine.diagnostics import render
from mapsync.engine.logs import configure_logging
from mapsync.engine.tenants.registry import load_registry
from mapsync.engine.tenants.serve import DEFAULT_WORKERS, Server, rate_limits_url
from mapsync.engine.tenants.web import start_status_server


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "serve", help="sync every tenant of a registry on its cadence (one machine)",
        description="Run every enabled tenant's pass on its interval, many at once, each tenant one pass at a "
                    "time, with its own secrets and state store; rule sets reloaded when their files change. "
                    "SIGTERM or Ctrl-C lets running passes finish the record at hand and stops.")
    parser.add_argument("tenants", metavar="TENANTS", help="the tenants registry (tenants.yaml)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help=f"passes at once (default {DEFAULT_WORKERS}; the work is mostly waiting for the APIs)")
    parser.add_argument("--once", action="store_true", help="one pass of every enabled tenant, then stop")
    parser.add_argument("--http", metavar="HOST:PORT", default=None,
                        help="serve the status page (/), /status.json and Prometheus /metrics here, e.g. "
                             "127.0.0.1:8765 (default: not served)")
    parser.add_argument("--check", action="store_true",
                        help="only validate the registry and each tenant's rule set with its secrets")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not Path(args.tenants).is_file():
        print(f"mapsync serve: no tenants registry at {args.tenants}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("mapsync serve: --workers must be at least 1", file=sys.stderr)
        return 2
    registry = load_registry(args.tenants)
    if registry.diagnostics:
        sys.stderr.write(render("text", registry.diagnostics, registry.files))
    if args.check:
        enabled = sum(1 for t in registry.tenants if t.enabled)
        print(f"{len(registry.tenants)} tenant(s) ready ({enabled} enabled)")
        return 0 if registry.ok else 1
    if not args.log_level:
        configure_logging("INFO", json=args.log_json)
    try:
        rate_limits_url(os.environ)
    except ValueError as exc:
        print(f"mapsync serve: {exc}", file=sys.stderr)
        return 2
    server = Server(args.tenants, workers=args.workers)
    server.adopt(registry)  # the rule sets just checked: not compiled a second time
    httpd = None
    if args.http:
        host, _, port = args.http.rpartition(":")
        if not port.isdigit():
            print(f"mapsync serve: --http wants HOST:PORT, not {args.http!r}", file=sys.stderr)
            return 2
        httpd = start_status_server(server.status, server.metrics.exposition, host or "127.0.0.1", int(port))
        print(f"status page: http://{httpd.server_name}:{httpd.server_port}/", file=sys.stderr)

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.serve(once=args.once)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
    return 0
