"""webCRM connector: the REST API client and (in ``.simulator``) a loopback simulator."""

from mapsync.connectors.webcrm.auth import WebcrmSession
from mapsync.connectors.webcrm.client import DEFAULT_OVERLAP, WebcrmClient
from mapsync.connectors.webcrm.entities import ENTITIES, WebcrmEntity
from mapsync.connectors.webcrm.errors import error_message, map_error
from mapsync.connectors.webcrm.queries import format_timestamp, literal, parse_timestamp, select

__all__ = [
    "DEFAULT_OVERLAP",
    "ENTITIES",
    "WebcrmClient",
    "WebcrmEntity",
    "WebcrmSession",
    "error_message",
    "format_timestamp",
    "literal",
    "map_error",
    "parse_timestamp",
    "select",
]
