"""The skeleton of a customer's rule-set repository, as ``mapsync init`` writes it.

A rule set extending the standard one of the chosen ERP by name, pinned to the installed mapsync's
compatible versions, with the JSON Schemas for the editor (``schema_files.write_schemas``), an example rule
test, CI for GitHub Actions and GitLab, a pre-commit configuration, ``.gitignore`` and a README. The files
are rendered from the templates shipped as package data in ``mapsync/templates/init/`` (``string.Template``
with ``%`` as the delimiter, so that the ``$`` of CI expressions and shell variables stays as written).
See docs/ci.md for what the CI files and hooks do.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from mapsync import TEMPLATES
from mapsync.connectors.registry import CONNECTORS, ConnectorSpec, connectors_of_side
from mapsync.engine import __version__
from mapsync.engine.ruleset.schema_files import write_schemas

INIT_TEMPLATES = TEMPLATES / "init"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")  # the schema's pattern for a rule set's `name`


class ScaffoldError(Exception):
    """The skeleton cannot be written there (the folder is not empty, or is a file)."""


@dataclass(frozen=True)
class Erp:
    """What the skeleton needs to know about one ERP: its standard rule set and the connection settings a
    plan in CI needs (the credentials of one kind: Fortnox's client credentials, not its access token)."""

    key: str
    title: str
    urls: tuple[tuple[str, str], ...]  # environment variables that are not secrets, with the live values
    secrets: tuple[str, ...]


def _erp(erp: ConnectorSpec, crm: ConnectorSpec) -> Erp:
    """The ERP's entry from the registry: the CRM's settings and the ERP's, as CI reads them."""
    urls = tuple((spec.env_name(name), value) for spec in (crm, erp) for name, value in spec.production.items())
    secrets = tuple(spec.env_name(name) for spec in (crm, erp) for name in spec.ci_settings())
    return Erp(erp.name, erp.title, urls, secrets)


# Every ERP connector that ships init templates (mapsync/templates/init/<erp>/).
ERPS = {name: _erp(CONNECTORS[name], CONNECTORS[connectors_of_side("crm")[0]])
        for name in connectors_of_side("erp") if (INIT_TEMPLATES / name).is_dir()}

# (template under mapsync/templates/init/, file written in the repository); {erp} picks the ERP's own.
FILES = (
    ("{erp}/ruleset.yaml.tmpl", "ruleset.yaml"),
    ("{erp}/customers.test.yaml.tmpl", "tests/customers.test.yaml"),
    ("github-workflow.yml.tmpl", ".github/workflows/mapsync.yml"),
    ("gitlab-ci.yml.tmpl", ".gitlab-ci.yml"),
    ("pre-commit-config.yaml.tmpl", ".pre-commit-config.yaml"),
    ("gitignore.tmpl", ".gitignore"),
    ("README.md.tmpl", "README.md"),
)
SCHEMAS_FOLDER = "schemas"


class _Template(string.Template):
    delimiter = "%"


def compatible_range(version: str = __version__) -> str:
    """The versions a rule set written with mapsync ``version`` is meant for: the same minor version while
    the major is 0 (0.x releases may change the rule language), the same major version from 1.0 on.
    ``0.1.0`` -> ``>=0.1, <0.2``; ``1.4.2`` -> ``>=1.4, <2``; a pre-release is its own lower bound."""
    parsed = Version(version)
    major, minor = (*parsed.release, 0, 0)[:2]
    lower = f"{major}.{minor}"
    if parsed < Version(lower):  # 0.2.0.dev1 comes before 0.2
        lower = version
    upper = f"0.{minor + 1}" if major == 0 else f"{major + 1}"
    return f">={lower}, <{upper}"


def default_name(folder: Path, erp: str) -> str:
    """A rule set name from the folder's name (``Acme AB`` -> ``acme-ab-fortnox``), valid for the schema."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", folder.resolve().name.lower()).strip("-._")
    if not slug:
        return f"customer-{erp}"
    return slug if erp in slug else f"{slug}-{erp}"


def _values(name: str, erp: Erp) -> dict[str, str]:
    mapsync_range = compatible_range()
    env_names = [n for n, _ in erp.urls] + list(erp.secrets)
    github_env = [f"      {n}: {url}" for n, url in erp.urls] + [
        f"      {n}: ${{{{ secrets.{n} }}}}" for n in erp.secrets]
    return {
        "name": name,
        "erp": erp.key,
        "erp_title": erp.title,
        "version": __version__,
        "mapsync_range": mapsync_range,
        "pip_requirement": "mapsync" + mapsync_range.replace(" ", ""),
        "secret_names": ", ".join(erp.secrets),
        "env_names": ", ".join(f"`{n}`" for n in env_names),
        "github_env": "\n".join(github_env),
        "gitlab_variables": "\n".join(f"    {n}: {url}" for n, url in erp.urls),
    }


def render_files(erp: str, name: str) -> dict[str, str]:
    """The skeleton's text files, by their path in the repository (the schemas are copied, not rendered)."""
    values = _values(name, ERPS[erp])
    return {target: _Template((INIT_TEMPLATES / source.format(erp=erp)).read_text(encoding="utf-8"))
            .substitute(values) for source, target in FILES}


def init_ruleset(folder: Path | str, erp: str, name: str | None = None, *, force: bool = False) -> list[Path]:
    """Write the skeleton into ``folder`` (created when missing); returns the files written. Refuses
    (``ScaffoldError``, nothing written) a folder that is not empty unless ``force``: then the skeleton's
    files replace those of the same name and every other file is left alone. ``ValueError`` for an
    unknown ERP or a name the schema does not allow."""
    folder = Path(folder)
    if erp not in ERPS:
        raise ValueError(f"unknown ERP {erp!r} (one of: {', '.join(ERPS)})")
    name = name if name is not None else default_name(folder, erp)
    if not NAME_PATTERN.match(name):
        raise ValueError(f"{name!r} is not a rule set name (lower case letters, digits, '.', '_', '-'; "
                         "starting with a letter or digit)")
    if folder.exists() and not folder.is_dir():
        raise ScaffoldError(f"{folder} is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise ScaffoldError(f"{folder} is not empty; nothing was written (--force writes the skeleton's files "
                            "into it, replacing those of the same name)")
    files = render_files(erp, name)
    written = []
    for target, text in files.items():
        path = folder / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    written.extend(write_schemas(folder / SCHEMAS_FOLDER))
    return written
