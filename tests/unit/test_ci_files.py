"""The CI files `mapsync init` writes, and the pre-commit hooks mapsync publishes, are valid for their tools
(SchemaStore's GitHub workflow and GitLab CI schemas as vendored by check-jsonschema, pre-commit's own
config and manifest checks), run mapsync commands that exist with options they take, and give `plan` every
connection setting the standard rule sets need. docs/ci.md describes them."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pre_commit.clientlib import InvalidConfigError, InvalidManifestError, load_config, load_manifest

from mapsync.engine.cli.main import build_parser
from mapsync.engine.diagnostics import Severity
from mapsync.engine.ruleset import load_ruleset
from mapsync.engine.ruleset.scaffold import ERPS, compatible_range, init_ruleset

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / ".pre-commit-hooks.yaml"
WORKFLOW = ".github/workflows/mapsync.yml"
GITLAB = ".gitlab-ci.yml"
PRE_COMMIT = ".pre-commit-config.yaml"
ERP_NAMES = sorted(ERPS)
REQUIREMENT = "mapsync" + compatible_range().replace(" ", "")


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    made = {}
    for erp in ERP_NAMES:
        folder = tmp_path_factory.mktemp(erp)
        init_ruleset(folder, erp, f"acme-{erp}")
        made[erp] = folder
    return made


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema,
                           *map(str, files)], capture_output=True, text=True, timeout=120)


def _commands(lines: list[str]) -> list[list[str]]:
    """The `mapsync ...` commands of shell lines, without redirections and `|| ...`."""
    found = []
    for line in lines:
        for part in re.split(r"\|\||&&|;", line):
            words = shlex.split(part)
            if words and words[0] == "mapsync":
                found.append(words[1:words.index(">")] if ">" in words else words[1:])
    return found


# -- schemas of the CI services --------------------------------------------------------------------------

def test_the_workflows_validate_against_their_schemas(repos: dict[str, Path]) -> None:
    github = _check_jsonschema("vendor.github-workflows", *(repo / WORKFLOW for repo in repos.values()))
    assert github.returncode == 0, github.stdout + github.stderr
    gitlab = _check_jsonschema("vendor.gitlab-ci", *(repo / GITLAB for repo in repos.values()))
    assert gitlab.returncode == 0, gitlab.stdout + gitlab.stderr


def test_the_schema_check_catches_a_broken_workflow(repos: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "mapsync.yml"
    text = (repos["fortnox"] / WORKFLOW).read_text(encoding="utf-8")
    broken.write_text(text.replace("    runs-on: ubuntu-latest\n", "", 1), encoding="utf-8")
    assert _check_jsonschema("vendor.github-workflows", broken).returncode == 1
    gitlab = tmp_path / ".gitlab-ci.yml"
    text = (repos["fortnox"] / GITLAB).read_text(encoding="utf-8")
    gitlab.write_text(text.replace("    when: always\n", "    when: sometimes\n"), encoding="utf-8")
    assert _check_jsonschema("vendor.gitlab-ci", gitlab).returncode == 1


def test_the_published_hooks_are_a_valid_manifest() -> None:
    hooks = {hook["id"]: hook for hook in load_manifest(str(HOOKS))}
    assert set(hooks) == {"mapsync-validate", "mapsync-test"}
    assert hooks["mapsync-validate"]["entry"] == "mapsync validate"
    assert hooks["mapsync-test"]["entry"] == "mapsync test"
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["args"] == ["."] and hook["pass_filenames"] is False


def test_the_manifest_check_catches_a_broken_hook(tmp_path: Path) -> None:
    broken = tmp_path / ".pre-commit-hooks.yaml"
    broken.write_text(HOOKS.read_text(encoding="utf-8").replace("  entry: mapsync validate\n", ""),
                      encoding="utf-8")
    with pytest.raises(InvalidManifestError):
        load_manifest(str(broken))


@pytest.mark.parametrize("erp", ERP_NAMES)
def test_the_pre_commit_config_is_valid_and_mirrors_the_published_hooks(erp: str, repos: dict[str, Path]) -> None:
    config = load_config(str(repos[erp] / PRE_COMMIT))
    [local] = config["repos"]
    assert local["repo"] == "local"
    published = {hook["id"]: hook for hook in load_manifest(str(HOOKS))}
    assert [hook["id"] for hook in local["hooks"]] == list(published)
    for hook in local["hooks"]:
        for key in ("name", "entry", "args", "pass_filenames", "types", "files", "exclude"):
            assert hook[key] == published[hook["id"]][key], (hook["id"], key)
    raw = _load(repos[erp] / PRE_COMMIT)
    assert {hook["language"] for hook in raw["repos"][0]["hooks"]} == {"system"}  # the installed mapsync


def test_the_config_check_catches_a_broken_config(repos: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / PRE_COMMIT
    broken.write_text((repos["fortnox"] / PRE_COMMIT).read_text(encoding="utf-8").replace(
        "        language: system\n", ""), encoding="utf-8")
    with pytest.raises(InvalidConfigError):
        load_config(str(broken))


# -- what they run ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("erp", ERP_NAMES)
def test_github_workflow_checks_every_push_and_plans_pull_requests(erp: str, repos: dict[str, Path]) -> None:
    workflow = _load(repos[erp] / WORKFLOW)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"push", "pull_request"}
    check, plan = workflow["jobs"]["check"], workflow["jobs"]["plan"]
    runs = [step["run"] for step in check["steps"] if "run" in step]
    assert runs == [f'pip install "{REQUIREMENT}"', "mapsync validate . --format github",
                    "mapsync test . --format github"]
    assert any(step.get("with", {}).get("python-version") == "3.11" for step in check["steps"])
    assert plan["if"] == "github.event_name == 'pull_request'"
    assert plan["permissions"]["pull-requests"] == "write"
    [planned] = [step for step in plan["steps"] if "mapsync plan" in step.get("run", "")]
    assert planned["run"] == "mapsync plan . --format markdown > mapsync-plan.md"
    assert planned["if"] == "env.WEBCRM_API_TOKEN != ''"  # only with the secrets configured
    [comment] = [step for step in plan["steps"] if "sticky-pull-request-comment" in step.get("uses", "")]
    assert comment["if"] == f"steps.{planned['id']}.outcome == 'success'"
    assert comment["with"]["path"] == "mapsync-plan.md"


@pytest.mark.parametrize("erp", ERP_NAMES)
def test_github_plan_environment_is_what_the_rule_set_needs(erp: str, repos: dict[str, Path]) -> None:
    env = _load(repos[erp] / WORKFLOW)["jobs"]["plan"]["env"]
    for name, value in env.items():
        assert value.startswith("https://") or value == f"${{{{ secrets.{name} }}}}", (name, value)
    # With exactly these variables set, `plan`/`run` find every connection setting (no MS502 error).
    result = load_ruleset(repos[erp], {name: "x" for name in env}, for_run=True)
    errors = [f"{d.code} {d.message}" for d in result.diagnostics if d.severity is Severity.ERROR]
    assert not errors
    for missing in env:
        fewer = {name: "x" for name in env if name != missing}
        result = load_ruleset(repos[erp], fewer, for_run=True)
        assert any(d.code == "MS502" and missing in d.message for d in result.diagnostics), missing


@pytest.mark.parametrize("erp", ERP_NAMES)
def test_gitlab_checks_with_junit_reports_and_plans_merge_requests(erp: str, repos: dict[str, Path]) -> None:
    pipeline = _load(repos[erp] / GITLAB)
    assert pipeline["default"]["image"] == "python:3.11"
    assert pipeline["default"]["before_script"] == [f'pip install "{REQUIREMENT}"']
    job = pipeline["mapsync"]
    written = re.findall(r"> (\S+\.xml)", "\n".join(job["script"]))
    assert written == ["mapsync-validate.xml", "mapsync-test.xml"]
    assert job["artifacts"]["reports"]["junit"] == written and job["artifacts"]["when"] == "always"
    assert _commands(job["script"]) == [["validate", ".", "--format", "junit"],
                                                      ["test", ".", "--format", "junit"]]
    plan = pipeline["mapsync-plan"]
    assert [rule["if"] for rule in plan["rules"]] == [
        '$CI_PIPELINE_SOURCE == "merge_request_event" && $WEBCRM_API_TOKEN']
    assert _commands(plan["script"]) == [["plan", ".", "--format", "markdown"]]
    assert plan["artifacts"]["paths"] == ["mapsync-plan.md"]
    github_env = _load(repos[erp] / WORKFLOW)["jobs"]["plan"]["env"]
    assert plan["variables"] == {k: v for k, v in github_env.items() if v.startswith("https://")}


@pytest.mark.parametrize("erp", ERP_NAMES)
def test_every_mapsync_command_in_the_ci_files_parses(erp: str, repos: dict[str, Path]) -> None:
    """Every mapsync command in the CI files exists and takes the options CI gives it."""
    workflow, pipeline = _load(repos[erp] / WORKFLOW), _load(repos[erp] / GITLAB)
    lines = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    lines += [line for job in pipeline.values() if isinstance(job, dict) for line in job.get("script", [])]
    commands = _commands(lines)
    assert {c[0] for c in commands} == {"validate", "test", "plan"}
    parser = build_parser()
    [subcommands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    known = set(subcommands.choices)
    assert {c[0] for c in commands} <= known
    for command in commands:
        parser.parse_args(command)  # exits 2 on an option the command does not take


def test_commands_are_found_in_shell_lines() -> None:
    assert _commands(["failed=0", "mapsync validate . --format junit > v.xml || failed=1",
                      "pip install x && mapsync plan ."]) == [["validate", ".", "--format", "junit"],
                                                             ["plan", "."]]
