"""Shared fixtures of the connector tests: a fake clock whose sleep advances time instantly."""

from __future__ import annotations

import pytest


class FakeClock:
    """``clock()`` returns the fake time; ``sleep(s)`` advances it and records the pause."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
