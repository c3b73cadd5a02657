"""Request and response values, JSON helpers, and a tiny router (method + path pattern -> handler).

Patterns use ``{name}`` placeholders for one path segment: ``/3/customers/{number}``. A trailing
slash is accepted on every route (real clients send ``/3/customers/``). Routes marked ``public``
skip the server's authentication hook (token endpoints). ``Router(ignore_case=True)`` matches the
literal parts of patterns case-insensitively (placeholders keep the case the client sent).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass
class Request:
    """One parsed HTTP request as handlers see it."""

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    tenant: str | None = None  # the tenant its credential names (set by the server; None: none, or refused)

    def header(self, name: str) -> str | None:
        """Header value by case-insensitive name."""
        lower = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lower:
                return value
        return None

    def base_url(self) -> str:
        """``http://<Host>`` as the client addressed the server (for links and ``Location`` headers)."""
        return f"http://{self.header('Host') or '127.0.0.1'}"

    def arg(self, name: str, *, ignore_case: bool = False) -> str | None:
        """First value of query parameter ``name`` (None when absent)."""
        if not ignore_case:
            values = self.query.get(name)
            return values[0] if values else None
        lower = name.lower()
        for key, values in self.query.items():
            if key.lower() == lower and values:
                return values[0]
        return None

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` on invalid JSON (empty body -> None)."""
        if not self.body.strip():
            return None
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    """What a handler returns. ``drop=True`` closes the connection without any response; ``cut=N`` sends the
    headers (the whole body's length announced) and the body's first N bytes, then closes the connection."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    cut: int | None = None


def json_response(status: int, data: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response (UTF-8, non-ASCII kept as is like the real products)."""
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    all_headers = {"Content-Type": "application/json; charset=utf-8"}
    all_headers.update(headers or {})
    return Response(status, body, all_headers)


def empty_response(status: int = 204, headers: Mapping[str, str] | None = None) -> Response:
    """A response without body (204 No Content by default)."""
    return Response(status, b"", dict(headers or {}))


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler
    public: bool = False


def compile_pattern(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """``/a/{id}/b`` -> regex with a named group per placeholder, optional trailing slash."""
    parts: list[str] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(pattern):
        parts.append(re.escape(pattern[pos : match.start()]))
        parts.append(f"(?P<{match.group(1)}>[^/]+)")
        pos = match.end()
    parts.append(re.escape(pattern[pos:].rstrip("/")))
    return re.compile("^" + "".join(parts) + "/?$", re.IGNORECASE if ignore_case else 0)


class Router:
    """Ordered list of routes; the first route whose method and pattern match wins."""

    def __init__(self, *, ignore_case: bool = False) -> None:
        self.routes: list[Route] = []
        self.ignore_case = ignore_case

    def add(self, method: str, pattern: str, handler: Handler, *, public: bool = False) -> None:
        regex = compile_pattern(pattern, ignore_case=self.ignore_case)
        self.routes.append(Route(method.upper(), pattern, regex, handler, public))

    def route(self, method: str, pattern: str, *, public: bool = False) -> Callable[[Handler], Handler]:
        """Decorator form of ``add``."""

        def register(handler: Handler) -> Handler:
            self.add(method, pattern, handler, public=public)
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """``(route, params, path_known)``; ``path_known`` tells 405 from 404 when no route fits."""
        path_known = False
        for route in self.routes:
            found = route.regex.match(path)
            if not found:
                continue
            path_known = True
            if route.method == method.upper():
                return route, dict(found.groupdict()), True
        return None, {}, path_known
