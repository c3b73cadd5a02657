"""Request log of a simulator: method, path, status and tenant of every API request (control paths excluded)."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LogEntry:
    method: str
    path: str
    query: str
    status: int  # 0 when the connection was dropped without a response
    tenant: str | None = None  # the tenant the request's credential named (None: none, or refused)


class RequestLog:
    """Thread-safe append-only list of ``LogEntry`` that tests read to count requests."""

    def __init__(self) -> None:
        self._entries: list[LogEntry] = []
        self._lock = threading.Lock()

    def add(self, entry: LogEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[LogEntry]:
        with self._lock:
            return list(self._entries)

    def count(
        self,
        method: str | None = None,
        path_prefix: str | None = None,
        status: int | None = None,
        tenant: str | None = None,
    ) -> int:
        return sum(
            1
            for e in self.entries()
            if (method is None or e.method == method.upper())
            and (path_prefix is None or e.path.startswith(path_prefix))
            and (status is None or e.status == status)
            and (tenant is None or e.tenant == tenant)
        )

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(e) for e in self.entries()]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
