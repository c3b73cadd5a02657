"""The tenants registry: which customers one installation syncs, read and checked like a rule set.

A registry is a YAML file (``tenants.yaml``, schema ``mapsync/schemas/tenants.schema.json``): per tenant an
id, its rule set folder, where its secrets come from (a dotenv file, or the process environment's variables
with a prefix), its interval, its state store and whether it is enabled, with ``defaults`` for the interval
and the state store. ``load_registry`` reads it with positions and reports every problem at once as located
diagnostics: schema (MS2xx), a duplicate id (MS701), a rule set that is missing or does not validate with the
tenant's own secrets (MS702, with the rule set's own diagnostics), secrets that cannot be read (MS703). A
tenant with a problem is left out; the others stay. The rule sets checked are kept compiled (``compiled``), so
that ``mapsync serve`` does not compile each tenant's twice at start-up. ``RegistryFile`` is the registry as the
long-running processes follow it (serve, workers, scheduler, the status page): read again when its file
changes, a change that does not load keeping the last good one. docs/deployment.md documents the format.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from mapsync.engine.diagnostics import Diagnostic, Location, Severity
from mapsync.engine.ruleset import RuleSet, UsageError, load_ruleset
from mapsync.engine.ruleset.loader import display_path
from mapsync.engine.ruleset.schema import check_schema
from mapsync.engine.ruleset.source import read_source

SCHEMA = "tenants.schema.json"
DEFAULT_INTERVAL = "6m"
DEFAULT_STATE = "state/{id}.sqlite"
_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)([smh]?)")
_TENANT_PATH = re.compile(r"^\$\.tenants\[(\d+)\]")


def interval_seconds(text: str) -> float:
    """``30s``, ``6m``, ``1h`` (a bare number: seconds) in seconds; ``ValueError`` otherwise."""
    match = _INTERVAL.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an interval like 30s, 6m or 1h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


class SecretsError(Exception):
    """A tenant's secrets cannot be read (a missing or unreadable env file)."""


@dataclass(frozen=True)
class Secrets:
    """Where a tenant's connection settings come from; read afresh for every pass (a rotated secret is seen)."""

    kind: str  # "env_file" or "env_prefix"
    value: str  # the file (absolute) or the prefix

    def read(self, process_env: Mapping[str, str] | None = None) -> dict[str, str]:
        if self.kind == "env_prefix":
            env = os.environ if process_env is None else process_env
            return {name[len(self.value):]: value for name, value in env.items() if name.startswith(self.value)}
        path = Path(self.value)
        if not path.is_file():
            raise SecretsError(f"secrets file {display_path(path)} does not exist")
        try:
            values = dotenv_values(path, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretsError(f"secrets file {display_path(path)} cannot be read: {exc}") from exc
        return {name: value for name, value in values.items() if value is not None}

    def describe(self) -> str:
        return f"env file {display_path(Path(self.value))}" if self.kind == "env_file" else (
            f"environment variables {self.value}*")


@dataclass(frozen=True)
class Tenant:
    """One customer: its rule set, secrets, cadence and state store."""

    id: str
    ruleset: Path
    secrets: Secrets
    interval: float  # seconds between the starts of two passes
    state: str  # a SQLite path or a postgresql:// URL
    enabled: bool
    location: Location  # where the registry names it
    locations: Mapping[str, Location] = field(default_factory=dict, compare=False)  # of its keys (secrets, ...)

    def where(self, key: str) -> Location:
        return self.locations.get(key, self.location)

    def environ(self, process_env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The tenant's connection settings (``SecretsError`` when they cannot be read)."""
        return self.secrets.read(process_env)


def file_stamps(files: list[str] | tuple[str, ...]) -> dict[str, float]:
    """Each file's modification time (-1 when it cannot be read): a compiled rule set is current while its
    files' stamps are unchanged."""
    out = {}
    for name in files:
        try:
            out[name] = os.stat(name).st_mtime
        except OSError:
            out[name] = -1.0
    return out


@dataclass(frozen=True)
class Compiled:
    """A tenant's rule set as compiled when the registry was checked, with its files' stamps."""

    ruleset: RuleSet
    stamps: dict[str, float]


@dataclass
class Registry:
    path: Path
    tenants: list[Tenant] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    compiled: dict[str, Compiled] = field(default_factory=dict)  # by tenant id, when rule sets were checked

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)

    def tenant(self, tenant_id: str) -> Tenant | None:
        return next((t for t in self.tenants if t.id == tenant_id), None)


def _state(pattern: str, tenant_id: str, folder: Path) -> str:
    if pattern.startswith(("postgresql://", "postgres://")):
        return pattern
    return str((folder / pattern.replace("{id}", tenant_id)).resolve())


def check_tenant_ruleset(tenant: Tenant, process_env: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """The tenant's rule set checked with the tenant's own secrets: its diagnostics, and one at the tenant's
    entry in the registry when it has errors (MS702) or its secrets cannot be read (MS703)."""
    return _check_tenant(tenant, process_env)[0]


def _check_tenant(tenant: Tenant, process_env: Mapping[str, str] | None) -> tuple[list[Diagnostic], Compiled | None]:
    """``check_tenant_ruleset``'s diagnostics, and the rule set compiled when it has no errors."""
    try:
        environ = tenant.environ(process_env)
    except SecretsError as exc:
        return [Diagnostic("MS703", f"tenant {tenant.id}: {exc}", tenant.where("secrets"))], None
    try:
        result = load_ruleset(tenant.ruleset, environ, for_run=True)
    except UsageError as exc:
        return [Diagnostic("MS702", f"tenant {tenant.id}: {exc}", tenant.where("ruleset"))], None
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    if not errors:
        ruleset = result.ruleset
        return [], Compiled(ruleset, file_stamps(ruleset.files)) if ruleset is not None else None
    unset = sorted({d.message.split()[2] for d in errors if d.code == "MS502"})
    hint = (f"{tenant.secrets.describe()} lacks {', '.join(unset)}" if unset else
            "fix the rule set's errors listed with this one")
    message = (f"tenant {tenant.id}: its rule set {display_path(tenant.ruleset)} has {len(errors)} error(s) with "
               "its secrets")
    return [Diagnostic("MS702", message, tenant.where("ruleset"), hint=hint), *errors], None


def load_registry(path: Path | str, *, check_rulesets: bool = True,
                  process_env: Mapping[str, str] | None = None) -> Registry:
    """Read and check a tenants registry; every problem located. ``check_rulesets``: load each enabled
    tenant's rule set with its secrets (a tenant whose rule set fails is left out)."""
    path = Path(path)
    registry = Registry(path)
    doc = read_source(path, display_path(path))
    registry.files.append(doc.file)
    registry.diagnostics.extend(doc.diagnostics)
    if doc.data is None:
        return registry
    problems = check_schema(doc, SCHEMA)
    registry.diagnostics.extend(problems)
    broken = {int(m.group(1)) for d in problems if (m := _TENANT_PATH.match(d.location.json_path))}
    if any(not _TENANT_PATH.match(d.location.json_path) for d in problems):
        return registry  # the file as a whole is wrong: no tenant is taken from it
    folder = path.resolve().parent
    defaults = doc.data.get("defaults") or {}
    seen: dict[str, int] = {}
    for index, item in enumerate(doc.data["tenants"]):
        at = ("tenants", index)
        if index in broken:
            continue  # reported by the schema; the other tenants stay
        if item["id"] in seen:
            registry.diagnostics.append(Diagnostic(
                "MS701", f"tenant id {item['id']!r} is used twice (first at tenants[{seen[item['id']]}])",
                doc.location((*at, "id"))))
            continue
        seen[item["id"]] = index
        interval_text = item.get("interval", defaults.get("interval", DEFAULT_INTERVAL))
        kind, value = next(iter(item["secrets"].items()))
        secrets = Secrets(kind, str((folder / value).resolve()) if kind == "env_file" else value)
        tenant = Tenant(
            id=item["id"], ruleset=(folder / item["ruleset"]).resolve(), secrets=secrets,
            interval=interval_seconds(interval_text),
            state=_state(item.get("state", defaults.get("state", DEFAULT_STATE)), item["id"], folder),
            enabled=item.get("enabled", True), location=doc.location(at),
            locations={key: doc.location((*at, key)) for key in item})
        if check_rulesets and tenant.enabled:
            found, compiled = _check_tenant(tenant, process_env)
            registry.diagnostics.extend(found)
            if any(d.severity is Severity.ERROR for d in found):
                continue
            if compiled is not None:
                registry.compiled[tenant.id] = compiled
        registry.tenants.append(tenant)
    return registry


class RegistryFile:
    """A tenants registry file followed by a long-running process: ``read()`` loads it again when its
    modification time changed, logs its diagnostics, and keeps the last good registry when the change does not
    load (errors and not one tenant left). Thread-safe."""

    def __init__(self, path: Path | str, *, process_env: Mapping[str, str] | None = None,
                 log: logging.Logger | None = None) -> None:
        self.path = Path(path)
        self.process_env = process_env
        self.log = log or logging.getLogger("mapsync.tenants")
        self.registry: Registry | None = None  # the last good one
        self._stamp = -2.0
        self._lock = threading.Lock()

    def read(self) -> tuple[Registry | None, bool]:
        """The current registry, and whether it is new since the last call (read again, and taken)."""
        with self._lock:
            try:
                stamp = self.path.stat().st_mtime
            except OSError:
                stamp = -1.0
            if stamp == self._stamp:
                return self.registry, False
            self._stamp = stamp
            registry = load_registry(self.path, check_rulesets=False, process_env=self.process_env)
            for d in registry.diagnostics:
                level = logging.ERROR if d.severity is Severity.ERROR else logging.WARNING
                self.log.log(level, "%s:%s: %s %s", d.location.file, d.location.line, d.code, d.message)
            if not registry.ok and not registry.tenants and self.registry is not None:
                self.log.error("the tenants registry %s does not load: keeping the last good one", self.path)
                return self.registry, False
            self.registry = registry
            return registry, True
