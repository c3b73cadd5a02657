"""Per-tenant status from each tenant's state store: the last pass, the next one, counts, quarantine, errors;
and the status board that keeps it current for the workers' status page.

``mapsync status TENANTS`` reads it once; ``mapsync status TENANTS --http HOST:PORT`` serves it as the status
page of the Celery workers (``StatusBoard``, through ``mapsync.engine.tenants.web``). Both work whether
anything runs or not and on any machine that reaches the stores (the state stores are the record): the last
pass is the store's last run, running while it is unfinished and the tenant's lease is held; the next is due
its interval after that one started. What keeps a tenant's next pass from running but is never recorded in
its store (its secrets cannot be read, its rule set is not there) is checked here, as the pass would, and
shown as its error; so is a store that cannot be opened. The page's columns are documented in
docs/deployment.md.

Cost: the tenants on PostgreSQL are read with one connection and three statements per database URL, however
many they are (``mapsync.engine.state.postgres.tenant_overviews``); a SQLite tenant's file is opened on its
own. The board refreshes in one background thread, ``refresh`` seconds after the last refresh ended, so
however slow the stores are, it never reads them more than one at a time nor per HTTP request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mapsync.engine.ruleset.loader import display_path
from mapsync.engine.state import StateError
from mapsync.engine.state.store import Run
from mapsync.engine.state.url import is_postgres_url, open_state_store
from mapsync.engine.tenants.registry import Registry, SecretsError, Tenant, load_registry

log = logging.getLogger("mapsync.status")

DEFAULT_REFRESH = 5.0  # seconds between two reads of the stores by the status board
DIED = "its last pass did not finish and nobody holds its lease (the process running it stopped); the next " \
       "pass records it as interrupted"


@dataclass(frozen=True)
class TenantStatus:
    id: str
    enabled: bool
    last_started: datetime | None
    last_status: str | None  # ok, quarantined, fatal, running, unfinished (its process died); None: never ran
    next_due: datetime | None
    totals: dict[str, int]
    quarantined: int
    last_error: str
    running: bool = False  # its last pass has not finished and its lease is held
    last_seconds: float | None = None  # how long the last finished pass took

    def as_dict(self) -> dict[str, Any]:
        """As ``/status.json`` and ``--format json`` give it: the fields the status page's script reads."""
        return {"id": self.id, "enabled": self.enabled, "running": self.running,
                "last_started": self.last_started.isoformat(timespec="seconds") if self.last_started else None,
                "last_status": self.last_status,
                "last_seconds": round(self.last_seconds, 2) if self.last_seconds is not None else None,
                "next_due": self.next_due.isoformat(timespec="seconds") if self.next_due else None,
                "totals": self.totals, "quarantined": self.quarantined, "last_error": self.last_error}


def _problem(tenant: Tenant, process_env: Mapping[str, str] | None) -> str:
    """What would keep the tenant's next pass from running that its store cannot tell: its secrets cannot be
    read, its rule set is not there (read as the pass reads them; nothing of the secrets is kept)."""
    if not tenant.enabled:
        return ""
    try:
        tenant.environ(process_env)
    except SecretsError as exc:
        return str(exc)
    if not tenant.ruleset.exists():
        return f"rule set {display_path(tenant.ruleset)} does not exist"
    return ""


def _status(tenant: Tenant, run: Run | None, quarantined: int, holder: str | None, problem: str) -> TenantStatus:
    if run is None:
        return TenantStatus(tenant.id, tenant.enabled, None, None, None, {}, quarantined, problem)
    totals = {k: int(v) for k, v in dict(run.summary.get("totals") or {}).items()}
    errors, status = [problem], str(run.status)
    running = run.finished_at is None and holder is not None
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at is not None else None
    if run.status == "fatal":
        errors.append(str(run.summary.get("fatal") or "the pass stopped"))
    elif run.finished_at is None and not running:
        status, errors = "unfinished", [*errors, DIED]
    next_due = run.started_at + timedelta(seconds=tenant.interval) if tenant.enabled else None
    return TenantStatus(tenant.id, tenant.enabled, run.started_at, status, next_due, totals, quarantined,
                        "; ".join(e for e in errors if e), running=running, last_seconds=seconds)


def _broken(tenant: Tenant, error: str, problem: str) -> TenantStatus:
    return TenantStatus(tenant.id, tenant.enabled, None, None, None, {}, 0, "; ".join(e for e in (error, problem) if e))


def _sqlite_status(tenant: Tenant, problem: str) -> TenantStatus:
    if not Path(tenant.state).exists():
        return _status(tenant, None, 0, None, problem)  # no pass has run: nothing to open (nor create)
    try:
        with open_state_store(tenant.state, tenant=tenant.id) as store:
            summary = store.summary()
            holder = store.lease_holder()
    except (StateError, OSError) as exc:
        return _broken(tenant, str(exc), problem)
    quarantined = sum(m.quarantined for m in summary.mappings)
    return _status(tenant, summary.last_run, quarantined, holder, problem)


def _unforeseen(exc: Exception) -> str:
    log.debug("a state store cannot be read", exc_info=exc)  # every refresh: not worth a traceback each time
    return f"its state store cannot be read: {type(exc).__name__}: {exc}"


def tenant_statuses(tenants: Sequence[Tenant], process_env: Mapping[str, str] | None = None) -> list[TenantStatus]:
    """The status of each tenant, in the order given. Tenants whose state is in one PostgreSQL database are
    read together over one connection; a store that cannot be read is its tenants' error."""
    problems = {t.id: _problem(t, process_env) for t in tenants}
    by_url: dict[str, list[Tenant]] = {}
    for tenant in tenants:
        if is_postgres_url(tenant.state):
            by_url.setdefault(tenant.state, []).append(tenant)
    found: dict[str, TenantStatus] = {}
    for url, group in by_url.items():
        from mapsync.engine.state.postgres import tenant_overviews

        try:
            overviews = tenant_overviews(url, [t.id for t in group])
        except Exception as exc:  # StateError, or a failure nobody foresaw: its tenants' error, not the page's
            error = str(exc) if isinstance(exc, StateError) else _unforeseen(exc)
            found.update((t.id, _broken(t, error, problems[t.id])) for t in group)
            continue
        for t in group:
            o = overviews[t.id]
            found[t.id] = _status(t, o.last_run, o.quarantined, o.lease_holder, problems[t.id])
    out = []
    for tenant in tenants:
        if tenant.id not in found:
            try:
                found[tenant.id] = _sqlite_status(tenant, problems[tenant.id])
            except Exception as exc:  # a store broken in a way nobody foresaw is its tenant's error, not the page's
                found[tenant.id] = _broken(tenant, _unforeseen(exc), problems[tenant.id])
        out.append(found[tenant.id])
    return out


def registry_status(registry: Registry) -> list[TenantStatus]:
    return tenant_statuses(registry.tenants)


def render_text(statuses: list[TenantStatus]) -> str:
    lines = [f"{'tenant':<20} {'last pass':<20} {'status':<12} {'next pass':<20} {'created':>7} {'updated':>7} "
             f"{'quarantined':>11}  last error"]
    for s in statuses:
        last = f"{s.last_started:%Y-%m-%d %H:%M:%S}" if s.last_started else "never"
        nxt = f"{s.next_due:%Y-%m-%d %H:%M:%S}" if s.next_due else ("disabled" if not s.enabled else "now")
        lines.append(f"{s.id:<20} {last:<20} {s.last_status or '-':<12} {nxt:<20} {s.totals.get('created', 0):>7} "
                     f"{s.totals.get('updated', 0):>7} {s.quarantined:>11}  {s.last_error[:100] or '-'}")
    return "\n".join(lines) + "\n"


# -- the status board ----------------------------------------------------------------------------------------


@dataclass
class Refresh:
    """The board's last reading of the stores: the statuses, when it ended and how long it took."""

    statuses: list[TenantStatus] = field(default_factory=list)
    at: datetime | None = None
    seconds: float | None = None


class StatusBoard:
    """The statuses of a registry's tenants, read from their stores in a background thread every ``refresh``
    seconds (``start``; ``close`` ends it), for the status page (``status``) and Prometheus (``exposition``).
    The registry is read again when its file changes; one that does not load keeps the tenants of the last
    good one."""

    def __init__(self, registry_path: Path | str, *, refresh: float = DEFAULT_REFRESH,
                 process_env: Mapping[str, str] | None = None) -> None:
        self.registry_path = Path(registry_path)
        self.refresh_every = refresh
        self.process_env = process_env
        self.stop = threading.Event()
        self.metrics = CollectorRegistry()
        self.metrics.register(_BoardCollector(self))
        self._registry: Registry | None = None
        self._stamp = -2.0
        self._last = Refresh()
        self._lock = threading.Lock()  # guards _last
        self._refreshing = threading.Lock()  # one reading of the stores at a time
        self._thread: threading.Thread | None = None

    def registry(self) -> Registry | None:
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

    def refresh(self) -> Refresh:
        """Read every tenant's store now (the background thread calls it; tests may too)."""
        with self._refreshing:
            started = time.monotonic()
            registry = self.registry()
            statuses = tenant_statuses(registry.tenants if registry is not None else [], self.process_env)
            done = Refresh(statuses, datetime.now(UTC), time.monotonic() - started)
            with self._lock:
                self._last = done
        log.debug("read %d tenant(s) in %.3f s", len(statuses), done.seconds)
        return done

    @property
    def last(self) -> Refresh:
        with self._lock:
            return self._last

    def status(self) -> list[dict[str, Any]]:
        """The rows of ``/status.json``, as of the last refresh."""
        return [s.as_dict() for s in self.last.statuses]

    def exposition(self) -> bytes:
        """``/metrics``: the tenants' gauges as of the last refresh."""
        return bytes(generate_latest(self.metrics))

    def start(self) -> None:
        """Refresh once now, then every ``refresh`` seconds in a daemon thread until ``close``."""
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="mapsync-status-board", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self.stop.wait(self.refresh_every):
            try:
                self.refresh()
            except Exception:  # the page keeps the last reading; the next refresh tries again
                log.exception("the tenants' status could not be read")

    def close(self) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join()


class _BoardCollector(Collector):
    """Per-tenant gauges from the board's last refresh (no store is read when Prometheus scrapes)."""

    def __init__(self, board: StatusBoard) -> None:
        self.board = board

    def collect(self) -> Iterator[GaugeMetricFamily]:
        last = self.board.last

        def gauge(name: str, text: str, labels: Sequence[str] = ("tenant",)) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, text, labels=list(labels))

        enabled = gauge("mapsync_tenant_enabled", "1 when the tenant is enabled in the registry")
        running = gauge("mapsync_tenant_running", "1 while the tenant's pass runs (unfinished, its lease held)")
        started = gauge("mapsync_tenant_last_pass_start_timestamp_seconds", "When the tenant's last pass started")
        seconds = gauge("mapsync_tenant_last_pass_seconds", "How long the tenant's last finished pass took")
        ok = gauge("mapsync_tenant_last_pass_ok",
                   "1 when the tenant's last pass ran to its end (ok or quarantined), 0 when it stopped (fatal) "
                   "or its process died")
        due = gauge("mapsync_tenant_next_pass_timestamp_seconds", "When the tenant's next pass is due")
        records = gauge("mapsync_tenant_last_pass_records", "Records of the tenant's last pass, by outcome",
                        ("tenant", "outcome"))
        quarantined = gauge("mapsync_tenant_quarantined", "Records of the tenant in quarantine")
        error = gauge("mapsync_tenant_error",
                      "1 when the tenant shows an error (its store cannot be read, its secrets or rule set are "
                      "missing, its last pass stopped)")
        for s in last.statuses:
            enabled.add_metric([s.id], 1.0 if s.enabled else 0.0)
            running.add_metric([s.id], 1.0 if s.running else 0.0)
            quarantined.add_metric([s.id], float(s.quarantined))
            error.add_metric([s.id], 1.0 if s.last_error else 0.0)
            if s.last_started is not None:
                started.add_metric([s.id], s.last_started.timestamp())
            if s.last_seconds is not None:
                seconds.add_metric([s.id], s.last_seconds)
                ok.add_metric([s.id], 0.0 if s.last_status == "fatal" else 1.0)
            elif s.last_started is not None and not s.running:
                ok.add_metric([s.id], 0.0)
            if s.next_due is not None:
                due.add_metric([s.id], s.next_due.timestamp())
            for outcome, n in sorted(s.totals.items()):
                records.add_metric([s.id, outcome], float(n))
        yield from (enabled, running, started, seconds, ok, due, records, quarantined, error)
        if last.at is not None and last.seconds is not None:
            yield GaugeMetricFamily("mapsync_status_refresh_timestamp_seconds",
                                    "When the status board last read the tenants' stores", value=last.at.timestamp())
            yield GaugeMetricFamily("mapsync_status_refresh_seconds",
                                    "How long the status board's last reading of the stores took", value=last.seconds)
