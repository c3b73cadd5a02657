"""The many-tenants world the tenants benchmarks share (``tenants.py`` for ``serve``, ``celery_workers.py`` for
Celery workers): one webCRM and one Fortnox simulator in a child process serving every tenant (each with its
own data and the real rate limits per tenant, every request delayed by a latency), driven by messages
(``Simulators``); the tenants registry with one rule set overlay (customers only) and one env file per tenant
(``write_tenants``); and the figures' helpers (``spread``, ``rss_kb``).

Not a test module: imported by the benchmark scripts, which run from this folder.
"""

from __future__ import annotations

import multiprocessing
import resource
import secrets
import statistics
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from mapsync.connectors.simkit import Latency

OVERLAY = """name: {id}
extends: mapsync:standard/fortnox
overrides:
  items: {{enabled: false}}
  deliveries-orders: {{enabled: false}}
  deliveries-invoices: {{enabled: false}}
  order-invoices: {{enabled: false}}
"""
CLIENT_ID, CLIENT_SECRET = "sandbox-client-id", "sandbox-client-secret"


def rss_kb() -> int:
    """This process's resident set now (kB)."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() // 1024


# ----------------------------------------------------------------------------- the simulators' process
def simulators(conn: Connection, latency: Latency | None) -> None:
    """The child process: one webCRM and one Fortnox simulator with the real limits, driven by messages."""
    from mapsync.connectors.fortnox.simulator import FortnoxSimulator
    from mapsync.connectors.webcrm.simulator import WebcrmSimulator

    webcrm = WebcrmSimulator(latency=latency).start()
    fortnox = FortnoxSimulator(latency=latency).start()
    conn.send({"WEBCRM_BASE_URL": webcrm.url, "FORTNOX_BASE_URL": fortnox.url})
    try:
        while True:
            message = conn.recv()
            kind = message[0]
            if kind == "setup":  # (kind, [(webCRM token, count)])
                for token, count in message[1]:
                    crm = webcrm.tenants.get(token)
                    for i in range(count):
                        crm.create("organisation", {
                            "OrganisationName": f"Customer {i}", "OrganisationType": "Customer",
                            "OrganisationExtraCustom1": str(1000 + i), "OrganisationTelephone": f"+46 8 {i:06d}"})
                conn.send(len(webcrm.tenants))
            elif kind == "change":  # (kind, webCRM token, Fortnox tenant, pass number, how many)
                _, token, tenant, number, count = message
                for k in range(count):
                    which = (number * count + k) // 2 % 5
                    phone = f"+46 31 {number:03d} {k:03d}"
                    if k % 2 == 0:
                        backend = webcrm.tenants.get(token)
                        orgs = backend.store.all("organisation")
                        if orgs:
                            backend.replace("organisation", orgs[which % len(orgs)]["OrganisationId"],
                                            {**orgs[which % len(orgs)], "OrganisationTelephone": phone})
                    else:
                        erp = fortnox.tenants.get(tenant)
                        numbers = sorted(erp.store.records["customer"])
                        if numbers:
                            erp.update("customer", numbers[which % len(numbers)], {"Phone1": phone})
            elif kind == "customers":  # (kind, [Fortnox tenant]): customers in Fortnox, all told
                conn.send(sum(len(fortnox.tenants.get(t).store.records["customer"]) for t in message[1]))
            elif kind == "stats":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                conn.send({
                    "requests": {"webcrm": len(webcrm.log), "fortnox": len(fortnox.log)},
                    "429": {"webcrm": webcrm.log.count(status=429), "fortnox": fortnox.log.count(status=429)},
                    "tenants": {"webcrm": len(webcrm.tenants) - 1, "fortnox": len(fortnox.tenants) - 1},
                    "cpu": usage.ru_utime + usage.ru_stime, "peak_rss_kb": usage.ru_maxrss, "rss_kb": rss_kb()})
            elif kind == "stop":
                break
    finally:
        webcrm.stop()
        fortnox.stop()
        conn.send("stopped")


class Simulators:
    """The simulators' child process and the messages to it (thread-safe): ``urls`` for the tenants' env files,
    ``setup``, ``change``, ``customers``, ``stats``; ``close`` stops it."""

    ANSWERED = ("setup", "stats", "customers")

    def __init__(self, latency: Latency | None) -> None:
        context = multiprocessing.get_context("spawn")
        self._ours, theirs = context.Pipe()
        self.process = context.Process(target=simulators, args=(theirs, latency), name="simulators")
        self.process.start()
        self._pipe = threading.Lock()
        self.urls: dict[str, str] = self._ours.recv()

    def ask(self, message: tuple[Any, ...]) -> Any:
        with self._pipe:
            self._ours.send(message)
            return self._ours.recv() if message[0] in self.ANSWERED else None

    def setup(self, tokens: dict[str, str], organisations: int) -> None:
        """Each tenant's webCRM (by token) holding ``organisations`` organisations."""
        self.ask(("setup", [(token, organisations) for token in tokens.values()]))

    def change(self, token: str, tenant: str, number: int, count: int) -> None:
        """After pass ``number`` of ``tenant``: ``count`` of its records changed, alternately in webCRM and Fortnox."""
        self.ask(("change", token, fortnox_tenant(tenant), number, count))

    def stats(self) -> dict[str, Any]:
        """Requests served and 429s per system so far, the process's CPU seconds and memory."""
        return dict(self.ask(("stats",)))

    def close(self) -> None:
        if self.process.is_alive():
            with self._pipe:
                self._ours.send(("stop",))
                self._ours.recv()
        self.process.join(30)


# ----------------------------------------------------------------------------- the tenants
def fortnox_tenant(tenant: str) -> str:
    """The Fortnox ``TenantId`` of a benchmark tenant."""
    return f"tenant-{tenant}"


def write_tenants(root: Path, count: int, urls: dict[str, str], interval: str, *, prefix: str = "t",
                  state: str = "state/{id}.sqlite") -> dict[str, str]:
    """The registry (``root/tenants.yaml``), one rule set overlay and one env file per tenant; the webCRM token
    of each tenant, by tenant id (``prefix`` and a number). ``state`` is the registry's ``defaults.state``."""
    tokens: dict[str, str] = {}
    lines = ["defaults:", f"  interval: {interval}", f"  state: '{state}'", "tenants:"]
    (root / "secrets").mkdir(parents=True, exist_ok=True)
    for n in range(count):
        tenant = f"{prefix}{n:05d}"
        tokens[tenant] = f"tenant-{tenant}-{secrets.token_hex(8)}"
        folder = root / "rulesets" / tenant
        folder.mkdir(parents=True)
        (folder / "ruleset.yaml").write_text(OVERLAY.format(id=tenant), encoding="utf-8")
        env = {**urls, "WEBCRM_API_TOKEN": tokens[tenant], "FORTNOX_CLIENT_ID": CLIENT_ID,
               "FORTNOX_CLIENT_SECRET": CLIENT_SECRET, "FORTNOX_TENANT_ID": fortnox_tenant(tenant)}
        (root / "secrets" / f"{tenant}.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()), "utf-8")
        lines.append(f"  - {{id: {tenant}, ruleset: rulesets/{tenant}, secrets: {{env_file: secrets/{tenant}.env}}}}")
    (root / "tenants.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tokens


# ----------------------------------------------------------------------------- figures
def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def spread(values: list[float]) -> str:
    """p50, p95 and max of ``values`` (seconds)."""
    if not values:
        return "-"
    ordered = sorted(values)
    return (f"p50 {statistics.median(ordered):.1f} s, p95 {percentile(ordered, 0.95):.1f} s, "
            f"max {ordered[-1]:.1f} s")
