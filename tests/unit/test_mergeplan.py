"""The generated merge gives what the plain loop over the rules gives (``merge_loop``), for every standard
mapping and its line rules, on any pair of records and any base (of normalised values, as every base is), first
contact and held fields included."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapsync.engine.expressions import ExpressionError
from mapsync.engine.ruleset import Side
from mapsync.engine.sync.bound import RuleGroup
from mapsync.engine.sync.fieldmerge import RuleError, merge, merge_loop
from mapsync.engine.sync.readers import normaliser
from tests.unit.test_createplan import BOUND, VALUES, _fields

GROUPS: list[tuple[str, RuleGroup, dict[str, Any]]] = [
    (name, group, settings_) for name, bound, settings_ in BOUND for group in (bound, *bound.lines)]


def _outcome(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return "ok", function(*args, **kwargs)
    except (RuleError, TypeError, ExpressionError) as exc:
        return "error", type(exc).__name__, str(exc)


def _normalised(group: RuleGroup, base: dict[str, Any] | None) -> dict[str, Any] | None:
    """``base`` as a base always is (``base_of``: each value normalised by its rule's side's type)."""
    if base is None:
        return None
    rules = {br.rule.key: br for br in group.rules}
    return {key: {side: normaliser(rules[key].type(Side(side)))(value) for side, value in entry.items()}
            for key, entry in base.items()}


@pytest.mark.parametrize("case", GROUPS, ids=[f"{g[0]}-{i}" for i, g in enumerate(GROUPS)])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_same_as_the_loop(case: tuple[str, RuleGroup, dict[str, Any]], data: st.DataObject) -> None:
    _, group, settings_ = case
    crm = data.draw(st.dictionaries(st.sampled_from(_fields(group, Side.CRM)), VALUES))  # type: ignore[arg-type]
    erp = data.draw(st.dictionaries(st.sampled_from(_fields(group, Side.ERP)), VALUES))  # type: ignore[arg-type]
    keys = [br.rule.key for br in group.rules]
    agreed = st.dictionaries(st.sampled_from(["crm", "erp"]), VALUES)
    base = _normalised(group, data.draw(st.none() | st.dictionaries(st.sampled_from(keys), agreed)))
    held = data.draw(st.none() | st.dictionaries(st.sampled_from(keys), st.just("held at first contact")))
    newer = data.draw(st.sampled_from([None, Side.CRM, Side.ERP]))
    assert _outcome(merge, group, crm, erp, base, settings_, newer, held) == \
        _outcome(merge_loop, group, crm, erp, base, settings_, newer, held)
