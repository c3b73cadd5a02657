"""``mapsync serve``: every tenant of a registry synced on its cadence, many at once, on one machine.

The work of a pass is waiting for APIs, so tenants run concurrently in a pool of threads (``workers``), not
in processes. The scheduler loop hands a tenant's pass to the pool when it is due (its interval after the
start of its last pass: a pass that waited in the pool's queue does not shorten the next interval, and
tenants all due at once at start-up spread out after their first passes) and it is not running already; a
tenant whose pass is still running when it is due again waits for the next turn. Per tenant:

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
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mapsync.connectors.http.ratelimit import SlidingWindowRateLimiter
from mapsync.connectors.registry import rate_limit_of
from mapsync.engine.composition import run_pass
from mapsync.engine.diagnostics import Severity
from mapsync.engine.logs import log_context
from mapsync.engine.ruleset import LoadResult, RuleSet, UsageError, load_ruleset
from mapsync.engine.state import SqliteStateStore, StateError
from mapsync.engine.tenants.metrics import PassMetrics
from mapsync.engine.tenants.registry import Registry, SecretsError, Tenant, file_stamps, load_registry

log = logging.getLogger("mapsync.serve")

# Passes at once. A pass spends most of its time waiting for the APIs, but its CPU share runs under one GIL:
# benchmarks/tenants.py measured 8 workers latency-bound (~140-190 passes a minute at 100-300 ms per request:
# not enough for 1000 tenants every 6 minutes), 32 with room to spare (~400) and 64 close to one core
# (docs/deployment.md, "Sizing").
DEFAULT_WORKERS = 32


class LimiterPool:
    """One rate limiter per credential (connector, base URL and the credential's settings), shared by every
    client of every tenant using it in this process."""

    def __init__(self) -> None:
        self._limiters: dict[tuple[str, str], SlidingWindowRateLimiter] = {}
        self._lock = threading.Lock()

    def __call__(self, connector: str, settings: Mapping[str, str]) -> SlidingWindowRateLimiter | None:
        limit = rate_limit_of(connector)
        if limit is None:
            return None
        identity = "\n".join(f"{k}={v}" for k, v in sorted(settings.items()))
        key = (connector, hashlib.sha256(identity.encode("utf-8")).hexdigest())
        with self._lock:
            if key not in self._limiters:
                self._limiters[key] = SlidingWindowRateLimiter(*limit)
            return self._limiters[key]

    def __len__(self) -> int:
        return len(self._limiters)


@dataclass
class CachedRuleset:
    ruleset: RuleSet | None = None
    stamps: dict[str, float] = field(default_factory=dict)  # file -> mtime of the last load
    problem: str = ""  # why the files on disk are not in use (the last good rule set is)


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
        self.limiters = LimiterPool()
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
    def _ruleset(self, state: TenantState, environ: Mapping[str, str]) -> RuleSet | None:
        cache = state.cache
        if cache.ruleset is not None and file_stamps(cache.ruleset.files) == cache.stamps and not cache.problem:
            return cache.ruleset
        if cache.problem and cache.stamps and file_stamps(list(cache.stamps)) == cache.stamps:
            return cache.ruleset  # the same broken files: keep the last good rule set, reported already
        result: LoadResult | None = None
        try:
            result = load_ruleset(state.tenant.ruleset, environ, for_run=True)
        except UsageError as exc:
            problem = str(exc)
        else:
            errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
            problem = "" if result.ruleset is not None and not errors else (
                f"{len(errors)} error(s), first: {errors[0].location.file}:{errors[0].location.line}: "
                f"{errors[0].code} {errors[0].message}" if errors else "the rule set does not load")
        files = list(result.files) if result is not None else []
        if not problem and result is not None:
            assert result.ruleset is not None
            cache.ruleset, cache.problem = result.ruleset, ""
            cache.stamps = file_stamps(result.ruleset.files)
            return cache.ruleset
        cache.problem = problem
        cache.stamps = file_stamps(files) if files else {str(state.tenant.ruleset): -1.0}
        kept = "keeping the last good rule set" if cache.ruleset is not None else "not run until it is fixed"
        log.error("rule set %s does not validate (%s); %s", state.tenant.ruleset, problem, kept)
        return cache.ruleset

    def run_tenant(self, state: TenantState) -> None:
        """One pass of one tenant; never raises (a failure is logged and kept in ``state``)."""
        tenant = state.tenant
        started = self.clock()
        state.next_due = started + tenant.interval  # from the start, not from when it was queued
        state.last_started_at = datetime.now(UTC)
        with log_context(tenant=tenant.id):
            try:
                environ = tenant.environ(self.process_env)
                ruleset = self._ruleset(state, environ)
                if ruleset is None:
                    state.last_error = f"rule set: {state.cache.problem}"
                    state.last_status = "not run"
                    self.metrics.failed(tenant.id)
                    return
                Path(tenant.state).parent.mkdir(parents=True, exist_ok=True)
                with SqliteStateStore(tenant.state) as store:
                    report = run_pass(ruleset, environ, store, apply=True, tenant=tenant.id, stop=self.stop,
                                      limiter_for=self.limiters if self.shared_limits else None,
                                      **self.client_options)
                    state.quarantined = sum(m.quarantined for m in store.summary().mappings)
                self.metrics.observe(tenant.id, report, state.quarantined)
                state.last_totals = report.as_dict()["totals"]
                state.last_status = "fatal" if report.fatal else (
                    "quarantined" if report.total("quarantined") else "ok")
                state.last_error = report.fatal or (f"rule set: {state.cache.problem}" if state.cache.problem else "")
            except (SecretsError, StateError, OSError) as exc:
                state.last_error, state.last_status = str(exc), "not run"
                self.metrics.failed(tenant.id)
                log.error("pass not run: %s", exc)
            except Exception as exc:  # a bug must not stop the other tenants; it is logged with its traceback
                state.last_error, state.last_status = f"{type(exc).__name__}: {exc}", "not run"
                self.metrics.failed(tenant.id)
                log.exception("pass failed")
            finally:
                state.passes += 1
                state.last_started = started
                state.last_seconds = self.clock() - started

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
