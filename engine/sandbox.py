"""The sandbox: every simulator on loopback, with the environment the standard rule sets read.

``start_sandbox(folder)`` starts the webCRM and ERP simulators (data persisted under ``folder``), and
``write_env`` writes ``sandbox.env`` with shell ``KEY=VALUE`` lines for every connection setting. Used
by ``mapsync sandbox``, ``mapsync demo`` and the end-to-end tests.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_FILE = "sandbox.env"


@dataclass
class Sandbox:
    """Running simulators by connector name, and the environment that reaches them."""

    folder: Path | None
    simulators: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

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


def start_sandbox(folder: Path | None, *, seed: bool = False, realistic_limits: bool = True) -> Sandbox:
    """Start every simulator; ``seed`` adds demo records to empty stores; limits can be lifted for tests."""
    from connectors.fortnox.simulator import FortnoxAuthConfig
    from connectors.fortnox.simulator import start_simulator as start_fortnox
    from connectors.webcrm.simulator import WebcrmAuthConfig
    from connectors.webcrm.simulator import start_simulator as start_webcrm

    sandbox = Sandbox(folder)
    limits: dict[str, Any] = {} if realistic_limits else {"rate_limit": None}
    try:
        webcrm = start_webcrm(_data_dir(folder, "webcrm"), seed=seed, **limits)
        sandbox.simulators["webcrm"] = webcrm
        sandbox.env.update({"WEBCRM_BASE_URL": webcrm.url, "WEBCRM_API_TOKEN": WebcrmAuthConfig().api_tokens[0]})
        fortnox = start_fortnox(_data_dir(folder, "fortnox"), seed=seed, **limits)
        sandbox.simulators["fortnox"] = fortnox
        auth = FortnoxAuthConfig()
        sandbox.env.update({
            "FORTNOX_BASE_URL": fortnox.url,
            "FORTNOX_ACCESS_TOKEN": auth.access_tokens[0],
            "FORTNOX_CLIENT_ID": auth.client_id,
            "FORTNOX_CLIENT_SECRET": auth.client_secret,
            "FORTNOX_TENANT_ID": auth.tenant_ids[0],
        })
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
