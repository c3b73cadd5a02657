"""engine.extractors: dotted field paths and JMESPath extractors compiled once."""

from __future__ import annotations

import jmespath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapsync.engine.extractors import MISSING, FieldPath, JmesExtractor, compile_jmespath


def test_missing_is_distinct_from_none() -> None:
    assert MISSING is not None and not MISSING and repr(MISSING) == "MISSING"


def test_field_path_reads_nested_values_and_missing() -> None:
    record = {"Name": "Acme", "mainAddress": {"city": "Lund", "country": None}, "n": 0}
    assert FieldPath("Name").get(record) == "Acme"
    assert FieldPath("mainAddress.city").get(record) == "Lund"
    assert FieldPath("mainAddress.country").get(record) is None  # present and null
    assert FieldPath("mainAddress.zip").get(record) is MISSING
    assert FieldPath("Name.first").get(record) is MISSING  # through a text
    assert FieldPath("nothing.at.all").get({}) is MISSING
    assert FieldPath("a.b").parts == ("a", "b") and FieldPath("a.b") == FieldPath("a.b")


def test_field_path_writes_and_creates_objects_on_the_way() -> None:
    record: dict[str, object] = {"mainAddress": "not an object"}
    FieldPath("mainAddress.country.id").set(record, "SE")
    FieldPath("Name").set(record, "Acme")
    assert record == {"mainAddress": {"country": {"id": "SE"}}, "Name": "Acme"}
    assert FieldPath("Name").writable


def test_extractor_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    extractor, problem = compile_jmespath("join(' ', [Address1, Address2][?@ != null])")
    assert problem is None and isinstance(extractor, JmesExtractor) and not extractor.writable

    def no_compiling(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(jmespath, "compile", no_compiling)
    assert extractor.get({"Address1": "Storgatan 1", "Address2": None}) == "Storgatan 1"
    assert extractor.get({"Address1": "a", "Address2": "b"}) == "a b"


def test_extractor_null_reads_as_missing() -> None:
    extractor, _ = compile_jmespath("mainAddress.city")
    assert extractor is not None
    assert extractor.get({}) is MISSING
    assert extractor.get({"mainAddress": {"city": ""}}) == ""


@pytest.mark.parametrize(("expression", "message", "column"), [
    ("foo[", "Incomplete expression", 5),
    ("a.`1`", "Expecting", 3),
    ("a$b", "Unknown token $", 2),
    ("City || 'none", "Unclosed ' delimiter", 9),
    ("upper(Name)", "unknown JMESPath function 'upper'", 1),
    ("Name | lower(@)", "unknown JMESPath function 'lower'", 8),
    ("length(a, b)", "length() takes 1 argument(s), got 2", 1),
    ("not_null()", "not_null() takes at least 1 argument(s), got 0", 1),
    ("join(', ')", "join() takes 2 argument(s), got 1", 1),
    ("", "empty", 0),
])
def test_bad_expressions(expression: str, message: str, column: int) -> None:
    extractor, problem = compile_jmespath(expression)
    assert extractor is None and problem is not None
    assert message in problem.message
    assert problem.column == column


@pytest.mark.parametrize("expression", ["not_null(a, b, c)", "merge(a, b)", "join(', ', [a, b])", "length(@)",
                                        "to_string(a)", "@", "a[0].b", "items[?qty > `1`].sku"])
def test_good_expressions(expression: str) -> None:
    assert compile_jmespath(expression)[1] is None


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=40))
def test_any_text_compiles_or_gives_a_problem(expression: str) -> None:
    extractor, problem = compile_jmespath(expression)
    assert (extractor is None) != (problem is None)


def test_a_backtick_literal_that_is_not_json_is_refused_not_warned() -> None:
    extractor, problem = compile_jmespath("name == `Acme`")
    assert extractor is None and problem is not None
    assert "valid JSON" in problem.message and problem.column == 9
    assert compile_jmespath('name == `"Acme"`')[1] is None


def test_an_unknown_function_is_marked_by_its_name_with_a_guess() -> None:
    _, problem = compile_jmespath("length_of || lenght(Address1)")
    assert problem is not None and "unknown JMESPath function 'lenght'" in problem.message
    assert (problem.line, problem.column, problem.end_column) == (1, 14, 20)  # the call, not `length_of`
    assert problem.hint == "did you mean 'length'?"
    _, problem = compile_jmespath("Address1 ||\n  upper(ZipCode)")
    assert problem is not None and (problem.line, problem.column, problem.end_column, problem.hint) == (2, 3, 8, "")


def test_a_syntax_error_on_a_later_line_has_its_line() -> None:
    _, problem = compile_jmespath("Address1 ||\n  a$b")
    assert problem is not None and (problem.line, problem.column) == (2, 4)
