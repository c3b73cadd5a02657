"""Expected values and matchers of rule tests (mapsync.engine.ruletest.matchers)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapsync.engine.extractors import MISSING
from mapsync.engine.ruletest.matchers import MatcherError, compile_expected

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8).filter(lambda k: not k.startswith("$")), inner,
                                       max_size=4), max_leaves=12)


@given(_json)
def test_a_literal_matches_itself(value: Any) -> None:
    assert compile_expected(value).mismatch(value) is None


@given(_json, _json)
def test_a_literal_matches_only_equal_values(expected: Any, actual: Any) -> None:
    """A mismatch is reported exactly when the values differ (numbers by value, a number and its text equal)."""
    def same(a: Any, b: Any) -> bool:
        if isinstance(a, bool) or isinstance(b, bool):
            return type(a) is type(b) and a == b
        if isinstance(a, int | float) and isinstance(b, int | float):
            return float(a) == float(b)
        if isinstance(a, int | float) and isinstance(b, str):
            return str(a) == b.strip()
        if isinstance(a, dict):
            return isinstance(b, dict) and all(k in b and same(v, b[k]) for k, v in a.items())
        if isinstance(a, list):
            return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        return bool(a == b)

    assert (compile_expected(expected).mismatch(actual) is None) == same(expected, actual)


@pytest.mark.parametrize(("spec", "good", "bad"), [
    ({"$any": True}, "x", MISSING),
    ({"$absent": True}, MISSING, None),
    ({"$regex": r"\d{3}"}, "123", "1234"),
    ({"$contains": "AB"}, "Acme AB", "Acme"),
    ({"$contains": 2}, [1, 2], [1]),
    ({"$type": "integer"}, 3, True),
    ({"$type": "string"}, "3", 3),
    ({"$type": "null"}, None, "None"),
    ({"$one_of": ["A", "B"]}, "B", "C"),
    ({"$approx": 1.0, "$tolerance": 0.1}, 1.05, 1.2),
    ({"$approx": 1}, 1.0, "1"),
])
def test_matchers(spec: dict[str, Any], good: Any, bad: Any) -> None:
    expected = compile_expected(spec)
    assert expected.mismatch(good) is None
    why = expected.mismatch(bad)
    assert why and len(why) < 200


def test_matchers_nest_in_literals() -> None:
    expected = compile_expected([{"ArticleNumber": "A-1", "Price": {"$approx": 10, "$tolerance": 0.5}}])
    assert expected.mismatch([{"ArticleNumber": "A-1", "Price": 10.2, "RowId": 1}]) is None
    assert expected.mismatch([{"ArticleNumber": "A-1", "Price": 11}]) == "item 1: Price: expected 10 within 0.5, got 11"
    assert expected.mismatch([]) == "expected 1 item(s), got 0: []"


@pytest.mark.parametrize(("spec", "message"), [
    ({"$anything": True}, "unknown matcher '$anything'"),
    ({"$regex": "[a-"}, "not a valid regular expression"),
    ({"$type": "text"}, "$type takes one of"),
    ({"$any": 1}, "write {$any: true}"),
    ({"$one_of": []}, "$one_of takes a list"),
    ({"$approx": "1"}, "$approx and $tolerance take numbers"),
    ({"$regex": "a", "$type": "string"}, "a matcher has one $ key"),
])
def test_bad_matchers_say_why(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(MatcherError, match=message.replace("$", r"\$").replace("{", r"\{").replace("[", r"\[")):
        compile_expected(spec)
