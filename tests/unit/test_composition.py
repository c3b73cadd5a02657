"""The composition root resolves connection settings from the environment it is given, never os.environ."""

from __future__ import annotations

import pytest

from mapsync import STANDARD_RULES
from mapsync.engine.composition import MissingEnvironment, connect, rotates_refresh_token
from mapsync.engine.ruleset import Side, load_ruleset

ENV = {"WEBCRM_BASE_URL": "http://127.0.0.1:9", "WEBCRM_API_TOKEN": "t", "FORTNOX_BASE_URL": "http://127.0.0.1:9",
       "FORTNOX_ACCESS_TOKEN": "a"}


def test_settings_come_from_the_given_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    ruleset = load_ruleset(STANDARD_RULES / "standard" / "fortnox", ENV, for_run=True).ruleset
    assert ruleset is not None
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)  # the process has them all: the given mapping still decides
    with pytest.raises(MissingEnvironment, match="WEBCRM_API_TOKEN"):
        connect(ruleset, {k: v for k, v in ENV.items() if k != "WEBCRM_API_TOKEN"}, None)
    with connect(ruleset, ENV, None) as systems:
        assert set(systems.connectors) == {Side.CRM, Side.ERP}
        assert systems.catalogues[Side.ERP].connector == "fortnox"
    assert systems.connectors == {}  # closed


def test_no_rotating_refresh_token_with_an_access_token() -> None:
    ruleset = load_ruleset(STANDARD_RULES / "standard" / "fortnox", ENV, for_run=True).ruleset
    assert ruleset is not None
    assert not rotates_refresh_token(ruleset, ENV)
