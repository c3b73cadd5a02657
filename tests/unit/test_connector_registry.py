"""The connector registry is the one place a connector is added: names, sides, settings, clients,
catalogues, simulators and the rule set schema's enum all come from it."""

from __future__ import annotations

import inspect
import json

import pytest

from mapsync.connectors.base import Connector
from mapsync.connectors.catalogue import load_catalogue
from mapsync.connectors.registry import (
    CONNECTION_SETTINGS,
    CONNECTOR_NAMES,
    CONNECTORS,
    SIDES,
    make_client,
    title_of,
)
from mapsync.engine import sandbox
from mapsync.engine.ruleset.schema import RULESET_SCHEMA, SCHEMA_DIR, load_schema


def test_the_schema_accepts_exactly_the_registered_connectors() -> None:
    connector = load_schema(RULESET_SCHEMA)["$defs"]["system"]["properties"]["connector"]
    assert connector["enum"] == list(CONNECTOR_NAMES)
    on_disk = json.loads((SCHEMA_DIR / RULESET_SCHEMA).read_text(encoding="utf-8"))
    assert "enum" not in on_disk["$defs"]["system"]["properties"]["connector"]  # written in one place only


def test_everything_derived_from_the_registry_agrees() -> None:
    assert set(SIDES) == set(CONNECTION_SETTINGS) == set(CONNECTORS)
    assert {spec.side for spec in CONNECTORS.values()} == {"crm", "erp"}
    assert inspect.signature(sandbox.start_sandbox).parameters["products"].default == CONNECTOR_NAMES
    assert title_of("vismanet") == "Visma.net" and title_of("other") == "other"


@pytest.mark.parametrize("name", CONNECTOR_NAMES)
def test_each_registered_connector_has_its_parts(name: str) -> None:
    spec = CONNECTORS[name]
    assert spec.catalogue_path.is_file()
    assert load_catalogue(name).entities
    assert callable(spec.start_simulator())
    settings = {setting: f"value-{setting}" for setting in spec.settings}
    settings["base_url"] = "http://127.0.0.1:9"
    for url in ("auth_url", "token_url"):
        if url in settings:
            settings[url] = "http://127.0.0.1:9/token"
    client = make_client(name, settings, rate_limit=None)
    try:
        assert isinstance(client, Connector)
        assert client.name == name
    finally:
        client.close()


def test_an_unknown_connector_is_refused() -> None:
    with pytest.raises(KeyError, match="unknown connector"):
        make_client("sap", {})


@pytest.mark.parametrize("name", CONNECTOR_NAMES)
def test_each_simulator_publishes_its_settings_as_rule_sets_read_them(name: str) -> None:
    spec = CONNECTORS[name]
    with spec.start_simulator()(None, rate_limit=None) as simulator:
        env = simulator.env()
        with spec.client_class().from_env(env, rate_limit=None) as connector:  # reads <NAME>_<SETTING>
            assert connector.name == name
    assert env and set(env) <= {spec.env_name(setting) for setting in spec.settings}


def test_ci_settings_and_environment_names_come_from_the_entry() -> None:
    fortnox = CONNECTORS["fortnox"]
    assert fortnox.env_name("client_id") == "FORTNOX_CLIENT_ID"
    assert fortnox.ci_settings() == ("client_id", "client_secret", "tenant_id")
    assert CONNECTORS["vismanet"].ci_settings() == ("client_id", "client_secret", "tenant_id")
