"""Logging: every record of a pass carries its tenant, mapping and run; JSON lines when asked."""

from __future__ import annotations

import io
import json
import logging
import threading

from mapsync.engine.logs import configure_logging, log_context


def test_records_carry_the_context_as_json_lines() -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", json=True, stream=stream)
    log = logging.getLogger("mapsync.test")
    try:
        with log_context(tenant="acme"):
            log.info("outside a mapping")
            with log_context(mapping="customers", run=7):
                log.warning("inside")
            log.info("after")
        log.info("no tenant")
    finally:
        logging.getLogger("mapsync").removeHandler(handler)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(r["message"], r["tenant"], r["mapping"], r["run"]) for r in records] == [
        ("outside a mapping", "acme", None, None), ("inside", "acme", "customers", 7), ("after", "acme", None, None),
        ("no tenant", None, None, None)]
    assert records[1]["level"] == "WARNING" and records[1]["logger"] == "mapsync.test"


def test_concurrent_passes_keep_their_own_context() -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", stream=stream)
    log = logging.getLogger("mapsync.test")
    barrier = threading.Barrier(2)

    def work(tenant: str) -> None:
        with log_context(tenant=tenant):
            barrier.wait()
            log.info("working for %s", tenant)

    try:
        threads = [threading.Thread(target=work, args=(t,)) for t in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        logging.getLogger("mapsync").removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    for line in lines:
        tenant = line.rsplit(" ", 1)[1]
        assert f"[tenant={tenant} mapping=None run=None]" in line


def test_configuring_twice_replaces_the_handler() -> None:
    first = configure_logging("INFO", stream=io.StringIO())
    second = configure_logging("DEBUG", stream=io.StringIO())
    try:
        handlers = logging.getLogger("mapsync").handlers
        assert second in handlers and first not in handlers
    finally:
        logging.getLogger("mapsync").removeHandler(second)


def test_on_the_root_logger_other_libraries_share_the_format_and_nothing_is_doubled() -> None:
    """A Celery worker logs Celery's records and mapsync's through one handler on the root logger."""
    stream = io.StringIO()
    earlier = configure_logging("INFO", stream=io.StringIO())  # as `mapsync --log-level` installs it first
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO", json=True, stream=stream, root=True)
    try:
        assert earlier not in logging.getLogger("mapsync").handlers
        with log_context(tenant="acme"):
            logging.getLogger("mapsync.workers").info("pass ok")
            logging.getLogger("celery.worker").info("task received")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(r["logger"], r["message"], r["tenant"]) for r in records] == [
        ("mapsync.workers", "pass ok", "acme"), ("celery.worker", "task received", "acme")]
