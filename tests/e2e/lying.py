"""A lying proxy for the end-to-end suites: a real HTTP server on a free 127.0.0.1 port in front of one
simulator, passing every request through except where its ``mode`` makes it lie about paging:

- ``endless``: every list request is answered with its first page, and Fortnox's ``@TotalPages`` says there
  are a million: pages that never end;
- ``ignore_since``: the changed-since filter (Fortnox ``lastmodified``, webCRM's ``UpdatedAt >=`` in the
  ``/Queries`` script) is dropped: every read returns everything.

The server runs in a daemon thread and stops with ``stop()`` (or the process).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

PAGE_PARAMS = ("page", "Page")


class LyingProxy:
    def __init__(self, target: str, mode: str) -> None:
        self.target, self.mode = target.rstrip("/"), mode
        self.lies = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                split = urlsplit(self.path)
                query = proxy.rewrite(split.path, parse_qsl(split.query, keep_blank_values=True))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                with httpx.Client(timeout=30) as client:
                    answer = client.request(self.command, f"{proxy.target}{split.path}", params=query,
                                            content=body, headers=headers)
                content = proxy.answer(split.path, answer.content)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def rewrite(self, path: str, query: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for key, value in query:
            if self.mode == "endless" and key in PAGE_PARAMS and value != "1":
                self.lies += 1
                value = "1"
            if self.mode == "ignore_since" and key == "lastmodified":
                self.lies += 1
                continue
            if self.mode == "ignore_since" and key == "script" and "UpdatedAt >=" in value:
                self.lies += 1
                value = re.sub(r"(UpdatedAt >= ')\d{4}", r"\g<1>2000", value)
            out.append((key, value))
        return out

    def answer(self, path: str, content: bytes) -> bytes:
        if self.mode != "endless" or not content.startswith(b"{"):
            return content
        body = json.loads(content)
        meta = body.get("MetaInformation") if isinstance(body, dict) else None
        if isinstance(meta, dict) and "@TotalPages" in meta:
            meta["@TotalPages"] = 1_000_000
            return json.dumps(body).encode()
        return content

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

