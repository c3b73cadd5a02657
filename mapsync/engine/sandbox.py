"""The sandbox: every simulator on loopback, with the environment the standard rule sets read.

``start_sandbox(folder)`` starts the webCRM and ERP simulators (data persisted under ``folder``), and
``write_env`` writes ``sandbox.env`` with shell ``KEY=VALUE`` lines for every connection setting. Used
by ``mapsync sandbox``, ``mapsync demo`` and the end-to-end tests.

Each simulator serves many tenants (docs/connectors.md, "Many tenants in one simulator"): the credentials in
``sandbox.env`` reach the default tenant, the one seeded and loaded here; a credential starting with
``tenant-`` names a tenant of its own. ``latency=(low, high)`` seconds delays every API request.

``snapshot`` seeds the simulators with the records of a snapshot of the real systems (``mapsync
sandbox --from``, docs/rehearsal.md): each product's ``load_records`` keeps their ids and moves its
number series past them. A simulator that already holds records (a ``folder`` used before) is not
loaded into: ``SnapshotError``. ``seed`` then adds the demo records to the simulators still empty.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapsync.connectors.registry import CONNECTOR_NAMES, CONNECTORS
from mapsync.connectors.simkit import Latency
from mapsync.engine.snapshot import SnapshotError, SnapshotFolder

ENV_FILE = "sandbox.env"


@dataclass
class Sandbox:
    """Running simulators by connector name, and the environment that reaches them."""

    folder: Path | None
    simulators: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    loaded: dict[str, int] = field(default_factory=dict)  # records loaded from a snapshot, per connector

    def stop(self) -> None:
        for simulator in self.simulators.values():
            simulator.stop()
        self.simulators.clear()

    def write_env(self, path: Path) -> Path:
        lines = [f"{key}={shlex.quote(value)}" for key, value in sorted(self.env.items())]
        tmp = path.with_suffix(".tmp")
        tmp.write_text("# written by mapsync sandbox; `set -a; . ./sandbox.env; set +a` to use it\n"
                       + "\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path


def _data_dir(folder: Path | None, name: str) -> Path | None:
    if folder is None:
        return None
    path = folder / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _starter(name: str) -> Any:
    return CONNECTORS[name].start_simulator()


def load_snapshot(simulator: Any, name: str, snapshot: SnapshotFolder) -> int:
    """Load the records ``snapshot`` holds for connector ``name`` into its (empty) simulator; how many."""
    entries = snapshot.by_connector().get(name, [])
    if not entries:
        return 0
    if not simulator.is_empty():
        raise SnapshotError(f"the {name} simulator already holds records (a sandbox folder used before); "
                            "serve the snapshot from a new --dir")
    try:
        return sum(simulator.load_records(entry.entity, snapshot.iter_records(entry)) for entry in entries)
    except ValueError as exc:
        raise SnapshotError(f"{snapshot.path}: {exc}") from None


def start_sandbox(folder: Path | None, *, seed: bool = False, realistic_limits: bool = True,
                  products: tuple[str, ...] = CONNECTOR_NAMES,
                  snapshot: SnapshotFolder | None = None, latency: Latency | None = None) -> Sandbox:
    """Start the simulators of ``products``; ``snapshot`` loads its records into them (they must be empty);
    ``seed`` then adds demo records to the stores still empty; limits can be lifted for tests; ``latency``
    delays every API request. Every simulator publishes the connection settings that reach it (``.env()``)."""
    sandbox = Sandbox(folder)
    limits: dict[str, Any] = {} if realistic_limits else {"rate_limit": None}
    if latency is not None:
        limits["latency"] = latency
    try:
        for name in products:
            simulator = _starter(name)(_data_dir(folder, name), **limits)
            sandbox.simulators[name] = simulator
            if snapshot is not None and (count := load_snapshot(simulator, name, snapshot)):
                sandbox.loaded[name] = count
            if seed and simulator.is_empty():
                simulator.seed_demo()
            sandbox.env.update(simulator.env())
    except BaseException:
        sandbox.stop()
        raise
    return sandbox


@contextmanager
def running_sandbox(folder: Path | None, **kwargs: Any) -> Iterator[Sandbox]:
    sandbox = start_sandbox(folder, **kwargs)
    try:
        yield sandbox
    finally:
        sandbox.stop()
