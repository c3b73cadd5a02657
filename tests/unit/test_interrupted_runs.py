"""A run killed mid-pass is not left ``running`` for ever, and its lease does not keep the next run waiting: the
next pass that writes marks it interrupted, and a lease whose holder on this machine is gone is taken over."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

from mapsync.engine.state import SqliteStateStore
from mapsync.engine.state.lease import Lease, holder_is_gone, holder_name
from mapsync.engine.state.store import INTERRUPTED


def test_runs_left_running_are_finished_as_interrupted(tmp_path: Path) -> None:
    with SqliteStateStore(tmp_path / "s.sqlite") as store:
        killed = store.start_run()
        done = store.start_run()
        store.finish_run(done, "ok", {})
        assert store.interrupt_runs() == 1
        run = store.get_run(killed)
        assert run is not None and run.status == "fatal" and run.finished_at is not None
        assert run.summary["fatal"] == INTERRUPTED
        finished = store.get_run(done)
        assert finished is not None and finished.status == "ok"
        assert store.interrupt_runs() == 0


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lease_held_by_a_process_that_is_gone_is_taken_over(tmp_path: Path) -> None:
    here = holder_name("run")
    dead = here.split(":")[0] + f":{_dead_pid()}:1"
    assert holder_is_gone(dead) and not holder_is_gone(here)
    assert not holder_is_gone("run@another-machine:1:1")
    with SqliteStateStore(tmp_path / "s.sqlite") as store:
        assert store.acquire_lease(dead, timedelta(minutes=5))
        assert not Lease(store, here, threading.Event()).acquire()  # a store shared by machines waits
        lease = Lease(store, here, threading.Event(), one_machine=True)
        assert lease.acquire()
        assert store.lease_holder() == here


def test_a_lease_held_by_a_live_process_is_not_taken(tmp_path: Path) -> None:
    with SqliteStateStore(tmp_path / "s.sqlite") as store:
        alive = holder_name("serve").rsplit(":", 1)[0] + ":999"  # this very process, another thread
        assert store.acquire_lease(alive, timedelta(minutes=5))
        assert not Lease(store, holder_name("run"), threading.Event(), one_machine=True).acquire()
        assert store.lease_holder() == alive
