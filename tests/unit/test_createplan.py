"""The compiled create plan gives what ``values_for_create`` + ``nested`` give, for every standard mapping, both
ways, on any record: the same object, the same held fields, the same rule errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapsync import STANDARD_RULES
from mapsync.connectors.catalogue import load_catalogue
from mapsync.engine.expressions import ExpressionError, as_record
from mapsync.engine.ruleset import Side, load_ruleset
from mapsync.engine.ruleset.compiler import thaw
from mapsync.engine.sync.bound import BoundMapping, bind
from mapsync.engine.sync.createplan import compile_create, normaliser
from mapsync.engine.sync.fieldmerge import HeldField, RuleError, nested, values_for_create
from mapsync.engine.sync.values import normalise

ENV = {"WEBCRM_BASE_URL": "x", "WEBCRM_API_TOKEN": "x", "FORTNOX_BASE_URL": "x", "FORTNOX_ACCESS_TOKEN": "x",
       "VISMANET_BASE_URL": "x", "VISMANET_TOKEN_URL": "x", "VISMANET_CLIENT_ID": "x", "VISMANET_CLIENT_SECRET": "x",
       "VISMANET_TENANT_ID": "x"}


def _bound() -> list[tuple[str, BoundMapping, dict[str, Any]]]:
    out = []
    for erp in ("fortnox", "vismanet"):
        ruleset = load_ruleset(STANDARD_RULES / "standard" / erp, ENV).ruleset
        assert ruleset is not None
        catalogues = {side: load_catalogue(ruleset.system(side).connector) for side in Side}
        for mapping in ruleset.mappings:
            out.append((f"{erp}-{mapping.name}", bind(mapping, catalogues, ruleset.settings), thaw(ruleset.settings)))
    return out


BOUND = _bound()
CASES = [(name, bound, settings_, target) for name, bound, settings_ in BOUND for target in (Side.CRM, Side.ERP)
         if bound.mapping.direction.writes(target)]

VALUES = st.one_of(st.none(), st.sampled_from(["", "  ", "x", "Sweden", "SE", "Customer", "Private Customer", "30",
                                               "12", "12,5", "2024-05-01T10:00:00Z", "true", "ä" * 300, "\t"]),
                   st.integers(-3, 10**6), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                   st.lists(st.integers(), max_size=2), st.dictionaries(st.sampled_from(["a", "email"]), st.text()))


def _fields(bound: BoundMapping, side: Side) -> list[str]:
    names = {"Name", "x"}
    for br in bound.rules:
        fs = br.rule.side(side)
        reader = getattr(fs, "reader", None) if fs is not None else None
        parts = getattr(reader, "parts", None)
        if parts:
            names.add(parts[0])
    return sorted(names)


def _reference(bound: BoundMapping, target: Side, record: dict[str, Any], settings_: dict[str, Any]) -> Any:
    held: list[HeldField] = []
    try:
        return "ok", nested(values_for_create(bound, target, record, settings_, held)), held
    except (RuleError, TypeError, ExpressionError) as exc:  # TypeError: a list or object given to a value map, in both
        return "error", type(exc).__name__, str(exc)


def _compiled(bound: BoundMapping, target: Side, record: dict[str, Any], settings_: dict[str, Any]) -> Any:
    plan = compile_create(bound, target, settings_)
    held: list[HeldField] = []
    try:
        return "ok", plan.values(record, as_record(record) if plan.uses_record else None, held), held
    except (RuleError, TypeError, ExpressionError) as exc:  # TypeError: a list or object given to a value map, in both
        return "error", type(exc).__name__, str(exc)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-to-{c[3].value}" for c in CASES])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_same_as_values_for_create(case: tuple[str, BoundMapping, dict[str, Any], Side], data: st.DataObject) -> None:
    _, bound, settings_, target = case
    fields = _fields(bound, target.other)
    record = data.draw(st.dictionaries(st.sampled_from(fields), VALUES, max_size=len(fields)))
    assert _compiled(bound, target, record, settings_) == _reference(bound, target, record, settings_)


@given(VALUES, st.sampled_from(["string", "number", "integer", "boolean", "date", "datetime", None, "array"]))
def test_normaliser_is_normalise(value: Any, field_type: str | None) -> None:
    assert normaliser(field_type)(value) == normalise(value, field_type)
