"""The pre-commit hooks run for real on a repository made by `mapsync init`: the hooks mapsync publishes
(`.pre-commit-hooks.yaml`, tried with `pre-commit try-repo`, which installs mapsync from a git copy of this
repository into pre-commit's own environment) and the local hooks of the generated
`.pre-commit-config.yaml` (the installed mapsync). Both pass on the skeleton and fail, with the
diagnostic, once ruleset.yaml is broken. Both hooks run: mapsync-validate and mapsync-test (docs/ci.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mapsync.engine.ruleset.scaffold import init_ruleset

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
BROKEN = "settings:\n  delivery_target: invoices\n"  # MS204: not one of order, invoice


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WEBCRM_", "FORTNOX_", "VISMANET_", "PRE_COMMIT", "GIT_", "MAPSYNC_"))}
    env.pop("PYTHONPATH", None)
    env.update(PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), GIT_AUTHOR_NAME="test",
               GIT_AUTHOR_EMAIL="test@example.com", GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.com",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")  # the installed mapsync
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _git_repo(folder: Path, env: dict[str, str]) -> None:
    for argv in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "initial"]):
        done = _run(argv, folder, env)
        assert done.returncode == 0, done.stderr


def _mapsync_copy(target: Path, env: dict[str, str]) -> Path:
    """What pre-commit needs of this repository (the hooks file, an installable package), as a git repo."""
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "mapsync", target / "mapsync",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    _git_repo(target, env)
    return target


def _customer_repo(folder: Path, env: dict[str, str], *, broken: bool) -> Path:
    init_ruleset(folder, "fortnox", "acme")
    if broken:
        ruleset = folder / "ruleset.yaml"
        ruleset.write_text(ruleset.read_text(encoding="utf-8") + BROKEN, encoding="utf-8")
    _git_repo(folder, env)
    return folder


def _assert_passed(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mapsync validate" in done.stdout and "mapsync test" in done.stdout
    assert "Failed" not in done.stdout and done.stdout.count("Passed") == 2


def _assert_failed(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "mapsync validate" in done.stdout and "mapsync test" in done.stdout
    assert done.stdout.count("Failed") == 2  # the tests do not run on a rule set with errors
    assert "ruleset.yaml" in done.stdout and "error MS204 'invoices' is not allowed here" in done.stdout


def test_the_generated_local_hooks_pass_on_the_skeleton_and_fail_on_a_broken_rule_set(tmp_path: Path) -> None:
    env = _env(tmp_path)
    hook = [sys.executable, "-m", "pre_commit", "run", "--all-files"]  # mapsync-validate and mapsync-test
    customer = _customer_repo(tmp_path / "acme", env, broken=False)
    _assert_passed(_run(hook, customer, env))
    ruleset = customer / "ruleset.yaml"
    ruleset.write_text(ruleset.read_text(encoding="utf-8") + BROKEN, encoding="utf-8")
    assert _run(["git", "add", "ruleset.yaml"], customer, env).returncode == 0
    _assert_failed(_run(hook, customer, env))


def test_the_published_hooks_pass_on_the_skeleton_and_fail_on_a_broken_rule_set(tmp_path: Path) -> None:
    """`pre-commit try-repo` installs mapsync into a new environment on every call (most of this test's
    time goes into pip), so the passing and the failing repository are tried at the same time."""
    env = _env(tmp_path)
    source = tmp_path / "mapsync"
    source.mkdir()
    _mapsync_copy(source, env)
    tries = {}
    for broken in (False, True):
        customer = _customer_repo(tmp_path / ("broken" if broken else "valid"), env, broken=broken)
        tries[broken] = subprocess.Popen(
            [sys.executable, "-m", "pre_commit", "try-repo", str(source), "--all-files"],  # every hook
            cwd=customer, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = {}
    for broken, process in tries.items():
        out, err = process.communicate(timeout=600)
        done[broken] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    _assert_passed(done[False])
    _assert_failed(done[True])
