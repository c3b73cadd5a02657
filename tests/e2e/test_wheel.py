"""The built wheel, installed (not editable) into a fresh virtual environment, works from any folder: the
schemas, the standard rule sets, the catalogues and the simulators' data ship inside ``mapsync``, a
customer rule set outside the repository extends a standard one by name (``mapsync:standard/fortnox``),
``mapsync schema --out`` writes the editor schemas there, and ``mapsync init`` writes a customer
repository from the templates shipped inside it."""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

import pytest

from tests.e2e.conftest import clean_env

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def _run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=clean_env())


def test_the_wheel_works_outside_the_repository(tmp_path: Path, built_wheel: Path) -> None:
    wheel = built_wheel
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    installed = _run([str(python), "-m", "pip", "install", "-q", str(wheel)], tmp_path)
    assert installed.returncode == 0, installed.stderr
    customer = tmp_path / "customer-repo" / "acme"
    customer.mkdir(parents=True)
    (customer / "ruleset.yaml").write_text(
        "name: acme\nextends: mapsync:standard/fortnox\nsettings:\n  customer_types: [Customer, Partner]\n",
        encoding="utf-8")
    mapsync = str(tmp_path / "venv" / "bin" / "mapsync")
    checked = _run([mapsync, "validate", "acme"], customer.parent)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "acme/ruleset.yaml:4:19: error MS322" in checked.stdout  # located in the customer's own file
    (customer / "ruleset.yaml").write_text("name: acme\nextends: mapsync:standard/fortnox\n", encoding="utf-8")
    assert _run([mapsync, "validate", "acme"], customer.parent).returncode == 0
    rendered = _run([mapsync, "render", "acme", "--format", "json"], customer.parent)
    assert rendered.returncode == 0 and '"customers"' in rendered.stdout
    schemas = _run([mapsync, "schema", "--out", "schemas"], customer.parent)  # for the customer's editor
    assert schemas.returncode == 0, schemas.stderr
    written = sorted(p.name for p in (customer.parent / "schemas").iterdir())
    assert written == sorted([*(p.name for p in (ROOT / "mapsync" / "schemas" / "editor").iterdir()),
                              "ruletest.schema.json", "tenants.schema.json"])
    assert all(f"wrote schemas/{name}" in schemas.stdout for name in written)
    started = _run([mapsync, "init", "beta", "--erp", "vismanet"], customer.parent)  # the templates ship too
    assert started.returncode == 0, started.stderr
    assert (customer.parent / "beta" / ".github" / "workflows" / "mapsync.yml").is_file()
    assert (customer.parent / "beta" / "schemas" / "ruleset.schema.json").is_file()
    checked = _run([mapsync, "validate", "beta"], customer.parent)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    site = _run([str(python), "-c", "import engine"], tmp_path)
    assert site.returncode != 0  # one namespace: no top-level `engine` or `connectors` package
