"""The one place that registers a connector: its side, its connection settings, its client, its field
catalogue and its simulator (``CONNECTORS``). Everything else derives from it: the connector names the rule
set schema accepts (``mapsync.engine.ruleset.schema``), the catalogues (``mapsync.connectors.catalogue``), the
clients a pass builds (``make_client``), the sandbox's simulators, the product names in documents.

Adding a connector: its folder under ``mapsync/connectors/`` (client with a ``from_settings`` class method,
``catalogue.yaml``, ``simulator`` with ``start_simulator``) and one ``ConnectorSpec`` below (docs/connectors.md,
"Adding a connector").

A rule set names a setting's value from the environment as ``<CONNECTOR>_<SETTING>`` (``env_name``:
``FORTNOX_CLIENT_ID``), as the standard rule sets, the sandbox's ``sandbox.env`` and ``mapsync init``'s CI
files do. ``production`` gives the live values of the settings that are not secrets (the product's API URL);
``ci_credentials`` the credential set a CI plan uses when there are several (a service account's).

``settings[name]`` is True when the setting is a secret (it must come from the environment,
``${env:NAME}``, never a literal in a rule file). ``credentials`` lists the alternative credential sets of a
connector that accepts more than one kind (Fortnox: a static access token, or OAuth client credentials). A
rule set may name the settings of several kinds; when one set has every value, the settings of the other
kinds may stay unset: ``validate`` does not report them (MS502) and a pass leaves them out.

Clients and simulators are named by import path and imported when first used: validating a rule set does
not import HTTP clients.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mapsync.connectors.base import Connector


def _load(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


@dataclass(frozen=True)
class ConnectorSpec:
    """One connector, as the engine knows it."""

    name: str  # in rule sets: ``connector: webcrm``
    title: str  # for people: "webCRM"
    side: str  # "crm" or "erp"
    settings: Mapping[str, bool]  # connection setting -> is a secret
    client: str  # "module:Class"; the class's ``from_settings(settings, token_store=..., **options)`` builds it
    simulator: str  # "module:function" starting the loopback simulator (``mapsync sandbox``)
    credentials: tuple[frozenset[str], ...] = ()
    production: Mapping[str, str] = field(default_factory=dict)  # setting -> its live value (not secrets)
    ci_credentials: frozenset[str] | None = None  # None: every setting without a production value

    @property
    def catalogue_path(self) -> Path:
        return Path(__file__).parent / self.name / "catalogue.yaml"

    def client_class(self) -> Any:
        return _load(self.client)

    def start_simulator(self) -> Callable[..., Any]:
        return _load(self.simulator)

    def env_name(self, setting: str) -> str:
        """The environment variable a rule set reads the setting from: ``FORTNOX_CLIENT_ID``."""
        return f"{self.name}_{setting}".upper()

    def ci_settings(self) -> tuple[str, ...]:
        """The settings a CI plan is given as secrets, in the order of ``settings``."""
        kind = self.ci_credentials
        return tuple(name for name in self.settings
                     if name not in self.production and (kind is None or name in kind))


CONNECTORS: Mapping[str, ConnectorSpec] = MappingProxyType({spec.name: spec for spec in (
    ConnectorSpec(
        name="webcrm", title="webCRM", side="crm",
        settings={"base_url": False, "api_token": True},
        client="mapsync.connectors.webcrm.client:WebcrmClient",
        simulator="mapsync.connectors.webcrm.simulator:start_simulator",
        production={"base_url": "https://api.webcrm.com"},
    ),
    ConnectorSpec(
        name="fortnox", title="Fortnox", side="erp",
        settings={"base_url": False, "auth_url": False, "access_token": True, "client_id": False,
                  "client_secret": True, "refresh_token": True, "tenant_id": False},
        client="mapsync.connectors.fortnox.client:FortnoxClient",
        simulator="mapsync.connectors.fortnox.simulator:start_simulator",
        credentials=(
            frozenset({"access_token"}),
            frozenset({"client_id", "client_secret", "tenant_id"}),  # client credentials (service account)
            frozenset({"client_id", "client_secret", "refresh_token"}),  # authorisation code, rotated token
        ),
        production={"base_url": "https://api.fortnox.se"},
        ci_credentials=frozenset({"client_id", "client_secret", "tenant_id"}),
    ),
    ConnectorSpec(
        name="vismanet", title="Visma.net", side="erp",
        settings={"base_url": False, "token_url": False, "client_id": False, "client_secret": True,
                  "tenant_id": False},
        client="mapsync.connectors.vismanet.client:VismanetClient",
        simulator="mapsync.connectors.vismanet.simulator:start_simulator",
        production={"base_url": "https://api.finance.visma.net", "token_url": "https://connect.visma.com/connect/token"},
    ),
)})

CONNECTOR_NAMES: tuple[str, ...] = tuple(CONNECTORS)
SIDES: dict[str, str] = {name: spec.side for name, spec in CONNECTORS.items()}
CONNECTION_SETTINGS: dict[str, dict[str, bool]] = {name: dict(spec.settings) for name, spec in CONNECTORS.items()}
CREDENTIALS: dict[str, tuple[frozenset[str], ...]] = {
    name: spec.credentials for name, spec in CONNECTORS.items() if spec.credentials}


def connectors_of_side(side: str) -> tuple[str, ...]:
    return tuple(name for name, spec in CONNECTORS.items() if spec.side == side)


def names_of_side(side: str) -> str:
    """The connectors of ``side`` for messages: ``fortnox or vismanet``."""
    names = connectors_of_side(side)
    return " or ".join(filter(None, (", ".join(names[:-1]), names[-1]))) if names else "none"


def titles(names: tuple[str, ...] = CONNECTOR_NAMES) -> str:
    """The connectors' titles for people: ``webCRM, Fortnox and Visma.net``."""
    shown = [title_of(name) for name in names]
    return " and ".join(filter(None, (", ".join(shown[:-1]), shown[-1]))) if shown else ""


def title_of(connector: str) -> str:
    """The product's name for people (``webCRM``); an unknown connector's own name."""
    spec = CONNECTORS.get(connector)
    return spec.title if spec is not None else connector


def credential_kinds(connector: str) -> str:
    """The credential sets of ``connector`` for messages: ``access_token; or client_id + client_secret + ...``."""
    order = list(CONNECTION_SETTINGS[connector])
    return "; or ".join(" + ".join(sorted(kind, key=order.index)) for kind in CREDENTIALS.get(connector, ()))


def credential_settings(connector: str) -> frozenset[str]:
    """Every setting that belongs to one of the connector's alternative credential sets."""
    return frozenset().union(*CREDENTIALS.get(connector, ()))


def optional_settings(connector: str, available: Collection[str]) -> frozenset[str]:
    """Settings that may stay unset because another credential set is complete.

    ``available``: the names of the settings that have a value. Empty when the connector has a single kind
    of credentials or no set is complete (then every unset setting is missing).
    """
    if not any(kind <= set(available) for kind in CREDENTIALS.get(connector, ())):
        return frozenset()
    return credential_settings(connector)


def make_client(connector: str, settings: dict[str, str], *, token_store: Any = None, **options: Any) -> Connector:
    """A client for ``connector`` from resolved connection settings (no ``${env:...}`` left).

    ``options`` go to the client's constructor (``rate_limit=None`` in tests, for instance).
    """
    if connector not in CONNECTORS:
        raise KeyError(f"unknown connector {connector!r}")
    client: Connector = CONNECTORS[connector].client_class().from_settings(settings, token_store=token_store,
                                                                           **options)
    return client


def rate_limit_of(connector: str) -> tuple[int, float] | None:
    """The client's own rate limit (requests, seconds): what one credential may spend, as the client's
    ``rate_limit`` default says (read from the client, so the two never differ)."""
    if connector not in CONNECTORS:
        raise KeyError(f"unknown connector {connector!r}")
    client = CONNECTORS[connector].client_class()
    default = inspect.signature(client.__init__).parameters["rate_limit"].default
    return (int(default[0]), float(default[1])) if default else None
