"""Compiled closures evaluate as simpleeval did: same values, and a failure where simpleeval failed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from simpleeval import EvalWithCompoundTypes

from mapsync.engine.expressions import _OPERATORS, FUNCTIONS, ExpressionError, as_record, compile_expression

NAMES = ("value", "record", "settings")

EXPRESSIONS = [
    "record.OrganisationType in settings.customer_types",
    "settings.delivery_target == 'invoice' and record.DeliveryStatus == 'Completed'",
    "record.documentType != 'CreditNote'",
    "settings.customer_number_owner == 'crm'",
    "upper(value)", "lower(strip(value))", "left(value, 3)", "concat(value, '-', record.Name)",
    "join(' ', record.a, record.b, value)", "coalesce(record.Missing, value, 'x')", "round(value, 2)",
    "number(value) * 2", "int(value) + 1", "float(value) / 3", "value if value else 'none'",
    "not value", "-number(value)", "value or record.Name or 'x'", "value and record.Name",
    "1 < len(value) <= 10", "value == 'a' or value == 'b'", "value in ['a', 'b']", "value not in ('a',)",
    "value is None", "value is not None", "record['Name']", "record.nested.inner", "record.nested['inner']",
    "value[0]", "value[1:3]", "value[::-1]", "f'{value}-{record.Name}'", "f'{value:>5}'", "f'{number(value):.2f}'",
    "{'a': value}['a']", "{'a': 1, **settings}", "[value, value]", "(value, 1)", "{value}", "len(split(value, ','))",
    "replace(value, 'a', 'b')", "date(value)", "is_empty(value)", "bool(value)", "str(value)", "title(value)",
    "max(1, 2, 3)", "min(number(value), 5)", "abs(number(value))", "value * 3", "value + value", "2 ** 10",
    "7 // 2", "7 % 3", "1 << 3", "6 & 3", "6 | 3", "6 ^ 3", "~5", "record.items", "value.real", "value.upper",
    "settings.customer_types[0]", "settings.nope", "record.Name.missing", "value.format",
]

VALUES: list[Any] = [None, "", "abc", "a,b,c", "12", "12.5", 12, 3.5, True, [1, 2], {"k": 1}, "2024-05-01T10:00:00"]
RECORD = {"Name": "Acme", "OrganisationType": "Customer", "a": "x", "b": None, "nested": {"inner": 5},
          "DeliveryStatus": "Completed", "documentType": "Invoice"}
SETTINGS = {"customer_types": ["Customer", "Private Customer"], "delivery_target": "invoice",
            "customer_number_owner": "crm"}


def _simpleeval(text: str, tree: Any, names: dict[str, Any]) -> tuple[str, Any]:
    evaluator = EvalWithCompoundTypes(operators=_OPERATORS, functions=dict(FUNCTIONS), names=dict(names))
    try:
        return "value", evaluator.eval(text, previously_parsed=tree)
    except Exception as exc:
        return "error", type(exc).__name__


def _closure(text: str, names: dict[str, Any]) -> tuple[str, Any]:
    expr, problems = compile_expression(text, NAMES)
    assert expr is not None, problems
    try:
        return "value", expr.evaluate(names)
    except ExpressionError as exc:
        return "error", str(exc).split(": ", 2)[1]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_same_as_simpleeval(text: str) -> None:
    expr, problems = compile_expression(text, NAMES)
    assert expr is not None, problems
    for value in VALUES:
        names = {"value": value, "record": as_record(RECORD), "settings": SETTINGS}
        expected = _simpleeval(expr.text, expr.tree, names)
        actual = _closure(text, names)
        if expected[0] == "value" and callable(expected[1]):  # a bound method: equal by name
            assert actual[0] == "value" and getattr(actual[1], "__name__", None) == expected[1].__name__
            continue
        assert actual == expected, (text, value)


@given(st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3), max_leaves=6))
@example("NAN")
def test_same_as_simpleeval_on_any_value(value: Any) -> None:
    for text in EXPRESSIONS[:30]:
        expr, _ = compile_expression(text, NAMES)
        assert expr is not None
        names = {"value": value, "record": as_record(RECORD), "settings": SETTINGS}
        actual, expected = _closure(text, names), _simpleeval(expr.text, expr.tree, names)
        # NaN is never equal to itself: round("NAN", 2) is nan from both, and shows so
        assert actual == expected or repr(actual) == repr(expected), (text, value)
