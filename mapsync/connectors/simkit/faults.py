"""Fault injection for simulators, configurable at run time (Python API or ``POST /_sim/faults``).

Kinds:

- ``429``: answer the next ``count`` requests with the product's rate-limit response
  (``retry_after`` seconds in the ``Retry-After`` header, when the product sends one);
- ``5xx``: answer with ``status`` (default 500);
- ``delay``: wait ``seconds`` before answering the next ``count`` requests normally;
- ``drop``: close the connection without any response;
- ``html``: answer with ``status`` (default 500; a proxy's 502 or 503, say) and an HTML error page.

The kinds above never reach the product: nothing is done. The kinds below let the request be handled (a create
creates, an update updates) and spoil only the answer, as a proxy or a network fault would:

- ``slow``: answer ``seconds`` late (longer than the client's timeout: the client gives up, the work is done);
- ``reset``: send the status, the headers and half of the body, then close the connection;
- ``truncated``: answer with the first half of the body only (its length announced as such);
- ``malformed``: answer with the status and a body that is not JSON at all.

A fault may be limited to paths starting with ``path_prefix`` and to requests of one ``method``, and let the
first ``skip`` requests it applies to through (to strike in the middle of a pass). Delays
combine with one other fault; among failing faults the oldest registered applies first. Control paths
(``/_sim/``) are exempt.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, replace
from typing import Any

from mapsync.connectors.simkit.routing import Response

FAULT_KINDS = ("429", "5xx", "delay", "drop", "html", "slow", "reset", "truncated", "malformed")
AFTER_HANDLING = frozenset({"slow", "reset", "truncated", "malformed"})  # the request is handled, its answer spoilt


@dataclass
class Fault:
    kind: str
    count: int = 1
    status: int = 500
    seconds: float = 0.0
    retry_after: float | None = None
    path_prefix: str | None = None
    method: str | None = None
    skip: int = 0

    def applies_to(self, path: str, method: str | None = None) -> bool:
        return self.count > 0 and (self.path_prefix is None or path.startswith(self.path_prefix)) and (
            self.method is None or method is None or self.method == method.upper())


def fault_from_json(data: Any) -> Fault:
    """Validate one fault given as a JSON object; raises ``ValueError`` with a readable message."""
    if not isinstance(data, dict):
        raise ValueError("a fault must be a JSON object")
    kind = str(data.get("kind", ""))
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    unknown = set(data) - {"kind", "count", "status", "seconds", "retry_after", "path_prefix", "method", "skip"}
    if unknown:
        raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}")
    fault = Fault(
        kind=kind,
        count=int(data.get("count", 1)),
        status=int(data.get("status", 500)),
        seconds=float(data.get("seconds", 0.0)),
        retry_after=float(data["retry_after"]) if data.get("retry_after") is not None else None,
        path_prefix=data.get("path_prefix"),
        method=str(data["method"]).upper() if data.get("method") else None,
        skip=int(data.get("skip", 0)),
    )
    if fault.count < 1:
        raise ValueError("count must be at least 1")
    if kind in ("5xx", "html") and not 500 <= fault.status <= 599:
        raise ValueError(f"status of a {kind} fault must be 500..599")
    return fault


@dataclass(frozen=True)
class Injection:
    """What to do with one request: wait ``delay`` seconds, then fail with ``fault`` (if any)."""

    delay: float = 0.0
    fault: Fault | None = None


class FaultInjector:
    """Thread-safe queue of pending faults."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        kind: str,
        count: int = 1,
        *,
        status: int = 500,
        seconds: float = 0.0,
        retry_after: float | None = None,
        path_prefix: str | None = None,
        method: str | None = None,
        skip: int = 0,
    ) -> Fault:
        fault = fault_from_json(
            {
                "kind": kind,
                "count": count,
                "status": status,
                "seconds": seconds,
                "retry_after": retry_after,
                "path_prefix": path_prefix,
                "method": method,
                "skip": skip,
            }
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, path: str, method: str | None = None) -> Injection:
        """Consume the faults that apply to a ``method`` request for ``path``."""
        with self._lock:
            delay = 0.0
            failing: Fault | None = None
            for fault in self._faults:
                if not fault.applies_to(path, method):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                if fault.kind == "delay":
                    if delay == 0.0:
                        delay = fault.seconds
                        fault.count -= 1
                elif failing is None:
                    failing = Fault(**asdict(fault))
                    fault.count -= 1
            self._faults = [f for f in self._faults if f.count > 0]
            return Injection(delay, failing)

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


def html_error(status: int) -> Response:
    """A proxy's HTML error page (what a gateway in front of an API answers when the API is down)."""
    body = (f"<html><head><title>{status} Bad Gateway</title></head><body><center><h1>{status} Bad Gateway"
            "</h1></center><hr><center>nginx</center></body></html>").encode()
    return Response(status, body, {"Content-Type": "text/html"})


def spoil(response: Response, fault: Fault | None, stopping: threading.Event) -> Response:
    """The answer of a handled request as a fault of ``AFTER_HANDLING`` spoils it (None: as it is)."""
    if fault is None or response.drop:
        return response
    if fault.kind == "slow":
        stopping.wait(fault.seconds)
        return response
    half = len(response.body) // 2
    if fault.kind == "reset":
        return replace(response, cut=half)
    if fault.kind == "truncated":
        return replace(response, body=response.body[:half])
    return replace(response, body=b"<<not json>> {\"Customer\": ")  # malformed
