"""Fortnox v3 connector: the API client, value helpers and (in ``.simulator``) a loopback simulator."""

from mapsync.connectors.fortnox.auth import FortnoxCredentials, SecretStore, token_url_for
from mapsync.connectors.fortnox.client import CURSOR_OVERLAP, FortnoxClient
from mapsync.connectors.fortnox.entities import ENTITIES, FortnoxEntity
from mapsync.connectors.fortnox.errors import FATAL_CODES, error_details, map_error
from mapsync.connectors.fortnox.timefmt import format_lastmodified, parse_lastmodified
from mapsync.connectors.fortnox.values import (
    API_BLANK,
    blank_changes,
    create_values,
    normalise_record,
    normalise_value,
)

__all__ = [
    "API_BLANK",
    "CURSOR_OVERLAP",
    "ENTITIES",
    "FATAL_CODES",
    "FortnoxClient",
    "FortnoxCredentials",
    "FortnoxEntity",
    "SecretStore",
    "blank_changes",
    "create_values",
    "error_details",
    "format_lastmodified",
    "map_error",
    "normalise_record",
    "normalise_value",
    "parse_lastmodified",
    "token_url_for",
]
