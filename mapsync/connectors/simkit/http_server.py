"""Socket plumbing: a loopback ``ThreadingHTTPServer`` that hands parsed requests to a callback.

HTTP/1.1 with keep-alive, one thread per connection (a slow answer holds up no other client). ``close()``
stops the accept loop, shuts down every open connection so the handler threads finish, joins them and
closes the listening socket: no thread or socket is left behind (tests run with ResourceWarning as an
error).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from mapsync.connectors.simkit.routing import Request, Response

Dispatch = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections end by themselves
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: LoopbackHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr logging
        return

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        request = Request(
            method=self.command.upper(),
            path=unquote(split.path),
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k: v for k, v in self.headers.items()},
            body=body,
        )
        response = self.server.dispatch(request)
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self._send(response)
        except OSError:  # the client gave up waiting (a slow answer) or went away
            self.close_connection = True

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.cut is not None:  # a connection reset mid-response
            self.wfile.write(response.body[:response.cut])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


class LoopbackHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP server that tracks its connections and threads for a clean ``close``."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # the listen backlog: many clients connecting at once are not turned away

    def __init__(self, host: str, port: int, dispatch: Dispatch) -> None:
        self.dispatch = dispatch
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()
        super().__init__((host, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, reset, gave up) ends its connection quietly; anything else is
        printed as ``socketserver`` does."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address), daemon=True)
        with self._lock:
            self._connections.add(request)
            self._workers.add(thread)
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._connections.discard(request)
                self._workers.discard(threading.current_thread())

    def close(self, timeout: float = 5.0) -> None:
        """Stop serving (``shutdown`` must have returned), end connections, join threads."""
        with self._lock:
            connections = list(self._connections)
            threads = list(self._workers)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout)
        self.server_close()
