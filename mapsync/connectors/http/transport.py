"""Transport rules every connector endpoint obeys (issue 13): TLS for anything off this machine, plain HTTP only
to loopback (the simulators), and a timeout on every request.

``check_endpoint`` refuses a base or token URL that would send credentials in clear text over a network
(``http://`` to any host but ``127.0.0.1``, ``::1`` or ``localhost``), or that is no HTTP URL at all, with a
``FatalError`` naming the setting to fix: a configuration error, before any request. TLS verification is
always on for the clients mapsync builds (``HttpClientBase``; there is no switch to turn it off), and
``check_timeouts`` refuses an ``httpx.Client`` handed in without a timeout for connect, read, write and pool.

``control_character`` finds a control character (U+0000 to U+001F but tab, newline and carriage return, and
U+007F) in a payload about to be written: no system should be sent a NUL byte or an escape sequence
read from another one; the record is refused (``RejectedError``) and quarantined instead.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from mapsync.connectors.base import FatalError

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_endpoint(url: str, what: str) -> None:
    """``FatalError`` unless ``url`` is ``https://HOST`` or ``http://`` to loopback. ``what``: the setting."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        raise FatalError(f"{what} {url!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise FatalError(f"{what} must be an https:// URL (got {url!r})")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise FatalError(f"{what} uses plain http:// to {host}: credentials would travel unencrypted. Use "
                         "https:// (plain http is allowed only to 127.0.0.1 or localhost, the simulators)")


def checked_token_url(url: str, system: str) -> str:
    """``url`` once ``check_endpoint`` passed it (an OAuth token URL carries the client secret)."""
    check_endpoint(url, f"the {system} token URL")
    return url


def check_timeouts(client: httpx.Client) -> None:
    """``ValueError`` for a client that could wait for ever on some phase of a request."""
    timeout = client.timeout
    if None in (timeout.connect, timeout.read, timeout.write, timeout.pool):
        raise ValueError("an httpx.Client without a timeout for connect, read, write and pool cannot be used: a "
                         "request could hang for ever")


def control_character(value: Any, path: str = "") -> tuple[str, str] | None:
    """(field path, the character as U+XXXX) of the first control character in ``value``'s strings, or None."""
    if isinstance(value, str):
        found = _CONTROL.search(value)
        return (path or "value", f"U+{ord(found.group()):04X}") if found else None
    if isinstance(value, dict):
        for key, item in value.items():
            hit = control_character(str(key), path) if _CONTROL.search(str(key)) else None
            hit = hit or control_character(item, f"{path}.{key}" if path else str(key))
            if hit:
                return hit
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            hit = control_character(item, f"{path}[{index}]")
            if hit:
                return hit
    return None
