"""One pass of one tenant, as ``mapsync serve`` and the Celery workers both run it.

Owns what happens between "this tenant is due" and "its pass is recorded": the tenant's secrets read
afresh, its compiled rule set taken from a cache and reloaded when one of its files changes (a change that
does not validate keeps the last good rule set and is reported until fixed), its state store opened by URL
for the tenant (``open_state_store(tenant.state, tenant=tenant.id)``), the store's lease taken for the pass
(``mapsync.engine.state.lease``: a pass whose lease another process holds does nothing and says so), the pass
itself through the composition root (``run_pass``), the metrics, and every failure of the tenant's own
caught, logged with its tenant and returned as the outcome, never raised. docs/deployment.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mapsync.engine.composition import LimiterFor, run_pass
from mapsync.engine.diagnostics import Severity
from mapsync.engine.logs import log_context
from mapsync.engine.ruleset import LoadResult, RuleSet, UsageError, load_ruleset
from mapsync.engine.state import StateError
from mapsync.engine.state.lease import Lease
from mapsync.engine.state.url import is_postgres_url, open_state_store
from mapsync.engine.tenants.metrics import PassMetrics
from mapsync.engine.tenants.registry import SecretsError, Tenant, file_stamps

log = logging.getLogger("mapsync.tenants")

LEASE_HELD = "another process holds this tenant's lease (its pass is running there)"


@dataclass
class CachedRuleset:
    """A tenant's compiled rule set and the modification times of its files when it was loaded."""

    ruleset: RuleSet | None = None
    stamps: dict[str, float] = field(default_factory=dict)  # file -> mtime of the last load
    problem: str = ""  # why the files on disk are not in use (the last good rule set is)


def cached_ruleset(tenant: Tenant, cache: CachedRuleset, environ: Mapping[str, str]) -> RuleSet | None:
    """The tenant's rule set: the cached one while its files are unchanged, else loaded again. A change that
    does not validate is logged and kept in ``cache.problem``; the last good rule set is returned (None when
    there never was one)."""
    if cache.ruleset is not None and file_stamps(cache.ruleset.files) == cache.stamps and not cache.problem:
        return cache.ruleset
    if cache.problem and cache.stamps and file_stamps(list(cache.stamps)) == cache.stamps:
        return cache.ruleset  # the same broken files: keep the last good rule set, reported already
    result: LoadResult | None = None
    try:
        result = load_ruleset(tenant.ruleset, environ, for_run=True)
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
    cache.stamps = file_stamps(files) if files else {str(tenant.ruleset): -1.0}
    kept = "keeping the last good rule set" if cache.ruleset is not None else "not run until it is fixed"
    log.error("rule set %s does not validate (%s); %s", tenant.ruleset, problem, kept)
    return cache.ruleset


@dataclass
class PassOutcome:
    """How one tenant's pass went: ``status`` ok, quarantined, fatal (the pass ran and stopped), or not run
    (secrets, rule set, state store, or the lease held elsewhere: ``lease_held``)."""

    tenant: str
    started: float  # on the caller's clock (monotonic)
    started_at: datetime  # wall clock, for people
    status: str = ""
    error: str = ""
    seconds: float = 0.0
    totals: dict[str, int] | None = None  # None: no pass ran
    quarantined: int | None = None  # records in quarantine after the pass; None: no pass ran
    lease_held: bool = False

    @property
    def ran(self) -> bool:
        return self.totals is not None

    def as_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "status": self.status, "error": self.error,
                "started_at": self.started_at.isoformat(timespec="seconds"), "seconds": round(self.seconds, 3),
                "totals": self.totals, "quarantined": self.quarantined, "lease_held": self.lease_held}


def run_tenant_pass(tenant: Tenant, cache: CachedRuleset, *, holder: str, stop: threading.Event,
                    process_env: Mapping[str, str] | None = None, metrics: PassMetrics | None = None,
                    limiter_for: LimiterFor | None = None, lease_ttl: timedelta = Lease.TTL,
                    clock: Callable[[], float] = time.monotonic, **client_options: Any) -> PassOutcome:
    """One pass of ``tenant`` holding its lease as ``holder``; never raises for the tenant's own failure.

    ``stop``, once set (SIGTERM), ends the pass after the record at hand; ``limiter_for`` shares rate limits
    by credential; ``client_options`` go to every client (``rate_limit=None`` in tests)."""
    outcome = PassOutcome(tenant.id, started=clock(), started_at=datetime.now(UTC))
    with log_context(tenant=tenant.id):
        try:
            environ = tenant.environ(process_env)
            ruleset = cached_ruleset(tenant, cache, environ)
            if ruleset is None:
                outcome.error, outcome.status = f"rule set: {cache.problem}", "not run"
                if metrics is not None:
                    metrics.failed(tenant.id)
                return outcome
            if not is_postgres_url(tenant.state):
                Path(tenant.state).parent.mkdir(parents=True, exist_ok=True)
            with open_state_store(tenant.state, tenant=tenant.id) as store:
                lease = Lease(store, holder, stop, ttl=lease_ttl, one_machine=not is_postgres_url(tenant.state),
                              keeper=lambda: open_state_store(tenant.state, tenant=tenant.id))
                if not lease.acquire():
                    outcome.error, outcome.status, outcome.lease_held = LEASE_HELD, "not run", True
                    log.warning("pass not run: %s", LEASE_HELD)
                    return outcome
                try:
                    report = run_pass(ruleset, environ, store, apply=True, tenant=tenant.id, stop=lease,
                                      progress=lease.progress, limiter_for=limiter_for, **client_options)
                finally:
                    lease.release()
                quarantined = sum(m.quarantined for m in store.summary().mappings)
            if metrics is not None:
                metrics.observe(tenant.id, report, quarantined)
            outcome.quarantined = quarantined
            outcome.totals = report.totals()
            outcome.status = "fatal" if report.fatal else ("quarantined" if report.total("quarantined") else "ok")
            outcome.error = report.fatal or (f"rule set: {cache.problem}" if cache.problem else "")
        except (SecretsError, StateError, OSError) as exc:
            outcome.error, outcome.status = str(exc), "not run"
            if metrics is not None:
                metrics.failed(tenant.id)
            log.error("pass not run: %s", exc)
        except Exception as exc:  # a bug must not stop the other tenants; it is logged with its traceback
            outcome.error, outcome.status = f"{type(exc).__name__}: {exc}", "not run"
            if metrics is not None:
                metrics.failed(tenant.id)
            log.exception("pass failed")
        finally:
            outcome.seconds = clock() - outcome.started
    return outcome
