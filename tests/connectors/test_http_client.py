"""The clients' HTTP plumbing: one TLS context per process, shared by every client (a pass builds clients)."""

from __future__ import annotations

import ssl

from mapsync.connectors.fortnox.client import FortnoxClient
from mapsync.connectors.http.client import tls_context
from mapsync.connectors.vismanet.client import VismanetClient
from mapsync.connectors.webcrm.client import WebcrmClient


def _context(client: object) -> ssl.SSLContext:
    return client._http._transport._pool._ssl_context  # type: ignore[attr-defined]


def test_every_client_verifies_with_the_one_shared_tls_context() -> None:
    clients = [WebcrmClient("https://api.webcrm.example", "token"),
               FortnoxClient("https://api.fortnox.example", access_token="token"),
               VismanetClient("https://api.visma.example", token_url="https://connect.example/token",
                              client_id="id", client_secret="secret", tenant_id="tenant"),
               WebcrmClient("https://other.webcrm.example", "other")]
    try:
        assert all(_context(client) is tls_context() for client in clients)
        assert tls_context().verify_mode is ssl.CERT_REQUIRED and tls_context().check_hostname
    finally:
        for client in clients:
            client.close()
