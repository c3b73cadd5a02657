"""Prometheus metrics of the passes ``serve`` runs (prometheus_client, the Prometheus project's own library).

Per tenant: passes by outcome, pass durations, records by mapping and outcome, records in quarantine, API
requests and HTTP 429 answers per system. Each ``Server`` keeps its own ``CollectorRegistry`` (tests and
several servers in one process do not collide); ``/metrics`` of the status server exposes it
(``mapsync.engine.tenants.web``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from mapsync.engine.sync.report import COUNTED, PassReport


class PassMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.passes = Counter("mapsync_passes", "Sync passes run, by tenant and outcome (ok, quarantined, fatal)",
                              ["tenant", "outcome"], registry=self.registry)
        self.duration = Histogram("mapsync_pass_duration_seconds", "Wall time of a pass", ["tenant"],
                                  buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 360, 900), registry=self.registry)
        self.records = Counter("mapsync_records", "Records by tenant, mapping and outcome",
                               ["tenant", "mapping", "outcome"], registry=self.registry)
        self.quarantined = Gauge("mapsync_quarantined_records", "Records in quarantine after the last pass",
                                 ["tenant"], registry=self.registry)
        self.requests = Counter("mapsync_api_requests", "API requests sent, by tenant and system",
                                ["tenant", "system"], registry=self.registry)
        self.rate_limited = Counter("mapsync_api_rate_limited", "API requests answered HTTP 429, by tenant and system",
                                    ["tenant", "system"], registry=self.registry)
        self.failures = Counter("mapsync_pass_failures", "Passes that could not start (secrets, rule set, store)",
                                ["tenant"], registry=self.registry)

    def observe(self, tenant: str, report: PassReport, quarantined: int) -> None:
        outcome = "fatal" if report.fatal else ("quarantined" if report.total("quarantined") else "ok")
        self.passes.labels(tenant, outcome).inc()
        self.duration.labels(tenant).observe(report.seconds)
        for mapping in report.mappings:
            for counter in COUNTED:
                if mapping.counts[counter]:
                    self.records.labels(tenant, mapping.name, counter).inc(mapping.counts[counter])
        self.quarantined.labels(tenant).set(quarantined)
        for system, sent in report.requests.items():
            self.requests.labels(tenant, system).inc(sent)
        for system, limited in report.rate_limited.items():
            self.rate_limited.labels(tenant, system).inc(limited)

    def failed(self, tenant: str) -> None:
        self.failures.labels(tenant).inc()

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return bytes(generate_latest(self.registry))
