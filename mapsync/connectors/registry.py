"""Which connectors exist, which side each serves, and the connection settings each accepts.

``CONNECTION_SETTINGS[connector][name]`` is True when the setting is a secret (it must come from the
environment, ``${env:NAME}``, never a literal in a rule file).

``CREDENTIALS[connector]`` lists the alternative credential sets of a connector that accepts more than one
kind (Fortnox: a static access token, or OAuth client credentials). A rule set may name the settings of
several kinds; when one set has every value, the settings of the other kinds may stay unset: ``validate``
does not report them (MS502) and a pass leaves them out.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Collection
from typing import Any

from mapsync.connectors.base import Connector

SIDES: dict[str, str] = {"webcrm": "crm", "fortnox": "erp", "vismanet": "erp"}

CONNECTION_SETTINGS: dict[str, dict[str, bool]] = {
    "webcrm": {"base_url": False, "api_token": True},
    "fortnox": {
        "base_url": False,
        "auth_url": False,
        "access_token": True,
        "client_id": False,
        "client_secret": True,
        "refresh_token": True,
        "tenant_id": False,
    },
    "vismanet": {
        "base_url": False,
        "token_url": False,
        "client_id": False,
        "client_secret": True,
        "tenant_id": False,
    },
}

CREDENTIALS: dict[str, tuple[frozenset[str], ...]] = {
    "fortnox": (
        frozenset({"access_token"}),
        frozenset({"client_id", "client_secret", "tenant_id"}),  # client credentials (service account)
        frozenset({"client_id", "client_secret", "refresh_token"}),  # authorisation code, rotated refresh token
    ),
}


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
    if connector == "fortnox":
        from mapsync.connectors.fortnox.client import FortnoxClient

        return FortnoxClient(
            settings["base_url"],
            access_token=settings.get("access_token") or None,
            client_id=settings.get("client_id") or None,
            client_secret=settings.get("client_secret") or None,
            refresh_token=settings.get("refresh_token") or None,
            tenant_id=settings.get("tenant_id") or None,
            token_url=settings.get("auth_url") or None,
            token_store=token_store,
            **options,
        )
    if connector == "webcrm":
        from mapsync.connectors.webcrm.client import WebcrmClient

        return WebcrmClient(settings["base_url"], settings["api_token"], **options)
    if connector == "vismanet":
        from mapsync.connectors.vismanet.client import VismanetClient

        return VismanetClient(
            settings["base_url"],
            token_url=settings["token_url"],
            client_id=settings["client_id"],
            client_secret=settings["client_secret"],
            tenant_id=settings["tenant_id"],
            **options,
        )
    raise KeyError(f"unknown connector {connector!r}")


def rate_limit_of(connector: str) -> tuple[int, float] | None:
    """The client's own rate limit (requests, seconds): what one credential may spend, as the client's
    ``rate_limit`` default says (read from the client, so the two never differ)."""
    classes = {"fortnox": ("mapsync.connectors.fortnox.client", "FortnoxClient"),
               "webcrm": ("mapsync.connectors.webcrm.client", "WebcrmClient"),
               "vismanet": ("mapsync.connectors.vismanet.client", "VismanetClient")}
    if connector not in classes:
        raise KeyError(f"unknown connector {connector!r}")
    module_name, class_name = classes[connector]
    client = getattr(importlib.import_module(module_name), class_name)
    default = inspect.signature(client.__init__).parameters["rate_limit"].default
    return (int(default[0]), float(default[1])) if default else None
