"""Transport rules (issue 13; ``mapsync.connectors.http.transport``): plain HTTP only to loopback, TLS verified
for everything else (a self-signed certificate on a real socket is refused), a timeout on every request (a
server that accepts and never answers), no control character sent. Prints its figures (``-s``).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mapsync.connectors.base import ConnectorError, FatalError, RejectedError
from mapsync.connectors.fortnox.client import FortnoxClient
from mapsync.connectors.vismanet.client import VismanetClient
from mapsync.connectors.webcrm.client import WebcrmClient

FIGURES = {"tried": 0, "held": 0}


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    print(f"\ntransport: {FIGURES['tried']} case(s) tried, {FIGURES['held']} held")


def _held(ok: bool) -> None:
    FIGURES["tried"] += 1
    FIGURES["held"] += ok
    assert ok


def _clients(base: str, token_url: str | None = None) -> list[object]:
    return [
        lambda: WebcrmClient(base, "token"),
        lambda: FortnoxClient(base, access_token="token", token_url=token_url),
        lambda: VismanetClient(base, client_id="id", client_secret="secret", tenant_id="t", token_url=token_url),
    ]


@pytest.mark.parametrize("base", ["http://erp.example.com", "http://10.0.0.7:8080/api", "http://127.0.0.1.nip.io",
                                  "ftp://127.0.0.1/x", "api.fortnox.se/3"])
def test_plain_http_to_another_host_is_a_configuration_error(base: str) -> None:
    for make in _clients(base):
        with pytest.raises(FatalError) as refused:
            make()  # type: ignore[operator]
        _held("https://" in str(refused.value) and "URL" in str(refused.value))


@pytest.mark.parametrize("base", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9",
                                  "https://api.fortnox.se"])
def test_https_anywhere_and_http_to_loopback_are_allowed(base: str) -> None:
    for make in _clients(base, token_url="https://apps.fortnox.se/oauth-v1/token"):
        client = make()  # type: ignore[operator]
        client.close()  # type: ignore[attr-defined]
        _held(True)


def test_a_token_url_in_clear_text_is_refused() -> None:
    for make in _clients("https://api.example.com", token_url="http://login.example.com/token")[1:]:
        with pytest.raises(FatalError, match="token URL uses plain http"):
            make()  # type: ignore[operator]
        _held(True)


def test_a_borrowed_client_without_timeouts_is_refused() -> None:
    with httpx.Client(timeout=None) as http, pytest.raises(ValueError, match="without a timeout"):
        WebcrmClient("http://127.0.0.1:1", "token", http=http)
    _held(True)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections on a free 127.0.0.1 port and never answers; closed after the test."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def test_every_request_has_a_timeout(silent_server: int) -> None:
    from mapsync.connectors.http import RetryPolicy

    client = FortnoxClient(f"http://127.0.0.1:{silent_server}", access_token="token", timeout=0.5,
                           retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01), rate_limit=None)
    started = time.monotonic()
    with client, pytest.raises(ConnectorError):
        client.get("customer", "1")
    _held(time.monotonic() - started < 5)


@pytest.fixture
def self_signed_server(tmp_path: Path) -> Iterator[int]:
    """A TLS server on a free 127.0.0.1 port with a self-signed certificate (openssl), answering 200."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn = listener.accept()[0]
            except OSError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(65536)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_tls_is_verified(self_signed_server: int) -> None:
    from mapsync.connectors.http import RetryPolicy

    client = WebcrmClient(f"https://127.0.0.1:{self_signed_server}", "token", rate_limit=None,
                          retry=RetryPolicy(max_attempts=1, base_delay=0.01, max_delay=0.01))
    with client, pytest.raises(ConnectorError) as failed:
        client.get("organisation", "1")
    chain, error = [], failed.value
    while error is not None:
        chain.append(repr(error))
        error = error.__cause__ or error.__context__
    _held("CERTIFICATE_VERIFY_FAILED" in " ".join(chain) or "certificate" in " ".join(chain).lower())


def test_a_control_character_is_never_sent() -> None:
    sent: list[httpx.Request] = []
    answer = {"Customer": {"CustomerNumber": "1"}}
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200, json=answer))
    client = FortnoxClient("https://api.example.com", access_token="token", transport=transport, rate_limit=None)
    for value in ("A\x00B", "bell\x07", "esc\x1b[31m", "del\x7f"):
        with pytest.raises(RejectedError, match="control character"):
            client.create("customer", {"Name": value})
        _held(not sent)
    client.create("customer", {"Name": "tab\tand\nnewline"})
    _held(len(sent) == 1)
