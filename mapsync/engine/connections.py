"""Connection settings at run time: ``${env:NAME}`` references resolved from the environment.

Rule files never hold secrets; ``resolve_connection`` reads them from the environment when a pass
starts. An unset variable is an error here (``validate`` only warns about it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mapsync.connectors.registry import optional_settings
from mapsync.engine.ruleset import SystemConfig

_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingEnvironment(Exception):
    """One or more environment variables a connection needs are not set."""


def resolve_connection(system: SystemConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """The connection settings with every ``${env:NAME}`` replaced by its value.

    Settings of an unused kind of credentials (``mapsync.connectors.registry.CREDENTIALS``) whose variables are
    not set are left out when another kind is complete.
    """
    available = {key for key, value in system.connection.items()
                 if all(name in environ for name in _ENV_REF.findall(value))}
    optional = optional_settings(system.connector, available)
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            missing.append(name)
            return ""
        return environ[name]

    resolved = {key: _ENV_REF.sub(substitute, value) for key, value in system.connection.items()
                if key in available or key not in optional}
    if missing:
        raise MissingEnvironment(f"{system.connector}: environment variable(s) not set: {', '.join(missing)}")
    return resolved
