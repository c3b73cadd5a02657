"""Whatever a rule file holds, validation answers with diagnostics, never with a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapsync.engine.ruleset import load_ruleset, validate_paths

BASE = Path(__file__).resolve().parents[1] / "rules" / "shared-base"

MAPPING_KEYS = ["name", "crm", "erp", "direction", "fields", "lines", "match", "conditions", "parent", "parent_key",
                "enabled", "conflict", "map", "map_reverse", "value", "default", "write", "transform", "to_erp",
                "to_crm", "field", "read", "entity", "parent_field", "collection"]
RULESET_KEYS = ["name", "systems", "crm", "erp", "connector", "connection", "settings", "mappings", "overrides",
                "extends", "enabled", "direction", "conflict", "conditions", "match", "base_url", "api_token",
                "access_token", "customers", "items", "orders", "delivery_target", "crm_fields"]
WORDS = ["customers", "organisation", "customer", "both", "crm-to-erp", "OrganisationName", "Name", "OrderRows",
         "${settings.x}", "${settings.crm_fields.order_number}", "${env:X}", "${env:}", "record.X", "upper(value)",
         "settings.delivery_target == 'order'", "quotation_line", "delivery", "order", "@", "join(' ', [a])", "",
         "webcrm", "fortnox", "vismanet", "customers.yaml", ".", "..", str(BASE)]


def _documents(keys: list[str]) -> st.SearchStrategy[dict[str, object]]:
    leaf = st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from(WORDS)
    tree = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.sampled_from(keys), inner, max_size=4), max_leaves=20)
    return st.dictionaries(st.sampled_from(keys), tree, max_size=8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=_documents(MAPPING_KEYS), complete=st.booleans())
def test_any_mapping_document(folder: Path, doc: dict[str, object], complete: bool) -> None:
    if complete:
        doc = {"name": "customers", "crm": "organisation", "erp": "customer", "direction": "both", **doc}
    (folder / "ruleset.yaml").write_text(f"name: fuzz\nextends: {BASE}\nmappings: [customers.yaml]\n")
    (folder / "customers.yaml").write_text(yaml.safe_dump(doc))
    validate_paths([folder])
    validate_paths([folder / "customers.yaml"])
    load_ruleset(folder, {}, for_run=True)


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=_documents(RULESET_KEYS))
def test_any_ruleset_document(folder: Path, doc: dict[str, object]) -> None:
    (folder / "customers.yaml").write_text((BASE / "customers.yaml").read_text())
    (folder / "ruleset.yaml").write_text(yaml.safe_dump(doc))
    validate_paths([folder])
    load_ruleset(folder, {})
