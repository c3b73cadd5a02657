"""``mapsync status``: links, cursors, quarantine, fields held back and the last run, from the state store;
with a tenants registry, one line per tenant (``mapsync.engine.tenants.status``); with ``--http``, the
tenants' status page served from their stores until SIGTERM or Ctrl-C (the Celery workers' companion:
``mapsync serve --http`` serves the same page). docs/deployment.md.

Exit codes: 0 (``--http``: stopped by a signal), 1 the registry has errors (printed; without ``--http``, which
serves the tenants it could read), 2 usage."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from contextlib import closing
from pathlib import Path
from types import FrameType
from typing import Any

from mapsync.engine.cli.common import add_state_option, open_store, state_exists
from mapsync.engine.diagnostics import render
from mapsync.engine.logs import configure_logging
from mapsync.engine.tenants.registry import load_registry
from mapsync.engine.tenants.status import DEFAULT_REFRESH, StatusBoard, registry_status
from mapsync.engine.tenants.status import render_text as render_tenants
from mapsync.engine.tenants.web import start_status_server


def register(commands: Any) -> None:
    parser = commands.add_parser("status", help="show links, cursors and quarantined records")
    parser.add_argument("tenants", metavar="TENANTS", nargs="?",
                        help="a tenants registry: per tenant the last and next pass, counts, quarantine and the "
                             "last error (instead of one state store)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--http", metavar="HOST:PORT", default=None,
                        help="with TENANTS: serve the status page (/), /status.json and Prometheus /metrics here "
                             "from the tenants' state stores until SIGTERM or Ctrl-C, e.g. 127.0.0.1:8765 (the "
                             "Celery workers' status page; port 0 picks a free one)")
    parser.add_argument("--refresh", type=float, default=DEFAULT_REFRESH, metavar="SECONDS",
                        help=f"with --http: read the stores this often (default {DEFAULT_REFRESH:g})")
    add_state_option(parser)
    parser.set_defaults(handler=run)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _tenants(args: argparse.Namespace) -> int:
    registry = load_registry(args.tenants, check_rulesets=False)
    if not registry.ok:
        sys.stderr.write(render("text", registry.diagnostics, registry.files))
    statuses = registry_status(registry)
    if args.format == "json":
        sys.stdout.write(json.dumps([s.as_dict() for s in statuses], ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_tenants(statuses))
    return 0 if registry.ok else 1


def _serve(args: argparse.Namespace) -> int:
    host, _, port = args.http.rpartition(":")
    if not port.isdigit():
        print(f"mapsync status: --http wants HOST:PORT, not {args.http!r}", file=sys.stderr)
        return 2
    if not args.refresh > 0:
        print("mapsync status: --refresh must be more than 0 seconds", file=sys.stderr)
        return 2
    if not Path(args.tenants).is_file():
        print(f"mapsync status: no tenants registry at {args.tenants}", file=sys.stderr)
        return 2
    if not args.log_level:
        configure_logging("INFO", json=args.log_json)
    board = StatusBoard(args.tenants, refresh=args.refresh)
    board.start()  # the first reading is there before the page is
    try:
        httpd = start_status_server(board.status, board.exposition, host or "127.0.0.1", int(port))
    except OSError as exc:
        board.close()
        print(f"mapsync status: cannot serve at {args.http}: {exc}", file=sys.stderr)
        return 2
    print(f"status page: http://{httpd.server_name}:{httpd.server_port}/", file=sys.stderr, flush=True)
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopped.wait(1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        httpd.shutdown()
        httpd.server_close()
        board.close()
    return 0


def run(args: argparse.Namespace) -> int:
    if args.http is not None:
        if args.tenants is None:
            print("mapsync status: --http needs a tenants registry (mapsync status TENANTS --http HOST:PORT)",
                  file=sys.stderr)
            return 2
        return _serve(args)
    if args.tenants is not None:
        return _tenants(args)
    if not state_exists(args.state):
        print(f"mapsync status: no state store at {args.state} (no pass has run yet)", file=sys.stderr)
        return 1
    with closing(open_store(args.state, tenant=args.tenant)) as store:
        summary = store.summary()
        quarantine = store.list_quarantine()
        held = [{"mapping": link.mapping, "crm_id": link.crm_id, "erp_id": link.erp_id, "fields": link.base.held}
                for link in store.held_links()]
    if args.format == "json":
        doc = {"summary": _plain(summary), "quarantine": _plain(quarantine), "held": held}
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
        return 0
    sys.stdout.write(_text(summary, quarantine, held))
    return 0


def _text(summary: Any, quarantine: list[Any], held: list[dict[str, Any]]) -> str:
    lines = []
    run = summary.last_run
    if run is not None:
        lines.append(f"Last run: #{run.id} {run.status}, started {run.started_at:%Y-%m-%d %H:%M:%S} UTC")
    lines.append(f"{'mapping':<24} {'links':>6} {'quarantined':>11} {'held':>5} {'pending':>7}  cursors")
    for m in summary.mappings:
        cursors = ", ".join(f"{side}={value}" for side, value in sorted(m.cursors.items())) or "-"
        lines.append(f"{m.name:<24} {m.links:>6} {m.quarantined:>11} {m.held:>5} {m.pending_creates:>7}  {cursors}")
    lines.append(f"Quarantined records: {len(quarantine)}")
    for entry in quarantine:
        lines.append(f"  {entry.mapping} {entry.side} {entry.record_id}: {entry.error_class}, "
                     f"{entry.attempts} attempt(s), next retry {entry.next_retry_at:%Y-%m-%d %H:%M} UTC: "
                     f"{entry.reason}")
    lines.append(f"Records with fields held back: {len(held)}")
    for entry in held:
        for rule, why in entry["fields"].items():
            lines.append(f"  {entry['mapping']} crm {entry['crm_id']} / erp {entry['erp_id']} {rule}: {why}")
    return "\n".join(lines) + "\n"
