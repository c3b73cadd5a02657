"""Crash points: ``MAPSYNC_CRASH_AT`` kills the process at the n-th time a point is reached, and nothing else."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from mapsync import crashpoints

SCRIPT = ("from mapsync import crashpoints\n"
          "for i in range(3):\n    crashpoints.reached('a:b')\n    print(i, flush=True)\n")


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAPSYNC_CRASH")}
    return subprocess.run([sys.executable, "-c", SCRIPT], env={**clean, **env}, capture_output=True, text=True,
                          timeout=60)


def test_the_nth_time_a_point_is_reached_kills_the_process(tmp_path: Path) -> None:
    killed = run({"MAPSYNC_CRASH_AT": "a:b:2", "MAPSYNC_CRASH_LOG": str(tmp_path / "log")})
    assert killed.returncode == -signal.SIGKILL and killed.stdout.split() == ["0"]
    assert (tmp_path / "log").read_text().split() == ["a:b", "a:b"]


def test_other_points_and_no_setting_leave_the_process_alone() -> None:
    assert run({"MAPSYNC_CRASH_AT": "a:c"}).stdout.split() == ["0", "1", "2"]
    assert run({}).returncode == 0


def test_a_point_without_a_count_is_the_first_time() -> None:
    assert crashpoints._target("record:committed") == ("record:committed", 1)
    assert crashpoints._target("request:fortnox:POST:7") == ("request:fortnox:POST", 7)
    assert crashpoints._target(None) is None
