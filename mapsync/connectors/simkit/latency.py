"""Simulated network latency: a uniform random delay before each API request is answered.

``latency=(low, high)`` in seconds (``SimServer``, every product simulator, ``mapsync sandbox --latency``). The
delay is spent in the thread that serves the request's connection, so it holds up that request only: the
servers are threaded, one thread per connection, and other clients are answered meanwhile. Control paths
(``/_sim/``) are never delayed.

``parse_latency`` reads the command line's form: ``100-300ms``, ``0.1-0.3s``, ``200ms`` (fixed), ``0.2``
(seconds).
"""

from __future__ import annotations

import random
import re

Latency = tuple[float, float]

_TEXT = re.compile(r"(\d+(?:\.\d+)?)(?:\s*-\s*(\d+(?:\.\d+)?))?\s*(ms|s)?")


def check_latency(latency: Latency | None) -> Latency | None:
    """``latency`` as floats; ``ValueError`` unless ``0 <= low <= high``."""
    if latency is None:
        return None
    low, high = float(latency[0]), float(latency[1])
    if not 0 <= low <= high:
        raise ValueError(f"latency must be 0 <= low <= high seconds, not {latency!r}")
    return low, high


def parse_latency(text: str) -> Latency:
    """``100-300ms`` -> ``(0.1, 0.3)``; ``ValueError`` for anything else."""
    match = _TEXT.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a latency like 100-300ms, 0.1-0.3s or 200ms")
    scale = 0.001 if match.group(3) == "ms" else 1.0
    low = float(match.group(1)) * scale
    high = float(match.group(2)) * scale if match.group(2) is not None else low
    if low > high:
        raise ValueError(f"{text!r}: the low end comes first, as in 100-300ms")
    return low, high


def draw(latency: Latency | None, rng: random.Random) -> float:
    """One request's delay in seconds (0 without latency)."""
    if latency is None:
        return 0.0
    low, high = latency
    return low if low == high else rng.uniform(low, high)
