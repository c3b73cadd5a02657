"""``mapsync worker TENANTS`` and ``mapsync scheduler TENANTS``: the Celery worker and beat of
``mapsync.engine.tenants.workers``, for tenants synced by processes on several machines.

``worker`` runs tenants' passes as they arrive from the broker (``MAPSYNC_BROKER_URL`` or ``--broker``);
``scheduler`` sends every enabled tenant's pass on its interval. Run one scheduler and any number of workers,
every tenant's state in PostgreSQL. Exit codes: 0 stopped, 1 the registry names SQLite state stores (worker,
without ``--allow-sqlite``) or a setting cannot be used, 2 usage. docs/deployment.md, "Beyond one machine".
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from mapsync.engine.diagnostics import render
from mapsync.engine.state.url import describe_state, is_postgres_url
from mapsync.engine.tenants.registry import Registry, load_registry


def register(commands: Any) -> None:
    worker = commands.add_parser(
        "worker", help="run tenants' passes sent through the broker (Celery; many machines)",
        description="A Celery worker: runs the passes the scheduler sends (mapsync.tenant_pass), each holding its "
                    "tenant's lease in the PostgreSQL state store, so any number of workers on any number of "
                    "machines share the tenants. SIGTERM lets running passes finish the record at hand.")
    worker.add_argument("tenants", metavar="TENANTS", help="the tenants registry (tenants.yaml)")
    worker.add_argument("--concurrency", type=int, default=16,
                        help="passes at once in this worker (default 16; the work is waiting for APIs; each pass "
                             "holds two PostgreSQL connections)")
    worker.add_argument("--pool", choices=("threads", "prefork"), default="threads",
                        help="threads (default: one process, passes in threads) or prefork (a process per pass)")
    worker.add_argument("--name", default=None, help="the worker's node name (default mapsync-PID@host)")
    worker.add_argument("--allow-sqlite", action="store_true",
                        help="accept tenants whose state is a SQLite file (only when every worker runs on this "
                             "machine); also MAPSYNC_ALLOW_SQLITE=1")
    worker.add_argument("--metrics", metavar="HOST:PORT", default=None,
                        help="serve this worker's Prometheus metrics at http://HOST:PORT/ (threads pool only)")
    _common(worker)
    worker.set_defaults(handler=run_worker)

    scheduler = commands.add_parser(
        "scheduler", help="send every enabled tenant's pass on its interval to the workers (Celery beat)",
        description="Celery beat with a schedule made from the tenants registry: one pass per enabled tenant "
                    "every interval, re-read when the registry file changes. Run exactly one.")
    scheduler.add_argument("tenants", metavar="TENANTS", help="the tenants registry (tenants.yaml)")
    _common(scheduler)
    scheduler.set_defaults(handler=run_scheduler)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker", default=None,
                        help="the broker's URL (default $MAPSYNC_BROKER_URL or redis://127.0.0.1:6379/0)")


def _registry(args: argparse.Namespace) -> Registry | None:
    if not Path(args.tenants).is_file():
        print(f"mapsync {args.command}: no tenants registry at {args.tenants}", file=sys.stderr)
        return None
    registry = load_registry(args.tenants, check_rulesets=False)
    if registry.diagnostics:  # a tenant with a problem is left out; the others run
        sys.stderr.write(render("text", registry.diagnostics, registry.files))
    return registry


def _configure(args: argparse.Namespace) -> Any:
    """The workers module with the app configured from the command line; None (said why) when the environment's
    settings cannot be used."""
    try:
        from mapsync.engine.tenants import workers
    except ValueError as exc:  # workers.ConfigurationError: a MAPSYNC_* setting read when the app is made
        print(f"mapsync {args.command}: {exc}", file=sys.stderr)
        return None
    workers.app.conf.mapsync_tenants = str(Path(args.tenants).resolve())
    workers.app.conf.mapsync_log_json = bool(args.log_json)
    if args.broker:
        workers.app.conf.broker_url = args.broker
        # unless MAPSYNC_RATE_LIMITS_URL says otherwise, rate limits are counted in the broker's Redis
        workers.app.conf.mapsync_rate_limits_url = workers.rate_limits_url(os.environ, args.broker)
    return workers


def _level(args: argparse.Namespace) -> str:
    return str(args.log_level or "INFO")


def run_worker(args: argparse.Namespace) -> int:
    if args.concurrency < 1:
        print("mapsync worker: --concurrency must be at least 1", file=sys.stderr)
        return 2
    if args.metrics and args.pool != "threads":
        print("mapsync worker: --metrics needs --pool threads (prefork keeps metrics in each child process)",
              file=sys.stderr)
        return 2
    registry = _registry(args)
    if registry is None:
        return 2
    allow_sqlite = args.allow_sqlite or os.environ.get("MAPSYNC_ALLOW_SQLITE") == "1"
    files = [t for t in registry.tenants if t.enabled and not is_postgres_url(t.state)]
    for tenant in files:
        print(f"{tenant.where('state').file}:{tenant.where('state').line}: tenant {tenant.id}: its state store "
              f"{describe_state(tenant.state)} is a SQLite file: workers on other machines would each see a "
              f"state of their own (duplicates, lost links)", file=sys.stderr)
    if files and not allow_sqlite:
        print(f"mapsync worker: {len(files)} tenant(s) keep their state in SQLite files; point the registry's "
              "state at PostgreSQL (defaults: {state: postgresql://user@host/db}), or give --allow-sqlite when "
              "every worker runs on this one machine", file=sys.stderr)
        return 1
    workers = _configure(args)
    if workers is None:
        return 1
    workers.app.conf.mapsync_allow_sqlite = allow_sqlite
    try:
        context = workers.worker_context()
    except workers.ConfigurationError as exc:
        print(f"mapsync worker: {exc}", file=sys.stderr)
        return 1
    if args.metrics:
        from prometheus_client import start_http_server

        host, _, port = args.metrics.rpartition(":")
        if not port.isdigit():
            print(f"mapsync worker: --metrics wants HOST:PORT, not {args.metrics!r}", file=sys.stderr)
            return 2
        start_http_server(int(port), addr=host or "127.0.0.1", registry=context.metrics.registry)
    return int(workers.start_worker(concurrency=args.concurrency, pool=args.pool, name=args.name,
                                    loglevel=_level(args)))


def run_scheduler(args: argparse.Namespace) -> int:
    if _registry(args) is None:
        return 2
    workers = _configure(args)
    if workers is None:
        return 1
    workers.start_scheduler(loglevel=_level(args))
    return 0
