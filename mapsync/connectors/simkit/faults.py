"""Fault injection for simulators, configurable at run time (Python API or ``POST /_sim/faults``).

Kinds:

- ``429``: answer the next ``count`` requests with the product's rate-limit response
  (``retry_after`` seconds in the ``Retry-After`` header, when the product sends one);
- ``5xx``: answer with ``status`` (default 500);
- ``delay``: wait ``seconds`` before answering the next ``count`` requests normally;
- ``drop``: close the connection without any response.

A fault may be limited to paths starting with ``path_prefix``. Delays combine with one other fault;
among failing faults the oldest registered applies first. Control paths (``/_sim/``) are exempt.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

FAULT_KINDS = ("429", "5xx", "delay", "drop")


@dataclass
class Fault:
    kind: str
    count: int = 1
    status: int = 500
    seconds: float = 0.0
    retry_after: float | None = None
    path_prefix: str | None = None

    def applies_to(self, path: str) -> bool:
        return self.count > 0 and (self.path_prefix is None or path.startswith(self.path_prefix))


def fault_from_json(data: Any) -> Fault:
    """Validate one fault given as a JSON object; raises ``ValueError`` with a readable message."""
    if not isinstance(data, dict):
        raise ValueError("a fault must be a JSON object")
    kind = str(data.get("kind", ""))
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    unknown = set(data) - {"kind", "count", "status", "seconds", "retry_after", "path_prefix"}
    if unknown:
        raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}")
    fault = Fault(
        kind=kind,
        count=int(data.get("count", 1)),
        status=int(data.get("status", 500)),
        seconds=float(data.get("seconds", 0.0)),
        retry_after=float(data["retry_after"]) if data.get("retry_after") is not None else None,
        path_prefix=data.get("path_prefix"),
    )
    if fault.count < 1:
        raise ValueError("count must be at least 1")
    if kind == "5xx" and not 500 <= fault.status <= 599:
        raise ValueError("status of a 5xx fault must be 500..599")
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
    ) -> Fault:
        fault = fault_from_json(
            {
                "kind": kind,
                "count": count,
                "status": status,
                "seconds": seconds,
                "retry_after": retry_after,
                "path_prefix": path_prefix,
            }
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, path: str) -> Injection:
        """Consume the faults that apply to a request for ``path``."""
        with self._lock:
            delay = 0.0
            failing: Fault | None = None
            for fault in self._faults:
                if not fault.applies_to(path):
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
