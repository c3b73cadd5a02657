"""``mapsync serve``: every tenant of a registry synced on its cadence, many at once, on one machine.

The work of a pass is waiting for APIs, so tenants run concurrently in a pool of threads (``workers``), not
in processes. The scheduler loop hands a tenant's pass to the pool when it is due (its interval after the
start of its last pass: a pass that waited in the pool's queue does not shorten the next interval, and
tenants all due at once at start-up spread out after their first passes) and it is not running already; a
tenant whose pass is still running when it is due again waits for the next turn. The pass itself is
``mapsync.engine.tenants.tenantpass.run_tenant_pass``, the same one the Celery workers run
(``mapsync.engine.tenants.workers``). Per tenant:

- **one pass at a time**: an in-process flag, and the state store's lease where the store has one (so a
  second ``serve`` or a ``mapsync run`` on the same store is refused, not run alongside);
- **its own secrets**, read afresh before every pass (a rotated secret file is seen), never ``os.environ``;
- **its compiled rule set cached** and reloaded when one of its files changes; a change that does not
  validate keeps the last good rule set and is reported (log and ``status``) until it is fixed;
- **shared rate limits**: every client of the same credential spends one budget (``LimiterPool``), so
  concurrent passes of tenants sharing an ERP credential never exceed its limit together.

A failing, slow or revoked tenant is logged and recorded in its state store's runs; it never stops or
delays the others. ``stop`` (SIGTERM, Ctrl-C) stops scheduling, lets every running pass finish the record at
hand (``PassStopped``: cursors stay, the next pass goes on) and returns. The registry file is re-read when
it changes. docs/deployment.md.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mapsync.connectors.http.ratelimit import RateLimiter, SlidingWindowRateLimiter
from mapsync.connectors.http.shared_ratelimit import SharedRateLimiter
from mapsync.connectors.registry import rate_limit_of
from mapsync.engine.diagnostics import Severity
from mapsync.engine.state.lease import Lease, holder_name
from mapsync.engine.tenants.metrics import PassMetrics
from mapsync.engine.tenants.registry import Registry, Tenant, load_registry
from mapsync.engine.tenants.tenantpass import CachedRuleset, run_tenant_pass

__all__ = ["CachedRuleset", "Lease", "LimiterPool", "Server", "TenantState"]

log = logging.getLogger("mapsync.serve")

# Passes at once. A pass spends most of its time waiting for the APIs, but its CPU share runs under one GIL:
# benchmarks/tenants.py measured 8 workers latency-bound (~140-190 passes a minute at 100-300 ms per request:
# not enough for 1000 tenants every 6 minutes), 32 with room to spare (~400) and 64 close to one core
# (docs/deployment.md, "Sizing").
DEFAULT_WORKERS = 32


LOCAL_LIMITS = "local"
SHARED_LIMIT_SCHEMES = ("redis://", "rediss://", "redis+sentinel://", "memory://")


def rate_limits_url(environ: Mapping[str, str], broker_url: str | None = None) -> str | None:
    """Where the rate limits of every credential are counted, from ``MAPSYNC_RATE_LIMITS_URL``: a Redis URL
    (shared by every process and machine using it), ``local`` (in this process only), or unset: the broker's
    Redis when a ``broker_url`` is given and is one (Celery workers share their budgets by default), else in
    this process. A URL of another kind is a ``ValueError`` (docs/deployment.md)."""
    text = environ.get("MAPSYNC_RATE_LIMITS_URL", "").strip()
    if text == LOCAL_LIMITS:
        return None
    if text:
        if not text.startswith(SHARED_LIMIT_SCHEMES):
            raise ValueError(f"MAPSYNC_RATE_LIMITS_URL={text!r} is neither a Redis URL (redis://host:port/db) "
                             f"nor {LOCAL_LIMITS!r}")
        return text
    if broker_url and broker_url.startswith(("redis://", "rediss://")):
        return broker_url
    return None


class LimiterPool:
    """One rate limiter per credential (connector, base URL and the credential's settings), shared by every
    client of every tenant using it: in this process, or, given ``url`` (``redis://...``, also
    ``MAPSYNC_RATE_LIMITS_URL``), by every process and machine counting in that Redis
    (``SharedRateLimiter``: Celery workers spending one credential's budget together)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self._limiters: dict[tuple[str, str], RateLimiter] = {}
        self._lock = threading.Lock()

    def __call__(self, connector: str, settings: Mapping[str, str]) -> RateLimiter | None:
        limit = rate_limit_of(connector)
        if limit is None:
            return None
        identity = "\n".join(f"{k}={v}" for k, v in sorted(settings.items()))
        key = (connector, hashlib.sha256(identity.encode("utf-8")).hexdigest())
        with self._lock:
            if key not in self._limiters:
                self._limiters[key] = (
                    SharedRateLimiter(self.url, f"mapsync:rate:{key[0]}:{key[1]}", *limit) if self.url
                    else SlidingWindowRateLimiter(*limit))
            return self._limiters[key]

    def __len__(self) -> int:
        return len(self._limiters)


@dataclass
class TenantState:
    """What ``serve`` knows of one tenant: when it ran and will run, how its last pass went."""

    tenant: Tenant
    running: bool = False
    next_due: float = 0.0  # monotonic time
    passes: int = 0
    last_started: float | None = None
    last_started_at: datetime | None = None  # wall clock, for people
    last_seconds: float | None = None
    last_status: str = ""  # ok, quarantined, fatal, not run
    last_totals: dict[str, int] = field(default_factory=dict)
    last_error: str = ""
    quarantined: int = 0
    cache: CachedRuleset = field(default_factory=CachedRuleset)

    def as_dict(self, now: float) -> dict[str, Any]:
        """For the status page: times as ISO text (UTC), the next pass relative to ``now`` (monotonic)."""
        wall = datetime.now(UTC)
        return {
            "id": self.tenant.id, "running": self.running, "passes": self.passes,
            "last_started": self.last_started_at.isoformat(timespec="seconds") if self.last_started_at else None,
            "last_seconds": round(self.last_seconds, 2) if self.last_seconds is not None else None,
            "last_status": self.last_status or None,
            "next_due": (wall + timedelta(seconds=max(0.0, self.next_due - now))).isoformat(timespec="seconds"),
            "totals": self.last_totals, "quarantined": self.quarantined, "last_error": self.last_error,
            "interval": self.tenant.interval,
        }


class Server:
    """Runs the passes of a registry's enabled tenants on their cadence until ``stop`` is set."""

    def __init__(self, registry_path: Path | str, *, workers: int = DEFAULT_WORKERS,
                 process_env: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic, shared_limits: bool = True,
                 **client_options: Any) -> None:
        self.registry_path = Path(registry_path)
        # False (or rate_limit=None given): each client keeps its own limit, as client_options say
        self.shared_limits = shared_limits and client_options.get("rate_limit", ()) is not None
        self.workers = workers
        self.process_env = process_env
        self.clock = clock
        self.client_options = client_options
        self.limiters = LimiterPool(rate_limits_url(os.environ))
        self.metrics = PassMetrics()
        self.stop = threading.Event()
        self.states: dict[str, TenantState] = {}
        self.registry: Registry | None = None
        self._registry_stamp = -2.0
        self._lock = threading.Lock()
        self.finished = threading.Condition(self._lock)

    # -- the registry ------------------------------------------------------------------------------------
    def reload_registry(self) -> Registry | None:
        """Read the registry when it changed; tenants added start now, removed or disabled ones stop being
        scheduled. A registry that does not load keeps the tenants of the last good one."""
        try:
            stamp = self.registry_path.stat().st_mtime
        except OSError:
            stamp = -1.0
        if stamp == self._registry_stamp:
            return self.registry
        self._registry_stamp = stamp
        registry = load_registry(self.registry_path, check_rulesets=False, process_env=self.process_env)
        for d in registry.diagnostics:
            log.error("%s:%s: %s %s", d.location.file, d.location.line, d.code, d.message)
        if registry.diagnostics and any(d.severity is Severity.ERROR for d in registry.diagnostics) and \
                self.registry is not None and not registry.tenants:
            return self.registry
        with self._lock:
            enabled = {t.id: t for t in registry.tenants if t.enabled}
            for tenant_id in list(self.states):
                if tenant_id not in enabled and not self.states[tenant_id].running:
                    del self.states[tenant_id]
            now = self.clock()
            for tenant_id, tenant in enabled.items():
                state = self.states.get(tenant_id)
                if state is None:
                    self.states[tenant_id] = TenantState(tenant, next_due=now)
                else:
                    state.tenant = tenant
        self.registry = registry
        return registry

    def adopt(self, registry: Registry) -> None:
        """Take the rule sets a checked registry compiled (``load_registry`` with ``check_rulesets``, as ``mapsync
        serve`` reads it at start-up) as the tenants' cached ones: each is compiled once, not twice, and the
        first passes start sooner (1,000 tenants: ~75 s of CPU less). A rule set whose files changed since is
        compiled again at its tenant's next pass, as always."""
        self.reload_registry()
        with self._lock:
            for tenant_id, compiled in registry.compiled.items():
                state = self.states.get(tenant_id)
                checked = registry.tenant(tenant_id)
                if state is None or checked is None or state.tenant.ruleset != checked.ruleset:
                    continue
                if state.cache.ruleset is None:
                    state.cache.ruleset, state.cache.stamps = compiled.ruleset, dict(compiled.stamps)

    # -- one tenant ----------------------------------------------------------------------------------------
    def run_tenant(self, state: TenantState) -> None:
        """One pass of one tenant (``run_tenant_pass``, as the Celery workers run it); never raises (a
        failure is logged and kept in ``state``)."""
        state.next_due = self.clock() + state.tenant.interval  # from the start, not from when it was queued
        outcome = run_tenant_pass(state.tenant, state.cache, holder=holder_name("serve"), stop=self.stop,
                                  process_env=self.process_env, metrics=self.metrics,
                                  limiter_for=self.limiters if self.shared_limits else None, clock=self.clock,
                                  **self.client_options)
        state.last_started_at = outcome.started_at
        state.last_status, state.last_error = outcome.status, outcome.error
        if outcome.totals is not None:
            state.last_totals = outcome.totals
        if outcome.quarantined is not None:
            state.quarantined = outcome.quarantined
        state.passes += 1
        state.last_started = outcome.started
        state.last_seconds = outcome.seconds

    def _done(self, state: TenantState, _: Future[None]) -> None:
        with self._lock:
            state.running = False
            self.finished.notify_all()

    # -- the loop --------------------------------------------------------------------------------------------
    def due(self) -> list[TenantState]:
        now = self.clock()
        with self._lock:
            return [s for s in self.states.values() if not s.running and s.next_due <= now]

    def serve(self, *, once: bool = False, tick: float = 1.0) -> None:
        """Run until ``stop`` is set (``once``: one pass of every enabled tenant, then return)."""
        started: set[str] = set()
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mapsync-tenant") as pool:
            while not self.stop.is_set():
                self.reload_registry()
                for state in self.due():
                    if once and state.tenant.id in started:
                        continue
                    with self._lock:
                        state.running = True
                        state.next_due = self.clock() + state.tenant.interval
                    started.add(state.tenant.id)
                    future = pool.submit(self.run_tenant, state)
                    future.add_done_callback(functools.partial(self._done, state))
                if once and started >= set(self.states) and not any(s.running for s in self.states.values()):
                    break
                with self._lock:
                    waits = [s.next_due - self.clock() for s in self.states.values() if not s.running]
                    timeout = max(0.05, min([tick, *waits]))
                    self.finished.wait(timeout)
            # stop: no new passes; running ones finish the record at hand (SyncPass checks ``stop``)
        log.info("stopped")

    def snapshot(self) -> list[TenantState]:
        with self._lock:
            return list(self.states.values())

    def status(self) -> list[dict[str, Any]]:
        """Every scheduled tenant as the status page shows it."""
        now = self.clock()
        return [s.as_dict(now) for s in sorted(self.snapshot(), key=lambda s: s.tenant.id)]
