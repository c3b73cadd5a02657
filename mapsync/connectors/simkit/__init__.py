"""Shared simulator toolkit: loopback HTTP server, router, rate limit, latency, faults, persistence, log, the
record store, tenants (a backend per credential's tenant) and the product-simulator base
(seed/clear/expire-tokens controls, ``env``)."""

from mapsync.connectors.simkit.auth import SimulatorAuth, basic_credentials, bearer_token, oauth_error
from mapsync.connectors.simkit.errors import SimulatorError, answer_errors
from mapsync.connectors.simkit.faults import FAULT_KINDS, Fault, FaultInjector, fault_from_json
from mapsync.connectors.simkit.forms import parse_form
from mapsync.connectors.simkit.latency import Latency, parse_latency
from mapsync.connectors.simkit.persistence import JsonStateFile
from mapsync.connectors.simkit.product import ProductSimulator, tenant_key
from mapsync.connectors.simkit.ratelimit import ServerRateLimiter
from mapsync.connectors.simkit.records import Now, RecordStore, utc_now
from mapsync.connectors.simkit.requestlog import LogEntry, RequestLog
from mapsync.connectors.simkit.routing import (
    Handler,
    Request,
    Response,
    Router,
    compile_pattern,
    empty_response,
    json_response,
)
from mapsync.connectors.simkit.server import CONTROL_PREFIX, SimServer
from mapsync.connectors.simkit.tenants import DEFAULT_TENANT, TENANT_PREFIX, Tenants, invented, tenant_dir

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_TENANT",
    "FAULT_KINDS",
    "TENANT_PREFIX",
    "Fault",
    "FaultInjector",
    "Handler",
    "JsonStateFile",
    "Latency",
    "LogEntry",
    "Now",
    "ProductSimulator",
    "RecordStore",
    "Request",
    "RequestLog",
    "Response",
    "Router",
    "ServerRateLimiter",
    "SimServer",
    "SimulatorAuth",
    "SimulatorError",
    "Tenants",
    "answer_errors",
    "basic_credentials",
    "bearer_token",
    "compile_pattern",
    "empty_response",
    "fault_from_json",
    "invented",
    "json_response",
    "oauth_error",
    "parse_form",
    "parse_latency",
    "tenant_dir",
    "tenant_key",
    "utc_now",
]
