"""Simulator toolkit: routing, lifecycle, faults, rate limit, persistence, request log."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from mapsync.connectors.simkit import (
    JsonStateFile,
    Request,
    Response,
    Router,
    ServerRateLimiter,
    SimServer,
    compile_pattern,
    empty_response,
    json_response,
)


def make_router() -> Router:
    router = Router()

    @router.route("GET", "/items/{item_id}")
    def get_item(request: Request) -> Response:
        return json_response(200, {"id": request.params["item_id"], "q": request.arg("q")})

    @router.route("POST", "/items")
    def post_item(request: Request) -> Response:
        return json_response(201, {"got": request.json()})

    @router.route("DELETE", "/items/{item_id}")
    def delete_item(request: Request) -> Response:
        return empty_response()

    @router.route("GET", "/boom")
    def boom(request: Request) -> Response:
        raise RuntimeError("handler bug")

    @router.route("GET", "/secret")
    def secret(request: Request) -> Response:
        return json_response(200, {"ok": True})

    @router.route("GET", "/public", public=True)
    def public(request: Request) -> Response:
        return json_response(200, {"ok": True})

    return router


def auth(request: Request) -> Response | None:
    if request.header("authorization") != "Bearer good":
        return json_response(401, {"message": "no"})
    return None


@pytest.fixture
def server():
    with SimServer(make_router(), authenticate=None) as srv:
        yield srv


def test_pattern_accepts_trailing_slash() -> None:
    rx = compile_pattern("/3/customers/{number}")
    assert rx.match("/3/customers/12")
    assert rx.match("/3/customers/12/")
    assert not rx.match("/3/customers/12/x")
    assert compile_pattern("/3/customers").match("/3/customers/")


def test_routes_and_json(server: SimServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/items/7", params={"q": "x"}).json() == {"id": "7", "q": "x"}
        r = client.post("/items", json={"a": "å"})
        assert r.status_code == 201 and r.json() == {"got": {"a": "å"}}
        assert client.delete("/items/7").status_code == 204
        assert client.get("/nowhere").status_code == 404
        assert client.put("/items/7").status_code == 405
        assert client.get("/boom").status_code == 500
    assert server.url.startswith("http://127.0.0.1:")


def test_auth_hook_and_public_routes() -> None:
    with SimServer(make_router(), authenticate=auth) as srv, httpx.Client(base_url=srv.url) as client:
        assert client.get("/secret").status_code == 401
        assert client.get("/secret", headers={"Authorization": "Bearer good"}).status_code == 200
        assert client.get("/public").status_code == 200


def test_only_loopback() -> None:
    with pytest.raises(ValueError):
        SimServer(Router(), host="0.0.0.0")


def test_stop_is_clean_with_open_keepalive_connection() -> None:
    srv = SimServer(make_router()).start()
    client = httpx.Client(base_url=srv.url)
    assert client.get("/items/1").status_code == 200
    srv.stop()  # connection still open on the client side
    srv.stop()  # idempotent
    client.close()
    assert not srv.running


def test_faults_api_and_http(server: SimServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        r = client.post("/_sim/faults", json=[{"kind": "429", "count": 2, "retry_after": 3}, {"kind": "5xx"}])
        assert r.status_code == 200 and len(r.json()["pending"]) == 2
        first = client.get("/items/1")
        assert first.status_code == 429 and first.headers["Retry-After"] == "3"
        assert client.get("/items/1").status_code == 429
        assert client.get("/items/1").status_code == 500
        assert client.get("/items/1").status_code == 200
        assert client.post("/_sim/faults", json={"kind": "nope"}).status_code == 400
        server.faults.add("5xx", 1, status=503, path_prefix="/other")
        assert client.get("/items/1").status_code == 200
        assert client.delete("/_sim/faults").json() == {"pending": []}


def test_drop_fault_closes_without_response(server: SimServer) -> None:
    server.faults.add("drop", 1)
    with httpx.Client(base_url=server.url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/items/1")
        assert client.get("/items/1").status_code == 200
    assert [e.status for e in server.log.entries()] == [0, 200]


def test_delay_fault(server: SimServer) -> None:
    server.faults.add("delay", 1, seconds=0.3)
    with httpx.Client(base_url=server.url, timeout=0.1) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/items/1")
        assert client.get("/items/1").status_code == 200


def test_faults_that_spoil_the_answer_of_a_handled_request() -> None:
    handled: list[str] = []
    router = make_router()

    @router.route("POST", "/made")
    def made(request: Request) -> Response:
        handled.append("made")
        return json_response(201, {"Customer": {"CustomerNumber": "1001", "Name": "A name long enough"}})

    with SimServer(router) as server, httpx.Client(base_url=server.url, timeout=0.2) as client:
        server.faults.add("slow", 1, seconds=0.5, method="POST")
        with pytest.raises(httpx.ReadTimeout):
            client.post("/made")
        server.faults.add("reset", 1)
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/made")
        server.faults.add("truncated", 1)
        cut = client.post("/made")
        assert cut.status_code == 201 and cut.headers["Content-Type"].startswith("application/json")
        with pytest.raises(ValueError):
            cut.json()
        server.faults.add("malformed", 1)
        with pytest.raises(ValueError):
            client.post("/made").json()
        assert handled == ["made"] * 4  # each request was handled: only its answer was spoilt
        server.faults.add("html", 1, status=502)
        page = client.post("/made")
        assert page.status_code == 502 and page.text.startswith("<html>") and handled == ["made"] * 4


def test_faults_by_method_and_after_a_number_of_requests(server: SimServer) -> None:
    server.faults.add("5xx", 1, method="POST", skip=2)
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/items/1").status_code == 200  # not a POST
        assert [client.post("/items", json={}).status_code for _ in range(4)] == [201, 201, 500, 201]
        assert client.post("/_sim/faults", json={"kind": "html", "status": 404}).status_code == 400


def test_server_rate_limit_sliding_window() -> None:
    now = [0.0]
    limiter = ServerRateLimiter(3, 1.0, clock=lambda: now[0])
    assert [limiter.check() for _ in range(3)] == [None, None, None]
    assert limiter.check() == pytest.approx(1.0)
    now[0] = 0.5
    assert limiter.check("other") is None  # separate key
    now[0] = 1.0
    assert limiter.check() is None
    disabled = ServerRateLimiter(1, 1.0, enabled=False)
    assert all(disabled.check() is None for _ in range(5))


def test_rate_limited_server_answers_429_with_retry_after() -> None:
    with (
        SimServer(make_router(), rate_limiter=ServerRateLimiter(2, 30.0)) as srv,
        httpx.Client(base_url=srv.url) as client,
    ):
        codes = [client.get("/items/1").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert int(client.get("/items/1").headers["Retry-After"]) >= 20
        client.get("/_sim/health")  # control paths are never limited
        client.post("/_sim/reset")
        assert client.get("/items/1").status_code == 200


def test_request_log_counts(server: SimServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        client.get("/items/1")
        client.get("/items/2")
        client.post("/items", json={})
        client.get("/_sim/health")
        assert len(client.get("/_sim/log").json()["requests"]) == 3
    assert server.log.count("GET", "/items") == 2
    assert server.log.count(status=201) == 1
    server.log.clear()
    assert server.log.entries() == []


def test_concurrent_requests(server: SimServer) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with httpx.Client(base_url=server.url) as client:
                for i in range(10):
                    assert client.get(f"/items/{i}").status_code == 200
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert server.log.count() == 40


def test_json_state_file(tmp_path) -> None:
    store = JsonStateFile(tmp_path / "sim")
    assert store.load() is None
    store.save({"a": [1, 2], "b": "ö"})
    assert store.load() == {"a": [1, 2], "b": "ö"}
    store.save({"a": 2})
    assert json.loads((tmp_path / "sim" / "state.json").read_text(encoding="utf-8")) == {"a": 2}
    assert [p.name for p in (tmp_path / "sim").iterdir()] == ["state.json"]
    memory = JsonStateFile(None)
    memory.save({"x": 1})
    assert memory.load() is None


def test_a_client_that_resets_its_connection_is_not_a_traceback(server: SimServer,
                                                                capfd: pytest.CaptureFixture[str]) -> None:
    """A client killed mid-request (the crash suite's SIGKILL) resets its connection: the simulator ends it
    quietly, printing nothing, and goes on serving."""
    import socket
    import struct
    import time

    host, port = server.url.removeprefix("http://").split(":")
    for _ in range(3):
        sock = socket.create_connection((host, int(port)))
        sock.sendall(b"GET /items/1 HTTP/1.1\r\nHost: x\r\n")  # a request cut short
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST, as the kernel sends for a killed process
    time.sleep(0.3)
    assert httpx.get(server.url + "/items/1").status_code == 200
    assert "Traceback" not in capfd.readouterr().err
