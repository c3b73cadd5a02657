"""A Redis server of a test's own, for the Celery worker tests (a pytest plugin): ``redis-server`` started on a
free loopback port, keeping nothing on disk, so that a test can stop and restart it (a broker restart) without
touching anyone else's Redis.

Where the ``redis-server`` program is missing the tests that need it skip, saying so (and the end of the run
says how many), unless ``MAPSYNC_REQUIRE_SERVICES=1`` (CI sets it in ``.ci/run``): then they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_skipped: list[str] = []


def require_redis_server() -> str:
    """The ``redis-server`` program; skips the test (fails it with MAPSYNC_REQUIRE_SERVICES=1) without one."""
    found = shutil.which("redis-server")
    if found is None:
        message = "redis-server not found on PATH"
        if os.environ.get("MAPSYNC_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message}, and MAPSYNC_REQUIRE_SERVICES=1 requires it", pytrace=False)
        _skipped.append(message)
        pytest.skip(f"{message}; install Redis to test the Celery workers")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """``redis-server`` on 127.0.0.1:``port`` (persistence off); ``stop`` and ``start`` keep the port."""

    def __init__(self, program: str, folder: Path) -> None:
        self.program = program
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.starts += 1
        log = (self.folder / f"redis-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [self.program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}: see {log.name}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server of this test's own, stopped afterwards."""
    server = RedisServer(require_redis_server(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped:
        terminalreporter.write_line(
            f"{_skipped[0]}: {len(_skipped)} Celery worker test(s) skipped "
            "(MAPSYNC_REQUIRE_SERVICES=1 makes that a failure)")
