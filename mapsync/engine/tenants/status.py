"""Per-tenant status from each tenant's state store: the last pass, the next one, counts, quarantine, errors.

``mapsync status TENANTS`` reads it; it works whether ``serve`` runs or not (the state stores are the
record): the last pass is the store's last run, the next is due its interval after that one started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mapsync.engine.state import StateError
from mapsync.engine.state.url import is_postgres_url, open_state_store
from mapsync.engine.tenants.registry import Registry, Tenant


@dataclass(frozen=True)
class TenantStatus:
    id: str
    enabled: bool
    last_started: datetime | None
    last_status: str | None  # ok, quarantined, fatal; None: never ran
    next_due: datetime | None
    totals: dict[str, int]
    quarantined: int
    last_error: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "enabled": self.enabled,
                "last_started": self.last_started.isoformat() if self.last_started else None,
                "last_status": self.last_status, "next_due": self.next_due.isoformat() if self.next_due else None,
                "totals": self.totals, "quarantined": self.quarantined, "last_error": self.last_error}


def tenant_status(tenant: Tenant) -> TenantStatus:
    if not is_postgres_url(tenant.state) and not Path(tenant.state).exists():
        return TenantStatus(tenant.id, tenant.enabled, None, None, None, {}, 0, "")
    try:
        with open_state_store(tenant.state, tenant=tenant.id) as store:
            summary = store.summary()
    except StateError as exc:
        return TenantStatus(tenant.id, tenant.enabled, None, None, None, {}, 0, str(exc))
    run = summary.last_run
    quarantined = sum(m.quarantined for m in summary.mappings)
    if run is None:
        return TenantStatus(tenant.id, tenant.enabled, None, None, None, {}, quarantined, "")
    totals = dict(run.summary.get("totals") or {})
    error = str(run.summary.get("fatal") or "") if run.status == "fatal" else ""
    if run.finished_at is None:
        error = "running, or its process died"
    next_due = run.started_at + timedelta(seconds=tenant.interval) if tenant.enabled else None
    return TenantStatus(tenant.id, tenant.enabled, run.started_at, run.status, next_due, totals, quarantined, error)


def registry_status(registry: Registry) -> list[TenantStatus]:
    return [tenant_status(t) for t in registry.tenants]


def render_text(statuses: list[TenantStatus]) -> str:
    lines = [f"{'tenant':<20} {'last pass':<20} {'status':<12} {'next pass':<20} {'created':>7} {'updated':>7} "
             f"{'quarantined':>11}  last error"]
    for s in statuses:
        last = f"{s.last_started:%Y-%m-%d %H:%M:%S}" if s.last_started else "never"
        nxt = f"{s.next_due:%Y-%m-%d %H:%M:%S}" if s.next_due else ("disabled" if not s.enabled else "now")
        lines.append(f"{s.id:<20} {last:<20} {s.last_status or '-':<12} {nxt:<20} {s.totals.get('created', 0):>7} "
                     f"{s.totals.get('updated', 0):>7} {s.quarantined:>11}  {s.last_error[:100] or '-'}")
    return "\n".join(lines) + "\n"
