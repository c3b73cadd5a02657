"""The tenants' status page, one for both runners: tenants with their last and next pass, counts, quarantine
and errors, refreshed live; and ``/metrics`` for Prometheus.

A small WSGI application served by the standard library's ``wsgiref`` in a daemon thread (three routes do
not need a web framework): ``/`` the page (HTML with a script that re-reads ``/status.json`` every two
seconds and redraws the table), ``/status.json`` the tenants, ``/metrics`` the Prometheus exposition. Where
they come from is the caller's: ``mapsync serve`` gives its scheduler's own view (``Server.status``,
``PassMetrics``), ``mapsync status TENANTS --http`` the tenants' state stores (``StatusBoard``: the Celery
workers' companion). It binds where it is told, 127.0.0.1 by default; it shows no secret.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mapsync tenants</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; }
table { border-collapse: collapse; } th, td { padding: .3em .7em; border-bottom: 1px solid #ddd; text-align: left; }
td.n { text-align: right; }
tr.fatal td, tr.not-run td, tr.error td { background: #fde8e8; } tr.quarantined td { background: #fff6db; }
#updated { color: #666; }
</style></head>
<body><h1>mapsync: tenants</h1><p id="updated">loading...</p>
<table id="tenants"><thead><tr><th>tenant</th><th>state</th><th>last pass</th><th>outcome</th><th>seconds</th>
<th>next pass</th><th>created</th><th>updated</th><th>quarantined</th><th>last error</th></tr></thead>
<tbody></tbody></table>
<script>
function cell(row, text, cls) { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; }
async function refresh() {
  try {
    const tenants = await (await fetch("status.json", {cache: "no-store"})).json();
    const body = document.querySelector("#tenants tbody");
    body.replaceChildren();
    for (const t of tenants) {
      const row = body.insertRow();
      row.id = "tenant-" + t.id;
      row.className = (t.last_status || "").replace(" ", "-") + (t.last_error ? " error" : "");
      cell(row, t.id); cell(row, t.running ? "running" : "waiting");
      cell(row, t.last_started || "never"); cell(row, t.last_status || "-");
      cell(row, t.last_seconds === null ? "-" : t.last_seconds, "n");
      cell(row, t.next_due || (t.enabled === false ? "disabled" : "now"));
      cell(row, (t.totals.created || 0), "n"); cell(row, (t.totals.updated || 0), "n");
      cell(row, t.quarantined, "n"); cell(row, t.last_error || "-");
    }
    document.getElementById("updated").textContent = tenants.length + " tenant(s), updated " + new Date().toISOString();
  } catch (e) {
    document.getElementById("updated").textContent = "cannot reach the server: " + e;
  }
}
refresh(); setInterval(refresh, 2000);
</script></body></html>
"""

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


Rows = Callable[[], list[dict[str, Any]]]
Exposition = Callable[[], bytes]


def application(rows: Rows, metrics: Exposition) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI app: ``rows`` gives the tenants as the page's script reads them (``id``, ``enabled``,
    ``running``, ``last_started``, ``last_status``, ``last_seconds``, ``next_due``, ``totals``, ``quarantined``,
    ``last_error``), ``metrics`` the Prometheus exposition."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path in ("/", "/index.html"):
            body, kind = PAGE.encode("utf-8"), "text/html; charset=utf-8"
        elif path == "/status.json":
            body, kind = json.dumps(rows(), ensure_ascii=False).encode("utf-8"), "application/json"
        elif path == "/metrics":
            body, kind = metrics(), CONTENT_TYPE_LATEST
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body))),
                                  ("Cache-Control", "no-store")])
        return [body]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are not worth a log line each


def start_status_server(rows: Rows, metrics: Exposition, host: str = "127.0.0.1", port: int = 0) -> WSGIServer:
    """Serve the status page in a daemon thread; ``port`` 0 picks a free one (``server_port`` tells)."""
    httpd = make_server(host, port, application(rows, metrics), handler_class=_QuietHandler)
    threading.Thread(target=httpd.serve_forever, name="mapsync-status", daemon=True).start()
    return httpd
