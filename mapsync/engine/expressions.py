"""Expressions in rule files: conditions, transforms and `enabled` switches.

An expression is a Python-style expression evaluated by simpleeval (an allow-list evaluator). It is
parsed and checked **once**, when the rule set is compiled: syntax, names, functions, and any node or
operator simpleeval would refuse. At run time ``Expression.evaluate(names)`` only walks the parsed tree.

Names an expression may use depend on where it stands (``record`` and ``settings`` in conditions;
``value``, ``record`` and ``settings`` in transforms). ``FUNCTIONS`` is the fixed function library,
documented in docs/rules.md.

Parsing is serialised in a process (``_PARSE_LOCK``): CPython 3.11's ``ast.parse`` keeps its recursion depth
in state shared by threads, and two threads parsing at once can fail with "SystemError: AST constructor
recursion depth mismatch" (CPython issue gh-106905), as concurrent tenants' first passes in ``serve`` or a
worker's threads load their rule sets.
"""

from __future__ import annotations

import ast
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from simpleeval import EvalWithCompoundTypes, InvalidExpression

from mapsync.engine.countries import country_code, country_name
from mapsync.engine.diagnostics.suggest import closest, did_you_mean
from mapsync.engine.textlines import first_line, other_lines


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: Any) -> float | int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    text = str(value).strip().replace(",", ".")
    number = float(text)
    return int(number) if number.is_integer() and "." not in text else number


def _round(value: Any, digits: int = 0) -> float | int | None:
    number = _number(value)
    if number is None:
        return None
    quantum = Decimal(1).scaleb(-digits)
    rounded = Decimal(str(number)).quantize(quantum, rounding=ROUND_HALF_UP)
    return int(rounded) if digits <= 0 else float(rounded)


def _date(value: Any) -> str | None:
    """The date part (YYYY-MM-DD) of a date or date-time string."""
    if value in (None, ""):
        return None
    text = str(value)
    return dt.date.fromisoformat(text[:10]).isoformat()


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value not in (None, ""):
            return value
    return None


def _concat(*values: Any) -> str:
    return "".join(_text(v) for v in values)


def _join(separator: str, *values: Any) -> str:
    return separator.join(_text(v) for v in values if v not in (None, ""))


def _left(value: Any, length: int) -> str | None:
    return None if value is None else str(value)[:length]


def _split(value: Any, separator: str | None = None) -> list[str]:
    return [] if value in (None, "") else str(value).split(separator)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


_PARSE_LOCK = threading.Lock()  # see the module's docstring: ast.parse is not safe in threads at once

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "str": _text,
    "int": lambda v: None if v in (None, "") else int(float(str(v).replace(",", "."))),
    "float": lambda v: None if v in (None, "") else float(str(v).replace(",", ".")),
    "number": _number,
    "bool": lambda v: str(v).strip().lower() in ("1", "true", "yes", "on") if isinstance(v, str) else bool(v),
    "round": _round,
    "abs": abs,
    "min": min,
    "max": max,
    "len": lambda v: 0 if v is None else len(v),
    "upper": lambda v: None if v is None else str(v).upper(),
    "lower": lambda v: None if v is None else str(v).lower(),
    "strip": lambda v: None if v is None else str(v).strip(),
    "title": lambda v: None if v is None else str(v).title(),
    "left": _left,
    "replace": lambda v, old, new: None if v is None else str(v).replace(old, new),
    "split": _split,
    "concat": _concat,
    "join": _join,
    "coalesce": _coalesce,
    "date": _date,
    "today": lambda: dt.date.today().isoformat(),
    "is_empty": _is_empty,
    "country_code": country_code,
    "country_name": country_name,
    "first_line": first_line,
    "other_lines": other_lines,
}

FUNCTION_DOCS: dict[str, str] = {
    "str": "text of a value; None becomes ''",
    "int": "integer of a number or numeric text ('12', '12.0'); empty becomes None",
    "float": "float of a number or numeric text (comma or point); empty becomes None",
    "number": "int or float of a value or numeric text; empty becomes None",
    "bool": "truth of a value; text 'true', '1', 'yes', 'on' is true",
    "round": "round(value, digits=0), half up; numeric text accepted",
    "abs": "absolute value",
    "min": "smallest argument",
    "max": "largest argument",
    "len": "length; None is 0",
    "upper": "text in upper case",
    "lower": "text in lower case",
    "strip": "text without surrounding blanks",
    "title": "text in title case",
    "left": "left(value, n): the first n characters",
    "replace": "replace(value, old, new)",
    "split": "split(value, separator=None): list of parts",
    "concat": "concat(a, b, ...): the texts joined without separator; None counts as ''",
    "join": "join(separator, a, b, ...): the non-empty texts joined with separator",
    "coalesce": "the first argument that is neither None nor ''",
    "date": "the YYYY-MM-DD date part of a date or date-time",
    "today": "today's date as YYYY-MM-DD",
    "is_empty": "true for None, '', [] and {}",
    "country_code": "ISO 3166 alpha-2 code of a code or an English or Nordic country name; unknown raises",
    "country_name": "country_name(code, language='en'): the country's name in en, sv, nb, nn, da or fi",
    "first_line": "the text up to the first line break",
    "other_lines": "the text after the first line break ('' when there is none)",
}

# Expression nodes the evaluator accepts. Assignments, imports, lambdas and comprehensions are not here.
_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expr, ast.Name, ast.Load, ast.UnaryOp, ast.BinOp, ast.BoolOp, ast.Compare,
    ast.IfExp, ast.Call, ast.keyword, ast.Subscript, ast.Attribute, ast.Slice, ast.Constant,
    ast.JoinedStr, ast.FormattedValue, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.And, ast.Or,
)


@dataclass(frozen=True)
class ExpressionProblem:
    """A problem found while compiling an expression. ``line`` and ``column`` (in characters) are 1-based within
    the expression as parsed (stripped of surrounding blanks); ``end_column`` ends the span on that line
    (exclusive; 0 when the problem is at one point)."""

    code: str
    message: str
    column: int = 0
    hint: str = ""
    line: int = 1
    end_column: int = 0


class ExpressionError(Exception):
    """An expression failed at run time for one record (a rule error, quarantined with the record)."""


class _Record(dict[str, Any]):
    """A record as expressions see it: a missing field reads as None instead of failing."""

    def __missing__(self, key: str) -> None:
        return None


def as_record(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """Wrap a record (and nested objects) so that ``record.Missing`` is None in expressions."""
    if record is None:
        return _Record()
    return _Record({k: as_record(v) if isinstance(v, Mapping) else v for k, v in record.items()})


@dataclass(frozen=True)
class Expression:
    """A parsed, checked expression. Evaluate many times; it never parses again."""

    text: str
    tree: ast.AST = field(repr=False, compare=False)
    names: frozenset[str] = frozenset()
    attributes: tuple[tuple[str, str], ...] = ()  # (name, attribute) pairs used, e.g. ("record", "Type")
    chains: tuple[tuple[str, ...], ...] = ()  # whole dotted chains, e.g. ("settings", "crm_fields", "x")

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        # A copy: simpleeval adds list, tuple, dict and set to the dict it is given.
        evaluator = EvalWithCompoundTypes(functions=dict(FUNCTIONS), names=dict(names))
        try:
            return evaluator.eval(self.text, previously_parsed=self.tree)
        except (InvalidExpression, ArithmeticError, TypeError, ValueError, KeyError, IndexError,
                AttributeError) as exc:
            raise ExpressionError(f"{self.text!r} failed: {type(exc).__name__}: {exc}") from exc


def compile_expression(text: str, allowed_names: Iterable[str]) -> tuple[Expression | None, list[ExpressionProblem]]:
    """Parse and check ``text``; returns the expression or every problem found."""
    allowed = frozenset(allowed_names)
    source_lines = text.strip().splitlines() or [""]
    try:
        with _PARSE_LOCK:
            module = ast.parse(text.strip())
    except SyntaxError as exc:
        line = exc.lineno or 1
        end = exc.end_offset or 0 if exc.end_lineno == exc.lineno and (exc.end_offset or 0) > (exc.offset or 0) else 0
        return None, [ExpressionProblem("MS401", exc.msg, exc.offset or 0, line=line, end_column=end)]
    except ValueError as exc:  # NUL characters on older Pythons
        return None, [ExpressionProblem("MS401", str(exc), 1)]
    except (MemoryError, RecursionError):  # absurd nesting
        return None, [ExpressionProblem("MS401", "the expression is too deeply nested to parse", 1)]
    if len(module.body) != 1 or not isinstance(module.body[0], ast.Expr):
        first = module.body[0] if module.body else None
        if isinstance(first, ast.Assign | ast.AugAssign | ast.AnnAssign):
            line, column, _ = _position(first, source_lines)
            return None, [ExpressionProblem("MS404", "an assignment is not allowed (to compare, write ==)",
                                            column, line=line)]
        return None, [ExpressionProblem("MS404", "only a single expression is allowed, no statements or ';'", 1)]
    tree: ast.AST = module.body[0]
    problems: list[ExpressionProblem] = []
    used_names: set[str] = set()
    attributes: list[tuple[str, str]] = []
    operators = EvalWithCompoundTypes().operators

    def visit(node: ast.AST, *, called: bool = False, outer: tuple[int, int, int] = (1, 1, 0)) -> None:
        line, column, end = _position(node, source_lines) if hasattr(node, "col_offset") else outer

        def problem(code: str, message: str, hint: str = "") -> None:
            problems.append(ExpressionProblem(code, message, column, hint=hint, line=line, end_column=end))

        if isinstance(node, ast.operator | ast.unaryop | ast.cmpop):
            if type(node) not in operators:
                problem("MS404", f"operator {type(node).__name__} is not allowed")
            return
        if not isinstance(node, _ALLOWED_NODES):
            problem("MS404", f"{type(node).__name__} is not allowed in expressions")
            return  # do not report what lies inside a refused construct
        if isinstance(node, ast.Name):
            if called:
                if node.id not in FUNCTIONS:
                    problem("MS403", f"unknown function {node.id!r}", did_you_mean(node.id, FUNCTIONS))
            elif node.id not in allowed:
                problem("MS402", f"unknown name {node.id!r}", did_you_mean(node.id, allowed))
            else:
                used_names.add(node.id)
            return
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                problem("MS404", f"private attribute {node.attr!r} is not allowed")
                return
            if called:
                if node.attr in FUNCTIONS:
                    problem("MS403", f"method call .{node.attr}() is not allowed; use {node.attr}(...)")
                else:
                    close = closest(node.attr, FUNCTIONS)
                    problem("MS403", f"method call .{node.attr}() is not allowed",
                            f"did you mean {close}({ast.unparse(node.value)})?" if close else "")
            if isinstance(node.value, ast.Name):
                attributes.append((node.value.id, node.attr))
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name | ast.Attribute):
                before = len(problems)
                visit(node.func)
                if len(problems) == before:
                    problem("MS404", "only functions can be called by name, e.g. upper(value)")
                return
            visit(node.func, called=True)
            for child in [*node.args, *node.keywords]:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, outer=(line, column, 0))

    try:
        visit(tree)
    except RecursionError:
        return None, [ExpressionProblem("MS404", "the expression is too deeply nested", 1)]
    problems.sort(key=lambda p: (p.line, p.column))
    if problems:
        return None, problems
    return Expression(text.strip(), tree, frozenset(used_names), tuple(attributes), _chains(tree)), []


def _position(node: ast.AST, lines: list[str]) -> tuple[int, int, int]:
    """(line, column, end column) of a node, 1-based and in characters (``ast`` counts UTF-8 bytes); the end is
    0 when the node ends on another line."""
    line = getattr(node, "lineno", 1)
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    encoded = text.encode("utf-8")

    def chars(offset: int) -> int:
        return len(encoded[:offset].decode("utf-8", errors="replace")) + 1

    end_offset = getattr(node, "end_col_offset", None)
    end = chars(end_offset) if getattr(node, "end_lineno", None) == line and end_offset is not None else 0
    return line, chars(getattr(node, "col_offset", 0)), end


def _chains(tree: ast.AST) -> tuple[tuple[str, ...], ...]:
    """Every longest ``name.attr.attr`` chain of the tree."""
    inner = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    chains: list[tuple[str, ...]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or id(node) in inner:
            continue
        parts: list[str] = []
        current: ast.AST = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if isinstance(current, ast.Name):
            chains.append((current.id, *reversed(parts)))
    return tuple(chains)
