"""Visma.net's SameRequestLimit and ClientErrorLimit: in the simulator (requestlimits), and kept by the
client (requestguard) so that repeated reads wait and quarantine retries never trip either limit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from mapsync.connectors.base import NotFoundError, RejectedError
from mapsync.connectors.vismanet import VismanetClient
from mapsync.connectors.vismanet.simulator import VismanetAuthConfig, VismanetSimulator
from mapsync.connectors.vismanet.simulator.requestlimits import RequestLimitConfig

pytestmark = pytest.mark.e2e
CONFIG = VismanetAuthConfig()


class Clock:
    """One fake clock for the simulator's limits and the client's pacing; sleeping advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@contextmanager
def raw_client(sim: VismanetSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url) as http:
        form = {"grant_type": "client_credentials", "client_id": CONFIG.client_id,
                "client_secret": CONFIG.client_secret, "tenant_id": CONFIG.tenant_id}
        http.headers["Authorization"] = f"Bearer {http.post(sim.token_url, data=form).json()['access_token']}"
        yield http


def make(sim: VismanetSimulator, clock: Clock) -> VismanetClient:
    return VismanetClient(sim.url, token_url=sim.token_url, client_id=CONFIG.client_id,
                          client_secret=CONFIG.client_secret, tenant_id=CONFIG.tenant_id, rate_limit=None,
                          sleep=clock.sleep, monotonic=clock, request_guard=True)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock: Clock) -> Iterator[VismanetSimulator]:
    with VismanetSimulator(rate_limit=None, rate_clock=clock, request_limits=RequestLimitConfig()) as server:
        yield server


def test_same_request_limit_in_the_simulator(sim: VismanetSimulator, clock: Clock) -> None:
    with raw_client(sim) as http:
        answers = [http.get("/v1/customer", params={"pageSize": 10}) for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert answers[5].json()["message"].startswith("SameRequestLimit:")
        assert answers[5].headers["Retry-After"] == "60"
        assert http.get("/v1/customer", params={"pageSize": 11}).status_code == 200  # another request
        clock.now += 60
        assert http.get("/v1/customer", params={"pageSize": 10}).status_code == 200


def test_client_error_limit_in_the_simulator(sim: VismanetSimulator, clock: Clock) -> None:
    with raw_client(sim) as http:
        bad = {"name": {"value": "X"}, "currencyId": {"value": "NOPE"}}
        codes = [http.post("/v1/customer", json=bad).status_code for _ in range(3)]
        assert codes[:2] == [400, 400] and codes[2] == 429
        refused = http.post("/v1/customer", json=bad)
        assert refused.json()["message"].startswith("ClientErrorLimit:") and refused.headers["Retry-After"] == "300"
        assert http.post("/v1/customer", json={"name": {"value": "Fine"}}).status_code == 201  # others pass
        clock.now += 300
        assert http.post("/v1/customer", json=bad).status_code == 400
    off = RequestLimitConfig(enabled=False)
    with VismanetSimulator(rate_limit=None, request_limits=off) as lax, raw_client(lax) as http:
        assert [http.get("/v1/customer").status_code for _ in range(8)] == [200] * 8


def test_client_waits_instead_of_repeating_a_request_too_often(sim: VismanetSimulator, clock: Clock) -> None:
    with make(sim, clock) as client:
        client.create("customer", {"name": "A"})
        for _ in range(8):
            assert client.get("customer", "10000") is not None
    assert sim.log.count(status=429) == 0
    assert sim.request_limits.refused == {"SameRequestLimit": 0, "ClientErrorLimit": 0}
    assert clock.sleeps and all(s <= 61 for s in clock.sleeps)


def test_quarantine_retries_never_trip_the_client_error_limit(sim: VismanetSimulator, clock: Clock) -> None:
    """A record the server refuses is retried by the engine every pass; after two refusals in five
    minutes the client answers the retry itself, until the window has passed."""
    with make(sim, clock) as client:
        for attempt in range(7):  # a pass every minute
            with pytest.raises(RejectedError) as info:
                client.create("customer", {"name": "Bad", "currencyId": "NOPE"})
            if 2 <= attempt <= 5:
                assert "ClientErrorLimit" in str(info.value) and info.value.status == 400
            clock.now += 60
        sent = sim.log.count("POST", "/v1/customer")
        assert sent == 3  # two failures, then held back until 5 minutes after the first one, then one more
        with pytest.raises(NotFoundError):  # the error class of the last failure is kept
            for _ in range(3):
                client.update("customer", "99999", {"name": "Nobody"})
    assert sim.log.count(status=429) == 0
    assert sim.request_limits.refused == {"SameRequestLimit": 0, "ClientErrorLimit": 0}
