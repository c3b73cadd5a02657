"""`mapsync validate` end to end through the CLI entry point: exit codes and formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mapsync.engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
STANDARD = [str(ROOT / "mapsync/rules/standard/fortnox")]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WEBCRM_BASE_URL", "WEBCRM_API_TOKEN", "FORTNOX_BASE_URL", "FORTNOX_ACCESS_TOKEN",
                 "VISMANET_BASE_URL", "VISMANET_TOKEN_URL", "VISMANET_CLIENT_ID", "VISMANET_CLIENT_SECRET",
                 "VISMANET_TENANT_ID"):
        monkeypatch.setenv(name, "x")


def test_standard_rule_sets_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *STANDARD]) == 0
    assert "ok:" in capsys.readouterr().out


def test_unknown_path_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "does/not/exist"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_bad_option_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["validate", "--format", "xml", *STANDARD])
    assert exc.value.code == 2


def test_json_is_one_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--format", "json", *STANDARD]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is True and doc["errors"] == 0
    assert any(f.endswith("customers.yaml") for f in doc["files"])


def test_a_file_that_is_not_a_state_store_is_reported_without_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database\n", encoding="utf-8")
    assert main(["status", "--state", str(bogus)]) == 1
    err = capsys.readouterr().err
    assert "mapsync status:" in err and "Traceback" not in err


def test_the_garbage_collector_is_left_as_it_was(capsys: pytest.CaptureFixture[str]) -> None:
    """validate switches the cyclic collector off while it checks (its passes were a fifth of the time) and
    back on after, also when the path is not usable; a caller that had it off keeps it off."""
    import gc

    assert gc.isenabled()
    assert main(["validate", *STANDARD]) == 0
    assert gc.isenabled()
    assert main(["validate", "does/not/exist"]) == 2
    assert gc.isenabled()
    gc.disable()
    try:
        assert main(["validate", *STANDARD]) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
