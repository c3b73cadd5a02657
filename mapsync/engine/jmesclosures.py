"""JMESPath expressions compiled to Python closures, once: reading a record walks no tree.

``jmespath`` interprets its parsed tree on every ``search``: a visitor call per node, a dispatch by node type, a
type check per function argument. ``compile_parsed(parsed)`` turns the tree of the expressions rule files use
(fields, sub-expressions, literals, ``@``, lists and objects of selections, projections and filters, ``||``,
``&&``, ``!``, ``[n]``, and the functions ``join``, ``starts_with``, ``not_null``) into one closure of the record
with the interpreter's semantics (``jmespath.visitor.TreeInterpreter``: JMESPath's truth, a field of a
non-object is null, a projection drops nulls). Any other node: None, and the caller keeps the interpreter.

A function given arguments outside its usual types (``join`` of a list holding a number, say) raises
``Interpret``: the caller then searches with the interpreter, which gives the result or the error JMESPath
gives. So a compiled expression never answers differently from ``jmespath.search``; it only answers sooner.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Number
from typing import Any

Reader = Callable[[Any], Any]


class Interpret(Exception):
    """This value is for the interpreter: the closure does not decide it."""


def compile_parsed(node: dict[str, Any]) -> Reader | None:
    """The closure of a parsed JMESPath tree (``jmespath.compile(text).parsed``), or None when some node is one
    this module does not compile."""
    try:
        return _compile(node)
    except _Unsupported:
        return None


class _Unsupported(Exception):
    pass


def _is_false(value: Any) -> bool:
    """JMESPath's falsehood (``TreeInterpreter._is_false``): 0 is true, empty text, list and object are false."""
    return value == "" or value == [] or value == {} or value is None or value is False


def _compile(node: dict[str, Any]) -> Reader:
    kind = node["type"]
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise _Unsupported(kind)
    return handler(node)


def _field(node: dict[str, Any]) -> Reader:
    name = node["value"]

    def field(value: Any) -> Any:
        if value.__class__ is dict:
            return value.get(name)
        try:
            return value.get(name)
        except AttributeError:
            return None
    return field


def _subexpression(node: dict[str, Any]) -> Reader:
    steps = tuple(_compile(child) for child in node["children"])

    def subexpression(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value
    return subexpression


def _literal(node: dict[str, Any]) -> Reader:
    constant = node["value"]
    return lambda value: constant


def _current(node: dict[str, Any]) -> Reader:
    return lambda value: value


def _multi_select_list(node: dict[str, Any]) -> Reader:
    items = tuple(_compile(child) for child in node["children"])

    def multi_select_list(value: Any) -> Any:
        if value is None:
            return None
        return [item(value) for item in items]
    return multi_select_list


def _multi_select_dict(node: dict[str, Any]) -> Reader:
    pairs = tuple((child["value"], _compile(child["children"][0])) for child in node["children"])

    def multi_select_dict(value: Any) -> Any:
        if value is None:
            return None
        return {key: item(value) for key, item in pairs}
    return multi_select_dict


def _projection(node: dict[str, Any]) -> Reader:
    base, each = _compile(node["children"][0]), _compile(node["children"][1])

    def projection(value: Any) -> Any:
        found = base(value)
        if not isinstance(found, list):
            return None
        return [result for result in map(each, found) if result is not None]
    return projection


def _filter_projection(node: dict[str, Any]) -> Reader:
    base, each, test = (_compile(child) for child in node["children"])

    def filter_projection(value: Any) -> Any:
        found = base(value)
        if not isinstance(found, list):
            return None
        collected = []
        for element in found:
            if not _is_false(test(element)):
                result = each(element)
                if result is not None:
                    collected.append(result)
        return collected
    return filter_projection


def _or_expression(node: dict[str, Any]) -> Reader:
    left, right = _compile(node["children"][0]), _compile(node["children"][1])

    def or_expression(value: Any) -> Any:
        matched = left(value)
        return right(value) if _is_false(matched) else matched
    return or_expression


def _and_expression(node: dict[str, Any]) -> Reader:
    left, right = _compile(node["children"][0]), _compile(node["children"][1])

    def and_expression(value: Any) -> Any:
        matched = left(value)
        return matched if _is_false(matched) else right(value)
    return and_expression


def _not_expression(node: dict[str, Any]) -> Reader:
    operand = _compile(node["children"][0])

    def not_expression(value: Any) -> Any:
        result = operand(value)
        if isinstance(result, Number) and not isinstance(result, bool) and result == 0:  # 0 is true in JMESPath
            return False
        return not result
    return not_expression


def _index(node: dict[str, Any]) -> Reader:
    position = node["value"]

    def index(value: Any) -> Any:
        if not isinstance(value, list):
            return None
        try:
            return value[position]
        except IndexError:
            return None
    return index


def _join(separator: Any, items: Any) -> Any:
    if separator.__class__ is str and items.__class__ is list and all(i.__class__ is str for i in items):
        return separator.join(items)
    raise Interpret


def _starts_with(text: Any, prefix: Any) -> Any:
    if text.__class__ is str and prefix.__class__ is str:
        return text.startswith(prefix)
    raise Interpret


def _not_null(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


_FUNCTIONS: dict[str, tuple[Callable[..., Any], int | None]] = {
    "join": (_join, 2), "starts_with": (_starts_with, 2), "not_null": (_not_null, None)}
"""Functions compiled: (the function on plain values, its number of arguments; None: any, at least one)."""


def _function_expression(node: dict[str, Any]) -> Reader:
    entry = _FUNCTIONS.get(node["value"])
    arguments = tuple(_compile(child) for child in node["children"])
    if entry is None or (entry[1] is not None and entry[1] != len(arguments)) or not arguments:
        raise _Unsupported(node["value"])
    function = entry[0]
    if len(arguments) == 2:
        first, second = arguments
        return lambda value: function(first(value), second(value))
    return lambda value: function(*(argument(value) for argument in arguments))


_HANDLERS: dict[str, Callable[[dict[str, Any]], Reader]] = {
    "field": _field, "subexpression": _subexpression, "literal": _literal, "current": _current,
    "identity": _current, "multi_select_list": _multi_select_list, "multi_select_dict": _multi_select_dict,
    "projection": _projection, "filter_projection": _filter_projection, "or_expression": _or_expression,
    "and_expression": _and_expression, "not_expression": _not_expression, "index": _index,
    "function_expression": _function_expression, "index_expression": _subexpression, "pipe": _subexpression,
}
