"""Compiled JMESPath (``jmesclosures``) answers as ``jmespath`` does, for every expression it compiles, on any
record: the same value, or the same error (through the interpreter, for values the closure leaves to it)."""

from __future__ import annotations

from typing import Any

import jmespath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jmespath.exceptions import JMESPathError

from mapsync.engine.expressions import ExpressionError
from mapsync.engine.extractors import MISSING, compile_jmespath
from mapsync.engine.jmesclosures import compile_parsed

EXPRESSIONS = [
    "join('\\n', [Address1, Address2][?@])",
    "!starts_with(DeliveryErpSyncDateTime || '0001', '0001') && DeliveryErpSyncDateTime || null",
    "salesUnit || baseUnit",
    "@",
    "a.b",
    "a.b.c",
    "[a, b]",
    "{x: a, y: b.c}",
    "items[*].name",
    "items[?price].name",
    "items[0]",
    "items[-1].name",
    "!a",
    "a && b",
    "not_null(a, b, `3`)",
    "join(', ', items[*].name)",
    "starts_with(a, 'x')",
    "`[1, 0, \"\", {}]`[?@]",
]
UNCOMPILED = ["length(a)", "a[0:2]", "a == b", "sort_by(items, &name)", "items[].name", "to_string(a)"]

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from(["", "x", "0001-01-01", "2024-01-01", "xy", " "]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["name", "price", "b", "c"]), inner, max_size=3)), max_leaves=6)
RECORDS = st.dictionaries(st.sampled_from(["Address1", "Address2", "DeliveryErpSyncDateTime", "salesUnit",
                                           "baseUnit", "a", "b", "items"]), VALUES, max_size=6)


def _interpreted(expression: str, record: Any) -> Any:
    try:
        return "ok", jmespath.search(expression, record)
    except JMESPathError as exc:
        return "error", type(exc).__name__


def _extracted(expression: str, record: Any) -> Any:
    extractor, problem = compile_jmespath(expression)
    assert extractor is not None, problem
    try:
        value = extractor.get(record)
        return "ok", None if value is MISSING else value
    except ExpressionError as exc:
        return "error", type(exc.__cause__).__name__


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_the_expressions_rule_files_use_are_compiled(expression: str) -> None:
    assert compile_parsed(jmespath.compile(expression).parsed) is not None


@pytest.mark.parametrize("expression", UNCOMPILED)
def test_other_expressions_are_left_to_the_interpreter(expression: str) -> None:
    assert compile_parsed(jmespath.compile(expression).parsed) is None
    extractor, _ = compile_jmespath(expression)
    assert extractor is not None and extractor.closure is None


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(EXPRESSIONS + UNCOMPILED), st.one_of(RECORDS, VALUES))
def test_compiled_reads_as_jmespath_does(expression: str, record: Any) -> None:
    assert _extracted(expression, record) == _interpreted(expression, record)
