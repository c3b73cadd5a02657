"""What the products' simulated authentication shares: reading credentials from a request, OAuth refusals
(``oauth_error``) and the token state every simulator keeps in its default tenant's store (``store.auth``, so
it survives a restart).

``SimulatorAuth`` holds the store, the product's auth config and the clock, creates the token tables a product
names (``tables``) and makes every issued access token invalid on demand (``expire_tokens``: tests force a
401 and the client's renewal; ``POST /_sim/expire-tokens``). Products add their endpoints and checks.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from mapsync.connectors.simkit.records import RecordStore
from mapsync.connectors.simkit.routing import Request, Response, json_response

C = TypeVar("C")


def oauth_error(status: int, error: str, description: str) -> Response:
    """An OAuth 2 token endpoint's refusal (RFC 6749, 5.2): ``{"error", "error_description"}``."""
    return json_response(status, {"error": error, "error_description": description})


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None without one."""
    header = request.header("Authorization") or ""
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """``(id, secret)`` of an ``Authorization: Basic ...`` header; None without one; ``ValueError`` for one that
    cannot be read."""
    header = request.header("Authorization") or ""
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("unreadable Basic credentials") from None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


class SimulatorAuth(Generic[C]):
    """Token state of a simulator in ``store.auth``: ``tables`` (name -> empty value) are created when absent,
    ``access_table`` holds the access tokens ``expire_tokens`` revokes."""

    tables: ClassVar[Mapping[str, Callable[[], Any]]] = {"access_tokens": dict}
    access_table: ClassVar[str] = "access_tokens"

    def __init__(self, store: RecordStore, config: C, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        with store.lock:
            for name, empty in self.tables.items():
                store.auth.setdefault(name, empty())

    def tenant_of(self, request: Request) -> str | None:
        """The tenant a request's credentials name (None: none, refused, or the token endpoint)."""
        raise NotImplementedError

    def authenticate(self, request: Request) -> Response | None:
        """None when the API call's credentials are accepted, else the product's refusal."""
        raise NotImplementedError

    def expire_tokens(self) -> None:
        """Make every issued access token invalid (clients must renew theirs)."""
        with self.store.lock:
            self.store.auth[self.access_table] = {}
            self.store.save()

    def expire_access_tokens(self) -> None:
        """``expire_tokens`` by the name the webCRM and Fortnox simulators' tests use."""
        self.expire_tokens()
