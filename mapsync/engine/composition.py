"""The composition root: the one place where a sync pass is wired from a rule set, an environment and a store.

Everything that runs a pass goes through here: ``mapsync plan`` and ``run``, ``explain``, the demo, the
multi-tenant runner, the end-to-end tests and the benchmarks. Connection settings are resolved from the
``environ`` mapping given (``${env:NAME}`` in ruleset.yaml; for one tenant, that tenant's secrets), never from
``os.environ`` behind the caller's back: only the command line passes its own process environment.

- ``connect``: the connectors of both systems (clients registered in ``mapsync.connectors.registry``) with
  their field catalogues, the state store keeping rotated OAuth refresh tokens; a context manager that closes
  the clients.
- ``run_pass``: connect, run one pass (``apply=False``: the plan), close; the report.
- ``rotates_refresh_token``: whether a connection rotates its OAuth refresh token (decision 0004).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from mapsync.connectors.base import Connector
from mapsync.connectors.catalogue import Catalogue, load_catalogue
from mapsync.connectors.http.ratelimit import RateLimiter
from mapsync.connectors.registry import make_client
from mapsync.engine.connections import MissingEnvironment, resolve_connection
from mapsync.engine.logs import log_context
from mapsync.engine.ruleset import RuleSet, Side
from mapsync.engine.state import StateStore
from mapsync.engine.state.serial import SerialStore
from mapsync.engine.sync.passrun import Progress, StopSignal, SyncPass
from mapsync.engine.sync.report import PassReport

__all__ = ["Connected", "MissingEnvironment", "connect", "rotates_refresh_token", "run_pass"]


@dataclass
class Connected:
    """The two systems' connectors and catalogues of one rule set; close them when done (or use ``with``)."""

    connectors: dict[Side, Connector] = field(default_factory=dict)
    catalogues: dict[Side, Catalogue] = field(default_factory=dict)

    def close(self) -> None:
        for connector in self.connectors.values():
            connector.close()
        self.connectors.clear()

    def __enter__(self) -> Connected:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


LimiterFor = Callable[[str, Mapping[str, str]], RateLimiter | None]


def connect(ruleset: RuleSet, environ: Mapping[str, str], token_store: StateStore | None, *,
            limiter_for: LimiterFor | None = None, **client_options: Any) -> Connected:
    """Connectors for both systems of ``ruleset``, their settings resolved from ``environ``.

    ``token_store`` keeps a rotated OAuth refresh token (None: nothing rotates, or a probe that must not
    keep one); ``limiter_for(connector, settings)`` gives a rate limiter shared by every client of the same
    credential (the multi-tenant runner's ``LimiterPool``); ``client_options`` go to every client
    (``rate_limit=None`` in tests, say). ``MissingEnvironment`` when a setting's variable is not in ``environ``."""
    connected = Connected()
    try:
        for side in Side:
            system = ruleset.system(side)
            settings = resolve_connection(system, environ)
            options = dict(client_options)
            shared = limiter_for(system.connector, settings) if limiter_for is not None else None
            if shared is not None:
                options["limiter"] = shared
            connected.connectors[side] = make_client(system.connector, settings, token_store=token_store,
                                                     **options)
            connected.catalogues[side] = load_catalogue(system.connector)
    except BaseException:
        connected.close()
        raise
    return connected


def run_pass(ruleset: RuleSet, environ: Mapping[str, str], store: StateStore, *, apply: bool,
             force: bool = False, progress: Progress | None = None, tenant: str | None = None,
             token_store: StateStore | None = None, stop: StopSignal | None = None,
             limiter_for: LimiterFor | None = None, concurrency: int = 1, **client_options: Any) -> PassReport:
    """One pass of ``ruleset`` (``apply=False``: a plan, writing nothing), its clients opened and closed here.

    ``token_store`` keeps rotated refresh tokens (default: ``store``); ``tenant`` names the tenant in every
    log record of the pass (``mapsync.engine.logs``); ``stop``, once set, ends the pass after the record at
    hand (``PassStopped`` in the report's ``fatal``); ``concurrency``: records a run applies at once
    (``mapsync.engine.sync.pipeline``; the store is then shared by the pass's threads through ``SerialStore``)."""
    if apply and concurrency > 1:
        shared = SerialStore(store)
        token_store = shared if token_store is None or token_store is store else SerialStore(token_store)
        store = shared
    with log_context(tenant=tenant), connect(ruleset, environ, token_store or store, limiter_for=limiter_for,
                                             **client_options) as systems:
        report = SyncPass(ruleset, systems.connectors, systems.catalogues, store, apply=apply, progress=progress,
                          force=force, stop=stop, concurrency=concurrency).run()
        for connector in systems.connectors.values():
            report.requests[connector.name] = getattr(connector, "requests_sent", 0)
            report.rate_limited[connector.name] = getattr(connector, "rate_limited_responses", 0)
        return report


def rotates_refresh_token(ruleset: RuleSet, environ: Mapping[str, str]) -> bool:
    """Whether a connection rotates an OAuth refresh token (the new one must be kept: decision 0004)."""
    for side in Side:
        try:
            if resolve_connection(ruleset.system(side), environ).get("refresh_token"):
                return True
        except MissingEnvironment:
            continue  # reported when connecting
    return False
