"""engine.expressions: parsed and checked once, evaluated many times; an allow-list, not a sandbox escape."""

from __future__ import annotations

import ast
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapsync.engine.expressions import (
    FUNCTION_DOCS,
    FUNCTIONS,
    Expression,
    ExpressionError,
    as_record,
    compile_expression,
)

NAMES = ("value", "record", "settings")


def _compile(text: str, names: tuple[str, ...] = NAMES) -> Expression:
    expr, problems = compile_expression(text, names)
    assert problems == [] and expr is not None, problems
    return expr


def _problems(text: str, names: tuple[str, ...] = NAMES) -> list[tuple[str, int]]:
    expr, problems = compile_expression(text, names)
    assert expr is None
    return [(p.code, p.column) for p in problems]


def test_compile_once_evaluate_many_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    expr = _compile("upper(record.Name) if record.Type in settings.types else coalesce(value, 'none')")

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed again at evaluation time")

    monkeypatch.setattr(ast, "parse", no_parsing)
    settings_ = {"types": ["Customer"]}
    results = [expr.evaluate({"record": as_record(r), "value": None, "settings": settings_})
               for r in ({"Name": "acme", "Type": "Customer"}, {"Type": "Lead"}, {"Name": "b", "Type": "Customer"})]
    assert results == ["ACME", "none", "B"]


def test_names_and_attributes_used_are_recorded() -> None:
    expr = _compile("record.A == settings.b and len(record.C.d) > 0")
    assert expr.names == {"record", "settings"}
    assert set(expr.attributes) == {("record", "A"), ("settings", "b"), ("record", "C")}
    assert expr.text == "record.A == settings.b and len(record.C.d) > 0"
    assert set(expr.chains) == {("record", "A"), ("settings", "b"), ("record", "C", "d")}


def test_missing_record_fields_read_as_none() -> None:
    expr = _compile("record.Missing is None and record.Nested.Deeper is None")
    assert expr.evaluate({"record": as_record({"Nested": {}})}) is True
    assert _compile("record.Missing").evaluate({"record": as_record(None)}) is None
    assert _compile("record['Odd Name']").evaluate({"record": as_record({"Odd Name": 3})}) == 3


def test_names_allowed_depend_on_the_place() -> None:
    assert _problems("value == 1", ("record", "settings")) == [("MS402", 1)]
    assert _problems("settings.x and record.y", ("settings",)) == [("MS402", 16)]


@pytest.mark.parametrize(("text", "expected"), [
    ("lenght(value)", [("MS403", 1)]),
    ("upper(value) + capitalise(value)", [("MS403", 16)]),
    ("value.upper()", [("MS403", 1)]),
    ("open('/etc/passwd')", [("MS403", 1)]),
    ("__import__('os')", [("MS403", 1)]),
    ("valeu + 1", [("MS402", 1)]),
    ("record.__class__", [("MS404", 1)]),
    ("value._private", [("MS404", 1)]),
    ("lambda: 1", [("MS404", 1)]),
    ("[x for x in value]", [("MS404", 1)]),
    ("{k: 1 for k in value}", [("MS404", 1)]),
    ("(y := 1)", [("MS404", 2)]),
    ("(lambda v: v)(value)", [("MS404", 2)]),
    ("settings['f'](value)", [("MS404", 1)]),
    ("value @ value", [("MS404", 1)]),
    ("*value", [("MS404", 1)]),
    ("value = 1", [("MS404", 1)]),
    ("import os", [("MS404", 1)]),
    ("value; value", [("MS404", 1)]),
    ("", [("MS404", 1)]),
    ("value ==", [("MS401", 9)]),
    ("upper(value))", [("MS401", 13)]),
    ("a\0b", [("MS401", 0)]),  # 0: no column known
])
def test_refused_expressions(text: str, expected: list[tuple[str, int]]) -> None:
    assert _problems(text) == expected


def test_every_problem_at_once_sorted_by_column() -> None:
    assert _problems("foo(bar) + record._x + baz") == [("MS403", 1), ("MS402", 5), ("MS404", 12), ("MS402", 24)]


def test_absurd_nesting_is_a_problem_not_a_crash() -> None:
    for text in ("-" * 100_000 + "1", "(" * 500 + "1" + ")" * 500, "not " * 5000 + "value",
                 "+".join(["value"] * 20_000)):
        expr, problems = compile_expression(text, NAMES)
        assert (expr is None) == bool(problems)


@pytest.mark.parametrize(("text", "value", "result"), [
    ("round(value, 2)", "2.345", 2.35),
    ("round(value)", 2.5, 3),
    ("int(value)", "12,0", 12),
    ("number(value)", "1,5", 1.5),
    ("number(value)", "", None),
    ("bool(value)", "yes", True),
    ("str(value)", None, ""),
    ("left(value, 3)", "abcdef", "abc"),
    ("join(', ', value, None, 'b')", "a", "a, b"),
    ("concat(value, None, 1)", "a", "a1"),
    ("split(value, ',')", "a,b", ["a", "b"]),
    ("date(value)", "2024-05-01T10:00:00", "2024-05-01"),
    ("is_empty(value)", [], True),
    ("len(value)", None, 0),
    ("replace(value, 'a', 'b')", "aa", "bb"),
    ("f'{value}!'", "hi", "hi!"),
    ("value[1:3]", "abcd", "bc"),
    ("{'a': 1}.get(value)", "a", None),
])
def test_functions(text: str, value: object, result: object) -> None:
    expr, problems = compile_expression(text, NAMES)
    if problems:  # method calls are refused, even on literals
        assert [p.code for p in problems] == ["MS403"]
        return
    assert expr is not None
    assert expr.evaluate({"value": value}) == result


def test_every_function_is_documented() -> None:
    assert set(FUNCTIONS) == set(FUNCTION_DOCS)


def test_evaluating_does_not_widen_the_function_library() -> None:
    before = dict(FUNCTIONS)
    _compile("upper(value)").evaluate({"value": "x"})
    assert before == FUNCTIONS
    assert _problems("dict(a=value)") == [("MS403", 1)]


@pytest.mark.parametrize("text", ["int(value)", "value + 1", "date(value)", "value / 0", "value * 10**9",
                                  "(len(value) + 10) ** (len(value) * 10**9)", "value['k']",
                                  "replace(value, '', value * 9999)"])
def test_runtime_failures_are_expression_errors(text: str) -> None:
    expr = _compile(text)
    with pytest.raises(ExpressionError, match="failed"):
        expr.evaluate({"value": "not a number"})


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_any_text_compiles_or_gives_problems(text: str) -> None:
    expr, problems = compile_expression(text, NAMES)
    assert (expr is None) == bool(problems)
    assert all(p.code in {"MS401", "MS402", "MS403", "MS404"} for p in problems)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=10))
def test_safe_expressions_never_raise_anything_but_expression_errors(value: object) -> None:
    for text in ("upper(value)", "value + 1", "len(value) > 2", "record.a.b", "round(value, 1)", "value[0]"):
        expr = _compile(text)
        with contextlib.suppress(ExpressionError):
            expr.evaluate({"value": value, "record": as_record({"a": value}), "settings": {}})


# -- where a problem is, and what was meant ------------------------------------------------------------------


def _first(text: str, names: tuple[str, ...] = NAMES) -> tuple[str, int, int, int, str]:
    expr, problems = compile_expression(text, names)
    assert expr is None and problems
    p = problems[0]
    return p.code, p.line, p.column, p.end_column, p.hint


@pytest.mark.parametrize(("text", "expected"), [
    ("lenght(value)", ("MS403", 1, 1, 7, "did you mean 'len'?")),  # the span of the name
    ("'Tromsø' == lenght(value)", ("MS403", 1, 13, 19, "did you mean 'len'?")),  # characters, not UTF-8 bytes
    ("'日本' == uper(value)", ("MS403", 1, 9, 13, "did you mean 'upper'?")),
    ("value.uper()", ("MS403", 1, 1, 11, "did you mean upper(value)?")),
    ("valeu + 1", ("MS402", 1, 1, 6, "did you mean 'value'?")),
    ("recrod.Name", ("MS402", 1, 1, 7, "did you mean 'record'?")),
    ("(record.Name ==\n    lenght(value))", ("MS403", 2, 5, 11, "did you mean 'len'?")),  # on its own line
    ("'Tromsø' == (value", ("MS401", 1, 13, 0, "")),
    ("(value ==\n  )", ("MS401", 2, 3, 4, "")),  # the span Python gives: the stray bracket
])
def test_problems_say_where_in_characters_and_what_was_meant(text: str, expected: tuple[str, int, int, int, str]) \
        -> None:
    assert _first(text) == expected


def test_an_unknown_function_with_nothing_close_has_no_guess() -> None:
    assert _first("capitalize(value)")[4] == ""
    assert _first("Customer == value")[4] == ""  # a bare word meant as text: the code's fix says to quote it


def test_compiling_in_many_threads_at_once() -> None:
    """Tenants' rule sets load in threads at once (serve, a worker): CPython 3.11's ast.parse shares its recursion
    depth between threads (gh-106905) and failed with SystemError when two parsed at once; parsing is serialised.
    A tiny switch interval makes the threads interleave inside the parser as they would under load."""
    import sys
    import threading

    text = "record.A in ['x', 'y'] and upper(record.B or '') != '' and ((1 + 2) * 3) > 2"
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(300):
                expression, problems = compile_expression(text, ["record"])
                assert expression is not None and not problems
        except BaseException as exc:
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


def test_expressions_compile_one_at_a_time_across_threads() -> None:
    """CPython keeps the AST constructor's recursion depth in interpreter-wide state: a thread that parses while
    another is building its tree makes the other fail with ``SystemError: AST constructor recursion depth
    mismatch`` (``serve`` compiling many tenants' rule sets at once hit it). Here a finalizer, run by the
    collector in the middle of one parse (while its tree is built), starts another thread's parse and waits
    for it (a second at most): unless parses wait for each other, the first one fails."""
    import gc
    import sys
    import threading

    go, done = threading.Event(), threading.Event()
    other: list[object] = []
    inside = [0]

    def parse_in_other_thread() -> None:
        go.wait(10)
        try:
            other.append(compile_expression("record.a + 1", ["record"])[0])
        except SystemError as exc:
            other.append(exc)
        done.set()

    class Trigger:
        """Cyclic garbage: the collector finalizes it; it re-arms until it runs well inside ``ast.parse``."""

        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            if go.is_set():
                return
            if sys._getframe(1).f_code.co_name == "parse":
                inside[0] += 1
                if inside[0] >= 5:  # the first collections may come before the tree is built
                    go.set()
                    done.wait(1.0)  # without waiting for each other, the other thread parses now
                    return
            Trigger()

    text = " and ".join(f"(record.a{i} + {i} > settings.b{i} or record.c{i} in ('x', 'y'))" for i in range(20))
    thread = threading.Thread(target=parse_in_other_thread)
    thread.start()
    threshold = gc.get_threshold()
    gc.collect()
    try:
        Trigger()
        gc.set_threshold(1)
        compiled, problems = compile_expression(text, ["record", "settings"])
    finally:
        gc.set_threshold(*threshold)
        go.set()
        thread.join(10)
    assert inside[0] == 5  # the hand-over did happen inside the parse
    assert compiled is not None and not problems
    assert done.is_set() and len(other) == 1 and not isinstance(other[0], SystemError)


@pytest.mark.parametrize("text", ["'x' * 10**9", "10 ** 10 ** 10", "f'{value:>99999999}'", "'%9999s' % value",
                                  "f'{value:{9 * 9}}'", "[0] * 10**9", "1 << 10**9"])
def test_constant_bombs_are_refused_when_compiled(text: str) -> None:
    assert [code for code, _ in _problems(text)] == ["MS404"]


@pytest.mark.parametrize(("text", "flat"), [
    ("record.OrganisationType in settings.customer_types", True),
    ("upper(value)", True),
    ("record.Address.City", False),
    ("record", False),
    ("len(record)", False),
    ("record.items", False),
    ("record.A == record.B", True),
])
def test_reads_record_flat_says_when_the_plain_record_gives_the_same_result(text: str, flat: bool) -> None:
    expr, problems = compile_expression(text, {"record", "value", "settings"})
    assert expr is not None, problems
    assert expr.reads_record_flat is flat
    if flat and "record" in expr.names:
        record = {"OrganisationType": "Customer", "A": None}
        names = {"settings": {"customer_types": ["Customer"]}, "value": None}
        assert expr.evaluate({**names, "record": record}) == expr.evaluate({**names, "record": as_record(record)})


@pytest.mark.parametrize(("text", "function"), [("country_code(value)", "country_code"), ("upper(value)", "upper"),
                                                ("upper(value) + 'x'", None), ("upper(record.A)", None),
                                                ("round(value, 2)", None)])
def test_value_function_is_the_function_of_a_lone_call_on_value(text: str, function: str | None) -> None:
    expr, _ = compile_expression(text, {"record", "value", "settings"})
    assert expr is not None
    found = expr.value_function()
    assert (found is FUNCTIONS[function]) if function else found is None


def test_a_text_is_compiled_once_per_names_and_shared() -> None:
    """100 mapping files with the same condition compile it once; other names allowed make another compilation
    (a name unknown in one place is known in another)."""
    first, _ = compile_expression(" upper(value) == 'X' ", NAMES)
    again, _ = compile_expression("upper(value) == 'X'", list(reversed(NAMES)))
    assert first is not None and again is first
    other, problems = compile_expression("upper(value) == 'X'", ("record",))
    assert other is None and [p.code for p in problems] == ["MS402"]
    problems.clear()  # the caller's list, not the cache's
    assert [p.code for p in compile_expression("upper(value) == 'X'", ("record",))[1]] == ["MS402"]


def test_a_long_text_is_not_kept() -> None:
    text = "value + " * 400 + "1"
    first, _ = compile_expression(text, NAMES)
    again, _ = compile_expression(text, NAMES)
    assert first is not None and again is not None and again is not first and again.evaluate({"value": 1}) == 401
