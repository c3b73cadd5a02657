"""Retrying request executor against httpx.MockTransport."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from mapsync.connectors.base import FatalError, TransientError
from mapsync.connectors.http import RequestExecutor, RetryPolicy, SlidingWindowRateLimiter, retry_after_seconds

SECRET = "s3cr3t-token-value"


def make(
    responses: list[Callable[[httpx.Request], httpx.Response] | httpx.Response | Exception],
    fake_clock,
    *,
    attempts: int = 4,
    limiter: SlidingWindowRateLimiter | None = None,
) -> tuple[RequestExecutor, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        if isinstance(item, httpx.Response):
            return item
        return item(request)

    client = httpx.Client(
        transport=httpx.MockTransport(handler),
        base_url="https://api.example.test",
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    executor = RequestExecutor(
        client,
        policy=RetryPolicy(max_attempts=attempts, base_delay=1.0, max_delay=8.0),
        sleep=fake_clock.sleep,
        random=lambda: 1.0,
        limiter=limiter,
    )
    return executor, seen


def test_success_first_time(fake_clock) -> None:
    ex, seen = make([httpx.Response(200, json={"ok": True})], fake_clock)
    assert ex.request("GET", "/x").json() == {"ok": True}
    assert len(seen) == 1 and fake_clock.sleeps == []


def test_429_honours_retry_after(fake_clock) -> None:
    ex, _seen = make([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={})], fake_clock)
    assert ex.request("GET", "/x").status_code == 200
    assert fake_clock.sleeps == [3.0]


def test_429_without_header_uses_backoff(fake_clock) -> None:
    ex, _ = make([httpx.Response(429), httpx.Response(429), httpx.Response(200)], fake_clock)
    ex.request("GET", "/x")
    assert fake_clock.sleeps == [1.0, 2.0]


def test_backoff_is_capped_and_jittered(fake_clock) -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    assert [policy.backoff(n, lambda: 1.0) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]
    assert policy.backoff(3, lambda: 0.25) == 1.0


def test_5xx_retried_then_transient_error(fake_clock) -> None:
    ex, seen = make([httpx.Response(503)], fake_clock, attempts=3)
    with pytest.raises(TransientError) as info:
        ex.request("GET", "/customers?token=abc")
    assert len(seen) == 3
    assert info.value.status == 503
    assert "token=abc" not in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
    ],
)
def test_transport_errors_are_retried(fake_clock, exc: Exception) -> None:
    ex, seen = make([exc, httpx.Response(200)], fake_clock)
    assert ex.request("GET", "/x").status_code == 200
    assert len(seen) == 2


def test_transport_errors_exhausted_raise_transient(fake_clock) -> None:
    ex, seen = make([httpx.ReadTimeout("timed out")], fake_clock, attempts=2)
    with pytest.raises(TransientError) as info:
        ex.request("GET", "/x")
    assert len(seen) == 2
    assert SECRET not in str(info.value) and "Bearer" not in str(info.value)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 422])
def test_4xx_never_retried(fake_clock, status: int) -> None:
    ex, seen = make([httpx.Response(status)], fake_clock)
    assert ex.request("GET", "/x").status_code == status
    assert len(seen) == 1


def test_post_not_retried_after_5xx_or_lost_response(fake_clock) -> None:
    ex, seen = make([httpx.Response(500), httpx.Response(201)], fake_clock)
    with pytest.raises(TransientError):
        ex.request("POST", "/x", json={})
    assert len(seen) == 1
    ex, seen = make([httpx.RemoteProtocolError("gone"), httpx.Response(201)], fake_clock)
    with pytest.raises(TransientError):
        ex.request("POST", "/x", json={})
    assert len(seen) == 1


def test_post_retried_after_429_and_connect_error(fake_clock) -> None:
    ex, seen = make([httpx.Response(429), httpx.ConnectError("refused"), httpx.Response(201)], fake_clock)
    assert ex.request("POST", "/x", json={}).status_code == 201
    assert len(seen) == 3


def test_put_action_can_be_marked_non_idempotent(fake_clock) -> None:
    ex, seen = make([httpx.Response(502), httpx.Response(200)], fake_clock)
    with pytest.raises(TransientError):
        ex.request("PUT", "/orders/1/createinvoice", idempotent=False)
    assert len(seen) == 1


def test_unsupported_scheme_is_fatal(fake_clock) -> None:
    ex, _ = make([httpx.UnsupportedProtocol("ftp")], fake_clock)
    with pytest.raises(FatalError):
        ex.request("GET", "/x")


def test_limiter_is_used_per_attempt(fake_clock) -> None:
    limiter = SlidingWindowRateLimiter(2, 10.0, clock=fake_clock, sleep=fake_clock.sleep)
    ex, _seen = make([httpx.Response(200)], fake_clock, limiter=limiter)
    for _ in range(3):
        ex.request("GET", "/x")
    assert fake_clock.sleeps == [pytest.approx(10.0)]


def test_retry_after_parsing() -> None:
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "14"})) == 14.0
    assert retry_after_seconds(httpx.Response(429)) is None
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    date = "Wed, 21 Oct 2015 07:28:10 GMT"
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": date}), now=1445412480) == 10


def _cut(status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=b'{"Customers": [{"Name": "A', headers={"Content-Type": "application/json"})


def test_an_unreadable_json_answer_to_a_read_is_retried(fake_clock) -> None:
    ex, seen = make([_cut(), httpx.Response(200, json={"ok": True})], fake_clock)
    assert ex.request("GET", "/x").json() == {"ok": True}
    assert len(seen) == 2


def test_an_unreadable_json_answer_to_a_create_is_transient_at_once(fake_clock) -> None:
    ex, seen = make([_cut(201), httpx.Response(201, json={})], fake_clock)
    with pytest.raises(TransientError, match="not valid JSON"):
        ex.request("POST", "/x", json={})
    assert len(seen) == 1  # it may have created the record: reconciled by the engine, never sent twice


def test_a_body_that_is_not_announced_as_json_is_left_to_the_caller(fake_clock) -> None:
    ex, _seen = make([httpx.Response(200, content=b"12", headers={"Content-Type": "text/plain"})], fake_clock)
    assert ex.request("POST", "/x").text == "12"
