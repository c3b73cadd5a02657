"""Beyond one machine: a tenant's pass as a Celery task, run by worker processes on any number of machines,
with Redis as the broker and the tenants' state in PostgreSQL; Celery beat schedules the passes from the
tenants registry.

Owns the Celery app (``app``; ``celery -A mapsync.engine.tenants.workers worker|beat`` finds it) and its
configuration from the environment, the task ``mapsync.tenant_pass(tenant_id)``, what one worker process keeps
between passes (``WorkerContext``: the registry, re-read when its file changes, a rule set cache per tenant,
rate limiters and metrics), the beat schedule built from the registry (``RegistryScheduler``), and starting a
worker or the scheduler from the command line (``start_worker``, ``start_scheduler``: ``mapsync worker`` and
``mapsync scheduler``).

A pass is the one ``serve`` runs (``mapsync.engine.tenants.tenantpass.run_tenant_pass``): the tenant's secrets
read afresh, its rule set cached and reloaded, its state store opened by URL for the tenant, the store's lease
held for the pass (two workers never run one tenant at once; one that cannot take it does nothing and says so),
failures caught and logged, never raised. The task is acknowledged late and rejected when its worker is lost,
so a pass whose worker died is delivered again; the create journal makes the second delivery safe (no
duplicate: the next pass reconciles what the dead one created). A re-delivered pass that finds the lease still
held (by the worker that died, until its time to live runs out) tries again once that time has passed.
docs/deployment.md, "Beyond one machine".
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from celery import Celery, signals
from celery.beat import Scheduler

from mapsync.engine.diagnostics import Severity
from mapsync.engine.logs import configure_logging, log_context
from mapsync.engine.state.lease import Lease, holder_name
from mapsync.engine.state.url import describe_state, is_postgres_url
from mapsync.engine.tenants.metrics import PassMetrics
from mapsync.engine.tenants.registry import Registry, Tenant, load_registry
from mapsync.engine.tenants.serve import LimiterPool, rate_limits_url
from mapsync.engine.tenants.tenantpass import CachedRuleset, PassOutcome, run_tenant_pass

log = logging.getLogger("mapsync.workers")

TASK = "mapsync.tenant_pass"
QUEUE = "mapsync"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_VISIBILITY_TIMEOUT = 3600.0  # seconds; Celery's own default for Redis
REDELIVERY_RETRIES = 3  # how often a re-delivered pass waits for a dead worker's lease to run out
ENTRY_PREFIX = "tenant:"


class ConfigurationError(ValueError):
    """A setting of the workers (an environment variable or option) that cannot be used."""


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigurationError(f"{name}={text!r} is not a number of seconds") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be more than 0 seconds, not {text}")
    return value


def transport_options(visibility_timeout: float) -> dict[str, Any]:
    """Redis transport options: a message not acknowledged ``visibility_timeout`` seconds after it was
    delivered (its worker died) is delivered again; workers look for such messages a few times per timeout
    (at most every 10 s)."""
    return {"visibility_timeout": visibility_timeout,
            "unacked_restore_interval": max(1, min(10, int(visibility_timeout / 4))),
            "unacked_restore_throttle": 1}


def settings_from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The app's settings from ``MAPSYNC_BROKER_URL``, ``MAPSYNC_BROKER_VISIBILITY_TIMEOUT``, ``MAPSYNC_TENANTS``,
    ``MAPSYNC_LEASE_TTL``, ``MAPSYNC_ALLOW_SQLITE`` and ``MAPSYNC_RATE_LIMITS_URL`` (by default the broker's
    Redis: every worker spends one budget per credential) (docs/deployment.md)."""
    broker = environ.get("MAPSYNC_BROKER_URL") or DEFAULT_BROKER
    try:
        limits = rate_limits_url(environ, broker)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return {
        "broker_url": broker,
        "mapsync_rate_limits_url": limits,
        "broker_transport_options": transport_options(
            _seconds(environ, "MAPSYNC_BROKER_VISIBILITY_TIMEOUT", DEFAULT_VISIBILITY_TIMEOUT)),
        "mapsync_tenants": environ.get("MAPSYNC_TENANTS") or None,
        "mapsync_lease_ttl": _seconds(environ, "MAPSYNC_LEASE_TTL", Lease.TTL.total_seconds()),
        "mapsync_allow_sqlite": environ.get("MAPSYNC_ALLOW_SQLITE", "") == "1",
        "mapsync_log_json": environ.get("MAPSYNC_LOG_FORMAT", "") == "json",
    }


app = Celery("mapsync")
app.conf.update(
    task_default_queue=QUEUE,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_ignore_result=True,
    worker_prefetch_multiplier=1,  # a worker takes a pass when it has a free slot, never hoards them
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    worker_cancel_long_running_tasks_on_connection_loss=False,  # a running pass finishes; the lease guards it
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=None,  # a broker that restarts is waited for, however long
    beat_scheduler="mapsync.engine.tenants.workers:RegistryScheduler",
    beat_max_loop_interval=5,  # the registry file is looked at this often
)
app.conf.update(settings_from_environment(os.environ))


# -- one worker process ----------------------------------------------------------------------------------------


class WorkerContext:
    """What one worker process keeps between passes: the tenants registry (re-read when its file changes), a
    compiled rule set cache per tenant, one rate limiter per credential, the metrics, and the stop event
    (set when the worker shuts down: running passes end after the record at hand)."""

    def __init__(self, registry_path: Path | str, *, lease_ttl: timedelta = Lease.TTL, allow_sqlite: bool = False,
                 process_env: Mapping[str, str] | None = None, rate_limits_url: str | None = None,
                 **client_options: Any) -> None:
        self.registry_path = Path(registry_path).resolve()
        self.lease_ttl = lease_ttl
        self.allow_sqlite = allow_sqlite
        self.process_env = process_env
        self.client_options = client_options
        self.stop = threading.Event()
        self.metrics = PassMetrics()
        self.limiters = LimiterPool(rate_limits_url)  # a Redis URL: shared with every worker using it
        self.caches: dict[str, CachedRuleset] = {}
        self._running: set[str] = set()
        self._registry: Registry | None = None
        self._stamp = -2.0
        self._lock = threading.Lock()

    def registry(self) -> Registry | None:
        """The registry, read again when its file changed; one that does not load keeps the last good one."""
        with self._lock:
            try:
                stamp = self.registry_path.stat().st_mtime
            except OSError:
                stamp = -1.0
            if stamp == self._stamp:
                return self._registry
            self._stamp = stamp
            registry = load_registry(self.registry_path, check_rulesets=False, process_env=self.process_env)
            for d in registry.diagnostics:
                log.error("%s:%s: %s %s", d.location.file, d.location.line, d.code, d.message)
            if not registry.ok and not registry.tenants and self._registry is not None:
                return self._registry
            self._registry = registry
            return registry

    def _not_run(self, tenant_id: str, error: str, *, lease_held: bool = False) -> PassOutcome:
        with log_context(tenant=tenant_id):
            log.warning("pass not run: %s", error)
        return PassOutcome(tenant_id, started=time.monotonic(), started_at=datetime.now(UTC), status="not run",
                           error=error, lease_held=lease_held)

    def tenant(self, tenant_id: str) -> Tenant | str:
        """The enabled tenant ``tenant_id`` that this worker may run, or why not."""
        registry = self.registry()
        tenant = registry.tenant(tenant_id) if registry is not None else None
        if tenant is None:
            return f"no tenant {tenant_id!r} in the tenants registry {self.registry_path}"
        if not tenant.enabled:
            return f"tenant {tenant_id} is disabled in the tenants registry"
        if not is_postgres_url(tenant.state) and not self.allow_sqlite:
            return (f"its state store {describe_state(tenant.state)} is a SQLite file, which workers on other "
                    "machines cannot share: point its state at PostgreSQL (defaults: {state: postgresql://...}), "
                    "or, when every worker runs on this machine, allow SQLite (mapsync worker --allow-sqlite, "
                    "MAPSYNC_ALLOW_SQLITE=1)")
        return tenant

    def run(self, tenant_id: str) -> PassOutcome:
        """One pass of the tenant; never raises for the tenant's own failure."""
        found = self.tenant(tenant_id)
        if isinstance(found, str):
            return self._not_run(tenant_id, found)
        with self._lock:
            if tenant_id in self._running:
                busy = True
            else:
                busy = False
                self._running.add(tenant_id)
                cache = self.caches.setdefault(tenant_id, CachedRuleset())
        if busy:
            return self._not_run(tenant_id, "its pass is running in this worker already", lease_held=True)
        try:
            outcome = run_tenant_pass(found, cache, holder=holder_name("worker"), stop=self.stop,
                                      process_env=self.process_env, metrics=self.metrics, limiter_for=self.limiters,
                                      lease_ttl=self.lease_ttl, **self.client_options)
        finally:
            with self._lock:
                self._running.discard(tenant_id)
        with log_context(tenant=tenant_id):
            log.info("pass %s in %.1f s%s", outcome.status, outcome.seconds,
                     f": {outcome.error}" if outcome.error else "")
        return outcome


_context: WorkerContext | None = None
_context_lock = threading.Lock()


def worker_context() -> WorkerContext:
    """This process's ``WorkerContext``, made at first use from the app's settings."""
    global _context
    with _context_lock:
        if _context is None:
            registry = app.conf.get("mapsync_tenants")
            if not registry:
                raise ConfigurationError("no tenants registry: set MAPSYNC_TENANTS or give it to mapsync worker")
            _context = WorkerContext(registry, lease_ttl=timedelta(seconds=float(app.conf.get("mapsync_lease_ttl"))),
                                     allow_sqlite=bool(app.conf.get("mapsync_allow_sqlite")),
                                     rate_limits_url=app.conf.get("mapsync_rate_limits_url"))
        return _context


def _redelivered(request: Any) -> bool:
    info = getattr(request, "delivery_info", None) or {}
    return bool(info.get("redelivered")) or bool(getattr(request, "retries", 0))


@app.task(name=TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def tenant_pass(self: Any, tenant_id: str) -> dict[str, Any]:
    """One pass of ``tenant_id`` (docs/deployment.md); its outcome is logged and recorded in its state store."""
    try:
        context = worker_context()
    except ConfigurationError as exc:
        with log_context(tenant=tenant_id):
            log.error("pass not run: %s", exc)
        return {"tenant": tenant_id, "status": "not run", "error": str(exc)}
    outcome = context.run(tenant_id)
    if outcome.lease_held and _redelivered(self.request) and self.request.retries < REDELIVERY_RETRIES:
        # Delivered again because a worker died during the pass: its lease runs out within its time to live.
        wait = context.lease_ttl.total_seconds()
        with log_context(tenant=tenant_id):
            log.warning("re-delivered pass finds the lease held; trying again in %.0f s", wait)
        raise self.retry(countdown=wait, max_retries=REDELIVERY_RETRIES)
    return outcome.as_dict()


@signals.celeryd_after_setup.connect
def _check_registry(**_: Any) -> None:
    """At a worker's start (``celery -A ... worker`` too): the registry is readable, and the tenants whose
    state this worker would refuse are named at once rather than at their first pass."""
    try:
        context = worker_context()
    except ConfigurationError as exc:
        log.error("%s", exc)
        return
    registry = context.registry()
    if registry is None:
        return
    for tenant in registry.tenants:
        if tenant.enabled and isinstance(refused := context.tenant(tenant.id), str):
            with log_context(tenant=tenant.id):
                log.error("this worker will not run its passes: %s", refused)


@signals.worker_shutting_down.connect
def _stop_running_passes(**_: Any) -> None:
    """Warm shutdown (SIGTERM): running passes (threads pool) end after the record at hand, cursors kept."""
    if _context is not None:
        _context.stop.set()


@signals.setup_logging.connect
def _setup_logging(loglevel: Any = None, **_: Any) -> None:
    """Celery's records and mapsync's in one format (text, or JSON lines), each with its tenant, mapping, run."""
    level = logging.getLevelName(loglevel) if isinstance(loglevel, int) and loglevel else (loglevel or "INFO")
    configure_logging(str(level), json=bool(app.conf.get("mapsync_log_json")), root=True)
    for chatty in ("httpx", "httpcore"):  # a line per API request: only their warnings
        logging.getLogger(chatty).setLevel(logging.WARNING)


# -- scheduling ---------------------------------------------------------------------------------------------------


class RegistryScheduler(Scheduler):
    """Celery beat's schedule, made from the tenants registry: one entry per enabled tenant, every ``interval``
    (the pass expires when it has not started within one interval, so passes do not pile up while workers are
    away). The registry file is looked at on every beat tick (``beat_max_loop_interval``) and read again when it
    changed: tenants added are due at once, removed or disabled ones leave the schedule, a changed interval
    applies from the tenant's next pass. In memory: a restarted scheduler sends every tenant's pass at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._stamp = -2.0
        self.registry_path: Path | None = None
        super().__init__(*args, **kwargs)

    def setup_schedule(self) -> None:
        registry = self.app.conf.get("mapsync_tenants")
        if not registry:
            raise ConfigurationError("no tenants registry: set MAPSYNC_TENANTS or give it to mapsync scheduler")
        self.registry_path = Path(registry).resolve()
        self.refresh()

    def refresh(self) -> bool:
        """Read the registry when its file changed and bring the schedule in line; whether it changed."""
        assert self.registry_path is not None
        try:
            stamp = self.registry_path.stat().st_mtime
        except OSError:
            stamp = -1.0
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        registry = load_registry(self.registry_path, check_rulesets=False)
        for d in registry.diagnostics:
            if d.severity is Severity.ERROR:
                log.error("%s:%s: %s %s", d.location.file, d.location.line, d.code, d.message)
        if not registry.ok and not registry.tenants and self.schedule:
            log.error("the tenants registry does not load: keeping the schedule as it was")
            return False
        now = self.app.now()
        entries = {
            ENTRY_PREFIX + t.id: {"task": TASK, "schedule": timedelta(seconds=t.interval), "args": (t.id,),
                                  "options": {"expires": t.interval},
                                  "last_run_at": now - timedelta(seconds=t.interval)}  # new tenants: due now
            for t in registry.tenants if t.enabled}
        self.merge_inplace(entries)
        self._heap = None  # the next tick orders the entries again
        log.info("schedule: %d tenant(s) from %s", len(entries), self.registry_path)
        return True

    def tick(self, *args: Any, **kwargs: Any) -> float:
        self.refresh()
        return float(super().tick(*args, **kwargs))


# -- starting from the command line ------------------------------------------------------------------------------


def default_node_name() -> str:
    """A worker's name, unique per process on a machine: ``mapsync-PID@host``."""
    return f"mapsync-{os.getpid()}@{socket.gethostname()}"


def start_worker(*, concurrency: int, pool: str = "threads", name: str | None = None,
                 loglevel: str = "INFO") -> int:
    """Run a worker in this process until it is stopped (SIGTERM: warm shutdown); its exit code."""
    # Running passes are left to finish when the broker connection drops (the lease guards them); Celery
    # warns at every reconnection that this default will change: it is set on purpose here.
    warnings.filterwarnings("ignore", message=r"(?s).*worker_cancel_long_running_tasks_on_connection_loss")
    worker = app.Worker(hostname=name or default_node_name(), pool_cls=pool, concurrency=concurrency,
                        loglevel=loglevel, without_gossip=True, without_mingle=True, without_heartbeat=True)
    worker.start()
    return int(worker.exitcode or 0)


def start_scheduler(*, loglevel: str = "INFO") -> None:
    """Run Celery beat with the registry's schedule in this process until it is stopped."""
    app.Beat(scheduler=RegistryScheduler, loglevel=loglevel, max_interval=app.conf.beat_max_loop_interval).run()
