"""Visma.net ERP connector: the API client, wire-shape helpers and (in ``.simulator``) a loopback simulator."""

from mapsync.connectors.vismanet.auth import CONNECT_TOKEN_URL, DEFAULT_SCOPE, VismaConnectCredentials, token_url_for
from mapsync.connectors.vismanet.client import DEFAULT_OVERLAP, DEFAULT_RATE_LIMIT, PAGE_SIZE, VismanetClient
from mapsync.connectors.vismanet.entities import ENTITIES, LinesShape, VismanetEntity
from mapsync.connectors.vismanet.errors import FATAL_CODES, error_details, map_error
from mapsync.connectors.vismanet.throttle import HeaderThrottle
from mapsync.connectors.vismanet.timefmt import format_dto, format_filter, parse_cursor, parse_dto, parse_filter
from mapsync.connectors.vismanet.wire import line_operations, nest, strip_metadata, write_body, write_fields

__all__ = [
    "CONNECT_TOKEN_URL",
    "DEFAULT_OVERLAP",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_SCOPE",
    "ENTITIES",
    "FATAL_CODES",
    "PAGE_SIZE",
    "HeaderThrottle",
    "LinesShape",
    "VismaConnectCredentials",
    "VismanetClient",
    "VismanetEntity",
    "error_details",
    "format_dto",
    "format_filter",
    "line_operations",
    "map_error",
    "nest",
    "parse_cursor",
    "parse_dto",
    "parse_filter",
    "strip_metadata",
    "token_url_for",
    "write_body",
    "write_fields",
]
