"""Two processes of one tenant refreshing the Fortnox token at once must not both spend the same refresh
token (Fortnox rotates it: the second refresh with the old one is refused and the integration must be
authorised again). The refresh runs under the state store's secret lock: SQLite's write lock, PostgreSQL's
advisory lock; the second waits, reads the rotated token and refreshes with that."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from mapsync.connectors.fortnox.client import FortnoxClient
from mapsync.engine.state import SqliteStateStore, StateStore
from tests.state_backends import delete_tenant, new_tenant, require_postgres


class SlowRotatingTokens:
    """A token endpoint that rotates refresh tokens (the old one is refused after use) and answers slowly,
    so that two refreshes overlap unless something serialises them."""

    def __init__(self) -> None:
        self.valid = {"rt-0"}
        self.counter = 0
        self.lock = threading.Lock()
        self.refused = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/oauth-v1/token":
            return httpx.Response(200, json={"Customer": {"CustomerNumber": "1"}})
        form = dict(httpx.QueryParams(request.content.decode()))
        with self.lock:
            ok = form.get("refresh_token") in self.valid
            if ok:
                self.valid.discard(form["refresh_token"])
        time.sleep(0.3)
        if not ok:
            self.refused += 1
            return httpx.Response(400, json={"error": "invalid_grant", "error_description": "Invalid refresh token"})
        with self.lock:
            self.counter += 1
            refresh = f"rt-{self.counter}"
            self.valid.add(refresh)
        return httpx.Response(200, json={"access_token": f"at-{refresh}", "refresh_token": refresh,
                                         "expires_in": 3600, "token_type": "bearer"})


def _race(open_store: Callable[[], StateStore]) -> SlowRotatingTokens:
    server = SlowRotatingTokens()
    errors: list[BaseException] = []

    def one() -> None:
        with open_store() as store:
            client = FortnoxClient("https://api.fortnox.se", client_id="cid", client_secret="cs",
                                   refresh_token="rt-0", token_store=store, rate_limit=None,
                                   transport=httpx.MockTransport(server))
            try:
                client.get("customer", "1")
            except BaseException as exc:  # recorded for the assertion below
                errors.append(exc)
            finally:
                client.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and server.refused == 0 and server.counter == 2
    return server


def test_two_sqlite_connections_refresh_one_after_the_other(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    SqliteStateStore(path).close()  # created and migrated once
    _race(lambda: SqliteStateStore(path))
    with SqliteStateStore(path) as store:
        assert store.get_secret("fortnox.cid.refresh_token") == "rt-2"


@pytest.mark.e2e
def test_two_postgres_connections_refresh_one_after_the_other() -> None:
    url = require_postgres()
    from mapsync.engine.state.postgres import PostgresStateStore

    tenant = new_tenant()
    try:
        _race(lambda: PostgresStateStore(url, tenant=tenant))
        with PostgresStateStore(url, tenant=tenant) as store:
            assert store.get_secret("fortnox.cid.refresh_token") == "rt-2"
    finally:
        delete_tenant("mapsync", tenant)
